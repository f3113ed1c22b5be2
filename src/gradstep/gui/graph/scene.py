"""Turning a laid-out ``Drawing`` into the scene's items (at once or in batches); measuring
and laying out its nodes."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QLineF, QObject, QPointF, QRectF, QSizeF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneHelpEvent, QToolTip

from gradstep.graph.drawing import Drawing, EdgeKey, node_lines
from gradstep.graph.values import WIDEST
from gradstep.gui.graph.items import (
    EdgeItem,
    NodeItem,
    constant_size,
    edge_geometry,
    node_fonts,
    node_size,
)
from gradstep.gui.theme import Theme

_SIZES: dict[tuple[str, str, float, str, bool, str], tuple[float, float]] = {}
SCENE_MARGIN = 40.0  # around the items: the scene's rectangle


def measure(drawing: Drawing, theme: Theme, values: bool = False) -> None:
    """Fill ``drawing.lines`` and ``drawing.sizes``: the text and box of each drawn node;
    ``values``: with room for a ``data … | grad …`` row in each tensor's node."""
    drawing.values_row = values
    for d, data in drawing.view.graph.nodes(data=True):
        lines = node_lines(data)
        kind = data.get("kind")
        drawing.lines[d] = lines
        row = WIDEST if values and kind in ("leaf", "op") else ""
        drawing.sizes[d] = _measure(theme, lines, kind == "constant", row)


def _measure(
    theme: Theme, lines: tuple[str, str], small: bool = False, row: str = ""
) -> tuple[float, float]:
    """``node_size``, remembered: a big graph repeats the same few ops thousands of times."""
    key = (*lines, theme.node_font_pt, theme.name, small, row)
    size = _SIZES.get(key)
    if size is None:
        size = _SIZES[key] = (
            constant_size(theme, lines[0]) if small else node_size(theme, *lines, row)
        )
    return size


class GraphScene(QGraphicsScene):
    """The graph's scene. A node's tooltip is written when it is asked for: a big graph has
    thousands of nodes, and nobody hovers over most of them."""

    def __init__(self, tooltip: Callable[[str], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tooltip = tooltip

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:  # noqa: N802 - Qt override
        node = next((i for i in self.items(event.scenePos()) if isinstance(i, NodeItem)), None)
        if node is None:
            QToolTip.hideText()
            event.ignore()
            return
        QToolTip.showText(event.screenPos(), self.tooltip(node.node_id), event.widget())
        event.accept()


class SceneBuild:
    """The scene of a laid-out ``Drawing``: an item per drawn node and edge.

    ``run()`` makes them all; ``run(seconds)`` makes items for that long and
    returns, so that a big scene can be made a batch per turn of the event loop
    while the window keeps answering. The scene is not shown until it is whole.
    """

    def __init__(
        self,
        drawing: Drawing,
        theme: Theme,
        direction: str,
        trace_nodes: dict[str, Any],
        parent: QObject | None = None,
    ) -> None:
        self.drawing = drawing
        self.scene = GraphScene(lambda nid: tooltip(drawing, trace_nodes, nid), parent)
        self.scene.setBackgroundBrush(QColor(theme.background))
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[EdgeKey, EdgeItem] = {}
        self.bounds = QRectF()  # of every item, as itemsBoundingRect() (without walking them)
        # each node's box and each edge's ends in the scene: the overview map draws these
        self.node_rects: list[tuple[NodeItem, QRectF]] = []
        self.edge_lines: list[tuple[EdgeItem, QLineF]] = []
        layout = drawing.layout
        positions = layout.positions if layout is not None else {}
        self.total = len(positions) + (drawing.view.graph.number_of_edges() if positions else 0)
        self.done = 0
        self.styled: tuple[Any, int] | None = None  # (step state, its key) the items show
        self._work = deque([self._make(theme, direction, positions), self._index()])

    def then(self, work: Iterator[None], amount: int) -> None:
        """Do ``work`` (``amount`` iterations) after the items are made, before the index."""
        self._work.insert(len(self._work) - 1, work)
        self.total += amount

    def run(self, seconds: float | None = None) -> bool:
        """Work for ``seconds`` (None: to the end); True once everything is done."""
        deadline = None if seconds is None else time.perf_counter() + seconds
        while self._work:
            for _ in self._work[0]:
                self.done += 1
                if deadline is not None and time.perf_counter() >= deadline:
                    return False
            self._work.popleft()
        return True

    def _make(
        self, theme: Theme, direction: str, positions: dict[str, tuple[float, float]]
    ) -> Iterator[None]:
        drawing, scene, nodes = self.drawing, self.scene, self.nodes
        g = drawing.view.graph
        fonts = node_fonts(theme)  # shared: a font per item costs more than the item
        for nid, (x, y) in positions.items():
            data = g.nodes[nid]
            item = NodeItem(
                nid, data["kind"], *drawing.lines[nid], drawing.sizes[nid], theme, fonts,
                named=bool(data.get("name")),
                values_row=drawing.values_row and data["kind"] in ("leaf", "op"),
            )  # fmt: skip
            item.setPos(x, y)
            scene.addItem(item)
            nodes[nid] = item
            self.node_rects.append((item, item.rect.translated(x, y)))
            self.bounds |= item.boundingRect().translated(x, y)
            yield
        if not positions:
            return
        vertical = direction == "TB"
        edge_points = drawing.layout.edge_points
        for u, v, key in g.edges(keys=True):
            src, dst = nodes[u], nodes[v]
            points = edge_points.get((u, v, key)) or [positions[u], positions[v]]
            path, arrow = edge_geometry(
                points, src.rect.translated(src.pos()), dst.rect.translated(dst.pos()), vertical
            )
            edge = EdgeItem((u, v, key), path, arrow, theme)
            scene.addItem(edge)
            self.edges[(u, v, key)] = edge
            start = path.elementAt(0)
            self.edge_lines.append((edge, QLineF(QPointF(start.x, start.y), arrow[0])))
            self.bounds |= edge.boundingRect()
            yield

    def _index(self) -> Iterator[None]:
        """Fix the scene's rectangle and build its index now, not in the first paint."""
        if self.nodes:
            m = SCENE_MARGIN
            self.scene.setSceneRect(self.bounds.adjusted(-m, -m, m, m))
            self.scene.items(QRectF(self.bounds.topLeft(), QSizeF(1, 1)))  # indexes them
        return
        yield


def tooltip(drawing: Drawing, trace_nodes: dict[str, Any], nid: str) -> str:
    node = trace_nodes.get(nid)
    if node is not None:
        return _tooltip(node)
    return _box_tooltip(drawing.view.graph.nodes[nid]) if nid in drawing.view.graph else ""


def _tooltip(node: Any) -> str:
    parts = [f"<b>{node.name or node.op}</b> — {node.op}"]
    if node.output_shapes:
        parts.append(
            "shape " + ", ".join("×".join(map(str, s)) or "scalar" for s in node.output_shapes)
        )
    if node.line:
        parts.append(f"line {node.line}")
    if node.module:
        parts.append(f"module {node.module}")
    return "<br>".join(parts)


def _box_tooltip(data: dict[str, Any]) -> str:
    return (
        f"<b>{data['module']}</b><br>{data.get('size', 0)} nodes inside"
        "<br>double-click to open; right-click for more"
    )
