"""Every bundled scenario runs, restricted and trusted, and reproduces its seed's numbers.

The seeds print their numbers to four decimals; those are asserted as printed.
Everything else is checked against PyTorch running the same code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from gradstep.cli import main
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios, default_scenario
from gradstep.scenario.loader import load_scenario
from gradstep.trace.model import BackwardPass, NodeRecord, Trace

NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"
SCENARIOS = {p.name: p for p in bundled_scenarios()}


def close(value: Any, expected: Any, abs_tol: float = 5e-5) -> bool:
    """An encoded tensor equals a number or nested list, to the seeds' four decimals."""
    got = torch.tensor(value, dtype=torch.float64)
    want = torch.tensor(expected, dtype=torch.float64)
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=0, atol=abs_tol))


def leaf_records(trace: Trace, name: str) -> list[NodeRecord]:
    return [r for p in trace.passes for r in p.nodes if r.op == "AccumulateGrad" and r.name == name]


def grad(trace: Trace, name: str) -> Any:
    return trace.variables[name].grad


def backward_lines(trace: Trace) -> list[int]:
    src = trace.scenario.source.split("\n")
    return [i for i, line in enumerate(src, start=1) if line.strip().endswith(".backward()")]


# ---------------------------------------------------------------- the seeds
def check_square(t: Trace) -> None:
    assert grad(t, "x") == 6.0
    (pow_node,) = [r for r in t.passes[0].nodes if r.op == "PowBackward0"]
    assert pow_node.local_derivatives == [6.0]
    assert pow_node.grad_inputs == [6.0]


def check_sin_of_square(t: Trace) -> None:
    assert close(grad(t, "x"), -7.6613)
    first, second = t.passes
    # without retain_grad(): y's gradient passes through and is gone
    assert "y" not in first.retained
    assert any("y.grad = None" in s.output for s in t.steps)
    # with it: y.grad = dz/dy = cos(16)
    assert close(second.retained["y"], math.cos(16.0))
    assert close(grad(t, "y"), -0.9577)
    assert t.variables["y"].retains_grad


def check_two_x_squared(t: Trace) -> None:
    assert grad(t, "x") == 8.0
    (mul,) = [r for r in t.passes[0].nodes if r.name == "y"]
    assert mul.op == "MulBackward0"
    assert mul.grad_inputs == [4.0, 4.0]  # one contribution per parallel edge; the leaf adds them
    (leaf,) = leaf_records(t, "x")
    assert leaf.grad_outputs == [8.0]


def check_logistic_manual(t: Trace) -> None:
    (w,) = leaf_records(t, "w")
    (b,) = leaf_records(t, "b")
    assert close(w.grad_after, 6.6918) and close(b.grad_after, 0.9988)
    assert close(t.variables["dL_dw"].value, 6.6918)
    assert close(t.variables["dL_db"].value, 0.9988)
    assert close(t.variables["loss"].value, 6.7012)
    assert grad(t, "w") == 0.0 and grad(t, "b") == 0.0  # zeroed at the end
    assert "ClampBackward1" in {r.op for r in t.passes[0].nodes}


def check_logistic_bce(t: Trace) -> None:
    assert close(grad(t, "w"), 6.6918) and close(grad(t, "b"), 0.9988)
    assert close(t.variables["dL_dw"].value, 6.6918)
    assert close(t.variables["dL_db"].value, 0.9988)
    ops = [r.op for r in t.passes[0].nodes]
    assert ops[0] == "BinaryCrossEntropyBackward0"
    # the target needs no gradient: the loss node's second slot is empty
    assert t.passes[0].nodes[0].grad_inputs[1:] in ([], [None])


def check_mean_of_squares(t: Trace) -> None:
    assert close(grad(t, "x"), [0.6667, 1.3333, 2.0])
    (pow_node,) = [r for r in t.passes[0].nodes if r.op == "PowBackward0"]
    assert pow_node.local_derivative_kinds == ["jacobian"]
    assert close(pow_node.local_derivatives[0], torch.diag(torch.tensor([2.0, 4.0, 6.0])).tolist())


def check_accumulation(t: Trace) -> None:
    first, second = leaf_records(t, "x")
    assert (first.grad_before, first.grad_after) == (None, 4.0)
    assert (second.grad_before, second.grad_after) == (4.0, 8.0)
    assert grad(t, "x") == 0.0


def check_variance(t: Trace) -> None:
    first, second = leaf_records(t, "a")
    assert close(first.grad_after, [-1.0, 0.0, 1.0])
    assert close(second.grad_after, [[-1.6667, 0.3333, 1.3333]])
    assert t.variables["a"].dtype == "float64"
    assert close(t.variables["loss"].value, 2.3333)


def check_requires_grad_flow(t: Trace) -> None:
    assert grad(t, "A") == [2.0]
    assert grad(t, "B") is None
    assert not t.variables["B"].requires_grad and not t.variables["D"].requires_grad
    assert t.variables["E"].grad_fn == "AddBackward0"
    (add,) = [r for r in t.passes[0].nodes if r.name == "E"]
    assert add.grad_inputs[1] is None  # no gradient is sent towards D
    assert {r.name for r in t.passes[0].nodes if r.op == "AccumulateGrad"} == {"A"}


def check_detach(t: Trace) -> None:
    assert grad(t, "x") == 4.0
    assert not t.variables["z"].requires_grad and t.variables["y1"].grad_fn is None


def check_detach_prediction(t: Trace) -> None:
    torch.manual_seed(0)
    W = torch.randn(10, 1)
    X = torch.randn(5, 10)
    assert close(grad(t, "W"), (X.T @ (2 * (X @ W))).tolist(), abs_tol=1e-4)
    assert not t.variables["loss"].requires_grad


def check_no_grad(t: Trace) -> None:
    assert grad(t, "x") == 4.0
    assert not t.variables["y"].requires_grad
    assert any("requires_grad = False" in s.output for s in t.steps)


def check_requires_grad_false(t: Trace) -> None:
    assert grad(t, "x") == 4.0
    assert not t.variables["x"].requires_grad
    assert t.variables["y"].grad_fn is None


def check_mlp(t: Trace) -> None:
    # PyTorch, running the same training steps, is the oracle
    import torch.nn as nn

    torch.manual_seed(0)
    X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    Y = torch.tensor([[-1.0], [1.0], [0.0], [1.0]])
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses, grads = [], []
    for _ in range(2):
        optimizer.zero_grad()
        loss = nn.MSELoss()(model(X), Y)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]
    assert len(t.passes) == 2
    for bpass, expected in zip(t.passes, grads):
        for name, g in expected.items():
            (rec,) = [r for r in bpass.nodes if r.name == f"model.{name}"]
            assert rec.grad_before is None  # zero_grad() sets them to None
            assert close(rec.grad_after, g.tolist(), abs_tol=1e-6)
    for name, p in model.named_parameters():
        assert close(t.variables[f"model.{name}"].value, p.detach().tolist(), abs_tol=1e-6)
    assert close(t.variables["loss"].value, losses[1], abs_tol=1e-6)
    # the nodes know which layer made them
    modules = {t.nodes[r.node].module for r in t.passes[0].nodes}
    assert {"model.0", "model.1", "model.2", "loss_fn"} <= modules


def check_gradient_descent(t: Trace) -> None:
    from gradstep.session import Session

    # PyTorch, running the same loop, is the oracle
    x = torch.tensor(3.0, requires_grad=True)
    xs, grads = [], []
    for _ in range(5):
        loss = x**2
        loss.backward()
        grads.append(x.grad.item())
        with torch.no_grad():
            x -= 0.1 * x.grad
        xs.append(x.item())
        x.grad.zero_()
    assert close(xs[-1], 0.9830)
    assert len(t.passes) == 5
    accumulated = [r.grad_after for p in t.passes for r in p.nodes if r.op == "AccumulateGrad"]
    assert close(accumulated, grads)
    # the update inside the loop is a step of its own each time, showing the new x
    src = t.scenario.source.split("\n")
    update = next(i for i, line in enumerate(src, 1) if "x -= lr * x.grad" in line)
    clear = next(i for i, line in enumerate(src, 1) if "x.grad.zero_()" in line)
    session = Session(t)
    updates = [s for s in t.steps if s.kind == "statement" and s.line == update]
    assert close([session.variables_at(s.index)["x"].value for s in updates], xs)
    clears = [s for s in t.steps if s.kind == "statement" and s.line == clear]
    assert [session.variables_at(s.index)["x"].grad for s in clears] == [0.0] * 5
    assert [s.output.strip() for s in t.steps if s.output] == [
        f"step {k + 1}: x = {v:.4f}" for k, v in enumerate(xs)
    ]


def check_notebook(t: Trace) -> None:
    assert close(grad(t, "x"), -7.6613)
    assert any("Manual Result: -7.66127" in s.output for s in t.steps)


EXPECTED: dict[str, tuple[Callable[[Trace], None], bool]] = {
    # file: (checks, ends with the seed's intended RuntimeError)
    "01_square.py": (check_square, False),
    "02_sin_of_square.py": (check_sin_of_square, False),
    "03_two_x_squared_plus_five.py": (check_two_x_squared, False),
    "04_logistic_regression_manual.py": (check_logistic_manual, False),
    "05_logistic_regression_bce.py": (check_logistic_bce, False),
    "06_mean_of_squares.py": (check_mean_of_squares, False),
    "07_accumulation.py": (check_accumulation, False),
    "08_variance.py": (check_variance, False),
    "09_requires_grad_flow.py": (check_requires_grad_flow, False),
    "10_detach_error.py": (check_detach, True),
    "11_detach_prediction_error.py": (check_detach_prediction, True),
    "12_no_grad_error.py": (check_no_grad, True),
    "13_requires_grad_false_error.py": (check_requires_grad_false, True),
    "14_mlp_training.py": (check_mlp, False),
    "15_chain_rule_notebook.ipynb": (check_notebook, False),
    "16_gradient_descent_loop.py": (check_gradient_descent, False),
}


def test_every_bundled_scenario_has_expectations():
    assert set(SCENARIOS) == set(EXPECTED)
    assert default_scenario().name == "01_square.py" and default_scenario().is_file()
    assert any(p.suffix == ".ipynb" for p in SCENARIOS.values())


_TRACES: dict[tuple[str, bool], Trace] = {}


def recorded(name: str, trusted: bool) -> Trace:
    if (name, trusted) not in _TRACES:
        _TRACES[name, trusted] = record_scenario(load_scenario(SCENARIOS[name]), trusted=trusted)
    return _TRACES[name, trusted]


@pytest.mark.parametrize("trusted", [False, True], ids=["restricted", "trusted"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_reproduces_its_seed(name: str, trusted: bool):
    check, intended_error = EXPECTED[name]
    t = recorded(name, trusted)
    assert not t.stats.get("recording_errors"), t.stats.get("recording_errors")
    if intended_error:
        err = t.error
        assert err is not None, "the seed's error did not happen"
        assert (err.type, err.message, err.kind) == ("RuntimeError", NO_GRAD_FN, "exception")
        # at the scenario's last backward() call, as a step of its own after the working part
        assert err.line == backward_lines(t)[-1]
        assert t.steps[-1].kind == "error" and t.steps[-1].line == err.line
        assert t.passes, "the working part ran first"
    else:
        assert t.error is None, t.error
    check(t)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_is_written_for_a_lecture(name: str):
    s = load_scenario(SCENARIOS[name])
    assert s.title and s.summary, "a docstring (or a first note) gives title and summary"
    assert len(s.notes) >= 2, "markdown cells explain it"
    assert any(c.kind == "code" for c in s.cells)
    assert "print(" in s.source
    assert len(s.source.split("\n")) < 120, "small enough to show in a lecture"


def test_restricted_and_trusted_runs_record_the_same_steps():
    for name in ("04_logistic_regression_manual.py", "14_mlp_training.py"):
        a, b = recorded(name, False), recorded(name, True)
        assert [(s.kind, s.line, s.text) for s in a.steps] == [
            (s.kind, s.line, s.text) for s in b.steps
        ]


# ------------------------------------------------------------- exit status
def test_cli_trace_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["trace", str(SCENARIOS["01_square.py"])]) == 0
    assert "PowBackward0" in capsys.readouterr().out
    assert main(["trace", str(SCENARIOS["10_detach_error.py"])]) == 1
    err = capsys.readouterr().err
    last = backward_lines(recorded("10_detach_error.py", True))[-1]
    assert NO_GRAD_FN in err and f"line {last}:" in err
    refused = tmp_path / "refused.py"
    refused.write_text("import os\nos.listdir('.')\n")
    assert main(["trace", str(refused)]) == 2
    assert main(["trace", str(tmp_path / "missing.py")]) == 2


def test_pass_lines_are_the_backward_calls():
    t = recorded("07_accumulation.py", True)
    assert [p.line for p in t.passes] == backward_lines(t)
    assert all(isinstance(p, BackwardPass) and p.kind == "backward" for p in t.passes)
