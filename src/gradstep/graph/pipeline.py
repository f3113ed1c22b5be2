"""From a trace to what the graph panel draws, without Qt: model → collapse → layout → fold.

``draw`` runs it whole (exports, benchmarks, tests); the graph panel runs it in two
halves, ``view_of`` on the GUI thread (cheap) and ``lay_out`` wherever the layout
runs (a thread, for a big graph), with its own node sizes in between: the text of
a node is measured with Qt's fonts, so the sizes come in as a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gradstep.graph import collapse as cl
from gradstep.graph.drawing import Drawing
from gradstep.graph.layout import DEFAULT_NODE_SIZE, GraphLayout, layered_layout
from gradstep.graph.layout.fold import folded_layout
from gradstep.graph.model import build_graph
from gradstep.trace.model import Trace

Size = tuple[float, float]

#: gap between layers: left to right, it must fit a gradient label written across it
RANK_SEP = {"TB": 50.0, "LR": 110.0}


def first_view(trace: Trace, closed: Iterable[str] | None = None) -> Drawing:
    """The graph of ``trace`` with modules closed into boxes: those of ``closed`` that it
    can close (a reload keeps the boxes asked for), else the ones a new graph opens with."""
    g = build_graph(trace)
    tree = cl.module_tree(g)
    boxes = cl.default_collapsed(tree) if closed is None else {p for p in closed if tree.boxable(p)}
    return Drawing(g, tree, cl.collapse(g, tree, boxes), frozenset(boxes))


def view_of(drawing: Drawing, closed: Iterable[str]) -> Drawing:
    """Another view of the same graph: the modules in ``closed`` drawn as boxes."""
    boxes = frozenset(closed)
    collapsed = cl.collapse(drawing.graph, drawing.tree, set(boxes))
    return Drawing(drawing.graph, drawing.tree, collapsed, boxes, incident=drawing.incident)


@dataclass(frozen=True)
class Request:
    """A drawing to make: a view of a graph (made where the layout runs: closing boxes in a
    big graph is no small work), the boxes it closes, and the layout it starts from."""

    view: Callable[[], Drawing]
    closed: frozenset[str]
    size: int  # nodes of the graph it is made from: a big one is laid out off the GUI thread
    previous: GraphLayout | None = None


def trace_request(
    trace: Trace, closed: Iterable[str] | None = None, previous: GraphLayout | None = None
) -> Request:
    """The drawing a trace opens with (``first_view``); a reload keeps the boxes asked for
    and starts from the layout before."""
    drawing = first_view(trace, closed)
    return Request(lambda: drawing, drawing.closed, len(drawing.view.graph), previous)


def boxes_request(drawing: Drawing, closed: Iterable[str], *, fresh: bool = False) -> Request:
    """Another view of ``drawing``'s graph (``view_of``), laid out from ``drawing``'s layout
    unless ``fresh``."""
    boxes = frozenset(closed)
    previous = None if fresh else drawing.layout
    return Request(lambda: view_of(drawing, boxes), boxes, len(drawing.graph), previous)


def copy_request(drawing: Drawing) -> Request:
    """The view ``drawing`` draws, laid out again from its layout (a figure's own copy)."""
    view = Drawing(
        drawing.graph, drawing.tree, drawing.view, drawing.closed, incident=drawing.incident
    )
    return Request(lambda: view, view.closed, len(view.view.graph), drawing.layout)


def lay_out(
    drawing: Drawing,
    node_size: Callable[[str], Size],
    *,
    direction: str = "TB",
    previous: GraphLayout | None = None,
    fold: dict[str, str] | None = None,
) -> Drawing:
    """Lay ``drawing``'s view out (starting from ``previous``), every node of ``fold`` where
    its representative is (a loop's iterations, see ``layout.fold``); safe in a thread."""
    g = drawing.view.graph

    def layered(h: Any) -> GraphLayout:  # a networkx graph
        return layered_layout(
            h,
            direction=direction,
            node_size=node_size,
            previous=previous,
            rank_sep=RANK_SEP[direction],
        )

    drawing.layout = (folded_layout(g, fold, layered) if fold else layered(g)) if len(g) else None
    return drawing


def draw(
    trace: Trace,
    *,
    closed: Iterable[str] | None = None,
    node_size: Callable[[str], Size] | None = None,
    direction: str = "TB",
    fold: dict[str, str] | None = None,
) -> Drawing:
    """The whole pipeline in one call: the graph, its boxes, its layout, loops folded."""
    drawing = first_view(trace, closed)
    return lay_out(
        drawing, node_size or (lambda _n: DEFAULT_NODE_SIZE), direction=direction, fold=fold
    )
