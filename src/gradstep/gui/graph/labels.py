"""The gradients written on the graph's edges at a step, each where it covers the least.

At most ``MAX_LABELS`` at once (beyond, only those around the current node); a
label goes in the middle of its edge when that spot is free, else at the spot
along the edge (``LABEL_SPOTS``), or beside it, that covers the least of the
labels placed before it (nor comes within ``GAP`` of one) and no node or arrowhead. A big tensor is written as its
shape and norm (``4×3 ‖0.2135‖``). The label items are made once and reused from
step to step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPolygonF
from PySide6.QtWidgets import QGraphicsScene

from gradstep.graph import collapse as cl
from gradstep.graph.drawing import Drawing, EdgeKey
from gradstep.graph.values import edge_text
from gradstep.gui.graph.items import EdgeItem, EdgeLabel, NodeItem
from gradstep.gui.theme import Theme
from gradstep.session import StepState
from gradstep.trace.quiz import HIDDEN, NONE, Blanks

MAX_LABELS = 40  # gradient labels shown at once; beyond, only around the current node
#: where along an edge its label may go (fractions of its length), best first
LABEL_SPOTS = (0.5, 0.38, 0.62, 0.27, 0.73, 0.16, 0.84)
MAX_CHARS = 32  # a longer value is cut, with an ellipsis (the inspector shows it whole)
#: scene units kept free between two labels: two chips that touch read as one
#: ("100×10 ‖0.0435‖" over "10" on two edges running side by side)
GAP = 3.0


def label_text(value: object) -> str:
    """A gradient as its edge label writes it: significant figures as in the chain rule
    (``813.4``), a big tensor as shape and norm, cut at ``MAX_CHARS``."""
    text = edge_text(value)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 2] + "…"


def label_point(edge: EdgeItem) -> QPointF | None:
    """Where the gradient along ``edge`` is written: its middle; None for a box's merged edge,
    which carries many gradients."""
    u, v, _ = edge.edge_key
    if cl.is_box(u) or cl.is_box(v):
        return None
    return edge.path.pointAtPercent(0.5)


class EdgeLabels:
    """The label items of one scene and the middle of each labelled edge."""

    def __init__(self) -> None:
        self.items: list[EdgeLabel] = []
        self._middle: dict[EdgeKey, QPointF | None] = {}  # filled as labels are shown
        self.blanks: Callable[[StepState], Blanks] = lambda st: NONE  # quiz mode's "?"

    def reset(self) -> None:
        """A new scene: its labels are made as they are needed."""
        self.items, self._middle = [], {}

    def visible(self) -> list[EdgeLabel]:
        return [label for label in self.items if label.isVisible()]

    def show(
        self,
        st: StepState,
        scene: QGraphicsScene,
        theme: Theme,
        drawing: Drawing | None,
        edges: Mapping[EdgeKey, EdgeItem],
    ) -> None:
        """Write the gradients that ``st`` has on the edges of ``edges``."""
        grads = st.edge_grads
        if len(grads) > MAX_LABELS:  # only around the current node (its edges, not all)
            near = drawing.incident.get(st.current_node, ()) if drawing and st.current_node else ()
            grads = {k: grads[k] for k in near if k in grads}
        keys = [k for k in grads if self._point(k, edges) is not None][:MAX_LABELS]
        while len(self.items) < len(keys):
            label = EdgeLabel(theme)
            scene.addItem(label)
            self.items.append(label)
        placed: list[QRectF] = []
        hidden = self.blanks(st).edges
        shown = list(zip(self.items, keys))
        for label, key in shown:
            middle = self._middle[key]
            assert middle is not None  # keys with a point only
            label.set_text(HIDDEN if key in hidden else label_text(grads[key]), middle)
        # the widest first: a short label ("10") still finds a gap between them, where
        # a wide one placed last had only spots touching the others
        for label, key in sorted(shown, key=lambda lk: -lk[0].boundingRect().width()):
            label.setPos(_free_spot(label, label.pos(), edges.get(key), placed, scene))
            placed.append(label.sceneBoundingRect())
            label.setVisible(True)
        for label in self.items[len(keys) :]:
            label.setVisible(False)

    def _point(self, key: EdgeKey, edges: Mapping[EdgeKey, EdgeItem]) -> QPointF | None:
        if key not in self._middle:
            edge = edges.get(key)
            self._middle[key] = label_point(edge) if edge is not None else None
        return self._middle[key]


def _free_spot(
    label: EdgeLabel,
    middle: QPointF,
    edge: EdgeItem | None,
    placed: list[QRectF],
    scene: QGraphicsScene,
) -> QPointF:
    """Where along its edge a label covers the least of the other labels and no node:
    the middle when it is free, else the freest spot towards either end (edges that
    meet at one node would put their labels on top of each other), beside or over it;
    and when every such spot still touches a label, just clear of that label (two edges
    running side by side, as ``x * x``'s two, had their labels touch)."""
    if edge is None:
        return middle
    shape = label.boundingRect()
    best, best_cost = middle, math.inf
    aside = shape.width() / 2 + 6  # beside the edge: the label's own half width and a gap
    above = shape.height() + 2 * GAP  # over or under it: a nearly level edge has a
    # neighbour running alongside, where a shift to the side stays on the same line
    for dx, dy in ((0.0, 0.0), (aside, 0.0), (-aside, 0.0), (0.0, -above), (0.0, above)):
        for t in LABEL_SPOTS:
            p = middle if t == 0.5 else edge.path.pointAtPercent(t)
            p = QPointF(p.x() + dx, p.y() + dy)
            off = 1.0 if dx or dy else 0.0  # on its edge if it can
            cost = _cost(shape.translated(p), placed, scene) + off
            if cost == 0:
                return p
            if cost < best_cost:
                best, best_cost = p, cost
    touched = shape.translated(best).adjusted(-GAP, -GAP, GAP, GAP)
    for other in [r for r in placed if touched.intersects(r)]:
        for p in _clear_of(other, best, shape):
            cost = _cost(shape.translated(p), placed, scene) + 1.0
            if cost < best_cost:
                best, best_cost = p, cost
    return best


def _clear_of(other: QRectF, p: QPointF, shape: QRectF) -> list[QPointF]:
    """``p`` moved right, left, up or down just far enough that a label of ``shape`` there
    keeps ``GAP`` from ``other``."""
    w, h = shape.width() / 2 + GAP + 0.5, shape.height() / 2 + GAP + 0.5
    return [
        QPointF(other.right() + w, p.y()),
        QPointF(other.left() - w, p.y()),
        QPointF(p.x(), other.top() - h),
        QPointF(p.x(), other.bottom() + h),
    ]


def _cost(rect: QRectF, placed: list[QRectF], scene: QGraphicsScene) -> float:
    """How much of the other labels ``rect`` covers, or comes within ``GAP`` of; a node or
    an arrowhead under it costs as much as a whole label."""
    near = rect.adjusted(-GAP, -GAP, GAP, GAP)
    cost = sum(_area(near.intersected(r)) for r in placed)
    for item in scene.items(rect):
        if not item.isVisible():
            continue
        if (
            isinstance(item, NodeItem)
            or isinstance(item, EdgeItem)
            and rect.intersects(arrow_rect(item))
        ):
            cost += _area(rect)
    return cost


def arrow_rect(edge: EdgeItem) -> QRectF:
    """The arrowhead of ``edge``, with a little room around it."""
    return QPolygonF(edge.arrow).boundingRect().adjusted(-2, -2, 2, 2)


def _area(r: QRectF) -> float:
    return max(0.0, r.width()) * max(0.0, r.height())
