"""The graph panel: the autograd graph laid out once per trace, restyled per step."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView, QMenu

from gradstep.graph.model import build_graph
from gradstep.gui.graph_items import (
    EdgeItem,
    EdgeLabel,
    NodeItem,
    edge_geometry,
    node_lines,
    node_size,
)
from gradstep.gui.stepping import Breakpoints, state_of
from gradstep.gui.theme import Theme
from gradstep.session import Session, StepState
from gradstep.trace.text import format_value

EdgeKey = tuple[str, str, int]
MAX_LABELS = 40  # gradient labels shown at once; beyond, only around the current node
MIN_SCALE, MAX_SCALE = 0.03, 8.0
MIN_READABLE = 0.9  # an automatic fit does not zoom out further: the text stays legible


class GraphView(QGraphicsView):
    """Draws the trace's autograd graph; emits node clicks; never relayouts while stepping."""

    node_clicked = Signal(str)
    node_activated = Signal(str)  # double-click: go to the node's step
    background_clicked = Signal()
    breakpoint_requested = Signal(str)

    def __init__(self, theme: Theme, breakpoints: Breakpoints, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("graph_view")
        self.theme = theme
        self.breakpoints = breakpoints
        self.session: Session | None = None
        self.direction = "TB"
        self.follow = True
        self.selected: str | None = None
        self.layout: Any = None
        self._layout_path: str | None = None
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[EdgeKey, EdgeItem] = {}
        self._incident: dict[str, list[EdgeKey]] = {}
        self._label_at: dict[EdgeKey, QPointF] = {}
        self._labels: list[EdgeLabel] = []
        self._shown: StepState | None = None
        self._press: QPointF | None = None
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._placeholder()
        breakpoints.changed.connect(self._restyle_all)

    # ------------------------------------------------------------- session
    def set_session(self, session: Session) -> None:
        self.session = session
        session.trace_changed.connect(self.rebuild)
        session.step_changed.connect(self.show_step)
        self.rebuild()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.rebuild(keep_view=True)

    def set_direction(self, direction: str) -> None:
        if direction != self.direction:
            self.direction = direction
            self.layout = None
            self.rebuild()

    # --------------------------------------------------------------- build
    def rebuild(self, keep_view: bool = False) -> None:
        """Lay the trace out and make its items (once per trace, theme or direction)."""
        if self.session is None:
            return
        trace = self.session.trace
        same_file = trace.scenario.path == self._layout_path and self.layout is not None
        keep_view = keep_view or (same_file and bool(self._nodes))
        g = build_graph(trace)
        sizes, lines = {}, {}
        for nid, node in trace.nodes.items():
            lines[nid] = node_lines(node.kind, node.op, node.name)
            sizes[nid] = node_size(self.theme, *lines[nid])
        previous = self.layout if same_file else None
        self.layout = _layout(g, self.direction, sizes, previous) if len(g) else None
        self._layout_path = trace.scenario.path
        old, transform, centre = self.scene(), self.transform(), self._centre()
        scene = QGraphicsScene(self)
        scene.setBackgroundBrush(QColor(self.theme.background))
        self._nodes, self._edges, self._incident, self._label_at, self._labels = {}, {}, {}, {}, []
        positions = self.layout.positions if self.layout is not None else {}
        for nid, (x, y) in positions.items():
            node = trace.nodes[nid]
            item = NodeItem(nid, node.kind, *lines[nid], sizes[nid], self.theme)
            item.setPos(x, y)
            item.setToolTip(_tooltip(node))
            scene.addItem(item)
            self._nodes[nid] = item
        vertical = self.direction == "TB"
        for u, v, key in g.edges(keys=True):
            src, dst = self._nodes[u], self._nodes[v]
            points = self.layout.edge_points.get((u, v, key)) or [positions[u], positions[v]]
            path, arrow = edge_geometry(
                points, src.rect.translated(src.pos()), dst.rect.translated(dst.pos()), vertical
            )
            edge = EdgeItem((u, v, key), path, arrow, self.theme)
            scene.addItem(edge)
            self._edges[(u, v, key)] = edge
            self._incident.setdefault(u, []).append((u, v, key))
            self._incident.setdefault(v, []).append((u, v, key))
            self._label_at[(u, v, key)] = path.pointAtPercent(0.5)
        if not self._nodes:
            self._placeholder(scene, "This trace has no autograd graph yet.")
        bounds = scene.itemsBoundingRect().adjusted(-40, -40, 40, 40)
        scene.setSceneRect(bounds)
        self.setScene(scene)
        if old is not None:
            old.deleteLater()
        self._shown = None
        self.show_step(self.session.index)
        if keep_view:
            self.setTransform(transform)
            self.centerOn(centre)
        else:
            self.fit(readable=True)

    def _placeholder(self, scene: QGraphicsScene | None = None, text: str = "") -> None:
        scene = scene or self.scene()
        scene.setBackgroundBrush(QColor(self.theme.background))
        item = QGraphicsSimpleTextItem(
            text or "Open a scenario (Ctrl+O) or drop a .py / .ipynb file here"
        )
        item.setFont(self.theme.ui_font(1.2))
        item.setBrush(QColor(self.theme.muted_text))
        scene.addItem(item)

    # ---------------------------------------------------------------- step
    def show_step(self, k: int) -> None:
        """Restyle only what differs from the step shown before."""
        if self.session is None or not self._nodes:
            return
        new = state_of(self.session, k)
        old = self._shown
        if old is None:
            nodes: set[str] | Any = self._nodes.keys()
            edges: set[EdgeKey] | Any = self._edges.keys()
        else:
            flipped = old.visible_nodes ^ new.visible_nodes
            nodes = flipped | {n for n, _ in old.node_status.items() ^ new.node_status.items()}
            nodes |= {old.current_node, new.current_node, self.selected}
            edges = old.edge_grads.keys() ^ new.edge_grads.keys()
            edges |= set(old.active_edges) | set(new.active_edges)
            for n in flipped:
                edges.update(self._incident.get(n, ()))
        for nid in nodes:
            item = self._nodes.get(nid)  # type: ignore[arg-type]
            if item is not None:
                item.set_visual(
                    self._node_state(nid, new), nid in self.breakpoints.nodes, nid == self.selected
                )
        active = set(new.active_edges)
        for key in edges:
            edge = self._edges.get(key)
            if edge is not None:
                edge.set_visual(self._edge_state(key, new, active))
        self._show_labels(new)
        self._shown = new
        if self.follow and new.current_node in self._nodes:
            self.ensureVisible(self._nodes[new.current_node], 40, 40)

    def _node_state(self, nid: str, st: StepState) -> str:
        if nid not in st.visible_nodes:
            return "absent"
        if nid == st.current_node:
            return "current"
        return st.node_status.get(nid, "normal")

    @staticmethod
    def _edge_state(key: EdgeKey, st: StepState, active: set[EdgeKey]) -> str:
        if key[0] not in st.visible_nodes or key[1] not in st.visible_nodes:
            return "absent"
        if key in active:
            return "active"
        return "done" if key in st.edge_grads else "normal"

    def _show_labels(self, st: StepState) -> None:
        grads = st.edge_grads
        if len(grads) > MAX_LABELS:
            near = {st.current_node}
            grads = {k: v for k, v in grads.items() if k[1] in near or k[0] in near}
        keys = [k for k in grads if k in self._label_at][:MAX_LABELS]
        scene = self.scene()
        while len(self._labels) < len(keys):
            label = EdgeLabel(self.theme)
            scene.addItem(label)
            self._labels.append(label)
        for label, key in zip(self._labels, keys):
            text = format_value(grads[key], max_items=3)
            label.set_text(text if len(text) <= 32 else text[:30] + "…", self._label_at[key])
            label.setVisible(True)
        for label in self._labels[len(keys) :]:
            label.setVisible(False)

    def _restyle_all(self) -> None:
        self._shown = None
        if self.session is not None:
            self.show_step(self.session.index)

    def select(self, node: str | None) -> None:
        """Mark ``node`` as the selection (None clears it)."""
        if node == self.selected:
            return
        previous, self.selected = self.selected, node
        if self.session is None:
            return
        st = state_of(self.session)
        for nid in (previous, node):
            if nid in self._nodes:
                self._nodes[nid].set_visual(
                    self._node_state(nid, st), nid in self.breakpoints.nodes, nid == node
                )
        if node in self._nodes:
            self.ensureVisible(self._nodes[node], 40, 40)

    # ---------------------------------------------------------- navigation
    def fit(self, *, readable: bool = False) -> None:
        """Show the whole graph; ``readable``: never so small that labels cannot be read."""
        rect = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        scale = self.transform().m11()
        if scale > self.theme.max_fit_scale or (readable and scale < MIN_READABLE):
            scale = min(self.theme.max_fit_scale, max(scale, MIN_READABLE if readable else 0))
            self.resetTransform()
            self.scale(scale, scale)
            self.centerOn(rect.center())
            self.centre_on_current()

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_SCALE / current, min(MAX_SCALE / current, factor))
        self.scale(factor, factor)

    def centre_on_current(self) -> None:
        if self._shown is not None and self._shown.current_node in self._nodes:
            self.centerOn(self._nodes[self._shown.current_node])

    def node_at(self, pos: QPointF | Any) -> str | None:
        for item in self.items(pos.toPoint() if hasattr(pos, "toPoint") else pos):
            if isinstance(item, NodeItem):
                return item.node_id
        return None

    def node_item(self, node: str) -> NodeItem | None:
        return self._nodes.get(node)

    def render_scene(self, painter: QPainter, target: QRectF, source: QRectF | None = None) -> None:
        """Draw the whole graph (or ``source``) into ``target``, for exports."""
        source = source or self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        self.scene().render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)

    def _centre(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # -------------------------------------------------------------- events
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        self.zoom(1.0015 ** event.angleDelta().y())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if (event.position() - press).manhattanLength() > 4:
            return  # a pan, not a click
        node = self.node_at(event.position())
        if node is None:
            self.background_clicked.emit()
        else:
            self.node_clicked.emit(node)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        node = self.node_at(event.position())
        if node is not None:
            self.node_activated.emit(node)

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        node = self.node_at(event.pos())
        if node is None:
            return
        menu = QMenu(self)
        menu.addAction("Toggle breakpoint", lambda: self.breakpoint_requested.emit(node))
        menu.addAction("Go to this node's step", lambda: self.node_activated.emit(node))
        menu.addAction("Show in inspector", lambda: self.node_clicked.emit(node))
        menu.exec(event.globalPos())


def _layout(g: Any, direction: str, sizes: dict[str, tuple[float, float]], previous: Any) -> Any:
    from gradstep.graph.layout import layered_layout  # lazily: networkx-heavy

    # Left to right, the gap between layers must fit a gradient label written across it.
    gap = 50.0 if direction == "TB" else 110.0
    return layered_layout(
        g, direction=direction, node_size=sizes.__getitem__, previous=previous, rank_sep=gap
    )


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
