"""The inspector writes each node's chain rule as taught, with PyTorch as the oracle.

The panel is driven by a session over a trace recorded in this process (no
worker): the MLP's tanh as upstream ⊙ f′(x), its matrix product as the two
VJPs, lesson 04's clamp as the sum of its two consumers, a custom Function by
its backward's line, a node of more than 1,024 elements by a summary, a
constant input as what it is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from gradstep.graph.model import build_graph, is_constant
from gradstep.gui.panels.inspector import Inspector
from gradstep.gui.theme import LIGHT
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.session import Session
from gradstep.trace.model import Trace

SCENARIOS = Path(__file__).parents[2] / "resources" / "scenarios"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def shown_numbers(text: str) -> list[tuple[float, float]]:
    """Every number in ``text`` and half its last digit's place."""
    out = []
    for m in NUMBER.findall(text):
        mantissa, _, exp = m.partition("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        out.append((float(m), 0.5 * 10.0 ** (int(exp or 0) - decimals)))
    return out


def all_shown(text: str, values: torch.Tensor) -> None:
    shown = shown_numbers(text)
    for v in values.detach().double().reshape(-1).tolist():
        assert any(abs(v - d) <= half * 1.0001 for d, half in shown), (v, text)


@pytest.fixture
def panel(qtbot):
    def make(trace: Trace, width: int = 1400) -> tuple[Inspector, Session]:
        inspector = Inspector(LIGHT)
        qtbot.addWidget(inspector)
        inspector.resize(width, 900)
        inspector.show()
        session = Session(trace)
        inspector.set_session(session)
        return inspector, session

    return make


def compute_step(trace: Trace, op: str, k: int = 0) -> int:
    steps = [r.compute_step for p in trace.passes for r in p.nodes if r.op == op]
    return steps[k]


def mlp() -> tuple[Trace, dict[str, torch.Tensor]]:
    trace = record_scenario(load_scenario(SCENARIOS / "14_mlp_training.py"), trusted=True)
    torch.manual_seed(0)
    X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    Y = torch.tensor([[-1.0], [1.0], [0.0], [1.0]])
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    pre = X @ model[0].weight.T + model[0].bias
    pre.retain_grad()
    h = torch.tanh(pre)
    h.retain_grad()
    out = h @ model[2].weight.T + model[2].bias
    out.retain_grad()
    torch.nn.MSELoss()(out, Y).backward()
    return trace, {"h": h, "h.grad": h.grad, "pre.grad": pre.grad, "out.grad": out.grad,
                   "W2": model[2].weight, "W2.grad": model[2].weight.grad}  # fmt: skip


def test_the_mlps_tanh_reads_upstream_times_f_prime(panel) -> None:
    trace, t = mlp()
    inspector, session = panel(trace)
    session.go_to(compute_step(trace, "TanhBackward0"))
    text = inspector.toPlainText()
    assert "upstream ⊙ 1 − tanh²x = downstream" in text
    assert "Jacobian" not in text and "× —" not in text
    all_shown(text, t["h.grad"])
    all_shown(text, 1 - t["h"] ** 2)
    all_shown(text, t["pre.grad"])


def test_the_mlps_matrix_product_shows_both_vjps_with_the_matrices(panel) -> None:
    trace, t = mlp()
    inspector, session = panel(trace)
    session.go_to(compute_step(trace, "AddmmBackward0"))  # the output layer: first to run
    text = inspector.toPlainText()
    assert "upstream @ model.2.weight = downstream" in text
    assert "ᵀ @ upstream = downstream → model.2.weightᵀ" in text
    all_shown(text, t["out.grad"])
    all_shown(text, t["W2"])
    all_shown(text, t["h.grad"])  # upstream @ W
    all_shown(text, t["W2.grad"])  # hᵀ @ upstream
    all_shown(text, t["h"])


def test_a_narrow_panel_stacks_the_operands_instead_of_scrolling(panel) -> None:
    trace, _ = mlp()
    inspector, session = panel(trace, width=360)
    session.go_to(compute_step(trace, "TanhBackward0"))
    browser = inspector._browser
    assert browser.horizontalScrollBar().maximum() == 0, "the chain rule needs no sideways scroll"
    assert "⊙" in inspector.toPlainText().splitlines()


def test_lesson_04s_clamp_shows_its_fan_in_as_it_arrives(panel) -> None:
    trace = record_scenario(
        load_scenario(SCENARIOS / "04_logistic_regression_manual.py"), trusted=True
    )
    inspector, session = panel(trace)
    rec = next(r for r in trace.passes[0].nodes if r.op == "ClampBackward1")
    session.go_to(rec.compute_step)
    text = inspector.toPlainText()
    assert "upstream = (from 1 - prediction) + (from torch.log(prediction))" in text
    assert re.search(r"813\.\d+\s+\+\s+0\s+=\s+813\.\d+", text), text
    # before the second consumer has sent its part, that part is still "…"
    inspector.pin(rec.node)
    session.go_to(rec.receive_step - 2)
    assert re.search(r"(813\.\d+|0)\s+\+\s+…\s+=\s+…", inspector.toPlainText())
    # a pinned constant input says what it is
    const = next(d for d in build_graph(trace) if is_constant(d))
    inspector.pin(const)
    text = inspector.toPlainText()
    assert "constant input" in text and "no gradient" in text


def test_a_custom_function_and_a_big_node_show_something_real(panel) -> None:
    source = """import torch


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2


x = torch.linspace(-1, 1, 5, requires_grad=True)
y = Cube.apply(x).sum()
y.backward()
big = torch.linspace(-2, 2, 40 * 40, requires_grad=True)
torch.tanh(big.reshape(40, 40)).sum().backward()
"""
    trace = record_scenario(scenario_from_source(source, "case.py"), trusted=True)
    assert trace.error is None, trace.error
    inspector, session = panel(trace)
    session.go_to(compute_step(trace, "CubeBackward"))
    text = inspector.toPlainText()
    assert "custom backward, line 11" in text
    x = torch.linspace(-1, 1, 5)
    all_shown(text, 3 * x**2)
    session.go_to(compute_step(trace, "TanhBackward0"))
    text = inspector.toPlainText()
    assert "40×40" in text and "min" in text and "max" in text
    assert "—" not in text.split("Local derivative")[1]


LEAF_VS_NONLEAF = """import torch
import torch.nn.functional as F
x = torch.ones(1, 3)
W = torch.ones(3, 2, requires_grad=True)
b = torch.ones(1, 2, requires_grad=True)
y = torch.ones(1, 2)
z = (x @ W) + b
y_pred = F.relu(z)
loss = F.mse_loss(y_pred, y)
loss.backward()
"""


def test_the_upstream_is_shown_from_the_tensors_gradient_step(panel) -> None:
    """``y_pred receives its gradient`` (its tensor's hook, before the node's receive step):
    the graph's edge already shows the arriving gradient, so the rule shows it too, not "…"."""
    trace = record_scenario(scenario_from_source(LEAF_VS_NONLEAF, "case.py"), trusted=True)
    inspector, session = panel(trace)
    (hook,) = [s for s in trace.steps if s.kind == "tensor_hook" and s.text.startswith("y_pred")]
    (rec,) = [r for r in trace.passes[0].nodes if r.node == hook.node]
    assert rec.receive_step is not None and hook.index < rec.receive_step
    session.go_to(hook.index)
    assert inspector.shown_node == hook.node
    text = inspector.toPlainText()
    # PyTorch's gradient of the loss with respect to y_pred
    W = torch.ones(3, 2, requires_grad=True)
    y_pred = torch.relu(torch.ones(1, 3) @ W + torch.ones(1, 2))
    y_pred.retain_grad()
    torch.nn.functional.mse_loss(y_pred, torch.ones(1, 2)).backward()
    expected = y_pred.grad
    assert expected is not None and expected.tolist() == [[3.0, 3.0]]
    rule_rows = [line for line in text.split("\n") if "⊙" in line and "[[1, 1]]" in line]
    assert rule_rows, text
    assert not rule_rows[-1].lstrip().startswith("…"), text  # the upstream is not hidden
    all_shown(rule_rows[-1].split("⊙")[0], expected)
    assert "=  …" in rule_rows[-1] or rule_rows[-1].rstrip().endswith("…")  # not computed yet
