"""The window in a lecture room (issue 13): stepping by node, the layout, presentation mode,
the dark theme, a refused other file."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import open_and_wait
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFontMetrics
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from gradstep.gui.docks import MIN_LINES
from gradstep.gui.graph.fit import LEGIBLE, READABLE


def action(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    return found


def test_step_by_node_visits_each_node_once(qtbot, window, scenario: Path) -> None:
    open_and_wait(qtbot, window, scenario)
    by_node = action(window, "action_step_by_node")
    assert by_node.isCheckable() and not by_node.isChecked()
    by_node.trigger()
    (bpass,) = window.trace.passes
    window.session.go_to(bpass.first_step)
    seen, presses, before = [], 0, -1
    while window.step_index != before:  # to the end of the trace, where it stays
        before = window.step_index
        QTest.keyClick(window.graph, Qt.Key.Key_Right)
        presses += 1
        step = window.trace.steps[window.step_index]
        if step.kind in ("compute", "accumulate"):
            seen.append(step.node)
    nodes = [r.node for r in bpass.nodes]
    assert sorted(seen) == sorted(nodes) and len(set(seen)) == len(seen)
    assert presses == len(nodes) + 2  # n nodes, the end of the trace, and no further
    assert bpass.last_step - bpass.first_step > 2 * len(nodes)  # one step at a time: 3 a node
    QTest.keyClick(window.graph, Qt.Key.Key_Left)
    assert window.trace.steps[window.step_index].node == seen[-1]
    # off again: one hook event at a time
    by_node.trigger()
    k = window.step_index
    QTest.keyClick(window.graph, Qt.Key.Key_Left)
    assert window.step_index == k - 1
    # presentation mode steps by node, and leaving it puts the choice back
    action(window, "action_presentation_mode").trigger()
    assert by_node.isChecked()
    action(window, "action_presentation_mode").trigger()
    assert not by_node.isChecked()
    assert window.settings.value("view/step_by_node") == "false"


def _in_front(window, dock: QDockWidget) -> bool:
    """Shown, or a tab behind one that is: one click away, not lost."""
    return dock.isVisible() or any(t.isVisible() for t in window.tabifiedDockWidgets(dock))


@pytest.mark.parametrize(
    ("size", "kind"),
    [
        ((1900, 1040), "wide"),
        ((1366, 730), "medium"),
        ((1280, 690), "medium"),
        ((950, 520), "compact"),
    ],
)
def test_reset_layout_restores_every_panel(qtbot, window, scenario: Path, size, kind) -> None:
    open_and_wait(qtbot, window, scenario)
    window.resize(*size)
    docks = window.docks
    docks["variables"].hide()
    docks["plots"].close()
    docks["notes"].setFloating(True)
    window.removeDockWidget(docks["code_view"])
    action(window, "action_reset_layout").trigger()
    qtbot.wait(50)
    assert window.property("layout_kind") == kind
    line = QFontMetrics(window.font()).height()
    for name, dock in docks.items():
        assert not dock.isFloating(), name
        assert window.dockWidgetArea(dock) != Qt.DockWidgetArea.NoDockWidgetArea, name
        assert _in_front(window, dock), name
        if dock.isVisible():  # never a panel down to its title: its minimum, in lines
            cols, rows = MIN_LINES[name]
            panel = dock.widget()
            assert panel.width() >= cols * line and panel.height() >= rows * line, name
            title = QFontMetrics(dock.font()).horizontalAdvance(dock.windowTitle())
            assert dock.width() > title + 40, name
    assert docks["inspector"].isVisible() and docks["graph_view"].isVisible()
    assert docks["graph_view"].width() > window.width() / 2


def _plot_pairs(window):
    """The plots' titles and axis labels on their background."""
    import pyqtgraph as pg
    from contrast import QColor

    for layout in window.findChildren(pg.GraphicsLayoutWidget):
        bg = layout.backgroundBrush().color()
        for item in layout.scene().items():
            if not item.isVisible():
                continue
            if isinstance(item, pg.AxisItem):
                yield f"{layout.objectName()} axis", item.textPen().color(), bg
            elif isinstance(item, pg.LabelItem) and item.text:
                colour = item.opts.get("color")
                if colour is not None:
                    yield (
                        f"{layout.objectName()} {item.text[:30]!r}",
                        QColor(pg.mkColor(colour)),
                        bg,
                    )


@pytest.mark.parametrize(
    ("before", "theme"),
    [("light", "dark"), ("dark", "light")],
)
def test_theme_text_is_readable_in_every_panel(
    qtbot, window, scenario: Path, before, theme
) -> None:
    """WCAG AA (4.5:1) for every text of every panel, after a switch with a trace on screen."""
    from contrast import pairs, ratio

    action(window, f"action_theme_{before}").trigger()
    open_and_wait(qtbot, window, scenario)
    compute = next(s.index for s in window.trace.steps if s.kind == "compute")
    window.session.go_to(compute)
    window.docks["plots"].raise_()
    action(window, f"action_theme_{theme}").trigger()  # switched with a trace on screen
    assert window.theme.dark == (theme == "dark")
    window._update_plots()
    qtbot.wait(50)
    checked, low, seen = 0, [], []
    for panel in [*window.panels, window.message]:
        for what, fg, bg in pairs(panel):
            checked += 1
            seen.append(what)
            if ratio(fg, bg) < 4.5:
                low.append(f"{what}: {fg.name()} on {bg.name()} = {ratio(fg, bg):.2f}")
    for what, fg, bg in _plot_pairs(window):
        checked += 1
        seen.append(what)
        if ratio(fg, bg) < 4.5:
            low.append(f"{what}: {fg.name()} on {bg.name()} = {ratio(fg, bg):.2f}")
    panels = {what.split("/")[0] for what in seen}
    assert {"code_view", "inspector", "notes", "timeline", "variables"} <= panels
    assert any(" axis" in what for what in seen)  # the plots' numbers
    assert checked > 100
    assert not low, "\n".join(low[:40])


def test_a_refused_other_file_replaces_the_window(qtbot, window, scenario: Path, tmp_path) -> None:
    open_and_wait(qtbot, window, scenario)
    window.session.go_to(6)
    assert window.graph._nodes and "Sine times x" in window.notes.toPlainText()
    other = tmp_path / "other.py"
    other.write_text('"""Reading a file."""\nimport os\nimport torch\nx = torch.ones(2)\n')
    with qtbot.waitSignal(window.load_failed, timeout=30_000):
        window.open_scenario(other)  # restricted: refused
    assert window.path == str(other.resolve())
    assert window.trace.scenario.source == other.read_text()  # not the sine's trace
    assert window.trace.error is not None and window.trace.error.kind == "refused"
    assert "other.py" in window.message.text and "importing 'os'" in window.message.text
    assert window.windowTitle() == "Reading a file — not run — gradstep"
    assert "Sine times x" not in window.notes.toPlainText()
    assert "import os" in window.code.toPlainText() and window.code.error_line == 2
    assert not window.graph._nodes  # the sine's graph is gone
    assert window.timeline.model.rowCount() == window.step_count < 3
    assert window.plots.trace is window.trace
    assert "did not run" in window.status.text()
    # a reload of the refused file keeps its own "not run" state; a good run replaces it
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        window.open_scenario(scenario)
    assert window.graph._nodes and "Sine times x" in window.windowTitle()
    assert window.code.error_line is None and not window.message.text


def _visible(graph):
    return graph.mapToScene(graph.viewport().rect()).boundingRect()


def _nodes_rect(graph):
    from PySide6.QtCore import QRectF

    rect = QRectF()
    for item in graph._nodes.values():
        if item.isVisible():
            rect |= item.sceneBoundingRect()
    return rect


def test_the_graph_fits_its_pane_on_open_resize_and_direction(qtbot, window, scenario) -> None:
    graph = window.graph
    open_and_wait(qtbot, window, scenario)
    qtbot.wait(100)

    def fitted(least: float = READABLE) -> bool:
        """Whole, and filling the pane — or as large as the theme lets a small graph get;
        or, too wide to read whole, at the least readable zoom around the current node."""
        nodes, seen, scale = _nodes_rect(graph), _visible(graph), graph.transform().m11()
        filled = max(nodes.width() / seen.width(), nodes.height() / seen.height())
        largest = window.theme.max_fit_scale
        if scale == pytest.approx(least):
            current = graph._current_item()
            return current is not None and seen.contains(current.sceneBoundingRect())
        return (
            seen.contains(nodes)
            and scale <= largest + 1e-9
            and (filled > 0.7 or scale >= largest - 1e-9)
        )

    assert fitted()
    assert not graph.minimap.isVisible()  # all in view: no map over it
    before = graph.transform().m11()
    window.resize(window.width() + 300, window.height() + 200)  # a larger pane: larger graph
    qtbot.waitUntil(lambda: graph.transform().m11() != before, timeout=3000)
    assert fitted()
    window.session.go_to(window.trace.passes[0].first_step + 4)  # a node in the middle
    tall = _nodes_rect(graph)
    action(window, "action_direction_lr").trigger()  # laid out anew: fitted anew
    qtbot.waitUntil(lambda: _nodes_rect(graph).width() > tall.width() * 2, timeout=3000)
    assert fitted()
    # a zoom of the user's is theirs: a resize leaves it
    action(window, "action_zoom_in").trigger()
    zoomed = graph.transform().m11()
    window.resize(window.width() - 200, window.height() - 100)
    qtbot.wait(200)
    assert graph.transform().m11() == zoomed
    action(window, "action_fit").trigger()  # Fit Graph: the whole, or a legible region
    assert fitted(LEGIBLE)


def test_a_three_node_graph_is_not_blown_up(qtbot, window, tmp_path) -> None:
    path = tmp_path / "tiny.py"
    path.write_text(
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\ny.backward()\n"
    )
    window.resize(1600, 1000)
    open_and_wait(qtbot, window, path)
    qtbot.wait(100)
    assert window.graph.transform().m11() == pytest.approx(window.theme.max_fit_scale)
    nodes, seen = _nodes_rect(window.graph), _visible(window.graph)
    assert seen.contains(nodes) and nodes.height() < 0.5 * seen.height()


def _bundled(number: str) -> Path:
    from gradstep.resources import bundled_scenarios

    return next(p for p in bundled_scenarios() if p.name.startswith(number))


@pytest.mark.parametrize(
    ("lesson", "op"),
    [("05", "SigmoidBackward0"), ("04", "SigmoidBackward0"), ("14", "TanhBackward0")],
)
def test_presentation_at_1280x720_shows_whole_chain_rule_lines(qtbot, window, lesson, op) -> None:
    from PySide6.QtWidgets import QWidget

    open_and_wait(qtbot, window, _bundled(lesson))
    trace = window.trace
    k = next(
        s.index
        for s in trace.steps
        if s.kind == "compute" and s.node and trace.nodes[s.node].op == op
    )
    window.session.go_to(k)
    action(window, "action_presentation_mode").trigger()
    qtbot.waitUntil(window.isFullScreen)
    qtbot.wait(300)  # its full-screen fallback has run
    window.setGeometry(0, 0, 1280, 720)  # a 1280×720 projector (the test screen is another size)
    qtbot.wait(400)
    window.presentation._settle()  # as when the full-screen window has its size
    shown = {d.objectName() for d in window.findChildren(QDockWidget) if d.isVisible()}
    assert shown == {"dock_graph_view", "dock_inspector"}
    browser = window.findChild(QWidget, "inspector_text")
    assert browser.horizontalScrollBar().maximum() == 0  # nothing behind a scroll bar
    text = browser.toPlainText()
    record = trace.record_for(trace.steps[k])
    from gradstep.trace.chainrule import chain_rule_at

    rule = chain_rule_at(trace, trace.steps[k])
    assert rule is not None and record is not None
    for line in rule.lines:  # the whole line, side by side or stacked, downstream included
        whole = [
            all(row.strip() in text for row in form[1:] if row.strip())
            for form in (line.block(), line.stacked())
        ]
        assert any(whole), line.text()
    strip = window.presentation.strip
    assert strip.isVisible() and f"Step {k + 1} of {window.step_count}" in strip.text
    source_line = trace.scenario.source.splitlines()[trace.steps[k].line - 1].strip()
    assert source_line in strip.text
    # the plot as a third pane, the chain rule still whole beside the graph
    action(window, "action_presentation_plot").trigger()
    qtbot.wait(300)
    assert window.docks["plots"].isVisible() and window.docks["inspector"].isVisible()
    assert browser.horizontalScrollBar().maximum() == 0
    action(window, "action_presentation_plot").trigger()
    action(window, "action_presentation_mode").trigger()
    qtbot.waitUntil(lambda: not strip.isVisible())
