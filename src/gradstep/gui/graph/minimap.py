"""The overview in the graph panel's corner: the whole graph small, where the view is; click to go."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QGraphicsView, QWidget

from gradstep.gui.graph.items import EdgeLabel, NodeItem
from gradstep.gui.theme import Theme

LONG, SHORT = 240, 150  # the overview's sides, the long one along the graph's longer side
MIN_FILL = 0.4  # a very long graph is stretched across to at least this share of the box
PANE_SHARE = 0.28  # the overview covers at most this share of the pane's width and height
MARGIN = 10
REFRESH_MS = 400  # after a step, the colours of the overview are redrawn this much later
#: the view's corners the overview may sit in, the first preferred
CORNERS = ("bottom right", "bottom left", "top right", "top left")
CURRENT_COST = 100.0  # the current node under the map: worse than any number of others


class Minimap(QWidget):
    """A pre-rendered image of the scene with the visible part framed; drag to pan."""

    def __init__(self, view: QGraphicsView, items: Any, theme: Callable[[], Theme]) -> None:
        super().__init__(view)
        self.setObjectName("minimap")
        self.view = view
        # () -> ([(node item, its scene rect)], [(edge item, its scene line)], current node item)
        self.items = items
        self.theme = theme  # the view's, as it is now
        self.wanted = True  # the user's choice (View ▸ Overview)
        self.corner = CORNERS[0]  # where it sits: it moves only to uncover the graph
        self._image: QImage | None = None
        self._source = QRectF()
        self._sx = self._sy = 1.0
        self._refresh = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._refresh.timeout.connect(self.render_scene)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to look at another part of the graph")
        view.horizontalScrollBar().valueChanged.connect(self._view_moved)
        view.verticalScrollBar().valueChanged.connect(self._view_moved)
        self.hide()

    # ------------------------------------------------------------- drawing
    def render_scene(self) -> None:
        """Draw the nodes and edges small into the image: one call per colour, from shapes
        the view keeps (a step on a big graph redraws it a moment later: it must be cheap)."""
        nodes, edges, _ = self.items()
        source = self.view.sceneRect()
        if not nodes or source.isEmpty():
            self._image = None
            self.place()
            return
        tall = source.height() >= source.width()
        box = self._box(tall)
        s = min(box.width() / source.width(), box.height() / source.height())
        self._sx = max(s, MIN_FILL * box.width() / source.width()) if tall else s
        self._sy = s if tall else max(s, MIN_FILL * box.height() / source.height())
        size = QSize(
            max(8, round(source.width() * self._sx)), max(8, round(source.height() * self._sy))
        )
        self._source = source
        theme = self.theme()
        groups: dict[tuple[str, str, bool], list[QRectF]] = {}
        for item, rect in nodes:
            if item.state == "hidden":
                continue
            absent = item.state == "absent"
            key = ("normal" if absent else item.state, item.kind, absent)
            groups.setdefault(key, []).append(rect)
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(theme.panel))
        p = QPainter(image)
        p.translate(1, 1)
        p.scale(self._sx, self._sy)
        p.translate(-source.left(), -source.top())
        p.setPen(QPen(QColor(theme.edge), 0))  # cosmetic: one pixel whatever the scale
        p.drawLines([line for edge, line in edges if edge.state not in ("absent", "hidden")])
        for (state, kind, absent), rects in groups.items():
            colour = QColor(theme.node_border(state, kind))
            if absent:
                colour.setAlphaF(0.3)
            p.setPen(QPen(colour, 0))  # a tiny node is still a pixel
            p.setBrush(colour)
            p.drawRects(rects)
        p.end()
        self._image = image
        self.place()
        self.update()

    def _box(self, tall: bool) -> QSize:
        """The overview's box: LONG × SHORT, but never more than PANE_SHARE of a small pane
        (at 2× scaling a 240 px map hid a third of the graph it was there to navigate)."""
        vp = self.view.viewport().size()
        long_side, short_side = LONG, SHORT
        w_cap = max(48, int(PANE_SHARE * vp.width()))
        h_cap = max(48, int(PANE_SHARE * vp.height()))
        w, h = (short_side, long_side) if tall else (long_side, short_side)
        return QSize(min(w, w_cap), min(h, h_cap))

    def schedule(self) -> None:
        """Redraw the colours a little later (stepping quickly redraws once)."""
        if self.isVisible():
            self._refresh.start()
        self.update()

    def place(self) -> None:
        """In a corner of the view: bottom right, unless the graph under it there is more
        than in another corner (the current node counts most); shown only when the graph
        does not fit in the view."""
        if self._image is None or not self.wanted:
            self.hide()
            return
        box = self._box(self._source.height() >= self._source.width())
        if self._image.width() > box.width() + 1 or self._image.height() > box.height() + 1:
            self.render_scene()  # the pane shrank under the map: draw it again, smaller
            return
        size = self._image.size() + QSize(2, 2)
        self.resize(size)
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        whole = visible.contains(self.view.sceneRect().adjusted(30, 30, -30, -30))
        if not whole:
            spots = self._corners(size)
            # the corner it is in first: of equally good corners, it stays where it is
            order = [self.corner, *(c for c in CORNERS if c != self.corner)]
            self.corner = min(order, key=lambda c: self.covered(QRect(spots[c], size)))
            self.move(spots[self.corner])
        self.setVisible(not whole)

    def _corners(self, size: QSize) -> dict[str, QPoint]:
        """Where the map's top left goes in each corner of the viewport (view coordinates)."""
        vp = self.view.viewport().geometry()
        left, top = vp.left() + MARGIN, vp.top() + MARGIN
        right = vp.right() - size.width() - MARGIN
        bottom = vp.bottom() - size.height() - MARGIN
        return {
            "bottom right": QPoint(right, bottom),
            "bottom left": QPoint(left, bottom),
            "top right": QPoint(right, top),
            "top left": QPoint(left, top),
        }

    def covered(self, rect: QRect) -> float:
        """How much of the graph a map at ``rect`` (view coordinates) would hide: a node
        or a gradient label each, the current node most."""
        where = rect.translated(-self.view.viewport().geometry().topLeft())
        area = self.view.mapToScene(where).boundingRect()
        current = self.items()[2]
        cost = 0.0
        for item in self.view.scene().items(area):
            if not item.isVisible() or not isinstance(item, (NodeItem, EdgeLabel)):
                continue
            cost += CURRENT_COST if item is current else 1.0
        return cost

    def to_map(self, p: QPointF) -> QPointF:
        return QPointF(
            1 + (p.x() - self._source.left()) * self._sx,
            1 + (p.y() - self._source.top()) * self._sy,
        )

    def to_scene(self, p: QPointF) -> QPointF:
        return QPointF(
            self._source.left() + (p.x() - 1) / self._sx,
            self._source.top() + (p.y() - 1) / self._sy,
        )

    def _map_rect(self, r: QRectF) -> QRectF:
        return QRectF(self.to_map(r.topLeft()), self.to_map(r.bottomRight()))

    def _view_moved(self) -> None:
        if self._image is not None:
            self.place()
            self.update()

    # -------------------------------------------------------------- events
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        if self._image is None:
            return
        theme = self.theme()
        p = QPainter(self)
        p.drawImage(1, 1, self._image)
        p.setPen(QPen(QColor(theme.muted_text), 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        frame = self._map_rect(visible).intersected(QRectF(self.rect()))
        colour = QColor(theme.selected)
        p.setPen(QPen(colour, 1.5))
        colour.setAlphaF(0.15)
        p.setBrush(colour)
        p.drawRect(frame.adjusted(0.5, 0.5, -0.5, -0.5))
        current = self.items()[2]
        if current is not None:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(theme.current))
            p.drawEllipse(self.to_map(current.scenePos()), 3.5, 3.5)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.view.centerOn(self.to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self.to_scene(event.position()))
        event.accept()
