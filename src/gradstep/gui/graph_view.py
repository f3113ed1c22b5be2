"""The graph panel: the autograd graph laid out once per view, restyled per step.

What is drawn is a ``Drawing`` (``graph_drawing``): the trace's graph with
some ``nn.Module``s closed into boxes (``gradstep.graph.collapse``). A big
graph opens as an overview, a box opens on a double-click, and a new view is
laid out from the old drawing so what was on screen stays in place. A large
layout runs in a thread (``layout_job``) while the old drawing stays up.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView

from gradstep.graph import collapse as cl
from gradstep.graph.model import build_graph
from gradstep.gui.graph_drawing import Drawing, EdgeKey
from gradstep.gui.graph_items import EdgeItem, EdgeLabel, NodeItem
from gradstep.gui.graph_menu import context_menu
from gradstep.gui.graph_modules import ModuleCommands
from gradstep.gui.graph_scene import build_scene, layered, measure
from gradstep.gui.layout_job import LayoutJob
from gradstep.gui.minimap import Minimap
from gradstep.gui.stepping import Breakpoints, state_of
from gradstep.gui.theme import Theme
from gradstep.session import Session, StepState
from gradstep.trace.text import format_value

MAX_LABELS = 40  # gradient labels shown at once; beyond, only around the current node
MIN_SCALE, MAX_SCALE = 0.03, 8.0
MIN_READABLE = 0.9  # an automatic fit does not zoom out further: the text stays legible
BACKGROUND_LAYOUT = 2500  # views with more nodes are laid out off the GUI thread


class GraphView(ModuleCommands, QGraphicsView):
    """Draws the trace's autograd graph; emits node clicks; never relayouts while stepping."""

    node_clicked = Signal(str)
    node_activated = Signal(str)  # double-click: go to the node's step
    background_clicked = Signal()
    breakpoint_requested = Signal(str)
    module_clicked = Signal(str)  # a closed module's box, by its path
    drawn = Signal()  # a new drawing is on screen (after a trace, a box, a theme…)

    def __init__(
        self,
        theme: Theme,
        breakpoints: Breakpoints,
        parent: Any = None,
        *,
        background_layout: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("graph_view")
        self.theme = theme
        self.breakpoints = breakpoints
        self.session: Session | None = None
        self.direction = "TB"
        self.follow = True
        self.selected: str | None = None
        self.drawing: Drawing | None = None
        self.marks: dict[str, tuple[int, str]] = {}  # node -> (step, "NaN"/"Inf")
        self.layout_seconds = 0.0  # the last layout's time, for the status bar and benchmarks
        self.background_layout = background_layout
        self._path: str | None = None  # the scenario the drawing is of
        self._nodes: dict[str, NodeItem] = {}  # drawn id -> item
        self._edges: dict[EdgeKey, EdgeItem] = {}
        self._label_at: dict[EdgeKey, QPointF] = {}
        self._labels: list[EdgeLabel] = []
        self._shown: StepState | None = None
        self._press: QPointF | None = None
        self._job = LayoutJob(self)
        self._job.finished.connect(self._laid_out)
        self._pending_keep_view = True
        self._anchor: tuple[str, QPointF] | None = None
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.minimap = Minimap(self, self._minimap_items)
        self._placeholder()
        breakpoints.changed.connect(self._restyle_all)

    # ------------------------------------------------------------- session
    @property
    def graph_layout(self) -> Any:
        return self.drawing.layout if self.drawing else None

    @property
    def closed(self) -> frozenset[str]:
        """The modules drawn as boxes."""
        return self.drawing.closed if self.drawing else frozenset()

    @property
    def laying_out(self) -> bool:
        return self._job.busy

    def set_session(self, session: Session) -> None:
        self.session = session
        session.trace_changed.connect(self.rebuild)
        session.step_changed.connect(self.show_step)
        self.rebuild()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._relayout(self.closed, keep_view=True)

    def set_direction(self, direction: str) -> None:
        if direction != self.direction:
            self.direction = direction
            self._relayout(self.closed, keep_view=False, fresh=True)

    def set_marks(self, marks: dict[str, tuple[int, str]]) -> None:
        """Where a gradient first turns NaN or Inf: node -> (step, "NaN" or "Inf")."""
        self.marks = marks
        self._restyle_all()

    # --------------------------------------------------------------- build
    def rebuild(self, keep_view: bool = False) -> None:
        """A new trace (or a reload): its graph, the boxes it opens with, its drawing."""
        if self.session is None:
            return
        trace = self.session.trace
        same_file = trace.scenario.path == self._path and self.drawing is not None
        g = build_graph(trace)
        tree = cl.module_tree(g)
        if same_file:
            closed = {p for p in self.closed if tree.boxable(p)}
        else:
            closed = cl.default_collapsed(tree)
        previous = self.graph_layout if same_file else None
        self._path = trace.scenario.path
        self.marks = {}
        keep = keep_view or (same_file and bool(self._nodes))
        self._draw(
            Drawing(g, tree, cl.collapse(g, tree, closed), frozenset(closed)), previous, keep
        )

    def _draw(self, drawing: Drawing, previous: Any, keep_view: bool) -> None:
        """Measure the nodes, lay them out (in a thread when big), then make the items."""
        measure(drawing, self.theme)
        g, direction, sizes = drawing.view.graph, self.direction, drawing.sizes

        def lay_out() -> Drawing:
            t0 = time.perf_counter()
            drawing.layout = layered(g, direction, sizes, previous) if len(g) else None
            self.layout_seconds = time.perf_counter() - t0
            return drawing

        self._job.cancel()  # a request still running would show an older view
        if self.background_layout and len(g) > BACKGROUND_LAYOUT:
            self._pending_keep_view = keep_view
            self.setCursor(Qt.CursorShape.BusyCursor)
            self._job.start(lay_out)
        else:
            self._install(lay_out(), keep_view)

    def _laid_out(self, result: Any) -> None:
        self.unsetCursor()
        if isinstance(result, BaseException):
            raise result
        self._install(result, self._pending_keep_view)

    def _install(self, drawing: Drawing, keep_view: bool) -> None:
        """Make the scene's items for ``drawing`` and show the current step on them."""
        # thousands of small objects: the cycle collector would walk the whole process
        # (torch-free, but Qt wrappers and the trace) many times over meanwhile
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._make_items(drawing, keep_view)
        finally:
            if collecting:
                gc.enable()
        self.minimap.render_scene()
        self.drawn.emit()

    def _make_items(self, drawing: Drawing, keep_view: bool) -> None:
        self.drawing = drawing
        old, transform, centre = self.scene(), self.transform(), self._centre()
        trace_nodes = self.session.trace.nodes if self.session else {}
        scene, self._nodes, self._edges, self._label_at = build_scene(
            drawing, self.theme, self.direction, trace_nodes, self
        )
        self._labels = []
        if not self._nodes:
            self._placeholder(scene, "This trace has no autograd graph yet.")
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-40, -40, 40, 40))
        self.setScene(scene)
        if old is not None:
            old.deleteLater()
        self._shown = None
        if self.session is not None:
            self.show_step(self.session.index)
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if keep_view and not visible.contains(scene.itemsBoundingRect()):
            self.setTransform(transform)
            self.centerOn(centre)
            self._keep_anchor()
        else:  # a new graph, or one now small enough to see whole (after "Collapse all")
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
        d = self.drawing
        if self.session is None or d is None or not self._nodes:
            return
        new = state_of(self.session, k)
        old = self._shown
        if old is None:
            nodes: Any = self._nodes.keys()
            edges: Any = self._edges.keys()
        else:
            nodes, edges = d.changed(old, new, self.marks)
            nodes.add(d.drawn(self.selected))
        for nid in nodes:
            self._restyle(nid, new)
        active = set(new.active_edges)
        for key in edges:
            edge = self._edges.get(key)
            if edge is not None:
                edge.set_visual(d.edge_state(key, new, active))
        self._show_labels(new)
        self._shown = new
        current = self._nodes.get(d.drawn(new.current_node))  # type: ignore[arg-type]
        if self.follow and current is not None:
            self._keep_in_view(current)
        self.minimap.schedule()

    def _keep_in_view(self, item: NodeItem) -> None:
        """Scroll when the current node nears an edge, leaving a third of the view around it:
        the nodes the pass goes to next are in sight, and the view jumps seldom."""
        vp = self.viewport().rect()  # margins in pixels
        self.ensureVisible(
            item.sceneBoundingRect(), min(vp.width() // 3, 300), min(vp.height() // 3, 300)
        )

    def _restyle(self, nid: str | None, st: StepState) -> None:
        item = self._nodes.get(nid)  # type: ignore[arg-type]
        if item is None or self.drawing is None:
            return
        d = self.drawing
        members = d.member_set.get(item.node_id)
        if members is None:
            breakpoint = nid in self.breakpoints.nodes
        else:
            breakpoint = not members.isdisjoint(self.breakpoints.nodes)
        item.set_visual(
            d.node_state(item.node_id, st),
            breakpoint,
            self.selected is not None and d.drawn(self.selected) == nid,
            d.badge(item.node_id, st.index, self.marks),
        )

    def _show_labels(self, st: StepState) -> None:
        grads = st.edge_grads
        if len(grads) > MAX_LABELS:  # only around the current node (its edges, not all)
            near = self.drawing.incident.get(st.current_node, ()) if self.drawing else ()
            grads = {k: grads[k] for k in near if k in grads}
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
        """Mark ``node`` as the selection (None clears it); a node in a box selects the box."""
        if node == self.selected:
            return
        previous, self.selected = self.selected, node
        if self.session is None or self.drawing is None:
            return
        st = state_of(self.session)
        for nid in (previous, node):
            self._restyle(self.drawing.drawn(nid), st)
        item = self._nodes.get(self.drawing.drawn(node))  # type: ignore[arg-type]
        if item is not None:
            self.ensureVisible(item, 40, 40)

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
        self.minimap.place()

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_SCALE / current, min(MAX_SCALE / current, factor))
        self.scale(factor, factor)
        self.minimap.place()

    def centre_on_current(self) -> None:
        item = self._current_item()
        if item is not None:
            self.centerOn(item)

    def _current_item(self) -> NodeItem | None:
        if self._shown is None or self.drawing is None:
            return None
        return self._nodes.get(self.drawing.drawn(self._shown.current_node))  # type: ignore[arg-type]

    def _minimap_items(self) -> tuple[Any, Any, NodeItem | None]:
        return self._nodes.values(), self._edges.values(), self._current_item()

    def node_at(self, pos: QPointF | Any) -> str | None:
        """The drawn node under ``pos`` (viewport coordinates): a node id or a box id."""
        for item in self.items(pos.toPoint() if hasattr(pos, "toPoint") else pos):
            if isinstance(item, NodeItem):
                return item.node_id
        return None

    def node_item(self, node: str) -> NodeItem | None:
        """The item drawing ``node``: its own, or its box's."""
        if node in self._nodes:
            return self._nodes[node]
        return self._nodes.get(self.drawing.drawn(node)) if self.drawing else None  # type: ignore[arg-type]

    def render_scene(self, painter: QPainter, target: QRectF, source: QRectF | None = None) -> None:
        """Draw the whole graph (or ``source``) into ``target``, for exports."""
        source = source or self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        self.scene().render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)

    def _centre(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # -------------------------------------------------------------- events
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        self.zoom(1.0015 ** event.angleDelta().y())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.minimap.place()

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
        elif cl.is_box(node):
            self.module_clicked.emit(cl.module_of_box(node))
        else:
            self.node_clicked.emit(node)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        node = self.node_at(event.position())
        if node is not None and cl.is_box(node):
            self.open_box(cl.module_of_box(node))
        elif node is not None:
            self.node_activated.emit(node)

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        node = self.node_at(event.pos())
        if node is not None:
            context_menu(self, node).exec(event.globalPos())
