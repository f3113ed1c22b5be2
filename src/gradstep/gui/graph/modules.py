"""Which view of the graph the panel draws: a trace's first one, the boxes asked for, a copy.

Every drawing is asked of the Qt-free pipeline (``gradstep.graph.pipeline``) as a
``Request``; the view makes it (measures, lays out, builds the scene). A new view of
the graph is laid out from the old drawing, and the node in the middle of the view
(or the box being opened) stays where it was on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from gradstep.graph import collapse as cl
from gradstep.graph import pipeline
from gradstep.graph.drawing import Drawing

if TYPE_CHECKING:
    from gradstep.gui.graph.host import GraphHost


class ModuleBoxes:
    """The drawings a ``GraphView`` asks for, and its commands on module boxes."""

    def __init__(self, view: GraphHost) -> None:
        self._view = view

    def draw_trace(self, keep_view: bool = False) -> None:
        """A new trace (or a reload): its graph, the boxes it opens with, its drawing. A reload
        of the file on screen keeps the boxes asked for last (maybe still on their way) and
        the layout."""
        view = self._view
        if view.session is None:
            return
        reload = view.session.reloaded and view.drawing is not None
        wanted = view.boxes_asked if reload else None
        previous = view.graph_layout if reload else None
        request = pipeline.trace_request(view.session.trace, wanted, previous)
        view.marks = {}
        view.draw(
            request, keep_view=keep_view or (reload and bool(view.node_items)), stale=not reload
        )

    def draw_as(self, other: Drawing) -> None:
        """Draw the view ``other`` draws (its boxes; its layout as the start): for figures."""
        self._view.draw(pipeline.copy_request(other), keep_view=False)

    def redraw(self, *, keep_view: bool, fresh: bool = False, anchor: str | None = None) -> None:
        """Draw the boxes on screen again (another theme, another direction: ``fresh``)."""
        self._relayout(self._view.closed, keep_view=keep_view, fresh=fresh, anchor=anchor)

    def set_closed(self, closed: set[str] | frozenset[str], anchor: str | None = None) -> None:
        """Draw the modules in ``closed`` as boxes; the rest of the drawing stays in place,
        ``anchor`` (a node or box; default: what is in the middle) where it is on screen."""
        if self._view.drawing is None:
            return
        if frozenset(closed) != self._view.boxes_asked:  # a drawing on its way counts as drawn
            self._relayout(closed, keep_view=True, anchor=anchor)

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
        view = self._view
        if view.drawing is None:
            self.draw_trace()
            return
        if keep_view:
            view.anchor.take(anchor)
        else:
            view.anchor.clear()
        view.draw(pipeline.boxes_request(view.drawing, closed, fresh=fresh), keep_view=keep_view)

    # ------------------------------------------------------------- commands
    def open_box(self, path: str) -> None:
        """Open a box: its inside is drawn where it was (its child modules still closed),
        the current node, if it is in there, where the box was."""
        drawing, shown = self._view.drawing, self._view.shown
        if drawing is None:
            return
        box = cl.box_id(path)
        current = shown.current_node if shown is not None else None
        anchor = current if current and drawing.drawn(current) == box else box
        self.set_closed(cl.expand(drawing.tree, set(self._view.closed), path), anchor)

    def open_inside(self, path: str) -> None:
        self.set_closed(cl.expand_inside(set(self._view.closed), path), cl.box_id(path))

    def close_module(self, path: str) -> None:
        drawing = self._view.drawing
        members = drawing.tree.members.get(path) if drawing else None
        closed = cl.collapse_module(set(self._view.closed), path)
        self.set_closed(closed, members[0] if members else None)

    def collapse_all(self) -> None:
        if self._view.drawing is not None:
            self.set_closed(cl.collapse_all(self._view.drawing.tree))

    def expand_all(self) -> None:
        self.set_closed(set())

    def reveal(self, node: str) -> None:
        """Open the boxes around ``node`` so that it is drawn, and centre it."""
        view = self._view
        if view.drawing is None:
            return
        closed = cl.reveal(view.drawing.tree, set(view.closed), node)
        if closed != set(view.closed):
            self.set_closed(closed)
        if view.laying_out:  # centre once the new drawing is up
            view.drawn.connect(lambda: view.centre_on(node), Qt.ConnectionType.SingleShotConnection)
        else:
            view.centre_on(node)
