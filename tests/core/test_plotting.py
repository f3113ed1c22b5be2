"""The numbers behind the plots, checked against torch (no Qt here)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gradstep.plotting import (
    compact_chain_line,
    first_nonfinite,
    gradient_flow,
    pass_series,
    product_text,
    tangent_plot,
    to_array,
)
from gradstep.plotting.values import abs_stats, has_nonfinite
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.trace.model import NodeRecord, Trace


def record(source: str) -> Trace:
    trace = record_scenario(scenario_from_source(source, "scenario.py"), trusted=True)
    assert trace.error is None, trace.error
    return trace


def records(trace: Trace, op: str) -> list[NodeRecord]:
    return [r for p in trace.passes for r in p.nodes if r.op == op]


UNARY = [
    # (expression in x, grad_fn class, input values)
    ("x ** 2", "PowBackward0", [1.5, -0.7]),
    ("x ** 3.5", "PowBackward0", [0.8]),
    ("2.0 ** x", "PowBackward2", [0.3]),
    ("torch.sin(x)", "SinBackward0", [2.25, -1.0]),
    ("torch.cos(x)", "CosBackward0", [0.4]),
    ("torch.sigmoid(x)", "SigmoidBackward0", [0.778, -2.5]),
    ("torch.tanh(x)", "TanhBackward0", [0.685, -1.2]),
    ("torch.exp(x)", "ExpBackward0", [0.685, -3.0]),
    ("torch.log(x)", "LogBackward0", [0.685, 4.0]),
    ("torch.sqrt(x)", "SqrtBackward0", [2.0]),
    ("torch.relu(x)", "ReluBackward0", [1.3]),
    ("torch.nn.functional.gelu(x)", "GeluBackward0", [0.5]),
    ("torch.nn.functional.softplus(x)", "SoftplusBackward0", [-0.5]),
    ("torch.nn.functional.silu(x)", "SiluBackward0", [1.1]),
    ("torch.nn.functional.leaky_relu(x, 0.1)", "LeakyReluBackward0", [-2.0]),
    ("x.reciprocal()", "ReciprocalBackward0", [0.5]),
    ("x * 3", "MulBackward0", [1.5]),
    ("x / 4", "DivBackward0", [1.5]),
]


@pytest.mark.parametrize(("expr", "op", "inputs"), UNARY, ids=[u[1] + ":" + u[0] for u in UNARY])
def test_tangent_slope_is_the_local_derivative(expr: str, op: str, inputs: list[float]) -> None:
    for x0 in inputs:
        trace = record(
            f"import torch\nx = torch.tensor({x0}, requires_grad=True)\ny = {expr}\n"
            "z = y * 1.5\nz.backward()\n"
        )
        [rec] = records(trace, op) if op != "MulBackward0" else records(trace, op)[-1:]
        plot = tangent_plot(trace, rec)
        assert plot is not None, f"{op} at {x0} is not plotted"
        # torch is the oracle: f(x0) and f'(x0)
        x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        y = eval(expr, {"torch": torch, "x": x})
        (slope,) = torch.autograd.grad(y, x)
        y = y.detach()
        assert plot.x0[0] == pytest.approx(x0, rel=1e-5, abs=1e-6)
        assert plot.y0[0] == pytest.approx(float(y), rel=1e-5, abs=1e-6)
        assert plot.slope[0] == pytest.approx(float(slope), rel=1e-5, abs=1e-6)
        # the tangent has that slope and touches the curve
        tx, ty = plot.tangent()
        assert (ty[1] - ty[0]) / (tx[1] - tx[0]) == pytest.approx(float(slope), rel=1e-6)
        assert np.interp(x0, plot.xs, plot.ys) == pytest.approx(float(y), rel=1e-3, abs=1e-3)
        # incoming 1.5 from z = 1.5·y, outgoing = incoming × slope
        assert plot.incoming[0] == pytest.approx(1.5)
        assert plot.outgoing[0] == pytest.approx(1.5 * float(slope), rel=1e-5, abs=1e-6)
        lo, hi = plot.y_range
        assert lo <= plot.y0[0] <= hi


def test_elementwise_op_on_a_vector_has_one_tangent_per_element() -> None:
    trace = record(
        "import torch\nx = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)\n"
        "y = torch.sin(x)\ny.sum().backward()\n"
    )
    plot = tangent_plot(trace, records(trace, "SinBackward0")[0])
    assert plot is not None and not plot.is_scalar
    np.testing.assert_allclose(plot.slope, np.cos([0.5, 1.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(plot.outgoing, np.cos([0.5, 1.0, 2.0]), rtol=1e-6)


def test_ops_that_are_not_one_input_functions_have_no_tangent_plot() -> None:
    trace = record(
        "import torch\na = torch.tensor(2.0, requires_grad=True)\n"
        "b = torch.tensor(3.0, requires_grad=True)\nc = a * b + a\n"
        "m = torch.ones(2, 2, requires_grad=True)\nd = (m @ m).sum()\n(c + d).backward()\n"
    )
    for p in trace.passes:
        for rec in p.nodes:
            if rec.op in ("MulBackward0", "AddBackward0", "MmBackward0", "AccumulateGrad"):
                assert tangent_plot(trace, rec) is None, rec.op


MLP = """\
import torch
from torch import nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(5, 3)
t = torch.randn(5, 1)
for i in range(3):
    opt.zero_grad()
    loss = ((model(x) - t) ** 2).mean()
    loss.backward()
    opt.step()
"""


def _torch_mlp() -> tuple[list[float], list[dict[str, torch.Tensor]]]:
    """The same loop in plain torch: the loss and the parameters' grads of each pass."""
    losses: list[float] = []
    grads: list[dict[str, torch.Tensor]] = []
    instrumented = MLP.replace(
        "    opt.step()",
        "    losses.append(loss.item())\n"
        "    grads.append({n: p.grad.clone() for n, p in model.named_parameters()})\n"
        "    opt.step()",
    )
    exec(instrumented, {"losses": losses, "grads": grads})
    return losses, grads


def test_gradient_flow_and_pass_series_match_torch() -> None:
    trace = record(MLP)
    losses, grads = _torch_mlp()
    flow = gradient_flow(trace)
    assert flow is not None and flow.pass_index == 2
    assert flow.names == ["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"]
    for param in flow.params:
        g = grads[2][param.name.removeprefix("model.")].abs()
        assert param.mean_abs == pytest.approx(float(g.mean()), rel=1e-5)
        assert param.max_abs == pytest.approx(float(g.max()), rel=1e-5)
    series = pass_series(trace)
    assert series.loss_name == "loss"
    assert series.loss == pytest.approx(losses, rel=1e-6)
    assert series.reduction["model.2.bias"] == "value"
    for k in range(3):
        w = grads[k]["0.weight"]
        assert series.grad["model.0.weight"][k] == pytest.approx(float(w.norm()), rel=1e-5)


def test_the_loss_of_every_round_of_a_long_loop_is_plotted() -> None:
    # 250 rounds: 22 recorded in full (their passes), 228 summarised (a row each)
    source = MLP.replace("range(3)", "range(250)")
    trace = record(source)
    losses = []
    exec(
        source.replace("    opt.step()", "    losses.append(loss.item())\n    opt.step()"),
        {"losses": losses},
    )
    series = pass_series(trace)
    assert len(series.passes) == 22 and len(series.loss) == 22  # the passes' own plot
    rounds = series.over_rounds
    assert rounds is not None and rounds.name == "loss" and rounds.line == 8
    assert rounds.rounds == list(range(1, 251))
    assert rounds.loss == losses  # PyTorch's numbers, every round
    full = [r for r, d in zip(rounds.rounds, rounds.detailed) if d]
    assert full == [*range(1, 21), 100, 200]
    assert rounds.pass_round == dict(enumerate(full))  # the cursor's pass -> its round
    assert rounds.detail == "rounds 1–20, 100, 200 in full detail; 228 summarised"
    # a short loop has no rounds plot: its passes are all its rounds
    assert pass_series(record(MLP)).over_rounds is None


def test_vanishing_gradients_are_named() -> None:
    trace = record(
        "import torch\nw = [torch.tensor(0.5, requires_grad=True) for _ in range(2)]\n"
        "a = torch.tensor(3.0, requires_grad=True)\nh = a\n"
        "for i in range(12):\n    h = torch.sigmoid(h * 4.0 + 4.0)\n"
        "loss = h * w[0] + w[1]\nloss.backward()\n"
    )
    flow = gradient_flow(trace)
    assert flow is not None
    assert flow.verdict.startswith("vanishing"), flow.verdict


def test_accumulation_across_passes() -> None:
    trace = record(
        "import torch\nx = torch.tensor(1.0, requires_grad=True)\n"
        "for i in range(3):\n    y = x * 2\n    y.backward()\n"
    )
    series = pass_series(trace)
    assert series.grad["x"] == [2.0, 4.0, 6.0]
    assert series.incoming["x"] == [2.0, 2.0, 2.0]
    assert series.loss == [2.0, 2.0, 2.0]


def test_first_nonfinite_marks_the_origin_not_the_nodes_it_flows_through() -> None:
    trace = record(
        "import torch\nx = torch.tensor([1.0, 0.0], requires_grad=True)\n"
        "y = torch.sqrt(x)\nz = y * 2\nw = z.sum()\nw.backward()\n"
    )
    marks = first_nonfinite(trace)
    [sqrt] = records(trace, "SqrtBackward0")
    assert marks == {sqrt.node: sqrt.compute_step}
    assert trace.steps[sqrt.compute_step].kind == "compute"


def test_first_nonfinite_is_empty_for_finite_gradients() -> None:
    trace = record(MLP)
    assert first_nonfinite(trace) == {}


def test_values_decode_nonfinite_and_summaries() -> None:
    a = to_array([[1.0, "NaN"], ["Infinity", "-Infinity"]])
    assert a is not None and a.shape == (2, 2)
    assert math.isnan(a.data[0, 1]) and a.data[1, 0] == math.inf and a.data[1, 1] == -math.inf
    assert has_nonfinite([1.0, ["NaN"]]) and not has_nonfinite([1.0, 2.0])
    summary = {
        "summary": True,
        "shape": [100, 100],
        "norm": 100.0,
        "absmax": 3.0,
        "min": -3.0,
        "max": 2.0,
        "mean": 0.0,
        "nan": 0,
        "inf": 0,
        "preview": [1.0] * 8,
    }
    s = to_array(summary)
    assert s is not None and s.partial and s.shape == (100, 100) and s.data.size == 8
    assert abs_stats(summary) == (pytest.approx(1.0), 3.0)
    assert has_nonfinite(summary | {"nan": 2})


def test_a_long_chain_rule_line_falls_back_to_shapes() -> None:
    trace = record(
        "import torch\nW = torch.ones(6, 6, requires_grad=True)\nx = torch.ones(6)\n"
        "y = (W @ x).sum()\ny.backward()\n"
    )
    [mv] = records(trace, "MvBackward0")
    step = trace.steps[mv.compute_step]
    # W's gradient is the outer product upstream ⊗ x: written with the shapes, not 36 numbers
    line = compact_chain_line(trace, step, max_chars=60)
    assert "[6] ⊗ [6] = [6×6]" in line or "[6×1] @ [1×6] = [6×6]" in line or "6×6" in line, line
    assert line.startswith("upstream"), line
    [scalar_sum] = records(trace, "SumBackward0")
    whole = compact_chain_line(trace, trace.steps[scalar_sum.compute_step])
    assert "1 " in whole and "[1, 1, 1, 1, 1, 1]" in whole, whole


def test_the_tangent_plots_product_multiplies_out_as_shown() -> None:
    """813.3619 × 0.0012 = 0.9988 is false on a calculator; the note shows what is true."""
    text = product_text(813.3619140625, 0.0012280000000000001, 0.99884033203125)
    a, rest = text.split(" × ")
    b, c = rest.split(" = ")
    assert round(float(a) * float(b), 4) == float(c), text
    assert b == "0.001228"


FRAMED = [
    *UNARY,
    # near where the curve shoots off or flattens: the lesson-04 log of 1 − σ(6.7)
    ("torch.log(x)", "LogBackward0", [0.0012, 0.03]),
    ("torch.sqrt(x)", "SqrtBackward0", [0.01]),
    ("x.reciprocal()", "ReciprocalBackward0", [0.05, -0.2]),
    ("torch.rsqrt(x)", "RsqrtBackward0", [0.02]),
    ("torch.exp(x)", "ExpBackward0", [6.0]),
    ("torch.sigmoid(x)", "SigmoidBackward0", [6.7]),
    ("x ** 3", "PowBackward0", [10.0]),
]


@pytest.mark.parametrize(("expr", "op", "inputs"), FRAMED, ids=[f[1] + ":" + f[0] for f in FRAMED])
def test_the_view_frames_the_point_and_its_tangent(expr: str, op: str, inputs: list[float]) -> None:
    """The point is inside the view, not pressed against a side, and most of its tangent is
    drawn in it (ln at 0.0012 was a point on the y axis of a view 2 wide)."""
    for x0 in inputs:
        trace = record(
            f"import torch\nx = torch.tensor({x0}, requires_grad=True)\ny = {expr}\n"
            "z = y * 1.5\nz.backward()\n"
        )
        [rec] = records(trace, op)[-1:]
        plot = tangent_plot(trace, rec)
        assert plot is not None
        a, b = float(plot.xs[0]), float(plot.xs[-1])
        lo, hi = plot.y_range
        u, v = (x0 - a) / (b - a), (plot.y0[0] - lo) / (hi - lo)
        assert 0.05 <= u <= 0.95, f"{op} at {x0}: x₀ at {u:.4f} of the view's width"
        assert 0.03 <= v <= 0.97, f"{op} at {x0}: f(x₀) at {v:.4f} of the view's height"
        tx, ty = plot.tangent()
        t = np.linspace(0, 1, 201)
        ys = ty[0] + t * (ty[1] - ty[0])
        inside = np.mean((ys >= lo) & (ys <= hi))
        assert inside >= 0.5, f"{op} at {x0}: {inside:.0%} of the tangent in view"
