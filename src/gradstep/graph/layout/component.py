"""One connected component through the whole pipeline, on integer vertices.

``layout`` reads the networkx graph, splits it into components and packs
their drawings; this module draws one: layers, dummies, order, coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gradstep.graph.layout.coordinates import assign_x
from gradstep.graph.layout.layering import CycleError, assign_layers, break_cycles
from gradstep.graph.layout.ordering import initial_order, reduce_crossings
from gradstep.graph.layout.proper import ProperGraph, make_proper

Bundle = tuple[int, int, int]  # (tail, head, number of parallel edges)


@dataclass
class ComponentDrawing:
    """Layer and across-coordinate of every vertex, dummies after the ``n`` nodes."""

    layer: list[int]  # per vertex
    across: list[float]  # per vertex: centre across the layers
    order: list[list[int]]  # per layer: the nodes (not dummies) in drawing order
    chains: list[list[int]]  # per bundle: its vertices in the bundle's own direction
    crossings: int


@dataclass
class Hint:
    """What a previous drawing says about a component, to keep what is unchanged."""

    layer: list[float]  # per node: its previous layer, NaN for a new node
    # (proper graph, reversed bundles) -> per vertex the previous across-coordinate
    # (NaN where none), and per strip the crossings the previous drawing had there
    seed: Callable[[ProperGraph, set[int]], tuple[list[float], list[int]]]


def draw_component(
    n: int, bundles: list[Bundle], breadth: Sequence[float], gap: float, hint: Hint | None = None
) -> ComponentDrawing:
    """Lay out nodes ``0..n-1`` joined by ``bundles`` (listed in input-slot order per head).

    ``breadth[v]`` is a node's extent across the layers, ``gap`` the space
    between neighbours on a layer.
    """
    if n == 1 and not bundles:
        return ComponentDrawing([0], [0.0], [[0]], [], 0)
    pairs = [(u, v) for u, v, _ in bundles]
    flipped: set[int] = set()
    previous_layer = hint.layer if hint else None
    try:
        layer = assign_layers(n, pairs, previous_layer)
    except CycleError:  # never for autograd graphs; any other graph still gets drawn
        flipped = break_cycles(n, pairs)
        bundles = [(v, u, m) if i in flipped else (u, v, m) for i, (u, v, m) in enumerate(bundles)]
        pairs = [(u, v) for u, v, _ in bundles]
        layer = assign_layers(n, pairs, previous_layer)
    pg = make_proper(n, layer, bundles)
    preferred: list[float] | None = None
    if hint is None:
        order, crossings = reduce_crossings(pg, initial_order(pg))
    else:
        preferred, allowed = hint.seed(pg, flipped)
        order, crossings = reduce_crossings(pg, initial_order(pg, preferred), allowed=allowed)
    width = list(breadth) + [0.0] * (pg.size - n)
    across = assign_x(pg, order, width, gap, crossings=crossings > 0, anchor=preferred)
    chains = pg.chains
    if flipped:
        chains = [chain[::-1] if i in flipped else chain for i, chain in enumerate(chains)]
    real_order = [[v for v in row if v < n] for row in order]
    return ComponentDrawing(pg.layer, across, real_order, chains, crossings)
