"""The window with a real scenario run through the real worker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from gui_helpers import open_and_wait, write_replacing
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent, QFontDatabase
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

from gradstep.gui.main_window import LAYOUT_VERSION
from gradstep.gui.settings import recent_files
from gradstep.resources import bundled_scenarios
from gradstep.trace.text import format_value

ACTIONS = (
    "action_open",
    "action_reload",
    "action_step_forward",
    "action_step_back",
    "action_first_step",
    "action_last_step",
    "action_presentation_mode",
)
PANELS = ("graph_view", "code_view", "inspector", "variables", "timeline", "notes")


def action(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    return found


def step_of(window, kind: str, name: str) -> int:
    """The first step of ``kind`` at the node that produced the variable ``name``."""
    trace = window.trace
    for s in trace.steps:
        if s.kind == kind and s.node is not None and trace.nodes[s.node].name == name:
            return s.index
    raise AssertionError(f"no {kind} step for {name}")


def torch_reference() -> dict[str, list[float]]:
    """The scenario's gradients, computed here with PyTorch."""
    x = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = torch.sin(x) * x
    y.retain_grad()
    loss = (y**2).mean()
    loss.backward()
    g = y.grad
    return {
        "x.grad": x.grad.tolist(),
        "y.grad": g.tolist(),
        # MulBackward0 of sin(x) * x: one outgoing gradient per factor
        "y.down": (g * x).detach().tolist(),
        "y.down.x": (g * torch.sin(x)).detach().tolist(),
    }


def test_fonts_exist(qapp) -> None:
    assert QFontDatabase.families(), "no fonts: every glyph would be an empty box"


def test_api_names(window) -> None:
    for name in ACTIONS:
        action(window, name)
    for name in PANELS:
        assert window.findChild(QWidget, name) is not None, name
    assert window.step_count == 0 and window.step_index == 0
    bundled = window.findChild(QMenu, "menu_scenarios")
    assert len(bundled.actions()) == len(bundled_scenarios())


def test_layout_is_remembered(qtbot, tmp_path: Path, worker_pool) -> None:
    from gradstep.gui import MainWindow

    settings = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings, pool=worker_pool)
    qtbot.addWidget(first)
    first.show()
    first.findChild(QDockWidget, "dock_variables").setVisible(False)
    first.close()
    second = MainWindow(settings, pool=worker_pool)
    qtbot.addWidget(second)
    second.show()
    assert not second.findChild(QDockWidget, "dock_variables").isVisible()
    assert second.findChild(QDockWidget, "dock_inspector").isVisible()
    second.close()


def test_a_layout_that_is_not_saved_bytes_gives_the_default(qtbot, tmp_path: Path, worker_pool):
    """A settings file edited by hand (or by another program) with text where the window's
    geometry and dock state were: the window opens as at first launch, every panel shown."""
    from gradstep.gui import MainWindow
    from gradstep.gui.settings import saved_bytes

    settings = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    settings.setValue("window/geometry", "not a geometry")
    settings.setValue("window/state", 12)
    assert saved_bytes(settings, "window/geometry").isEmpty()
    window = MainWindow(settings, pool=worker_pool)
    qtbot.addWidget(window)
    window.show()
    assert window.first_launch
    assert window.findChild(QDockWidget, "dock_variables").isVisible()
    window.close()  # saves real bytes, which come back as they were written
    assert saved_bytes(settings, "window/state") == window.saveState(LAYOUT_VERSION)


def test_step_with_actions(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    n = window.step_count
    assert n == len(window.trace.steps) > 10
    action(window, "action_step_forward").trigger()
    action(window, "action_step_forward").trigger()
    assert window.step_index == 2
    action(window, "action_step_back").trigger()
    assert window.step_index == 1
    action(window, "action_last_step").trigger()
    assert window.step_index == n - 1
    action(window, "action_step_forward").trigger()
    assert window.step_index == n - 1
    action(window, "action_first_step").trigger()
    assert window.step_index == 0
    action(window, "action_next_pass").trigger()
    assert window.trace.steps[window.step_index].kind == "pass_start"
    assert recent_files(window.settings)[0] == str(scenario.resolve())  # File ▸ Open Recent


def test_keyboard_steps_whatever_has_focus(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    assert window.focusWidget() is window.graph  # at the start: not the search field
    for focus in ("graph_view", "timeline_list", "code_view", "inspector_text", "variables"):
        target = window.findChild(QWidget, focus)
        target.setFocus()
        QTest.keyClick(target, Qt.Key.Key_Home)
        for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_F10):
            QTest.keyClick(target, key)
        assert window.step_index == 3, focus
        QTest.keyClick(target, Qt.Key.Key_Left)
        QTest.keyClick(target, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
        assert window.step_index == 1, focus
        QTest.keyClick(target, Qt.Key.Key_End)
        assert window.step_index == window.step_count - 1, focus


def test_every_panel_numbers_steps_from_one(qtbot, window, scenario: Path) -> None:
    """The status bar, the timeline and the inspector say "Step k of N" with k from 1."""
    open_and_wait(qtbot, window, scenario)
    n = window.step_count
    start = next(s.index for s in window.trace.steps if s.kind == "pass_start")
    window.session.go_to(start)  # no node at a pass's start: the inspector shows the step
    k = start + 1
    text = window.trace.steps[start].text
    assert window.status.text() == f"Step {k} of {n} — {text}"
    assert window.timeline.position.text() == f"{k} / {n}"
    row = window.timeline.model.index(start, 0).data()
    assert row.split()[0] == str(k) and text in row
    assert window.timeline.model.index(0, 0).data().split()[0] == "1"
    assert window.inspector.toPlainText().startswith(f"Step {k} of {n}: {text}")
    # a node pinned before it exists, and one waiting for its gradient, name steps from 1 too
    x = next(nid for nid, node in window.trace.nodes.items() if node.name == "x")
    window.inspector.pin(x)
    window.session.first()
    assert f"it appears at step {window.trace.nodes[x].step + 1}." in window.inspector.toPlainText()
    window.session.go_to(start)
    receive = next(r.receive_step for r in window.trace.passes[0].nodes if r.node == x)
    assert f"receives its gradient at step {receive + 1}" in window.inspector.toPlainText()


def test_the_timeline_and_status_bar_title_a_node_as_the_graph_does(qtbot, window) -> None:
    """Lesson 05's product node reads "w * x" over MulBackward0 in the graph: its steps in
    the timeline (row and tooltip) and the status bar say ``MulBackward0 (w * x) …``."""
    lesson = next(p for p in bundled_scenarios() if p.name.startswith("05_"))
    open_and_wait(qtbot, window, lesson)
    trace = window.trace
    mul = next(n for n in trace.nodes.values() if n.op == "MulBackward0")
    drawn = window.graph.drawing.lines[mul.id]
    assert drawn == ("w * x", "MulBackward0")
    compute = next(s for s in trace.steps if s.node == mul.id and s.kind == "compute")
    assert compute.text.startswith("MulBackward0 computes")  # as recorded: no title
    window.session.go_to(compute.index)
    said = "MulBackward0 (w * x) computes upstream × local = downstream"
    assert window.status.text().endswith(f" — {said}")
    model = window.timeline.model
    assert model.index(compute.index, 0).data().endswith(said)
    assert said in model.index(compute.index, 0).data(Qt.ItemDataRole.ToolTipRole)
    add = next(s for s in trace.steps if s.kind == "compute" and "AddBackward0" in s.text)
    assert (
        model.index(add.index, 0)
        .data()
        .endswith("AddBackward0 (z) computes upstream × local = downstream")
    )


def _displayed(text: str) -> list[tuple[float, float]]:
    """Every number in ``text`` with half its last digit's place (its display precision)."""
    out = []
    for m in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text):
        mantissa, _, exp = m.partition("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        out.append((float(m), 0.5 * 10.0 ** (-decimals + int(exp or 0))))
    return out


def _all_shown(text: str, values: list[float]) -> None:
    shown = _displayed(text)
    for v in values:
        assert any(abs(v - d) <= half + 1e-12 for d, half in shown), (v, text)


def test_inspector_numbers_equal_pytorch(qtbot, window, scenario: Path) -> None:
    expected = torch_reference()
    open_and_wait(qtbot, window, scenario)
    inspector = window.findChild(QWidget, "inspector")

    # x feeds sin(x) and the product: its gradient is the sum of the two paths (fan-in)
    window.session.go_to(step_of(window, "accumulate", "x"))
    text = inspector.toPlainText()
    assert "upstream = (from y) + (from torch.sin(x))" in text
    assert ".grad = incoming (it was None) → x.grad" in text
    _all_shown(text, expected["x.grad"])

    # y = sin(x) * x: upstream ⊙ the other factor, one line per factor, with torch's numbers
    window.session.go_to(step_of(window, "compute", "y"))
    text = inspector.toPlainText()
    assert "upstream ⊙ x = downstream → torch.sin(x)" in text
    assert "upstream ⊙ torch.sin(x) = downstream → x" in text
    assert "× —" not in text and "Jacobian" not in text  # as taught, not a diagonal matrix
    _all_shown(text, expected["y.grad"] + expected["y.down"] + expected["y.down.x"])
    assert "y.grad (kept by retain_grad())" in text

    # before it computes, its results are not shown yet
    window.session.go_to(step_of(window, "receive", "y"))
    text = inspector.toPlainText()
    assert "receives its gradient in this step" in text
    assert "…" in text
    _all_shown(text, expected["y.grad"])


NOTES = '''"""Two notes

First we square it. Then we go backward.
"""
import torch
x = torch.tensor(2.0, requires_grad=True)
# %% [markdown]
# First we **square** it.
#
# Then y has a grad_fn, PowBackward0.
# %%
y = x ** 2
# %% [markdown]
# ## Backward
#
# Then we go backward.
# %%
y.backward()
'''


def test_the_note_of_the_current_code_is_tinted(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "notes.py"
    path.write_text(NOTES, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    notes, steps = window.notes, window.trace.steps
    assert notes.current_note() == ""  # "import torch" comes before any note
    window.session.go_to(next(s.index for s in steps if s.text.startswith("y = x")))
    assert notes.current_note() == "First we square it.\nThen y has a grad_fn, PowBackward0."
    window.session.go_to(next(s.index for s in steps if s.kind == "pass_start"))
    assert notes.current_note() == "Backward\nThen we go backward."
    window.apply_theme("dark")  # the tint in the new colours, on the same note
    assert notes.current_note() == "Backward\nThen we go backward."
    window.session.first()
    assert notes.current_note() == ""


def test_variables_follow_the_step(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    table = window.findChild(QWidget, "variables")

    def rows() -> dict[str, str]:
        return {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}

    action(window, "action_last_step").trigger()
    assert rows()["x"] == format_value(torch_reference()["x.grad"], max_items=4)
    action(window, "action_first_step").trigger()
    assert "x" not in rows()


ENCODER = '''"""One transformer layer"""
import torch
from torch import nn

torch.manual_seed(0)
encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 1, 8, dropout=0.0), 1)
loss = encoder(torch.randn(3, 1, 4)).pow(2).mean()
loss.backward()
'''


def test_long_parameter_names_fit_their_column(qtbot, window, tmp_path: Path) -> None:
    from PySide6.QtGui import QFontMetrics

    path = tmp_path / "encoder.py"
    path.write_text(ENCODER, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    window.session.last()
    table = window.variables
    names = [table.item(r, 0) for r in range(table.rowCount())]
    longest = max(names, key=lambda item: len(item.text()))
    assert longest.text() == "encoder.layers.0.self_attn.out_proj.weight"
    needed = QFontMetrics(longest.font()).horizontalAdvance(longest.text())
    # the whole path, not "encoder.layers.0.self_att…": as wide as Qt needs to show every name
    assert table.columnWidth(0) >= max(table.sizeHintForColumn(0), needed)


def test_a_big_models_values_get_columns_wide_enough_to_read(qtbot, window) -> None:
    from PySide6.QtGui import QFontMetrics

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios" / "transformer_24.py"
    open_and_wait(qtbot, window, path)
    window.session.last()
    table = window.variables
    assert table.rowCount() > 200  # past the size at which every cell is measured
    metrics = QFontMetrics(table.font())
    for col in (1, 2):  # value and grad: at least their first rows' texts fit
        first = table.item(0, col).text()
        assert table.columnWidth(col) >= metrics.horizontalAdvance(first), (col, first)


def test_reload_on_save_keeps_place(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    k = step_of(window, "compute", "y")
    window.session.go_to(k)
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        write_replacing(
            scenario, scenario.read_text().replace("[0.5, -1.5, 2.0]", "[0.5, -1.5, 3.0]")
        )
    assert window.step_index == k
    assert window.trace.steps[k].kind == "compute"
    assert any(
        v is not None and v.value == [0.5, -1.5, 3.0]
        for s in window.trace.steps
        for v in s.variables.values()
    )
    # the watcher still works after a replace-save
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        write_replacing(scenario, scenario.read_text().replace("3.0]", "4.0]"))


def test_bad_file_keeps_last_trace(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    good = window.trace
    window.session.go_to(5)
    broken = scenario.read_text().replace("y = torch.sin(x) * x", "y = torch.sin(x) *")
    with qtbot.waitSignal(window.load_failed, timeout=30_000) as blocker:
        write_replacing(scenario, broken)
    message = blocker.args[0]
    assert "SyntaxError" in message and "line 11" in message
    assert window.trace is good and window.step_index == 5
    code = window.findChild(QWidget, "code_view")
    assert code.error_line == 11
    assert window.message.text and "SyntaxError" in window.message.text
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        write_replacing(scenario, broken.replace("torch.sin(x) *", "torch.sin(x) * x"))
    assert code.error_line is None and not window.message.text


def test_refused_file_offers_trust(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "refused.py"
    path.write_text("import os\nimport torch\nx = torch.ones(2, requires_grad=True)\n")
    with qtbot.waitSignal(window.load_failed, timeout=30_000):
        window.open_scenario(path)  # restricted by default
    assert not window.trusted
    assert window.message.trust.isVisibleTo(window.message)
    assert window.findChild(QWidget, "code_view").error_line == 1
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        window.message.trust.click()
    assert window.trusted and window.step_count >= 3


def test_refused_file_lists_every_refusal(qtbot, window, tmp_path: Path) -> None:
    """One round trip for a file with several problems: the message names each line."""
    path = tmp_path / "refused.py"
    path.write_text("import os\nimport torch\nx = torch.ones(2)\ny = x.storage()\nimport socket\n")
    with qtbot.waitSignal(window.load_failed, timeout=30_000):
        window.open_scenario(path)
    text = window.message.text
    assert "line 1:" in text and "importing 'os'" in text
    assert "2 more refused constructs:" in text
    assert "line 4: '.storage'" in text and "line 5: importing 'socket'" in text
    assert window.findChild(QWidget, "code_view").error_line == 1


def test_exception_is_a_step(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "raises.py"
    path.write_text(
        "import torch\nx = torch.ones(2, requires_grad=True)\nraise ValueError('on purpose')\n"
    )
    open_and_wait(qtbot, window, path)
    assert window.trace.steps[-1].kind == "error"
    assert "ValueError" in window.message.text


def test_graph_click_selects_and_double_click_goes_to_step(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    action(window, "action_last_step").trigger()
    graph = window.findChild(QWidget, "graph_view")
    y_node = next(n for n, node in window.trace.nodes.items() if node.name == "y")
    item = graph.node_item(y_node)
    graph.centerOn(item)
    pos = graph.mapFromScene(item.scenePos())
    QTest.mouseClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert graph.selected == y_node
    assert window.inspector.pinned == y_node and window.inspector.shown_node == y_node
    table = window.findChild(QWidget, "variables")
    assert table.item(table.currentRow(), 0).text() == "y"
    action(window, "action_first_step").trigger()
    assert window.inspector.shown_node == y_node  # pinned: stays
    QTest.mouseDClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.step_index == step_of(window, "compute", "y")
    QTest.keyClick(graph, Qt.Key.Key_Escape)
    assert window.inspector.pinned is None


def test_tab_walks_the_graph_and_enter_goes_to_the_step(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    graph = window.graph
    order = graph.keys.reading_order()
    assert len(order) == len(window.trace.nodes) >= 5
    assert order[0] in {n for n, node in window.trace.nodes.items() if node.kind == "leaf"}
    graph.setFocus()
    QTest.keyClick(graph, Qt.Key.Key_Tab)  # nothing selected, nothing current: the first
    assert graph.selected == order[0] and window.inspector.pinned == order[0]
    assert graph.node_item(order[0]).selected
    QTest.keyClick(graph, Qt.Key.Key_Tab)
    QTest.keyClick(graph, Qt.Key.Key_Tab)
    assert graph.selected == order[2]
    assert window.focusWidget() is graph  # Tab moved the selection, not the focus
    QTest.keyClick(graph, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    assert graph.selected == order[1] and not graph.node_item(order[2]).selected
    QTest.keyClick(graph, Qt.Key.Key_Return)
    assert window.step_index == window.session.step_for_node(order[1])
    QTest.keyClick(graph, Qt.Key.Key_Escape)
    assert graph.selected is None
    # from the current node on: the pass is at y, Tab goes to what follows it
    window.session.go_to(step_of(window, "compute", "y"))
    y = window.trace.steps[window.step_index].node
    QTest.keyClick(graph, Qt.Key.Key_Tab)
    assert graph.selected == order[(order.index(y) + 1) % len(order)]
    # Ctrl+Tab leaves the graph for the next panel, as in a text editor
    selected = graph.selected
    QTest.keyClick(graph, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert window.focusWidget() is not graph and graph.selected == selected


def test_code_click_and_breakpoints(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    window.code.line_clicked.emit(13)  # loss = (y**2).mean()
    assert window.trace.steps[window.step_index].line == 13
    action(window, "action_first_step").trigger()
    x_node = next(n for n, node in window.trace.nodes.items() if node.name == "x")
    window.breakpoints.toggle(x_node)
    action(window, "action_run_to_breakpoint").trigger()
    assert window.step_index == 1  # x is created by its statement
    action(window, "action_run_to_breakpoint").trigger()
    assert window.trace.steps[window.step_index].node == x_node


def test_play_stops_at_end(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    window.player.set_speed(200)
    action(window, "action_play").trigger()
    qtbot.waitUntil(lambda: not window.player.playing, timeout=5_000)
    assert window.step_index == window.step_count - 1


def test_presentation_mode(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    inspector = window.findChild(QWidget, "inspector_text")
    normal_size = inspector.font().pointSizeF()
    action(window, "action_presentation_mode").trigger()
    qtbot.waitUntil(lambda: window.isFullScreen())
    shown = {d.objectName() for d in window.findChildren(QDockWidget) if d.isVisible()}
    assert shown == {"dock_graph_view", "dock_inspector"}
    assert not window.menuBar().isVisible()
    assert not window.message.host.isVisible()  # no message: no empty strip over the class
    graph_dock = window.findChild(QDockWidget, "dock_graph_view")
    assert graph_dock.titleBarWidget() is not None  # an empty one: no dock title in class
    assert inspector.font().pointSizeF() >= 1.5 * normal_size
    QTest.keyClick(window.graph, Qt.Key.Key_Right)
    assert window.step_index == 1
    QTest.keyClick(window.graph, Qt.Key.Key_Escape)
    assert not action(window, "action_presentation_mode").isChecked()
    qtbot.waitUntil(lambda: window.findChild(QDockWidget, "dock_code_view").isVisible())
    assert graph_dock.titleBarWidget() is None  # the standard title bar is back
    assert inspector.font().pointSizeF() == pytest.approx(normal_size)


def test_drop_a_file_opens_it(qtbot, window, scenario: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(scenario))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        window.trusted = True
        window.settings.setValue("files/trusted", [str(scenario.resolve())])
        window.dropEvent(event)
    assert window.path == str(scenario.resolve())


def test_the_inspector_says_what_a_statement_changed(qtbot, window) -> None:
    lesson = next(p for p in bundled_scenarios() if p.name == "16_gradient_descent_loop.py")
    open_and_wait(qtbot, window, lesson)
    # PyTorch, one iteration of the lesson's loop, is the oracle
    x = torch.tensor(3.0, requires_grad=True)
    (x**2).backward()
    start, grad = x.item(), x.grad.item()
    with torch.no_grad():
        x -= 0.1 * x.grad
    steps = window.trace.steps
    update = next(s.index for s in steps if s.kind == "statement" and "x -= lr" in s.text)
    window.session.go_to(update)
    text = window.inspector.toPlainText()
    assert "Changed:" in text
    assert f"x: {format_value(start)} → {format_value(x.item())}" in text
    clear = next(s.index for s in steps if s.kind == "statement" and "zero_()" in s.text)
    window.session.go_to(clear)
    assert f"x.grad: {format_value(grad)} → {format_value(0.0)}" in window.inspector.toPlainText()


def test_breakpoints_follow_their_file(
    qtbot, window, scenario: Path, tmp_path: Path, worker_pool
) -> None:
    from gradstep.gui import MainWindow

    open_and_wait(qtbot, window, scenario)
    y = next(n for n, node in window.trace.nodes.items() if node.name == "y")
    window.breakpoints.toggle(y)
    # an edit above moves every line and may renumber nodes: the breakpoint stays on y's node
    write_replacing(
        scenario,
        scenario.read_text().replace(
            "import torch\n", "import torch\nw0 = torch.ones(1, requires_grad=True) * 3\n"
        ),
    )
    open_and_wait(qtbot, window, scenario)
    (marked,) = window.breakpoints.nodes
    assert (
        window.trace.nodes[marked].name == "y" and window.trace.nodes[marked].op == "MulBackward0"
    )
    # another file has none of them
    other = tmp_path / "other.py"
    other.write_text(
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\ny.backward()\n"
    )
    open_and_wait(qtbot, window, other)
    assert window.breakpoints.nodes == set()
    # and a window opened later finds the first file's breakpoint again
    later = MainWindow(window.settings, pool=worker_pool)
    qtbot.addWidget(later)
    open_and_wait(qtbot, later, scenario)
    (again,) = later.breakpoints.nodes
    assert later.trace.nodes[again].name == "y"
    action(later, "action_first_step").trigger()
    action(later, "action_run_to_breakpoint").trigger()  # the statement that makes y
    assert again in later.trace.steps[later.step_index].new_nodes
    action(later, "action_run_to_breakpoint").trigger()  # y's node in the backward pass
    assert later.trace.steps[later.step_index].node == again
    later.close()


LOOP = """import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
for i in range(3):
    h = w * (i + 1)
    loss = h.sum()
    loss.backward()
"""


def test_a_loop_draws_the_graph_of_the_iteration_at_hand(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(LOOP, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    trace = window.trace
    leaf = next(n for n, node in trace.nodes.items() if node.kind == "leaf")
    iterations = [{r.node for r in p.nodes} - {leaf} for p in trace.passes]
    items = window.graph._nodes
    for i, bpass in enumerate(trace.passes):
        window.session.go_to(bpass.first_step + 2)
        shown = {n for n, item in items.items() if item.isVisible()}
        assert leaf in shown
        for j, nodes in enumerate(iterations):
            assert nodes <= shown if j == i else nodes.isdisjoint(shown), (i, j)
    # every iteration is drawn in the same place (one at a time), next to the shared w
    for copy, original in window.session.folded.items():
        assert items[copy].pos() == items[original].pos()


def test_a_match_in_another_iteration_is_shown_at_its_step(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(LOOP, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    window.session.go_to(window.trace.passes[0].first_step)
    window.search.field.setText("h")
    matches = [m for m in window.search.matches if window.trace.nodes[m].name == "h"]
    assert len(matches) == 3  # one h per iteration
    window.search.at = window.search.matches.index(matches[2]) - 1
    window.search.next()
    assert window.graph.selected == matches[2]
    assert window.graph._nodes[matches[2]].isVisible()
    assert window.step_index > window.trace.passes[1].last_step  # in the third iteration


TWO_GRAPHS = """import torch
x = torch.tensor(1.5, requires_grad=True)
a = x * 2
a.backward()
a = (x**3).sin()
a.backward()
"""


def test_a_figure_frames_the_graph_drawn_at_its_step(qtbot, window, tmp_path: Path) -> None:
    from gradstep.gui.export.formats import graph_image

    path = tmp_path / "two.py"
    path.write_text(TWO_GRAPHS, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    window.session.go_to(window.trace.passes[1].first_step + 1)  # the first graph is gone
    one = graph_image(window.graph, caption=False, legend=False)
    whole = window.graph.scene().itemsBoundingRect()
    drawn = window.graph.drawn_bounds()
    assert drawn.width() < whole.width() or drawn.height() < whole.height()
    ratio = one.width() / one.height()
    assert abs(ratio - drawn.width() / drawn.height()) < abs(ratio - whole.width() / whole.height())


def test_gradient_labels_where_edges_meet_do_not_cover_each_other(qtbot, window) -> None:
    lesson = next(p for p in bundled_scenarios() if p.name == "14_mlp_training.py")
    open_and_wait(qtbot, window, lesson)
    window.session.go_to(window.trace.passes[0].last_step)  # every edge of the pass labelled
    labels = window.graph.labels.visible()
    assert len(labels) >= 8
    rects = [lab.sceneBoundingRect() for lab in labels]

    def area(r) -> float:
        return max(0.0, r.width()) * max(0.0, r.height())

    overlap = sum(area(a.intersected(b)) for i, a in enumerate(rects) for b in rects[i + 1 :])
    assert overlap < 0.02 * sum(area(r) for r in rects)


def test_tab_walks_only_the_nodes_drawn(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(LOOP, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    window.session.go_to(window.trace.passes[0].first_step + 2)
    graph = window.graph
    order = graph.keys.reading_order()
    assert order and all(graph.node_item(n).isVisible() for n in order)
    seen = {graph.keys.select_next(1) for _ in range(2 * len(order))}
    assert seen == set(order)


def test_a_reload_that_stops_early_keeps_the_breakpoints_past_its_error(
    qtbot, window, scenario: Path
) -> None:
    open_and_wait(qtbot, window, scenario)
    loss = next(n for n, node in window.trace.nodes.items() if node.name == "loss")
    window.breakpoints.toggle(loss)
    good = scenario.read_text()
    write_replacing(
        scenario, good.replace("y.retain_grad()\n", "y.retain_grad()\nundefined_name\n")
    )
    open_and_wait(qtbot, window, scenario)  # stops before loss is made
    assert window.trace.error is not None and window.breakpoints.nodes == set()
    x = next(n for n, node in window.trace.nodes.items() if node.name == "x")
    window.breakpoints.toggle(x)  # a toggle meanwhile keeps loss's for later
    write_replacing(scenario, good)
    open_and_wait(qtbot, window, scenario)
    names = {window.trace.nodes[n].name for n in window.breakpoints.nodes}
    assert names == {"loss", "x"}
