"""Fitting the graph to its pane: on open, when the pane is resized and when the graph is
laid out anew (another direction); never blown up past the theme's largest zoom (a 3-node
graph stays node-sized); and, on a graph too big to read whole, a readable region around
the current node rather than a sliver.

The view keeps being fitted while the user leaves it alone; a zoom or a pan of theirs ends
that until the next explicit fit.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer
from PySide6.QtWidgets import QGraphicsView

MARGIN = 20.0  # scene units around the drawn nodes
READABLE = 0.75  # an automatic fit zooms out no further: node text about 9 px
LEGIBLE = 0.45  # Fit Graph shows the whole graph down to this zoom, else a region of it
RESIZE_DELAY_MS = 60  # a dragged splitter refits once it rests


class Fitter(QObject):
    """Fits ``view`` (a ``GraphView``) and keeps it fitted while the user has not moved it."""

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.view = view
        #: the view shows what the last fit chose; a user's zoom or pan clears it
        self.fitted = True
        self.framed_region = False  # the last Fit Graph showed a region, not the whole
        self._refit = QTimer(self, singleShot=True, interval=RESIZE_DELAY_MS)
        self._refit.timeout.connect(self._resized)
        view.viewport().installEventFilter(self)
        # no scroll bars: they came and went with the zoom, resizing the pane under a fit
        # (Qt shows or hides them later, so a fit that filled the pane no longer did); the
        # graph pans by dragging, by the overview map and by following the current node
        for policy in (view.setHorizontalScrollBarPolicy, view.setVerticalScrollBarPolicy):
            policy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    # ------------------------------------------------------------ fitting
    def fit(self, *, readable: bool = False) -> None:
        """The whole graph as large as the pane allows (up to the theme's largest zoom);
        ``readable``: never smaller than ``READABLE``, centred on the current node then."""
        view = self.view
        rect = whole_rect(view)
        if rect.isEmpty():
            return
        scale = min(whole_scale(view, rect), view.theme.max_fit_scale)
        small = readable and scale < READABLE
        _zoom_to(view, READABLE if small else scale)
        view.centerOn(rect.center())
        if small:
            view.centre_on_current()
        self.fitted, self.framed_region = True, False
        view.minimap.place()

    def fit_graph(self) -> None:
        """The Fit Graph command: the whole graph while it stays legible; else the region
        around the current node at a legible zoom — and, asked again there, the whole."""
        view = self.view
        rect = whole_rect(view)
        if rect.isEmpty():
            return
        scale = min(whole_scale(view, rect), view.theme.max_fit_scale)
        if scale >= LEGIBLE or (self.framed_region and self.fitted):
            _zoom_to(view, scale)
            view.centerOn(rect.center())
            self.framed_region = False
        else:
            _zoom_to(view, LEGIBLE)
            view.centerOn(rect.center())
            view.centre_on_current()
            self.framed_region = True
        self.fitted = True
        view.minimap.place()

    def zoom(self, factor: float) -> None:
        """The user's zoom: kept as they left it (no refit on resize) until the next fit."""
        self.view.zoom(factor)
        self.fitted = False

    # ------------------------------------------------------------ keeping
    def resized(self) -> None:
        """The pane changed size: fitted again once it rests, unless the user moved the view."""
        if self.fitted and self.view.drawing is not None:
            self._refit.start()

    def _resized(self) -> None:
        if self.fitted:
            self.fit_graph() if self.framed_region else self.fit(readable=True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind == QEvent.Type.Wheel or (kind == QEvent.Type.MouseMove and _dragging(event)):
            self.fitted = False  # the user's own view: kept as they left it
        return False


def whole_rect(view: Any) -> QRectF:
    """What "the whole graph" is: the nodes drawn at this step with a margin — and, when
    nothing is hidden, the whole scene: with no slack left to scroll, following the current
    node does not nudge the view off an edge (the overview map then showed itself over a
    graph all in view)."""
    rect: QRectF = view.drawn_bounds().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    if rect.isEmpty():
        return rect
    hidden = view.session is not None and view.session.state().hidden_nodes
    if not hidden:
        rect = rect.united(QRectF(view.sceneRect()))
    return rect


def whole_scale(view: QGraphicsView, rect: QRectF) -> float:
    """The zoom at which ``rect`` fits the pane."""
    vp = view.viewport().rect()
    width, height = vp.width() - 2, vp.height() - 2
    if width <= 0 or height <= 0:
        return 1.0
    return min(width / rect.width(), height / rect.height())


def _zoom_to(view: QGraphicsView, scale: float) -> None:
    view.resetTransform()
    view.scale(scale, scale)


def _dragging(event: QEvent) -> bool:
    buttons = getattr(event, "buttons", None)
    return bool(buttons is not None and buttons().value)
