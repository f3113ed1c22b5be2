"""Opening and closing modules in the graph panel, keeping what the user looked at in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QGraphicsView

from gradstep.graph import collapse as cl
from gradstep.graph import pipeline
from gradstep.graph.drawing import Drawing

if TYPE_CHECKING:  # for the type checker: what the mixin uses of its GraphView
    from PySide6.QtCore import SignalInstance

    from gradstep.gui.graph.items import NodeItem

    class _View(QGraphicsView):
        drawn: SignalInstance
        _path: str | None

        @property
        def closed(self) -> frozenset[str]: ...
        @property
        def laying_out(self) -> bool: ...
        def rebuild(self, keep_view: bool = False) -> None: ...
        def node_item(self, node: str) -> NodeItem | None: ...
        def _centre(self) -> QPointF: ...
        def _draw(
            self,
            view: Callable[[], Drawing],
            closed: frozenset[str],
            size: int,
            previous: Any,
            keep_view: bool,
        ) -> None: ...
else:
    _View = object


class ModuleCommands(_View):
    """The box commands of ``GraphView`` (a mixin: it uses the view's drawing and items).

    A new view of the graph is laid out from the old drawing; the node in the
    middle of the view (or the box being opened) stays where it was on screen.
    """

    drawing: Drawing | None
    _coming: frozenset[str] | None  # the boxes of a drawing on its way
    session: Any
    _nodes: dict[str, Any]
    _anchor: tuple[str, QPointF] | None
    _shown: Any  # the StepState on screen

    def set_closed(self, closed: set[str] | frozenset[str], anchor: str | None = None) -> None:
        """Draw the modules in ``closed`` as boxes; the rest of the drawing stays in place,
        ``anchor`` (a node or box; default: what is in the middle) where it is on screen."""
        if self.drawing is None:
            return
        latest = self._coming if self._coming is not None else self.drawing.closed
        if frozenset(closed) != latest:  # a drawing on its way counts as drawn
            self._relayout(closed, keep_view=True, anchor=anchor)

    def draw_as(self, other: Drawing) -> None:
        """Draw the view ``other`` draws (its boxes; its layout as the start): for figures."""
        self._path = self.session.trace.scenario.path if self.session else None
        view = Drawing(other.graph, other.tree, other.view, other.closed, incident=other.incident)
        self._draw(lambda: view, view.closed, len(view.view.graph), other.layout, keep_view=False)

    def _relayout(
        self,
        closed: set[str] | frozenset[str],
        *,
        keep_view: bool,
        fresh: bool = False,
        anchor: str | None = None,
    ) -> None:
        """Draw another view; ``anchor`` (a node, default: the one at the middle of the view)
        stays where it is on screen."""
        d = self.drawing
        if d is None:
            self.rebuild()
            return
        self._anchor = self._anchor_at(anchor) if keep_view else None
        boxes = frozenset(closed)

        def view() -> Drawing:  # in the layout's thread when the graph is big
            return pipeline.view_of(d, boxes)

        self._draw(view, boxes, len(d.graph), None if fresh else d.layout, keep_view)

    # ------------------------------------------------------------- modules
    def open_box(self, path: str) -> None:
        """Open a box: its inside is drawn where it was (its child modules still closed),
        the current node, if it is in there, where the box was."""
        if self.drawing is None:
            return
        box = cl.box_id(path)
        current = self._shown.current_node if self._shown is not None else None
        anchor = current if current and self.drawing.drawn(current) == box else box
        self.set_closed(cl.expand(self.drawing.tree, set(self.closed), path), anchor)

    def open_inside(self, path: str) -> None:
        self.set_closed(cl.expand_inside(set(self.closed), path), cl.box_id(path))

    def close_module(self, path: str) -> None:
        members = self.drawing.tree.members.get(path) if self.drawing else None
        self.set_closed(cl.collapse_module(set(self.closed), path), members[0] if members else None)

    def collapse_all(self) -> None:
        if self.drawing is not None:
            self.set_closed(cl.collapse_all(self.drawing.tree))

    def expand_all(self) -> None:
        self.set_closed(set())

    def reveal(self, node: str) -> None:
        """Open the boxes around ``node`` so that it is drawn, and centre it."""
        if self.drawing is None:
            return
        closed = cl.reveal(self.drawing.tree, set(self.closed), node)
        if closed != set(self.closed):
            self.set_closed(closed)
        if self.laying_out:  # centre once the new drawing is up
            self.drawn.connect(
                lambda: self._centre_on(node), Qt.ConnectionType.SingleShotConnection
            )
        else:
            self._centre_on(node)

    def _centre_on(self, node: str) -> None:
        item = self.node_item(node)
        if item is not None:
            self.centerOn(item)

    def _anchor_at(self, node: str | None) -> tuple[str, QPointF] | None:
        """A node and where it is in the viewport: the given one, else the nearest the middle."""
        if self.drawing is None or not self._nodes:
            return None
        if node is None:
            middle = self._centre()
            nearest = min(
                self._nodes.values(),
                key=lambda i: (i.pos() - middle).manhattanLength(),
            )
            node = nearest.node_id
        item = self.node_item(node)
        if item is None:
            return None
        members = self.drawing.view.members.get(node)
        return (members[0] if members else node), self.mapFromScene(item.pos()).toPointF()

    def _keep_anchor(self) -> None:
        anchor, self._anchor = self._anchor, None
        item = self.node_item(anchor[0]) if anchor else None
        if anchor is None or item is None:
            return
        if not self.viewport().rect().contains(anchor[1].toPoint()):
            self.centerOn(item)  # it was out of sight (opened from a menu or a search)
            return
        scale = self.transform().m11() or 1.0
        offset = anchor[1] - QPointF(self.viewport().rect().center())
        self.centerOn(item.pos() - offset / scale)  # type: ignore[operator]  # stubs lack it
