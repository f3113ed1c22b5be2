"""Layered drawing of an autograd graph (the Sugiyama framework, tuned for tall graphs).

``layered_layout`` draws each weakly connected component (``component``):

1. layers (``layering``, ``simplex``): cycles broken by reversing DFS back
   edges, then the least total edge span (network simplex, started from a
   greedy layering that already is optimal on autograd graphs), weights right
   above the op that uses them, nodes with as many inputs as outputs spread
   to the least crowded layer they may take;
2. dummy vertices on long edges (``proper``), parallel edges as one bundle;
3. crossing reduction (``ordering``): a depth-first order from the outputs,
   inputs in slot order, then median sweeps and swaps only in windows around
   the crossings left, the window growing until they are gone;
4. coordinates (``coordinates``): vertical blocks along the main path and
   long edges, packed, then each block pulled toward its neighbours;

then packs the components left to right, all starting on layer 0. Same graph
(same node and edge insertion order), same drawing: nothing is random.

Stability: with ``previous``, nodes keep their layers unless new edges push
them down or a strictly shorter layering exists; each layer starts in the
previous left-to-right order of the nodes and edge bends it still has, a new
node taking the place under (or over) its old neighbours, on the side of
them with room; only strips with more crossings than the previous drawing
had there are repaired, by strictly better orders; edges drawn vertical stay
vertical, blocks go back to their previous coordinates wherever their
neighbours leave room; and the result is translated by the median
displacement of the shared nodes. So a graph growing step by step, or a
reload that adds or removes a node, leaves the rest where it was, except
where the new node needs room or (an op inserted into a chain) everything
below it moves down a layer. A ``previous`` of the same graph gives the same
drawing back.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median, median_low
from typing import Any

import networkx as nx

from gradstep.collection import collection_paused
from gradstep.graph.layout.component import ComponentDrawing, Hint, draw_component
from gradstep.graph.layout.crossings import strip_counts
from gradstep.graph.layout.proper import ProperGraph
from gradstep.graph.layout.types import EdgeId, GraphLayout, Point

DEFAULT_NODE_SIZE = (120.0, 40.0)
NAN = float("nan")

_Edge = tuple[int, int, list[Any]]  # a bundle of parallel edges: tail, head, keys in slot order
_Drawn = tuple[list[int], list[_Edge], ComponentDrawing]  # a component's nodes, edges, drawing


def layered_layout(
    g: nx.MultiDiGraph,
    *,
    direction: str = "TB",
    node_size: Callable[[str], tuple[float, float]] | None = None,
    previous: GraphLayout | None = None,
    rank_sep: float = 50.0,
    node_sep: float = 30.0,
) -> GraphLayout:
    """Lay out ``g`` (edges producer -> consumer) in layers along ``direction``.

    ``direction`` is ``"TB"`` (forward flows down) or ``"LR"`` (left to
    right); ``node_size(n)`` gives a node's (w, h), default 120 x 40;
    ``rank_sep`` is the gap between layers and ``node_sep`` between nodes
    on a layer. See the module docstring for what ``previous`` keeps.
    """
    if direction not in ("TB", "LR"):
        raise ValueError(f"direction must be 'TB' or 'LR', not {direction!r}")
    # Python's cycle collector would otherwise walk every object of the process
    # (a GUI, torch) several times over the many small lists made here.
    with collection_paused():
        return _layout(g, direction, node_size, previous, rank_sep, node_sep)


def _layout(
    g: nx.MultiDiGraph,
    direction: str,
    node_size: Callable[[str], tuple[float, float]] | None,
    previous: GraphLayout | None,
    rank_sep: float,
    node_sep: float,
) -> GraphLayout:
    nodes = list(g)
    n = len(nodes)
    index = {node: i for i, node in enumerate(nodes)}
    across_axis = 0 if direction == "TB" else 1
    if node_size is None:
        breadth = [DEFAULT_NODE_SIZE[across_axis]] * n
        depth = [DEFAULT_NODE_SIZE[1 - across_axis]] * n
    else:
        sizes = [node_size(node) for node in nodes]
        breadth = [s[across_axis] for s in sizes]
        depth = [s[1 - across_axis] for s in sizes]
    edges = _read_edges(g, index)
    previous_strips = (
        strip_counts(previous.edge_points, previous, direction=direction) if previous else {}
    )
    previous_group = _groups(previous) if previous else {}

    drawings: list[_Drawn] = []
    for glob, comp_edges in _split(n, edges):
        local = glob if len(glob) == n else {v: i for i, v in enumerate(glob)}
        bundles = [(local[u], local[v], len(keys)) for u, v, keys in comp_edges]
        hint = None
        if previous is not None:
            names = [nodes[v] for v in glob]
            kept = _kept(names, previous_group)
            seed = _seeder(previous, previous_strips, kept, names, comp_edges, nodes, across_axis)
            hint = Hint([previous.layers[name] if name in kept else NAN for name in names], seed)
        drawing = draw_component(len(glob), bundles, [breadth[v] for v in glob], node_sep, hint)
        drawings.append((glob, comp_edges, drawing))
    if previous is not None:
        drawings.sort(key=lambda d: _previous_place(d[0], nodes, previous, across_axis))

    result = _assemble(nodes, edges, drawings, breadth, depth, across_axis, rank_sep, node_sep)
    if previous is not None:
        _translate_onto(result, previous)
    return result


def _assemble(
    nodes: list[str],
    edges: list[_Edge],
    drawings: list[_Drawn],
    breadth: list[float],
    depth: list[float],
    across_axis: int,
    rank_sep: float,
    node_sep: float,
) -> GraphLayout:
    """Components side by side, all starting on layer 0 and sharing the layer rows."""
    thickness = [0.0] * (1 + max((max(d.layer) for _, _, d in drawings), default=-1))
    for glob, _, drawing in drawings:
        for v, lay in zip(glob, drawing.layer):
            if depth[v] > thickness[lay]:
                thickness[lay] = depth[v]
    centre: list[float] = []
    edge = 0.0
    for t in thickness:
        centre.append(edge + t / 2)
        edge += t + rank_sep
    along_extent = max(edge - rank_sep, 0.0)

    positions: dict[str, Point] = {}
    layers: dict[str, int] = {}
    order: list[list[str]] = [[] for _ in thickness]
    edge_points: dict[EdgeId, list[Point]] = {}
    offset = 0.0
    for glob, comp_edges, drawing in drawings:
        across = drawing.across
        halves = [breadth[v] / 2 for v in glob] + [0.0] * (len(across) - len(glob))
        lo = min(map(float.__sub__, across, halves))
        hi = max(map(float.__add__, across, halves))
        shift = offset - lo
        offset += hi - lo + node_sep
        # One point per vertex (dummies included); nodes and edges read from it.
        if across_axis == 0:
            points = [(a + shift, centre[lay]) for a, lay in zip(across, drawing.layer)]
        else:
            points = [(centre[lay], a + shift) for a, lay in zip(across, drawing.layer)]
        names = nodes if len(glob) == len(nodes) else [nodes[v] for v in glob]
        positions.update(zip(names, points))
        layers.update(zip(names, drawing.layer))
        for lay, row in enumerate(drawing.order):
            order[lay].extend([names[v] for v in row])
        for (u, v, keys), chain in zip(comp_edges, drawing.chains):
            line = (
                [points[chain[0]], points[chain[1]]]
                if len(chain) == 2
                else [points[w] for w in chain]
            )
            if len(keys) == 1:
                edge_points[(nodes[u], nodes[v], keys[0])] = line
            else:
                for key in keys:
                    edge_points[(nodes[u], nodes[v], key)] = list(line)
    for u, v, keys in edges:
        if u == v:  # a self-loop crosses no layer; the view draws it as an arc
            p = positions[nodes[u]]
            for key in keys:
                edge_points[(nodes[u], nodes[v], key)] = [p, p]
    width = max(offset - node_sep, 0.0)
    size = (width, along_extent) if across_axis == 0 else (along_extent, width)
    return GraphLayout(positions, layers, order, edge_points, size[0], size[1])


def _split(n: int, edges: list[_Edge]) -> list[tuple[list[int], list[_Edge]]]:
    """Weakly connected components: their nodes (ascending) and edges (self-loops left out)."""
    comp_of, count = _components(n, edges)
    members: list[list[int]] = [[] for _ in range(count)]
    for v, c in enumerate(comp_of):
        members[c].append(v)
    comp_edges: list[list[_Edge]] = [[] for _ in range(count)]
    for e in edges:
        if e[0] != e[1]:
            comp_edges[comp_of[e[0]]].append(e)
    return list(zip(members, comp_edges))


def _read_edges(g: nx.MultiDiGraph, index: dict[str, int]) -> list[_Edge]:
    """Bundles grouped by head, each head's inputs in slot (key) order.

    The reverse view's ``adjacency()`` hands out networkx's own predecessor
    dicts: no view object per edge, and inputs arrive grouped by head, usually
    already in slot order.
    """
    edges: list[_Edge] = []
    for v, preds in nx.reverse_view(g).adjacency():
        if not preds:
            continue
        head = index[v]
        if len(preds) == 1:
            for u, keydict in preds.items():
                keys = list(keydict)
                if len(keys) > 1:
                    keys = _in_slot_order([(0, keys)])[0][1]
                edges.append((index[u], head, keys))
            continue
        entries = _in_slot_order([(index[u], list(keydict)) for u, keydict in preds.items()])
        edges.extend([(tail, head, keys) for tail, keys in entries])
    return edges


def _in_slot_order(entries: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    """Each bundle's keys sorted, then the bundles by their first key.

    Keys are input slots (integers) in every graph we draw, usually already in
    order, which a plain comparison confirms at C speed; keys that do not
    compare with one another fall back to ``_key_order``.
    """
    for _, keys in entries:
        if len(keys) > 1:
            try:
                keys.sort()
            except TypeError:
                keys.sort(key=_key_order)
    firsts = [keys[0] for _, keys in entries]
    try:
        if firsts == sorted(firsts):
            return entries
        return [entry for _, _, entry in sorted(zip(firsts, range(len(entries)), entries))]
    except TypeError:
        ranked = [_key_order(k) for k in firsts]
        return [entry for _, _, entry in sorted(zip(ranked, range(len(entries)), entries))]


def _key_order(key: Any) -> tuple[int, Any]:
    """Input slots (integers) in numeric order, any other key after them by its text."""
    return (0, key) if isinstance(key, int) else (1, str(key))


def _components(n: int, edges: list[_Edge]) -> tuple[list[int], int]:
    """Weakly connected component per node, numbered in order of their first node."""
    parent = list(range(n))
    for a, b, _ in edges:
        while parent[a] != a:
            parent[a] = a = parent[parent[a]]
        while parent[b] != b:
            parent[b] = b = parent[parent[b]]
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
    number: dict[int, int] = {}
    comp_of = [0] * n
    for v in range(n):
        r = v
        while parent[r] != r:
            r = parent[r]
        comp_of[v] = number.setdefault(r, len(number))
    return comp_of, len(number)


def _groups(layout: GraphLayout) -> dict[str, int]:
    """Which component of a drawing each node was in (numbered by a representative)."""
    index = {name: i for i, name in enumerate(layout.positions)}
    parent = list(range(len(index)))
    for u, v, _ in layout.edge_points:
        a, b = index[u], index[v]
        while parent[a] != a:
            parent[a] = a = parent[parent[a]]
        while parent[b] != b:
            parent[b] = b = parent[parent[b]]
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups = {}
    for name, i in index.items():
        while parent[i] != i:
            i = parent[i]
        groups[name] = i
    return groups


def _kept(names: list[str], previous_group: dict[str, int]) -> set[str]:
    """The nodes whose previous place still means something: those of the previous
    component this one mostly grew from. A node that was drawn apart (a leaf
    before its first use) is placed afresh, by its new neighbours."""
    groups = [previous_group[name] for name in names if name in previous_group]
    if not groups:
        return set()
    main = max(set(groups), key=lambda g: (groups.count(g), -g))
    return {name for name in names if previous_group.get(name) == main}


def _seeder(
    previous: GraphLayout,
    previous_strips: dict[int, int],
    kept: set[str],
    names: list[str],
    edges: list[_Edge],
    nodes: list[str],
    across_axis: int,
) -> Callable[[ProperGraph, set[int]], tuple[list[float], list[int]]]:
    """Previous across-coordinates of a component's vertices (NaN where unknown),
    and the previous crossings of each strip, matched by the layers' shift."""

    def seed(pg: ProperGraph, flipped: set[int]) -> tuple[list[float], list[int]]:
        values = [NAN] * pg.size
        for i, name in enumerate(names):
            if name in kept:
                values[i] = previous.positions[name][across_axis]
        for b, (chain, (u, v, keys)) in enumerate(zip(pg.chains, edges)):
            if len(chain) <= 2 or nodes[u] not in kept or nodes[v] not in kept:
                continue
            points = previous.edge_points.get((nodes[u], nodes[v], keys[0]))
            if not points or len(points) < 2:
                continue
            if b in flipped:
                points = points[::-1]
            span = len(chain) - 1
            for j, w in enumerate(chain[1:-1], start=1):
                t = j * (len(points) - 1) / span
                k = min(int(t), len(points) - 2)
                frac = t - k
                values[w] = points[k][across_axis] * (1 - frac) + points[k + 1][across_axis] * frac
        shifts = [
            pg.layer[i] - previous.layers[name] for i, name in enumerate(names) if name in kept
        ]
        offset = median_low(shifts) if shifts else 0
        allowed = [previous_strips.get(i - offset, 0) for i in range(pg.depth - 1)]
        return values, allowed

    return seed


def _previous_place(
    glob: list[int], nodes: list[str], previous: GraphLayout, across_axis: int
) -> tuple[int, float]:
    """Components that were drawn before keep their left-to-right order; new ones go right."""
    known = [
        previous.positions[nodes[v]][across_axis] for v in glob if nodes[v] in previous.positions
    ]
    return (0, median(known)) if known else (1, 0.0)


def _translate_onto(layout: GraphLayout, previous: GraphLayout) -> None:
    """Shift ``layout`` by the median displacement of the nodes it shares with ``previous``."""
    shared = [n for n in layout.positions if n in previous.positions]
    if not shared:
        return
    dx = median(previous.positions[n][0] - layout.positions[n][0] for n in shared)
    dy = median(previous.positions[n][1] - layout.positions[n][1] for n in shared)
    if not dx and not dy:
        return
    layout.positions = {n: (x + dx, y + dy) for n, (x, y) in layout.positions.items()}
    layout.edge_points = {
        e: [(x + dx, y + dy) for x, y in pts] for e, pts in layout.edge_points.items()
    }
