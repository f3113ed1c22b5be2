"""A long loop in the window: the loss of every round in the Passes plot, and a time limit
inside the loop that keeps the rounds recorded before it on screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import open_and_wait

from gradstep.gui.panels.plots import PassSeriesPlot
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source

FIT = """\
import torch
x = torch.linspace(-1, 1, 50)
y = 2 * x + 1
w = torch.zeros(1, requires_grad=True)
for t in range(250):
    loss = ((w * x - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.05 * w.grad
    w.grad = None
"""


def _plain_losses() -> list[float]:
    x = __import__("torch").linspace(-1, 1, 50)
    y = 2 * x + 1
    w = __import__("torch").zeros(1, requires_grad=True)
    out = []
    for _ in range(250):
        loss = ((w * x - y) ** 2).mean()
        loss.backward()
        with __import__("torch").no_grad():
            w -= 0.05 * w.grad
        w.grad = None
        out.append(loss.item())
    return out


def test_the_passes_plot_shows_the_loss_of_every_round(qtbot) -> None:
    trace = record_scenario(scenario_from_source(FIT, "fit.py"), trusted=True)  # no guard here
    plot = PassSeriesPlot()
    qtbot.addWidget(plot)
    plot.set_trace(trace)
    assert plot.round_items is not None and plot.loss_item is None
    line, dots = plot.round_items
    x, y = line.getData()
    np.testing.assert_array_equal(x, np.arange(1, 251))
    assert list(y) == _plain_losses()  # PyTorch's numbers, every round
    dx, _ = dots.getData()  # the rounds recorded in full, distinguishable on the line
    np.testing.assert_array_equal(dx, [*range(1, 21), 100, 200])
    plot.set_pass(20)  # the 21st pass is round 100's
    assert plot._round_marker.isVisible() and plot._round_marker.value() == 100
    assert all(m.isVisible() and m.value() == 21 for m in plot._markers)  # the grads plot
    plot.set_pass(None)
    assert not plot._round_marker.isVisible()


def test_a_time_limit_in_a_long_loop_keeps_the_rounds_before_on_screen(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("GRADSTEP_TIMEOUT", "3")
    path = tmp_path / "long.py"
    path.write_text(
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\ny.backward()\n"
        "total = 0\nfor i in range(10**9):\n    total += i\n",
        encoding="utf-8",
    )
    open_and_wait(qtbot, window, path, trusted=False)  # shown, not refused as a failure
    trace = window.trace
    assert trace.error is not None and trace.error.type == "TimeLimit"
    assert "in round " in trace.error.message and "(line 6)" in trace.error.message
    assert len(trace.passes) == 1 and trace.steps[-2].text.endswith("summarised (no steps)")
    assert window.step_count == len(trace.steps) > 20
    assert "the steps before it are kept" in window.message.text


def test_the_notes_say_which_rounds_are_detailed(qtbot) -> None:
    from gradstep.gui.panels.notes import NotesView
    from gradstep.gui.theme import LIGHT
    from gradstep.session import Session

    trace = record_scenario(scenario_from_source(FIT, "fit.py"), trusted=True)  # no guard here
    notes = NotesView(LIGHT)
    qtbot.addWidget(notes)
    notes.set_session(Session(trace))
    assert (
        "The loop for t in range(250): (line 5): rounds 1–20, 100, 200 in full detail; "
        "228 summarised (loss, w each round)."
    ) in notes.toPlainText()
