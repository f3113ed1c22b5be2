"""Turning a laid-out ``Drawing`` into the scene's items; measuring and laying out its nodes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene

from gradstep.graph import collapse as cl
from gradstep.gui.graph_drawing import Drawing, EdgeKey, box_lines
from gradstep.gui.graph_items import EdgeItem, NodeItem, edge_geometry, node_lines, node_size
from gradstep.gui.theme import Theme

_SIZES: dict[tuple[str, str, float, str], tuple[float, float]] = {}


def measure(drawing: Drawing, theme: Theme) -> None:
    """Fill ``drawing.lines`` and ``drawing.sizes``: the text and box of each drawn node."""
    for d, data in drawing.view.graph.nodes(data=True):
        if data.get("kind") == "module":
            lines = box_lines(data["module"], data.get("size", 0))
        else:
            lines = node_lines(data["kind"], data["op"], data.get("name"))
        drawing.lines[d] = lines
        drawing.sizes[d] = _measure(theme, lines)


def _measure(theme: Theme, lines: tuple[str, str]) -> tuple[float, float]:
    """``node_size``, remembered: a big graph repeats the same few ops thousands of times."""
    key = (*lines, theme.node_font_pt, theme.name)
    size = _SIZES.get(key)
    if size is None:
        size = _SIZES[key] = node_size(theme, *lines)
    return size


def layered(g: Any, direction: str, sizes: dict[str, tuple[float, float]], previous: Any) -> Any:
    """The layered layout of ``g``, starting from ``previous``; safe to run in a thread."""
    from gradstep.graph.layout import layered_layout  # lazily: networkx-heavy

    # Left to right, the gap between layers must fit a gradient label written across it.
    gap = 50.0 if direction == "TB" else 110.0
    return layered_layout(
        g, direction=direction, node_size=sizes.__getitem__, previous=previous, rank_sep=gap
    )


def build_scene(
    drawing: Drawing, theme: Theme, direction: str, trace_nodes: dict[str, Any], parent: QObject
) -> tuple[QGraphicsScene, dict[str, NodeItem], dict[EdgeKey, EdgeItem], dict[EdgeKey, QPointF]]:
    """A scene with an item per drawn node and edge; where each plain edge's label goes."""
    scene = QGraphicsScene(parent)
    scene.setBackgroundBrush(QColor(theme.background))
    nodes: dict[str, NodeItem] = {}
    edges: dict[EdgeKey, EdgeItem] = {}
    label_at: dict[EdgeKey, QPointF] = {}
    layout = drawing.layout
    positions = layout.positions if layout is not None else {}
    g = drawing.view.graph
    for nid, (x, y) in positions.items():
        data = g.nodes[nid]
        item = NodeItem(nid, data["kind"], *drawing.lines[nid], drawing.sizes[nid], theme)
        item.setPos(x, y)
        node = trace_nodes.get(nid)
        item.setToolTip(_tooltip(node) if node else _box_tooltip(data))
        scene.addItem(item)
        nodes[nid] = item
    vertical = direction == "TB"
    for u, v, key in g.edges(keys=True):
        src, dst = nodes[u], nodes[v]
        points = layout.edge_points.get((u, v, key)) or [positions[u], positions[v]]
        path, arrow = edge_geometry(
            points, src.rect.translated(src.pos()), dst.rect.translated(dst.pos()), vertical
        )
        edge = EdgeItem((u, v, key), path, arrow, theme)
        scene.addItem(edge)
        edges[(u, v, key)] = edge
        if not (cl.is_box(u) or cl.is_box(v)):  # merged edges carry many gradients: no label
            label_at[(u, v, key)] = path.pointAtPercent(0.5)
    return scene, nodes, edges, label_at


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
