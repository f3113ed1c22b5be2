"""Hand-computed vs autograd: a lesson's own derivatives are matched with the engine's,
and a wrong one is reported with both values; PyTorch is the oracle for each."""

from __future__ import annotations

import pytest
import torch

from gradstep.cli import main
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.trace.matches import find_matches, matches_text

LESSONS = {p.name[:2]: p for p in bundled_scenarios()}


def run(source: str):
    return record_scenario(scenario_from_source(source, "s.py"), trusted=True)


def torch_logistic() -> dict[str, float]:
    x, y = torch.tensor(6.7), torch.tensor(0.0)
    w = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    y_pred = torch.sigmoid(w * x + b)
    y_pred.retain_grad()
    p = torch.clamp(y_pred, 1e-8, 1 - 1e-8)
    loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    loss.backward()
    return {"w": w.grad.item(), "b": b.grad.item(), "y_pred": y_pred.grad.item()}


def test_the_manual_logistic_regression_lesson_shows_its_matches():
    trace = record_scenario(load_scenario(LESSONS["04"]), trusted=True)
    found = {m.name: m for m in find_matches(trace)}
    assert list(found) == ["dloss_dy_pred", "dy_pred_dz", "dL_dw", "dL_db"]
    assert all(m.ok for m in found.values())
    assert found["dL_dw"].text() == "dL_dw = ∂loss/∂w from pass 1 ✓"
    assert found["dy_pred_dz"].engine.local and found["dy_pred_dz"].engine.wrt == "z"
    oracle = torch_logistic()
    assert found["dL_dw"].engine.value == pytest.approx(oracle["w"], rel=1e-6)
    assert found["dL_db"].engine.value == pytest.approx(oracle["b"], rel=1e-6)
    assert found["dloss_dy_pred"].engine.value == pytest.approx(oracle["y_pred"], rel=1e-5)
    # read from the engine or not a derivative by name: not a "hand-computed" match
    assert "p" not in found and "dz_dw" not in found


WRONG = """
import torch
x = torch.tensor(2.0, requires_grad=True)
w = torch.tensor([1.0, -3.0], requires_grad=True)
y = (w * x).sum() ** 2
y.backward()
dy_dx = 2 * (w * x).sum().detach()          # forgot the inner derivative (w.sum())
grad_w = 2 * (w * x).sum().detach() * x.detach() * torch.ones(2)
g = x.grad * 1                              # read from the engine: not checked
"""


def test_a_wrong_attempt_is_reported_with_both_values():
    trace = run(WRONG)
    found = {m.name: m for m in find_matches(trace)}
    assert set(found) == {"dy_dx", "grad_w"}
    x = torch.tensor(2.0, requires_grad=True)
    w = torch.tensor([1.0, -3.0], requires_grad=True)
    ((w * x).sum() ** 2).backward()
    wrong = found["dy_dx"]
    assert not wrong.ok
    assert wrong.engine.value == pytest.approx(x.grad.item())
    hand = 2 * (w * x).sum().item()
    assert wrong.difference == pytest.approx(abs(hand - x.grad.item()))
    assert wrong.text().startswith(f"dy_dx ≠ ∂y/∂x from pass 1: {hand:.6g} by hand, ")
    right = found["grad_w"]
    assert right.ok and right.engine.value == pytest.approx(w.grad.tolist())


def test_a_retained_gradient_and_later_passes_count():
    trace = run(
        "import torch\n"
        "a = torch.tensor(0.5, requires_grad=True)\n"
        "h = torch.tanh(a)\nh.retain_grad()\n"
        "out = 3 * h**2\nout.backward()\n"
        "d_out_d_h = 6 * h.detach()\n"
        "q = torch.exp(a)\nq.backward()\n"
        "da = torch.exp(a.detach())\n"
    )
    found = {m.name: m for m in find_matches(trace)}
    assert found["d_out_d_h"].ok and found["d_out_d_h"].engine.wrt == "h"
    assert found["da"].ok and found["da"].engine.label() == "∂q/∂a from pass 2"


def test_trace_prints_the_report_under_its_table(capsys):
    assert main(["trace", "04"]) == 0
    out = capsys.readouterr().out
    assert "hand-computed vs autograd:\n" in out
    assert ": dL_dw = ∂loss/∂w from pass 1 ✓\n" in out


def test_no_derivative_no_report():
    trace = record_scenario(load_scenario(LESSONS["01"]), trusted=True)
    assert find_matches(trace) == [] and matches_text(trace) == ""
