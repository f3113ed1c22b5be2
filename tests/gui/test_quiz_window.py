"""Quiz mode in the window and the exercise handout: at a compute step the new gradients
are "?" in the graph, the inspector and figures until revealed; the exercise has blanks
and an answer page. PyTorch is the oracle for every number revealed or answered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gui_helpers import open_and_wait

from gradstep.gui.export.figure import default_caption
from gradstep.gui.export.handout import write_handout
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario
from oracles import torch_lesson05

LESSON_05 = next(p for p in bundled_scenarios() if p.name.startswith("05_"))


def labels(window) -> list[str]:
    """The texts of the gradients written on the graph's edges, in no particular order."""
    return sorted(label.text for label in window.graph.labels.visible())


def grad_cell(window, name: str) -> str:
    table = window.variables
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == name)
    return table.item(row, 2).text()


def downstream(inspector) -> str:
    """The downstream gradient of the sigmoid's chain-rule line in the inspector, however
    the panel's width lays the line out (one row, two blocks, or stacked)."""
    text = inspector.toPlainText()
    block = text.split("→ z\n", 1)[1].split("\ny_pred =", 1)[0]
    return block.rsplit("=", 1)[1].strip().removeprefix("downstream:").strip()


def test_quiz_hides_the_new_gradients_until_revealed(qtbot, window):
    oracle = torch_lesson05()
    open_and_wait(qtbot, window, LESSON_05)
    trace = window.trace
    a = window.actions_
    sigmoid = next(
        k for k, s in enumerate(trace.steps) if s.kind == "compute" and "Sigmoid" in s.text
    )
    window.session.go_to(sigmoid)
    a.node_values.setChecked(True)
    assert not a.quiz_reveal.isEnabled()
    assert downstream(window.inspector) == "0.9988"
    a.quiz_mode.setChecked(True)  # what Q does
    assert downstream(window.inspector) == "?"
    # the node plot's note has the product: it waits for the reveal
    assert window.plots.isVisible() and window.plots.node_plot.tangent is None
    assert labels(window) == ["813.4", "?"]  # the loss's gradient came before: shown
    caption = default_caption(window.graph)  # figures: the same chain-rule line
    assert [ln for ln in caption if "→ z" in ln][0].endswith("0.001228 = ?")
    # a leaf's new .grad: hidden in its node's values and in the inspector
    acc_w = next(
        k for k, s in enumerate(trace.steps) if s.kind == "accumulate" and s.text.startswith("w")
    )
    window.session.go_to(acc_w)
    w = trace.steps[acc_w].node
    assert window.graph.item_of(w).values.endswith("grad ?")
    assert "w.grad = ?" in window.inspector.toPlainText()
    assert grad_cell(window, "w") == "?" and grad_cell(window, "b") != "?"  # b's came before
    a.quiz_reveal.trigger()  # what R does
    grad_w = float(window.inspector.toPlainText().split("w.grad = ")[1].split()[0])
    assert grad_w == pytest.approx(oracle["w"], rel=1e-3)
    assert "grad ?" not in window.graph.item_of(w).values
    assert float(grad_cell(window, "w")) == pytest.approx(oracle["w"], rel=1e-3)
    # back to the sigmoid: not revealed yet, still "?"; revealing shows torch's number
    window.session.go_to(sigmoid)
    assert labels(window) == ["813.4", "?"]
    a.quiz_reveal.trigger()
    assert float(downstream(window.inspector)) == pytest.approx(oracle["z"], rel=1e-3)
    assert window.plots.node_plot.tangent is not None
    assert labels(window)[0] == "0.9988" and float("0.9988") == pytest.approx(oracle["z"], 1e-3)
    # stepping on hides the next one: the addition's two gradients
    window.session.go_to(sigmoid + 3)
    assert trace.steps[sigmoid + 3].kind == "compute"
    assert labels(window) == ["0.9988", "813.4", "?", "?"]
    a.quiz_mode.setChecked(False)
    assert labels(window) == ["0.9988", "0.9988", "0.9988", "813.4"]


def test_the_exercise_handout_has_blanks_and_an_answer_page(qtbot, tmp_path: Path):
    oracle = torch_lesson05()
    trace = record_scenario(load_scenario(LESSON_05), trusted=True)
    out = write_handout(trace, tmp_path / "exercise", per="node", pdf=True, exercise=True)
    md = (out / "handout.md").read_text(encoding="utf-8")
    body, answers = md.split("## Answers")
    chain = [ln for ln in body.splitlines() if ln.startswith("Chain rule:")]
    assert len(chain) == 7 and all("?" in ln for ln in chain)
    for value in ("813.4", "0.9988", "6.692"):  # no answer in the exercise itself
        assert all(value not in ln for ln in chain)
    # nor in its notes: the summary's "w.grad = 6.6918 and b.grad = 0.9988" (torch's
    # numbers) are blanks, while the data they are computed from stay
    # (the sigmoid's local derivative is written at its output ŷ = 0.9988, which in this
    # lesson equals ∂L/∂z = ŷ − y: what the class computes from, not an answer)
    words = "\n".join(ln for ln in body.splitlines() if not ln.startswith("Local derivative"))
    for value in (oracle["w"], oracle["b"], oracle["y_pred"]):
        assert f"{value:.4f}" not in words and f"{value:.4g}" not in words
    assert "w.grad = ? and" in body and "b.grad = ?," in body
    assert "(x = 6.7, label y = 0)" in body
    assert "```text" not in body  # printed output would give the gradients away
    assert "slope" not in body and "gradient_flow" not in body
    found = dict(re.findall(r"→ (.+?): `([^`]+)`", answers))
    assert float(found["y_pred"]) == pytest.approx(oracle["y_pred"], rel=1e-3)
    assert float(found["z"]) == pytest.approx(oracle["z"], rel=1e-3)
    assert float(found["w.grad"]) == pytest.approx(oracle["w"], rel=1e-3)
    assert float(found["b.grad"]) == pytest.approx(oracle["b"], rel=1e-3)
    assert (out / "handout.pdf").stat().st_size > 0
    images = sorted(p.name for p in (out / "images").iterdir())
    assert images and all(name.startswith("step_") for name in images)
