"""The graph panel: the autograd graph laid out once per view, restyled per step.

What is drawn is a ``Drawing`` (``gradstep.graph.drawing``), made by the Qt-free
pipeline (``gradstep.graph.pipeline``): the trace's graph with some
``nn.Module``s closed into boxes, laid out. A big
graph opens as an overview, a box opens on a double-click, and a new view is
laid out from the old drawing so what was on screen stays in place. A large
layout runs in a thread (``layout_job``), and a large scene is made a batch of
items per turn of the event loop, while the old drawing stays up and steps.

Which drawing to make is asked of ``ModuleBoxes`` (``modules``), which asks the
pipeline for it; the view makes what it is given. Over 400 lines, for a reason: the
swap from one drawing to the next (a layout on its way, a scene made in batches, the
old scene still stepping, the view kept in place) is one state machine, and split
across modules its invariants could no longer be read in one place. What is not part
of it is composed beside it: keys, module boxes, the anchor, edge labels, the minimap,
the menu.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView

from gradstep.collection import collection_paused
from gradstep.graph import collapse as cl
from gradstep.graph import pipeline
from gradstep.graph.drawing import Drawing, EdgeKey
from gradstep.graph.layout import GraphLayout
from gradstep.gui.graph.anchor import ViewAnchor
from gradstep.gui.graph.batches import ProgressNote, SceneBatches
from gradstep.gui.graph.fit import Fitter
from gradstep.gui.graph.items import EdgeItem, NodeItem
from gradstep.gui.graph.keys import NodeKeys
from gradstep.gui.graph.labels import EdgeLabels
from gradstep.gui.graph.layout_job import LayoutJob
from gradstep.gui.graph.menu import context_menu
from gradstep.gui.graph.minimap import Minimap
from gradstep.gui.graph.modules import ModuleBoxes
from gradstep.gui.graph.scene import SCENE_MARGIN, SceneBuild, measure
from gradstep.gui.graph.styling import StepStyles
from gradstep.gui.stepping import Breakpoints
from gradstep.gui.theme import Theme
from gradstep.session import Selection, Session, StepState

MIN_SCALE, MAX_SCALE = 0.03, 8.0
BACKGROUND_LAYOUT = 2500  # views with more nodes are laid out off the GUI thread
SLICED_BUILD = 2000  # scenes with more items (nodes and edges) are made a batch at a time


class GraphView(QGraphicsView):
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
        selection: Selection | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("graph_view")
        self.theme = theme
        self.breakpoints = breakpoints
        self.session: Session | None = None
        self.direction = "TB"
        self.show_values = False  # each node's "data | grad" row (View ▸ Values in Nodes)
        self.follow = True
        self.selected: str | None = None
        self.drawing: Drawing | None = None
        self.marks: dict[str, tuple[int, str]] = {}  # node -> (step, "NaN"/"Inf")
        self.layout_seconds = 0.0  # the last layout's time, for the status bar and benchmarks
        self.background_layout = background_layout
        self._nodes: dict[str, NodeItem] = {}  # drawn id -> item
        self._edges: dict[EdgeKey, EdgeItem] = {}
        self.labels = EdgeLabels()  # the gradients written on the edges
        self._map_shapes: tuple[list[Any], list[Any]] = ([], [])  # for the overview map
        self._press: QPointF | None = None
        self._job = LayoutJob(self)
        self._job.finished.connect(self._laid_out)
        self._coming: frozenset[str] | None = None  # the boxes of a drawing on its way
        self._stale = False  # the drawing on screen is of another file than the trace
        self.progress = ProgressNote(self)  # over the drawing on screen
        self.progress.set_theme(theme)
        self._batches = SceneBatches(self.progress)  # a big scene, made a batch at a time
        self._batches.ready.connect(self._show_scene)
        self._pending_keep_view = True
        self.styles = StepStyles(self)  # the step and the selection shown on the items
        self.anchor = ViewAnchor(self)  # what stays in place when the drawing changes
        self.keys = NodeKeys(self)  # Tab, Shift+Tab, Enter
        self.boxes = ModuleBoxes(self)  # which drawing to make; opening and closing boxes
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.minimap = Minimap(self, self._minimap_items, lambda: self.theme)
        self.fitter = Fitter(self)  # fits the graph to the pane, and keeps it fitted
        self._placeholder()
        breakpoints.changed.connect(self.styles.restyle_all)
        self.selection = selection if selection is not None else Selection()
        self.selection.changed.connect(self.styles.select)
        self.node_clicked.connect(self.selection.set)
        self.background_clicked.connect(lambda: self.selection.set(None))

    # ------------------------------------------------------------- session
    @property
    def graph_layout(self) -> GraphLayout | None:
        return self.drawing.layout if self.drawing else None

    @property
    def closed(self) -> frozenset[str]:
        """The modules drawn as boxes."""
        return self.drawing.closed if self.drawing else frozenset()

    @property
    def boxes_asked(self) -> frozenset[str]:
        """The boxes asked for last: those of a drawing on its way, else those on screen."""
        return self._coming if self._coming is not None else self.closed

    @property
    def node_items(self) -> dict[str, NodeItem]:
        """The items on screen, by drawn id (a node's or a box's)."""
        return self._nodes

    @property
    def shown(self) -> StepState | None:
        """The step the items on screen show."""
        return self.styles.shown

    @property
    def edge_items(self) -> dict[EdgeKey, EdgeItem]:
        return self._edges

    @property
    def laying_out(self) -> bool:
        """A new drawing is on its way (laid out, or its items made): the old one is on screen."""
        return self._job.busy or self._batches.busy

    def set_session(self, session: Session) -> None:
        self.session = session
        session.trace_changed.connect(self.rebuild)
        session.step_changed.connect(self.show_step)
        self.rebuild()

    def rebuild(self, keep_view: bool = False) -> None:
        """Draw the session's trace (a new one, or a reload)."""
        self.boxes.draw_trace(keep_view)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.progress.set_theme(theme)
        self.boxes.redraw(keep_view=True)

    def set_show_values(self, on: bool) -> None:
        """Write each tensor's value and gradient in its node (``data | grad``), or not."""
        if on != self.show_values:
            self.show_values = on
            self.boxes.redraw(keep_view=True)

    def set_direction(self, direction: str) -> None:
        if direction != self.direction:
            self.direction = direction
            self.boxes.redraw(keep_view=False, fresh=True)

    def set_marks(self, marks: dict[str, tuple[int, str]]) -> None:
        """Where a gradient first turns NaN or Inf: node -> (step, "NaN" or "Inf")."""
        self.marks = marks
        self.styles.restyle_all()

    # --------------------------------------------------------------- build
    def draw(
        self, request: pipeline.Request, *, keep_view: bool, stale: bool | None = None
    ) -> None:
        """Make the drawing ``request`` asks for, measure and lay it out — in a thread when it
        comes from a graph of more than ``BACKGROUND_LAYOUT`` nodes — then make its items.
        ``stale``: what is on screen is another file's graph."""
        if stale is not None:
            self._stale = stale
        theme, direction, values = self.theme, self.direction, self.show_values
        fold = self.session.folded if self.session is not None else None

        def lay_out() -> Drawing:
            drawing = request.view()
            measure(drawing, theme, values)  # the nodes' text, in Qt's fonts
            t0 = time.perf_counter()
            pipeline.lay_out(
                drawing,
                drawing.sizes.__getitem__,
                direction=direction,
                previous=request.previous,
                fold=fold,
            )
            self.layout_seconds = time.perf_counter() - t0
            return drawing

        self._cancel()  # a request still on its way would show an older view
        self._coming = request.closed
        self._pending_keep_view = keep_view
        if self.background_layout and request.size > BACKGROUND_LAYOUT:
            self._clear_stale()
            self.setCursor(Qt.CursorShape.BusyCursor)
            self.progress.say(f"Laying out {request.size:,} nodes…")
            self._job.start(lay_out)
        else:
            self._install(lay_out())

    def _cancel(self) -> None:
        """Forget the drawing on its way (its layout or its items): the one on screen stays."""
        self._job.cancel()
        self._batches.cancel()
        self._coming = None
        self.progress.done()
        self.unsetCursor()

    def _laid_out(self, result: Any) -> None:
        if isinstance(result, BaseException):
            self._cancel()
            raise result
        self._install(result)

    def _install(self, drawing: Drawing) -> None:
        """Make the scene's items for ``drawing`` — a batch per turn of the event loop when
        there are many, the step shown on them too — then put the scene on screen."""
        trace_nodes = self.session.trace.nodes if self.session else {}
        build = SceneBuild(drawing, self.theme, self.direction, trace_nodes, self)
        if self.background_layout and build.total > SLICED_BUILD:
            self._clear_stale()
            build.then(self.styles.style_new(build), build.total)
            self.setCursor(Qt.CursorShape.BusyCursor)
            self._batches.start(build)
            return
        with collection_paused():
            build.run()
        self._show_scene(build)

    def _clear_stale(self) -> None:
        """Take another file's graph off screen while this one's is on its way: it would
        show this trace's steps on nodes that are not its own."""
        if not self._stale or self.drawing is None:
            return
        old = self.scene()
        self.drawing, self._nodes, self._edges = None, {}, {}
        self._map_shapes, self.styles.shown = ([], []), None
        self.labels.reset()
        scene = QGraphicsScene(self)
        scene.setBackgroundBrush(QColor(self.theme.background))
        self.setScene(scene)
        old.deleteLater()
        self.minimap.render_scene()

    def _show_scene(self, build: SceneBuild) -> None:
        """Put the finished scene on screen and show the current step on it."""
        self._coming = None
        self.progress.done()
        self.unsetCursor()
        with collection_paused():
            self._swap_scene(build, self._pending_keep_view)
        self.minimap.render_scene()
        self.drawn.emit()

    def _swap_scene(self, build: SceneBuild, keep_view: bool) -> None:
        old, transform, centre = self.scene(), self.transform(), self.centre()
        scene = build.scene
        self.drawing, self._stale = build.drawing, False
        self._nodes, self._edges = build.nodes, build.edges
        self._map_shapes = (build.node_rects, build.edge_lines)
        self.labels.reset()
        bounds = build.bounds
        if not self._nodes:
            self._placeholder(scene, "This trace has no autograd graph yet.")
            bounds = scene.itemsBoundingRect()
        scene.setSceneRect(
            bounds.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)
        )
        self.setScene(scene)
        if old is not None:
            old.deleteLater()
        self.styles.adopt(build)
        if self.session is not None:
            self.show_step(self.session.index)
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if keep_view and not visible.contains(bounds):
            self.setTransform(transform)
            self.centerOn(centre)
            self.anchor.restore()
            current = self._current_item()
            if self.follow and current is not None:  # in sight, if the anchor put it out
                self.styles.keep_in_view(current)
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
        """Show step ``k`` on the items (restyling only what differs from the step before)."""
        self.styles.show(k)

    def drawn_bounds(self) -> QRectF:
        """The bounds of what is drawn at this step (not a loop's other iterations)."""
        if self.session is None or not self.session.state().hidden_nodes:
            return self.scene().itemsBoundingRect()
        rect = QRectF()
        for item in self._nodes.values():
            if item.isVisible():
                rect |= item.sceneBoundingRect()
        return rect if not rect.isEmpty() else self.scene().itemsBoundingRect()

    # ---------------------------------------------------------- navigation
    def fit(self, *, readable: bool = False) -> None:
        """Show the whole graph; ``readable``: never so small that labels cannot be read."""
        self.fitter.fit(readable=readable)

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
        if self.styles.shown is None or self.drawing is None:
            return None
        return self.item_of(self.drawing.drawn(self.styles.shown.current_node))

    def item_of(self, drawn: str | None) -> NodeItem | None:
        """The item of a drawn id (a node's or a box's)."""
        return self._nodes.get(drawn) if drawn is not None else None

    def _minimap_items(self) -> tuple[list[Any], list[Any], NodeItem | None]:
        return *self._map_shapes, self._current_item()

    def node_at(self, pos: QPointF | QPoint) -> str | None:
        """The drawn node under ``pos`` (viewport coordinates): a node id or a box id."""
        for item in self.items(pos.toPoint() if isinstance(pos, QPointF) else pos):
            if isinstance(item, NodeItem):
                return item.node_id
        return None

    def node_item(self, node: str) -> NodeItem | None:
        """The item drawing ``node``: its own, or its box's."""
        if node in self._nodes:
            return self._nodes[node]
        return self.item_of(self.drawing.drawn(node)) if self.drawing else None

    def render_scene(self, painter: QPainter, target: QRectF, source: QRectF | None = None) -> None:
        """Draw the whole graph (or ``source``) into ``target``, for exports."""
        source = source or self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        self.scene().render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)

    def centre(self) -> QPointF:
        """The middle of the viewport, in scene coordinates."""
        return self.mapToScene(self.viewport().rect().center())

    def centre_on(self, node: str) -> None:
        item = self.node_item(node)
        if item is not None:
            self.centerOn(item)

    # ------------------------------------------------------------ commands
    def choose(self, node: str) -> None:
        """What a click on ``node`` does: a node is selected everywhere; a box, which is no
        node of the trace, only here (and the status bar says what is in it)."""
        if cl.is_box(node):
            self.background_clicked.emit()
            self.styles.select(node)
            self.module_clicked.emit(cl.module_of_box(node))
        else:
            self.node_clicked.emit(node)

    def activate(self, node: str) -> None:
        """What a double-click on ``node`` does: go to its step; open a box."""
        if cl.is_box(node):
            self.boxes.open_box(cl.module_of_box(node))
        else:
            self.node_activated.emit(node)

    # -------------------------------------------------------------- events
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if not self.keys.press(event):
            super().keyPressEvent(event)

    def focus_next_widget(self, forward: bool) -> None:
        """Move the focus to the next (or previous) widget of the window, out of the graph."""
        super().focusNextPrevChild(forward)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002 - Qt override
        """Tab and Shift+Tab (Qt asks this first): the next node, not the next widget, while
        there are nodes."""
        if self.keys.select_next(1 if next else -1) is not None:
            return True
        return super().focusNextPrevChild(next)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        self.zoom(1.0015 ** event.angleDelta().y())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.minimap.place()
        self.fitter.resized()

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
            self.choose(node)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        node = self.node_at(event.position())
        if node is not None:
            self.activate(node)

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        node = self.node_at(event.pos())
        if node is not None:
            context_menu(self, node, self).exec(event.globalPos())
