"""Coordinate assignment across the layers: straight spines, short edges.

An autograd graph is a main path (the activations) with short side
branches (a weight, its transpose, a bias) hanging into it and long edges
(residuals) beside it. The drawing should show that: the main path and every
long edge straight, each side branch right next to the op that uses it.

1. Alignment (after Brandes and Köpf, 2001): vertices join vertical blocks
   along edges. An edge is aligned when it is its lower end's preferred
   input and its upper end's preferred output, "preferred" meaning the one
   on the longest chain of real nodes (ties: the median one). So the path
   through an op's activation input wins over its weight, and segments
   between two dummies always align: long edges come out straight. Aligned
   edges never cross one another, and an edge crossing a dummy-to-dummy
   segment is never aligned (BK's type 1 conflicts).
2. Compaction: the blocks are packed left and right as tightly as the widths
   allow (the longest path in the block graph); each block starts halfway
   between. With a previous drawing, blocks start at their old coordinates
   instead, pushed right only where something new needs room.
3. Relaxation: each block in turn moves to the median of its neighbours
   outside the block (or back to its old coordinate), as far as its
   neighbours on each layer let it, which lowers the total horizontal edge
   length at every move; two sweeps, one each way, is where it stops
   improving on these graphs.

BK's four-way balancing is not used: averaging four packings leaves side
branches halfway between the spine and the edge of the drawing, the very
zigzag that the relaxation removes.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from gradstep.graph.layout.proper import ProperGraph

SWEEPS = 2  # relaxation sweeps, one each way: later ones barely move anything on these graphs
ANCHORED_SWEEPS = 6  # with a previous drawing, blocks held up by a neighbour get more turns


def assign_x(
    pg: ProperGraph,
    layers: list[list[int]],
    width: Sequence[float],
    gap: float,
    *,
    crossings: bool = True,
    anchor: Sequence[float] | None = None,
) -> list[float]:
    """Centre coordinate across the layers of every vertex.

    ``width[v]`` is each vertex's extent across the layers (0 for dummies);
    neighbours on a layer keep ``gap`` between their boxes (half of it next to
    a dummy, so that long edges bundle closely). ``crossings=False`` promises
    the order has none, which skips looking for conflicts. ``anchor`` gives
    a coordinate to stay at (NaN for none) per vertex, from a previous
    drawing: blocks that have one go back to it wherever their neighbours on
    the layer leave room, instead of to their neighbours' median.
    """
    n = pg.size
    pos = [0] * n
    for row in layers:
        for k, v in enumerate(row):
            pos[v] = k
    marked = _type1_conflicts(pg, layers, pos) if crossings else set()
    root = _align(pg, layers, pos, marked, anchor)
    left_of, right_of = _block_graph(layers, root, width, gap, pg.n_real)
    blocks = [v for v in range(n) if root[v] == v]
    left = _pack(blocks, right_of, left_of, n)
    targets = _block_anchors(root, anchor) if anchor is not None else {}
    if targets:
        x = _pack_at_anchors(blocks, right_of, left_of, targets, n)
    else:
        right = _pack(blocks, left_of, right_of, n)
        # The right packing, mirrored and with its right end on the left one's; any
        # mean of two valid placements is valid.
        end = max(left)
        x = [(lx + end - rx) / 2 for lx, rx in zip(left, right)]
    _relax(pg, root, left_of, right_of, x, left, targets)
    return [x[r] for r in root]


def _block_anchors(root: list[int], anchor: Sequence[float]) -> dict[int, float]:
    """Median anchor of each block that has any."""
    found: dict[int, list[float]] = {}
    for v, a in enumerate(anchor):
        if a == a:  # not NaN
            found.setdefault(root[v], []).append(a)
    return {b: median(values) for b, values in found.items()}


def _block_graph(
    layers: list[list[int]], root: list[int], width: Sequence[float], gap: float, n_real: int
) -> tuple[dict[int, dict[int, float]], dict[int, dict[int, float]]]:
    """Per block, the blocks next to it on its left (right) on some layer, and the least distance.

    Centres of neighbours on a layer keep half their widths plus ``gap``, or
    half of it next to a dummy, so that long edges bundle closely.
    """
    left_of: dict[int, dict[int, float]] = {}
    right_of: dict[int, dict[int, float]] = {}
    half = gap / 2
    for row in layers:
        if len(row) < 2:
            continue
        a = row[0]
        ra = root[a]
        for b in row[1:]:
            rb = root[b]
            sep = (width[a] + width[b]) / 2 + (gap if a < n_real and b < n_real else half)
            d = right_of.get(ra)
            if d is None:
                right_of[ra] = {rb: sep}
            elif d.get(rb, -1.0) < sep:
                d[rb] = sep
            d = left_of.get(rb)
            if d is None:
                left_of[rb] = {ra: sep}
            elif d.get(ra, -1.0) < sep:
                d[ra] = sep
            a, ra = b, rb
    return left_of, right_of


def _type1_conflicts(
    pg: ProperGraph, layers: list[list[int]], pos: list[int]
) -> set[tuple[int, int]]:
    """Segments (upper, lower) that cross a segment between two dummies."""
    marked: set[tuple[int, int]] = set()
    up, n_real = pg.up, pg.n_real
    for i in range(len(layers) - 1):
        upper, lower = layers[i], layers[i + 1]
        if len(upper) < 2 or len(lower) < 2:
            continue  # nothing can cross
        k0 = 0
        scan = 0
        last = len(lower) - 1
        for l1, v in enumerate(lower):
            inner = -1
            if v >= n_real and up[v][0] >= n_real:
                inner = up[v][0]
            if l1 != last and inner < 0:
                continue
            k1 = pos[inner] if inner >= 0 else len(upper) - 1
            while scan <= l1:
                w = lower[scan]
                for u in up[w]:
                    if not k0 <= pos[u] <= k1:
                        marked.add((u, w))
                scan += 1
            k0 = k1
    return marked


def _chain_lengths(pg: ProperGraph, layers: list[list[int]], downward: bool) -> list[int]:
    """Real nodes on the longest path ending at each vertex from above (or below)."""
    n_real = pg.n_real
    nbrs = pg.up if downward else pg.down
    length = [0] * pg.size
    for row in layers if downward else reversed(layers):
        for v in row:
            ns = nbrs[v]
            if len(ns) == 1:
                best = length[ns[0]]
            elif ns:
                best = max([length[u] for u in ns])
            else:
                best = 0
            length[v] = best + 1 if v < n_real else best
    return length


def _align(
    pg: ProperGraph,
    layers: list[list[int]],
    pos: list[int],
    marked: set[tuple[int, int]],
    anchor: Sequence[float] | None = None,
) -> list[int]:
    """Root (topmost vertex of its block) of every vertex.

    With ``anchor`` (previous coordinates), an edge that was drawn vertical
    before is preferred over the longest-chain rule, so that the blocks, and
    with them the drawing, stay as they were.
    """
    up, down = pg.up, pg.down
    from_top = _chain_lengths(pg, layers, True)
    to_bottom = _chain_lengths(pg, layers, False)
    root = list(range(pg.size))
    favourite: dict[
        int, int
    ] = {}  # u -> its preferred output, once per u: fan-outs run to thousands
    for row in layers[1:]:
        r = -1
        for v in row:
            ns = up[v]
            if len(ns) == 1:
                u = ns[0]
            elif ns:
                u = _preferred(ns, from_top, pos, v, anchor)
            else:
                continue
            if pos[u] <= r:
                continue
            below = down[u]
            if len(below) > 1:
                best = favourite.get(u)
                if best is None:
                    best = favourite[u] = _preferred(below, to_bottom, pos, u, anchor)
                if best != v:
                    continue
            if marked and (u, v) in marked:
                continue
            root[v] = root[u]
            r = pos[u]
    return root


def _preferred(
    ns: list[int], score: list[int], pos: list[int], v: int, anchor: Sequence[float] | None
) -> int:
    """``v``'s neighbour to align with: one it was aligned with before, else the highest
    score; among equals the median one by position."""
    if anchor is not None and anchor[v] == anchor[v]:
        column = anchor[v]
        same = [u for u in ns if abs(anchor[u] - column) < 0.5]  # NaN compares False
        if same:
            ns = same
    top = max([score[u] for u in ns])
    best = [u for u in ns if score[u] == top]
    if len(best) == 1:
        return best[0]
    best.sort(key=pos.__getitem__)
    return best[(len(best) - 1) // 2]


def _pack(
    blocks: list[int],
    after: dict[int, dict[int, float]],
    before: dict[int, dict[int, float]],
    n: int,
) -> list[float]:
    """Tightest packing from one side: the longest path over the block graph.

    ``after[a]`` are the blocks that must come after ``a`` (and how far),
    ``before`` the same constraints seen from the other end. Returns the
    distance from the packing's start per block root (other entries unused).
    """
    x = [0.0] * n
    _push_right(blocks, after, before, x)
    return x


def _push_right(
    blocks: list[int],
    after: dict[int, dict[int, float]],
    before: dict[int, dict[int, float]],
    x: list[float],
) -> list[int]:
    """Visit the blocks in constraint order, each pushed at least its separation right of
    those before it (``x`` updated in place); returns the order."""
    indegree = [0] * len(x)
    for b, d in before.items():
        indegree[b] = len(d)
    queue = [b for b in blocks if b not in before]
    for a in queue:
        nxt = after.get(a)
        if nxt is None:
            continue
        xa = x[a]
        for b, sep in nxt.items():
            if xa + sep > x[b]:
                x[b] = xa + sep
            indegree[b] -= 1
            if not indegree[b]:
                queue.append(b)
    return queue


def _pack_at_anchors(
    blocks: list[int],
    right_of: dict[int, dict[int, float]],
    left_of: dict[int, dict[int, float]],
    targets: dict[int, float],
    n: int,
) -> list[float]:
    """Blocks at their previous coordinates, pushed right only where something new needs room.

    Left to right, a block goes to its anchor or as far left as its left
    neighbours allow, whichever is further right; a new block with neither
    then sits just left of its right neighbours. Starting the relaxation from
    the packings' mean instead would leave new blocks squatting where old
    ones want to return.
    """
    unset = float("-inf")
    x = [unset] * n
    for b, t in targets.items():
        x[b] = t
    queue = _push_right(blocks, right_of, left_of, x)
    fallback = median(targets.values())
    for b in reversed(queue):
        if x[b] == unset:
            nxt = right_of.get(b)
            x[b] = min([x[c] - sep for c, sep in nxt.items()]) if nxt else fallback
    return x


def _relax(
    pg: ProperGraph,
    root: list[int],
    left_of: dict[int, dict[int, float]],
    right_of: dict[int, dict[int, float]],
    x: list[float],
    left: list[float],
    targets: dict[int, float],
) -> None:
    """Move each block to the median of its outside neighbours, within its layer neighbours.

    ``x`` (per root) is updated in place; ``left`` (the left packing) fixes the
    sweep order, left to right and back. A block in ``targets`` moves toward
    that coordinate instead.
    """
    pulls: list[list[int]] = [[] for _ in root]  # per block root: roots of outside neighbours
    for v, ups in enumerate(pg.up):
        rv = root[v]
        for w in ups:
            rw = root[w]
            if rw != rv:
                pulls[rv].append(rw)
                pulls[rw].append(rv)
    movable = [b for b, pull in enumerate(pulls) if pull or b in targets]
    movable.sort(key=left.__getitem__)
    work = [
        (
            b,
            pulls[b],
            list(left_of[b].items()) if b in left_of else None,
            list(right_of[b].items()) if b in right_of else None,
        )
        for b in movable
    ]
    for sweep in range(ANCHORED_SWEEPS if targets else SWEEPS):
        moved = False
        for b, pull, lows, highs in work if sweep % 2 == 0 else reversed(work):
            if b in targets:
                target = targets[b]
            elif len(pull) == 1:
                target = x[pull[0]]
            else:
                xs = sorted([x[r] for r in pull])
                m = len(xs) // 2
                target = xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2
            if lows is not None:
                lo = max([x[a] + sep for a, sep in lows])
                if target < lo:
                    target = lo
            if highs is not None:
                hi = min([x[c] - sep for c, sep in highs])
                if target > hi:
                    target = hi
            if abs(target - x[b]) > 0.01:
                x[b] = target
                moved = True
        if not moved:
            break
