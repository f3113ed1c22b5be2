"""The What-if panel: a slider or a field re-runs the scenario with the value, keeping the
place; the file changes only on "Write"; PyTorch is the oracle for the new numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gui_helpers import open_and_wait

SOURCE = '''"""What if x were 5?"""
import torch

x = torch.tensor(3.0, requires_grad=True)
lr = 0.1
y = x**3
y.backward()
x_next = x.detach() - lr * x.grad
'''


@pytest.fixture(autouse=True)
def _one_spare_again(worker_pool):
    """The panel has the shared pool keep two spares; the other tests' windows need one."""
    yield
    worker_pool.keep_spares(1)


@pytest.fixture
def lesson(tmp_path: Path) -> Path:
    path = tmp_path / "whatif.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


def torch_numbers(x: float, lr: float = 0.1) -> tuple[float, float]:
    t = torch.tensor(x, requires_grad=True)
    (t**3).backward()
    return t.grad.item(), (t.detach() - lr * t.grad).item()


def release(qtbot, window, row, position: int) -> None:
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        row.slider.setSliderDown(True)
        row.slider.setValue(position)
        row.slider.setSliderDown(False)  # emits sliderReleased, as the mouse does


def test_a_slider_release_reruns_with_the_value_and_keeps_the_place(qtbot, window, lesson):
    open_and_wait(qtbot, window, lesson)
    panel = window.whatif
    assert [k for k in panel._rows] == ["x@4", "lr@5"]
    window.session.go_to(8)
    positions = dict(window.graph.drawing.layout.positions)
    before = lesson.read_bytes()
    row = panel.row("x")
    assert row.range.lo == -3.0 and row.range.hi == 9.0
    position = row.range.position(5.0)
    release(qtbot, window, row, position)
    grad, x_next = torch_numbers(row.range.value(position))
    assert row.range.value(position) == 5.0
    assert window.trace.variables["x"].grad == pytest.approx(grad) == 75.0
    assert window.trace.variables["x_next"].value == pytest.approx(x_next)
    assert window.session.index == 8  # the same step...
    assert dict(window.graph.drawing.layout.positions) == positions  # ...and layout
    assert lesson.read_bytes() == before  # the file is untouched
    assert window.loader.overrides == {"x@4": "5.0"}
    assert window.loader.pool._wanted == 2  # a second change will find a warm worker
    assert row.field.text() == "5.0" and row.label.font().bold() and row.write.isEnabled()
    assert "Running with x = 5.0" in panel.status.text()
    dock = panel.parentWidget()
    dock.raise_()
    qtbot.waitUntil(panel.isVisible)
    dock.close()  # closing the panel gives the second spare's memory back
    assert window.loader.pool._wanted == 1 and len(window.loader.pool._spares) <= 1


def test_a_typed_value_and_reset(qtbot, window, lesson):
    open_and_wait(qtbot, window, lesson)
    row = window.whatif.row("lr")
    row.field.setText("0.5")
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        row.field.editingFinished.emit()
    assert window.trace.variables["x_next"].value == pytest.approx(torch_numbers(3.0, 0.5)[1])
    row.field.setText("abc")
    row.field.editingFinished.emit()  # refused in the panel: no run
    assert "'abc' is not a number" in window.whatif.status.text()
    assert window.loader.overrides == {"lr@5": "0.5"}
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        window.whatif.reset.click()
    assert window.loader.overrides == {}
    assert window.trace.variables["x_next"].value == pytest.approx(torch_numbers(3.0)[1])
    assert not row.write.isEnabled()


def test_the_code_view_shows_the_file_with_the_what_if_value_marked(qtbot, window, lesson):
    """What runs has x = 5.0; the code panel shows the file's line (3.0), that literal
    marked, and says what it runs with after the line and in a tooltip over it."""
    from PySide6.QtGui import QTextCursor

    open_and_wait(qtbot, window, lesson)
    code, row = window.code, window.whatif.row("x")
    assert code.marks == [] and code.toPlainText() == window.trace.scenario.source
    release(qtbot, window, row, row.range.position(5.0))
    assert "torch.tensor(5.0," in window.trace.scenario.source  # what ran
    assert code.toPlainText() == window.trace.scenario.source.replace("5.0,", "3.0,")
    assert code.toPlainText() == lesson.read_text(encoding="utf-8")  # the file, as it is
    (mark,) = code.marks
    assert (mark.line, mark.name, mark.ran, mark.file_text) == (4, "x", "5.0", "3.0")
    line = code.document().findBlockByNumber(3).text()
    assert line[mark.start : mark.end] == "3.0"
    marked = [s for s in code.extraSelections() if s.cursor.selectedText() == "3.0"]
    assert len(marked) == 1  # highlighted: just the literal, not the whole line
    cursor = QTextCursor(code.document().findBlockByNumber(3))
    cursor.setPosition(cursor.position() + mark.start + 1)
    assert code.mark_at(cursor) is mark
    assert "runs as 5.0 (the file says 3.0)" in mark.tip()
    window.session.go_to(3)  # the current line is x's line: the literal stays marked
    assert code.marks == [mark]
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        window.whatif.reset.click()
    assert code.marks == [] and code.toPlainText() == lesson.read_text(encoding="utf-8")


def test_write_value_to_file_changes_only_that_literal(qtbot, window, lesson):
    open_and_wait(qtbot, window, lesson)
    row = window.whatif.row("x")
    release(qtbot, window, row, row.range.position(-1.6))
    assert window.loader.overrides == {"x@4": "-1.6"}
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):  # the watcher reloads it
        row.write.click()
    assert lesson.read_text(encoding="utf-8") == SOURCE.replace(
        "torch.tensor(3.0,", "torch.tensor(-1.6,"
    )
    assert window.loader.overrides == {}
    assert row.base == -1.6 and not row.write.isEnabled()
    assert window.trace.variables["x"].grad == pytest.approx(torch_numbers(-1.6)[0])


def test_another_file_starts_without_what_if_values(qtbot, window, lesson, scenario):
    open_and_wait(qtbot, window, lesson)
    release(qtbot, window, window.whatif.row("x"), 0)
    open_and_wait(qtbot, window, scenario)  # its x is a list: nothing to vary
    assert window.loader.overrides == {}
    assert window.whatif._rows == {} and window.whatif.hint.isVisibleTo(window.whatif)


def test_the_manual_lesson_shows_its_hand_computed_derivatives(qtbot, window):
    from gradstep.resources import bundled_scenarios

    (manual,) = [p for p in bundled_scenarios() if p.name.startswith("04_")]
    open_and_wait(qtbot, window, manual)
    window.session.last()
    table = window.variables
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    cell = table.item(rows["dL_dw"], 1)
    assert cell.text().endswith("✓ = ∂loss/∂w")
    assert cell.toolTip() == "dL_dw = ∂loss/∂w from pass 1 ✓"
    assert table.item(rows["dy_pred_dz"], 1).text().endswith("✓ = ∂y_pred/∂z")
    assert "✓" not in table.item(rows["p"], 1).text()  # a detached value, not a derivative
    window.session.go_to(0)
    window.session.last()  # stepping there again marks it again
    assert table.item(rows["dL_db"], 1).text().endswith("✓ = ∂loss/∂b")


def test_a_rerun_updates_the_plots_in_place_and_the_hidden_flow_when_shown(qtbot, window, lesson):
    from gradstep.resources import bundled_scenarios

    (accumulating,) = [p for p in bundled_scenarios() if p.name.startswith("07_")]
    open_and_wait(qtbot, window, accumulating)
    plots = window.plots
    assert plots.currentWidget() is plots.node_plot and plots.isVisible()
    passes = plots.pass_plot
    assert passes.series is not None
    items = dict(passes.grad_items)
    row = next(iter(window.whatif._rows.values()))
    release(qtbot, window, row, row.range.positions)
    assert passes.grad_items == items  # the same curves, new data
    name, line = next(iter(items.items()))
    assert list(line.getData()[1]) == pytest.approx(passes.series.grad[name])
    assert plots._flow_due  # behind its tab: not drawn for this run
    plots.setCurrentWidget(plots.flow_plot)
    assert not plots._flow_due and plots.flow_plot.trace is window.trace
