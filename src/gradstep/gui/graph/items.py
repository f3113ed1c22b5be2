"""The items of the graph scene: nodes, edges and gradient labels.

Items are built once per trace and only restyled while stepping:
``set_visual`` compares a small key and repaints only on a change. Ordinary
edges use a cosmetic one-pixel pen; text is not drawn when zoomed far out.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gradstep.gui.theme import Theme

TEXT_LOD = 0.45  # below this zoom, nodes are drawn as plain boxes
PAD_X, PAD_Y = 10.0, 6.0
ARROW = 7.0
STACK = 4.0  # offset of the card drawn behind a closed module's box


def node_size(theme: Theme, title: str, subtitle: str, values: str = "") -> tuple[float, float]:
    """A node's box; ``values``: the widest values row it makes room for (none if "")."""
    bold, plain = theme.node_font(bold=True), _small(theme.node_font())
    fm_b, fm_s = QFontMetricsF(bold), QFontMetricsF(plain)
    width = max(fm_b.horizontalAdvance(title), fm_s.horizontalAdvance(subtitle) if subtitle else 0)
    height = fm_b.height() + (fm_s.height() if subtitle else 0)
    if values:
        fm_v = QFontMetricsF(values_font(theme))
        width = max(width, fm_v.horizontalAdvance(values))
        height += fm_v.height() + 2
    return (max(width + 2 * PAD_X, 3.2 * fm_b.height()), height + 2 * PAD_Y)


def values_font(theme: Theme) -> QFont:
    """The values row's font: small, monospaced, so digits line up."""
    font = QFont(theme.mono_font(1.0))
    font.setPointSizeF(theme.node_font().pointSizeF() * 0.85)
    return font


def constant_size(theme: Theme, title: str) -> tuple[float, float]:
    """A constant input: a small pill around its ``x = 6.7``."""
    fm = QFontMetricsF(_small(theme.node_font()))
    return (fm.horizontalAdvance(title) + PAD_X * 1.4, fm.height() + PAD_Y)


def _fill_state(state: str, kind: str, named: bool) -> str:
    """Done, a leaf and a named tensor keep their own colour (the green ring and the tick say
    done), so at the end of a pass leaves, tensors and ops still look different."""
    return "normal" if state == "done" and (kind == "leaf" or named) else state


def node_fonts(theme: Theme) -> tuple[QFont, QFont]:
    """The bold title font and the small subtitle font of the nodes."""
    return theme.node_font(bold=True), _small(theme.node_font())


def _small(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(font.pointSizeF() * 0.85)
    return small


class NodeItem(QGraphicsItem):
    """A rounded box with the node's name and op; leaves are pill-shaped, closed modules stacked."""

    def __init__(
        self,
        node_id: str,
        kind: str,
        title: str,
        subtitle: str,
        size: tuple[float, float],
        theme: Theme,
        fonts: tuple[QFont, QFont] | None = None,
        *,
        named: bool | None = None,
        values_row: bool = False,
    ) -> None:
        super().__init__()
        self.values_row = values_row  # a row for "data … | grad …" under the op
        self.values = ""
        self.bold = False  # an exported figure for a projector: thick borders
        self.node_id = node_id
        self.kind = kind
        self.title, self.subtitle = title, subtitle
        # a variable's node (an unnamed op shows its expression over its op, not a name)
        self.named = kind == "op" and (bool(subtitle) if named is None else named)
        w, h = size
        self.rect = QRectF(-w / 2, -h / 2, w, h)
        self._bounds = self._bounds_for("")
        self.theme = theme
        self.key: tuple[str, bool, bool, str] = ("", False, False, "")
        self.state = "normal"
        self.breakpoint = False
        self.selected = False
        self.badge = ""
        self._fonts = fonts or node_fonts(theme)
        self.setZValue(2)
        self.setAcceptHoverEvents(False)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.set_visual("normal", False, False, force=True)

    def set_visual(
        self,
        state: str,
        breakpoint: bool,
        selected: bool,
        badge: str = "",
        *,
        force: bool = False,
    ) -> bool:
        """Restyle; ``badge`` is "NaN"/"Inf" where a gradient first went non-finite. False: no change."""
        key = (state, breakpoint, selected, badge)
        if key == self.key and not force:
            return False
        if badge != self.badge:
            self.prepareGeometryChange()
            self._bounds = self._bounds_for(badge)
        self.key = key
        self.state, self.breakpoint, self.selected, self.badge = key
        self.setVisible(state != "hidden")  # another iteration's graph, or one gone
        self.setOpacity(self.theme.faded_opacity if state == "absent" else 1.0)
        self.setZValue(3 if state == "current" else 2)
        self.update()
        return True

    def set_values(self, text: str) -> None:
        """The values row's text (``data 6.7 | grad 6.692``); repaints only on a change."""
        if text != self.values:
            self.values = text
            self.update()

    def _bounds_for(self, badge: str) -> QRectF:
        stack = STACK if self.kind == "module" else 0.0
        top = -(stack + 6) if not badge else -22.0  # the badge sticks out above the corner
        return self.rect.adjusted(-6, top, 6 + stack + (8 if badge else 0), 6)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        theme = self.theme
        if self.kind == "constant":
            self._paint_constant(painter)
            return
        state = "normal" if self.state in ("absent", "hidden") else self.state
        border = QColor(theme.node_border(state, self.kind))
        fill = QColor(
            theme.node_fill(_fill_state(state, self.kind, self.named), self.kind, self.named)
        )
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        width = {"current": 3.0, "received": 2.0, "done": 2.0, "pending": 1.5}.get(state, 1.0)
        if self.bold:
            width = max(2.0, width * 1.3)
        far = lod < TEXT_LOD
        if far and state != "current":
            width = 1.0  # a wide pen costs 5-10x when thousands of nodes are in view
        pen = QPen(border, width)
        pen.setCosmetic(width <= 1.0)
        if state == "pending" and not far:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        if self.kind == "module":  # a stack of cards: there is more inside
            back = self.rect.translated(STACK, -STACK)
            painter.drawRect(back) if far else painter.drawRoundedRect(back, 5.0, 5.0)
        if far:
            painter.drawRect(self.rect)
        else:
            radius = self.rect.height() / 2 if self.kind == "leaf" else 5.0
            painter.drawRoundedRect(self.rect, radius, radius)
            self._paint_text(painter)
        if self.selected:
            sel = QPen(QColor(theme.selected), 2.0)
            sel.setCosmetic(True)
            painter.setPen(sel)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            stack = STACK if self.kind == "module" else 0.0
            painter.drawRoundedRect(self.rect.adjusted(-4, -4 - stack, 4 + stack, 4), 7, 7)
        if self.breakpoint:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.breakpoint))
            r = 5.0
            painter.drawEllipse(QPointF(self.rect.left() + 1, self.rect.top() + 1), r, r)
        if state == "done" and not far and not self.badge:  # a tick, clear of the text
            c = QPointF(self.rect.right() - 1, self.rect.top() + 1)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.done))
            painter.drawEllipse(c, 5.5, 5.5)
            tick = QPen(QColor(theme.background), 1.6)
            painter.setPen(tick)
            painter.drawPolyline(
                [c + QPointF(-2.8, 0), c + QPointF(-0.8, 2.2), c + QPointF(3, -2.2)]
            )
        if self.badge:
            self._paint_badge(painter, far)

    def _paint_constant(self, painter: QPainter) -> None:
        """A constant input: a small grey pill with its name and value, never coloured by
        the pass (no gradient flows to it)."""
        pen = QPen(QColor(self.theme.muted_text), 1.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(QColor(self.theme.background))
        radius = self.rect.height() / 2
        painter.drawRoundedRect(self.rect, radius, radius)
        painter.setFont(self._fonts[1])
        painter.setPen(QColor(self.theme.muted_text))
        painter.drawText(self.rect, Qt.AlignmentFlag.AlignCenter, self.title)

    def _paint_badge(self, painter: QPainter, far: bool) -> None:
        """A red "NaN"/"Inf" tag on the top right corner, also seen zoomed far out."""
        colour = QColor(self.theme.nonfinite)
        if far:  # the text would be unreadable: a red frame the size of the node
            pen = QPen(colour, 3.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect.adjusted(-3, -3, 3, 3))
            return
        font = self._fonts[0]
        fm = QFontMetricsF(font)
        w, h = fm.horizontalAdvance(self.badge) + 8, fm.height() + 2
        tag = QRectF(self.rect.right() - w + 6, self.rect.top() - h + 4, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(tag, 4, 4)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, self.badge)

    def _paint_text(self, painter: QPainter) -> None:
        bold, small = self._fonts
        painter.setPen(QColor(self.theme.text))
        rect = self.rect
        if self.values_row:
            font = values_font(self.theme)
            fm = QFontMetricsF(font)
            row = QRectF(
                rect.left() + 3, rect.bottom() - PAD_Y - fm.height(), rect.width() - 6, fm.height()
            )
            painter.setFont(font)
            shown = fm.elidedText(self.values, Qt.TextElideMode.ElideRight, row.width())
            painter.drawText(row, Qt.AlignmentFlag.AlignCenter, shown)
            rect = rect.adjusted(0, 0, 0, -(fm.height() + 2))
        if not self.subtitle:
            painter.setFont(bold)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.title)
            return
        inner = rect.adjusted(2, PAD_Y - 2, -2, -(PAD_Y - 2))
        painter.setFont(bold)
        painter.drawText(
            inner, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.title
        )
        painter.setFont(small)
        painter.setPen(QColor(self.theme.muted_text))
        painter.drawText(
            inner, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, self.subtitle
        )


class EdgeItem(QGraphicsItem):
    """A forward edge (producer → consumer) through the layout's points, with an arrowhead."""

    def __init__(
        self, key: tuple[str, str, int], path: QPainterPath, arrow: list[QPointF], theme: Theme
    ) -> None:
        super().__init__()
        self.edge_key = key
        self.path = path
        self.arrow = arrow
        self.theme = theme
        self.state = ""
        self.bold = False  # an exported figure for a projector: thick, dark edges
        self._bounds = path.boundingRect().adjusted(-ARROW, -ARROW, ARROW, ARROW)
        self.set_visual("normal")

    def set_visual(self, state: str) -> bool:
        if state == self.state:
            return False
        self.state = state
        self.setVisible(state != "hidden")
        self.setOpacity(self.theme.faded_opacity if state == "absent" else 1.0)
        self.setZValue(1 if state == "active" else 0)
        self.update()
        return True

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._bounds

    def shape(self) -> QPainterPath:
        return self.path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        colour = QColor(self.theme.edge_color(self.state))
        active = self.state == "active"
        pen = QPen(colour, self.theme.active_edge_width if active else self.theme.edge_width)
        pen.setCosmetic(True)
        if self.bold:  # in scene units, so it scales with the figure; pale grey turns dark
            if self.state not in ("active", "done"):
                colour = QColor(self.theme.muted_text)
            pen = QPen(colour, 2 * self.theme.active_edge_width if active else 2.5)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        if option.levelOfDetailFromTransform(painter.worldTransform()) >= TEXT_LOD / 2:
            painter.setBrush(colour)
            painter.drawPolygon(self.arrow)


def edge_geometry(
    points: list[tuple[float, float]], source: QRectF, target: QRectF, vertical: bool
) -> tuple[QPainterPath, list[QPointF]]:
    """A smooth path through ``points``, cut at the two node boxes, and its arrowhead."""
    pts = [QPointF(x, y) for x, y in points]
    if len(pts) < 2:
        pts = [source.center(), target.center()]
    pts[0] = _leave_box(pts[0], source, vertical, +1)
    pts[-1] = _leave_box(pts[-1], target, vertical, -1)
    tip = pts[-1]
    path = QPainterPath(pts[0])
    for a, b in zip(pts, pts[1:]):
        if vertical:
            mid = (a.y() + b.y()) / 2
            path.cubicTo(QPointF(a.x(), mid), QPointF(b.x(), mid), b)
        else:
            mid = (a.x() + b.x()) / 2
            path.cubicTo(QPointF(mid, a.y()), QPointF(mid, b.y()), b)
    back = QPointF(0, -ARROW) if vertical else QPointF(-ARROW, 0)
    side = QPointF(ARROW / 2, 0) if vertical else QPointF(0, ARROW / 2)
    arrow = [tip, tip + back + side, tip + back - side]
    return path, arrow


def _leave_box(p: QPointF, box: QRectF, vertical: bool, sign: int) -> QPointF:
    """Move an end point from the node's centre to its side facing the flow."""
    if vertical:
        return QPointF(p.x(), box.bottom() if sign > 0 else box.top())
    return QPointF(box.right() if sign > 0 else box.left(), p.y())


class EdgeLabel(QGraphicsItem):
    """The gradient flowing along an edge, as small text on a tinted chip."""

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.text = ""
        self.font = _small(theme.node_font())
        self._rect = QRectF()
        self.setZValue(4)

    def set_text(self, text: str, at: QPointF) -> None:
        if text != self.text:
            self.prepareGeometryChange()
            self.text = text
            fm = QFontMetricsF(self.font)
            w, h = fm.horizontalAdvance(text) + 8, fm.height() + 2
            self._rect = QRectF(-w / 2, -h / 2, w, h)
        self.setPos(at)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < TEXT_LOD:
            return
        painter.setPen(QPen(QColor(self.theme.done), 0))
        painter.setBrush(QColor(self.theme.label_fill))
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setFont(self.font)
        painter.setPen(QColor(self.theme.grad_text))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)
