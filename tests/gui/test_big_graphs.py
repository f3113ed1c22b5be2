"""Big graphs in the window: modules as boxes, search, the overview map, background layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import open_and_wait
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from gradstep.graph.collapse import box_id
from gradstep.graph.model import is_constant
from gradstep.gui.graph import batches as scene_batches
from gradstep.gui.graph import view as graph_view

BLOCKS = 32
# 10 autograd nodes per block: 322 in all, past the size at which a graph opens collapsed
STACK = f'''"""A stack of {BLOCKS} residual blocks"""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.b(torch.tanh(self.a(x)))


torch.manual_seed(0)
model = nn.Sequential(*[Block() for _ in range({BLOCKS})])
loss = model(torch.randn(2, 4)).pow(2).mean()
loss.backward()
'''
BLOCK_BOXES = {f"model.{i}" for i in range(BLOCKS)}


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "stack.py"
    path.write_text(STACK, encoding="utf-8")
    return path


def action(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    return found


def drawn_ids(window) -> set[str]:
    """The drawn nodes and boxes, without the constant inputs' small grey pills."""
    return {d for d in window.graph._nodes if not is_constant(d)}


def test_a_big_graph_opens_one_box_per_block_and_steps_on_the_boxes(qtbot, window, stack):
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    assert len(window.trace.nodes) > 300
    assert graph.closed == BLOCK_BOXES
    assert len(drawn_ids(window)) == BLOCKS + 2  # the boxes, pow and mean
    # stepping to a node inside block 7 makes its box the current one
    tanh = next(
        s
        for s in window.trace.steps
        if s.kind == "compute" and window.trace.nodes[s.node].module == "model.7"
    )
    window.session.go_to(tanh.index)
    box = graph._nodes[box_id("model.7")]
    assert box.state == "current"
    assert graph._nodes[box_id("model.31")].state == "done"  # the pass went through it
    assert graph._nodes[box_id("model.0")].state == "pending"
    assert graph.node_item(tanh.node) is box  # the node is drawn by its box


def test_double_click_opens_a_box_in_place(qtbot, window, stack) -> None:
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    before = {b: graph._nodes[box_id(b)].pos() for b in ("model.3", "model.20")}
    box = graph._nodes[box_id("model.10")]
    graph.centerOn(box)
    pos = graph.mapFromScene(box.scenePos())
    QTest.mouseDClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert "model.10" not in graph.closed
    # its linears are boxes (4 nodes each), tanh and add are drawn themselves
    assert {box_id("model.10.a"), box_id("model.10.b")} <= drawn_ids(window)
    for b, p in before.items():  # the other boxes did not move sideways
        now = graph._nodes[box_id(b)].pos()
        assert abs(now.x() - p.x()) < 1.0
    # and the opened block is in view where the box was
    visible = graph.mapToScene(graph.viewport().rect()).boundingRect()
    assert visible.contains(graph._nodes[box_id("model.10.a")].pos())


def test_collapse_all_expand_all_and_the_context_menu(qtbot, window, stack) -> None:
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    action(window, "action_expand_all").trigger()
    assert graph.closed == frozenset()
    assert len(drawn_ids(window)) == len(window.trace.nodes)
    action(window, "action_collapse_all").trigger()
    assert graph.closed == {"model"}
    assert len(drawn_ids(window)) == 3
    graph.boxes.open_box("model")
    assert graph.closed == BLOCK_BOXES
    # a node's menu closes its modules; a box's menu opens it
    graph.boxes.open_box("model.5")
    some_tanh = next(n for n, node in window.trace.nodes.items() if node.module == "model.5")
    from gradstep.gui.graph.menu import context_menu

    menu = context_menu(graph, some_tanh, graph)
    close = next(a for a in menu.actions() if a.text() == "Close module").menu()
    assert [a.text().split()[0] for a in close.actions()] == ["model.5", "model"]
    close.actions()[0].trigger()
    assert graph.closed == BLOCK_BOXES
    menu = context_menu(graph, box_id("model.5"), graph)
    menu.actions()[0].trigger()  # Open model.5
    assert "model.5" not in graph.closed


def test_tab_selects_a_box_and_enter_opens_it(qtbot, window, stack) -> None:
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    order = graph.keys.reading_order()
    box = box_id("model.4")
    graph.setFocus()
    for _ in range(order.index(box) + 1):
        QTest.keyClick(graph, Qt.Key.Key_Tab)
    assert graph.selected == box and graph._nodes[box].selected
    assert window.inspector.pinned is None  # a box is no node of the trace
    assert window.status.text().startswith("model.4: ")
    action(window, "action_toggle_breakpoint").trigger()
    assert not window.breakpoints.nodes  # nothing to stop at
    QTest.keyClick(graph, Qt.Key.Key_Return)
    assert "model.4" not in graph.closed


def test_the_current_node_stays_in_sight_when_every_box_opens(qtbot, window, stack) -> None:
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    tanh = next(
        s
        for s in window.trace.steps
        if s.kind == "compute" and window.trace.nodes[s.node].module == "model.20"
    )
    window.session.go_to(tanh.index)
    box = graph.node_item(tanh.node)
    vp = graph.viewport().rect()
    graph.centerOn(box.pos() + QPointF(0, vp.height() / 2 - 30))  # the box at the top edge
    action(window, "action_expand_all").trigger()
    item = graph.node_item(tanh.node)
    assert item.node_id == tanh.node and item.state == "current"
    visible = graph.mapToScene(vp).boundingRect()
    assert visible.contains(item.sceneBoundingRect())


def test_search_finds_a_node_inside_a_box_and_opens_it(qtbot, window, stack) -> None:
    open_and_wait(qtbot, window, stack)
    action(window, "action_find").trigger()
    field = window.search.field
    QTest.keyClicks(field, "model.12.b")
    assert window.search.count.text() == f"{len(_in(window, 'model.12.b'))} found"
    QTest.keyClick(field, Qt.Key.Key_Return)
    first = window.search.matches[0]
    assert window.graph.selected == first
    assert window.inspector.pinned == first
    assert "model.12" not in window.graph.closed  # opened to show it
    item = window.graph.node_item(first)
    assert item.node_id in (first, box_id("model.12.b"))
    visible = window.graph.mapToScene(window.graph.viewport().rect()).boundingRect()
    assert visible.contains(item.pos())
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert window.search.count.text() == f"2 of {len(window.search.matches)}"
    action(window, "action_find_previous").trigger()
    assert window.graph.selected == first
    field.clear()
    QTest.keyClicks(field, "TanhBackward0")
    assert len(window.search.matches) == BLOCKS


def _in(window, module: str) -> list[str]:
    return [n for n, node in window.trace.nodes.items() if (node.module or "") == module]


def test_overview_map_shows_and_pans(qtbot, window, stack) -> None:
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    minimap = graph.minimap
    assert minimap.isVisible()  # 34 boxes in a column do not fit at a readable zoom
    before = graph.mapToScene(graph.viewport().rect().center())
    QTest.mouseClick(minimap, Qt.MouseButton.LeftButton, pos=QPoint(minimap.width() // 2, 3))
    after = graph.mapToScene(graph.viewport().rect().center())
    assert after.y() < before.y() - 50  # went to the top of the graph
    action(window, "action_minimap").trigger()
    assert not minimap.isVisible()
    graph.fit()
    action(window, "action_minimap").trigger()
    assert not minimap.isVisible()  # all in view: nothing to navigate


def test_a_big_layout_runs_in_the_background(qtbot, window, stack, monkeypatch) -> None:
    open_and_wait(qtbot, window, stack)
    monkeypatch.setattr(graph_view, "BACKGROUND_LAYOUT", 50)
    graph = window.graph
    with qtbot.waitSignal(graph.drawn, timeout=10_000):
        action(window, "action_expand_all").trigger()
        assert graph.laying_out and graph.closed == BLOCK_BOXES  # the old drawing stays
        window.session.last()  # the window keeps answering meanwhile
    assert graph.closed == frozenset()
    assert not graph.laying_out
    assert len(drawn_ids(window)) == len(window.trace.nodes)


def test_a_figure_draws_the_boxes_on_screen_in_the_light_theme(qtbot, window, stack) -> None:
    from gradstep.gui.export.commands import figure_view
    from gradstep.gui.theme import LIGHT

    open_and_wait(qtbot, window, stack)
    window.graph.boxes.open_box("model.3")
    window.apply_theme("dark")
    window.session.go_to(window.trace.passes[0].first_step + 40)
    figure = figure_view(window.graph)
    qtbot.addWidget(figure)
    assert figure.theme is LIGHT and figure.closed == window.graph.closed
    assert figure.session.index == window.session.index
    for drawn in (box_id("model.0"), box_id("model.3.a"), box_id("model.20")):
        assert figure._nodes[drawn].pos() == window.graph._nodes[drawn].pos()  # same drawing
        assert figure._nodes[drawn].state == window.graph._nodes[drawn].state


def _shows_step(graph, session) -> None:
    """Every drawn node and edge looks as the step on screen says it should."""

    d, st = graph.drawing, session.state()
    for nid, item in graph._nodes.items():
        assert item.state == d.node_state(nid, st), nid
        assert item.selected == (graph.selected is not None and d.drawn(graph.selected) == nid)
    active = set(st.active_edges)
    for key, edge in graph._edges.items():
        assert edge.state == d.edge_state(key, st, active), key


def test_a_big_scene_is_made_in_batches_while_the_window_steps(
    qtbot, qapp, window, stack, monkeypatch
) -> None:
    open_and_wait(qtbot, window, stack)
    monkeypatch.setattr(graph_view, "SLICED_BUILD", 10)  # this graph counts as big
    monkeypatch.setattr(scene_batches, "SLICE_SECONDS", 0.0)  # one item per batch
    monkeypatch.setattr(scene_batches, "PROGRESS_DELAY_MS", 0)
    graph, session = window.graph, window.session
    bpass = window.trace.passes[0]
    ks = list(range(bpass.first_step, bpass.last_step + 1, 3))
    tanh = next(n for n, node in window.trace.nodes.items() if node.op == "TanhBackward0")
    window._select(tanh)  # selected before: the new items are styled with it...
    action(window, "action_expand_all").trigger()
    assert graph.laying_out and graph.closed == BLOCK_BOXES  # the old drawing stays up
    turns, picked = 0, None
    while graph.laying_out:  # steps land while the items are made, and while they are styled
        assert turns < 20_000, "the scene never came up"
        if turns % 10 == 0:  # a step every few batches (a step updates every panel)
            session.go_to(ks[turns // 10 % len(ks)])
            _shows_step(graph, session)  # ... and the drawing on screen shows it
        build = graph._batches.build
        if picked is None and build is not None and build.done == build.total - 5:
            picked = next(iter(build.nodes))  # styled already, like every node by now
            window._select(picked)  # ... until another one is selected meanwhile
        if turns == 10:
            assert graph.progress.isVisible() and "Drawing" in graph.progress.text()
        turns += 1
        qapp.processEvents()
    assert turns > 100, "the scene was made in one go"
    assert not graph.laying_out and not graph.progress.isVisible()
    assert graph.closed == frozenset() and len(drawn_ids(window)) == len(window.trace.nodes)
    _shows_step(graph, session)  # the new drawing shows the step it came up at, selection too
    assert picked not in (None, tanh) and graph._nodes[picked].selected
    session.go_to(bpass.last_step)
    _shows_step(graph, session)


def test_another_view_asked_for_while_a_scene_is_made_replaces_it(
    qtbot, window, stack, monkeypatch
) -> None:
    open_and_wait(qtbot, window, stack)
    monkeypatch.setattr(graph_view, "SLICED_BUILD", 10)
    monkeypatch.setattr(scene_batches, "SLICE_SECONDS", 0.0)
    graph = window.graph
    action(window, "action_expand_all").trigger()
    qtbot.wait(20)
    assert graph.laying_out
    action(window, "action_expand_all").trigger()  # asked again: nothing new to do
    assert graph.laying_out
    action(window, "action_collapse_all").trigger()  # small: drawn at once
    assert not graph.laying_out and graph.closed == {"model"}
    qtbot.wait(100)  # no batch of the forgotten scene comes back
    assert graph.closed == {"model"} and len(drawn_ids(window)) == 3


def test_another_files_graph_leaves_the_screen_while_this_one_is_made(
    qtbot, window, stack, scenario, monkeypatch
) -> None:
    open_and_wait(qtbot, window, stack)
    monkeypatch.setattr(graph_view, "SLICED_BUILD", 1)  # even the sine's few nodes
    monkeypatch.setattr(scene_batches, "SLICE_SECONDS", 0.0)
    graph = window.graph
    with qtbot.waitSignal(graph.drawn, timeout=30_000):
        open_and_wait(qtbot, window, scenario)
        assert graph.laying_out
        assert not graph._nodes  # not the stack's boxes, restyled with the sine's steps
        window.session.last()
    assert {window.trace.nodes[n].name for n in drawn_ids(window)} >= {"x", "y", "loss"}
    _shows_step(graph, window.session)


def test_a_node_tells_its_tooltip_when_hovered(qtbot, window, stack) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    open_and_wait(qtbot, window, stack)
    graph = window.graph
    graph.boxes.open_box("model.3")
    tanh = next(
        n
        for n, node in window.trace.nodes.items()
        if node.op == "TanhBackward0" and node.module == "model.3"
    )
    item = graph.node_item(tanh)
    graph.centerOn(item)
    pos = graph.mapFromScene(item.scenePos())
    event = QHelpEvent(QEvent.Type.ToolTip, pos, graph.viewport().mapToGlobal(pos))
    QApplication.sendEvent(graph.viewport(), event)
    text = QToolTip.text()
    assert "TanhBackward0" in text and "module model.3" in text and "line " in text
    box = graph.node_item(box_id("model.7"))
    assert "model.7" in graph.scene().tooltip(box.node_id)
    QToolTip.hideText()


def test_fit_graph_on_a_big_graph_frames_a_readable_region_then_the_whole(
    qtbot, window, stack
) -> None:
    from gradstep.gui.graph.fit import LEGIBLE

    open_and_wait(qtbot, window, stack)
    graph = window.graph
    action(window, "action_expand_all").trigger()  # every node: far too tall to read whole
    qtbot.waitUntil(lambda: not graph.laying_out, timeout=30_000)
    window.session.go_to(window.trace.passes[0].first_step + 20)
    action(window, "action_fit").trigger()
    seen = graph.mapToScene(graph.viewport().rect()).boundingRect()
    assert graph.transform().m11() == pytest.approx(LEGIBLE)  # not a sliver
    current = graph._current_item()
    assert current is not None and seen.contains(current.sceneBoundingRect())
    action(window, "action_fit").trigger()  # again: the whole graph
    seen = graph.mapToScene(graph.viewport().rect()).boundingRect()
    assert graph.transform().m11() < LEGIBLE and seen.contains(graph.drawn_bounds())


def test_overview_map_stays_small_in_a_small_pane(qtbot, window, stack) -> None:
    """At 2× scaling the graph pane is a few hundred logical pixels: the overview must not
    hide a third of the graph it is there to navigate."""
    open_and_wait(qtbot, window, stack)
    graph = window.graph
    minimap = graph.minimap
    big = minimap.size()
    graph.resize(420, 300)
    qtbot.wait(50)
    vp = graph.viewport().size()
    assert minimap.width() <= 0.3 * vp.width() + 4
    assert minimap.height() <= 0.3 * vp.height() + 4
    assert minimap.height() < big.height()  # drawn again, smaller


def test_overview_map_moves_off_the_current_node(qtbot, window, stack) -> None:
    """The map sits bottom right, but not over the node the lecture is at: scrolled there,
    it moves to another corner (the outsider's y_pred and loss were under it)."""
    from PySide6.QtCore import QRect

    from gradstep.gui.graph.minimap import MARGIN

    open_and_wait(qtbot, window, stack)
    graph, minimap = window.graph, window.graph.minimap
    window.session.go_to(window.trace.passes[0].first_step + 3)
    current = graph._current_item()
    assert current is not None
    graph.resize(460, 340)
    graph.fitter.zoom(4.0)  # bigger than the pane both ways: it scrolls freely
    qtbot.wait(100)
    assert minimap.isVisible()
    vp = graph.viewport().rect()
    size = minimap.size()
    corner = QRect(  # the bottom right corner's spot, in viewport coordinates
        vp.right() - MARGIN - size.width(), vp.bottom() - MARGIN - size.height(), *size.toTuple()
    )
    # scroll so that the current node is where the map sits, bottom right
    at = QPointF(graph.mapFromScene(current.sceneBoundingRect().center()))
    shift = at - QPointF(corner.center())
    graph.centerOn(graph.mapToScene((QPointF(vp.center()) + shift).toPoint()))
    node = graph.mapFromScene(current.sceneBoundingRect()).boundingRect()
    assert node.intersects(corner)
    minimap.place()
    assert minimap.isVisible()
    assert not node.intersects(minimap.geometry().translated(-graph.viewport().pos()))
