"""Crossing reduction: the left-to-right order of the vertices on each layer.

The order starts from a depth-first walk up from the outputs, inputs taken
in slot order, which draws every tree (and most of an autograd graph) with
no crossing at all and puts an op's inputs left to right as its arguments
read. What crossings remain are repaired where they are: autograd graphs are
hundreds of layers tall and a few wide, so a window of layers around each
crossing is improved with the median heuristic and adjacent swaps (as in
Graphviz ``dot``), with the layers just outside the window held fixed, and
the window grows until its crossings are gone or it covers the whole graph.
Sweeping the whole graph for a crossing in one corner would cost a hundred
times more for the same result.
"""

from __future__ import annotations

from gradstep.graph.layout.crossings import inversions, strip_crossings
from gradstep.graph.layout.proper import ProperGraph

MAX_ROUNDS = 24  # median sweeps per window, as dot's MaxIter
PATIENCE = 8  # sweeps without a real gain before a window gives up, as dot's MinQuit
CONVERGENCE = 0.995  # what counts as a real gain, as dot's Convergence
# Vertices visited by all sweeps and swaps together: a large arbitrary DAG
# (tens of thousands of crossings) stops improving after a few seconds of
# Python, not minutes; autograd graphs use a tiny fraction of it.
WORK_LIMIT = 2_000_000


def initial_order(pg: ProperGraph, seed: list[float] | None = None) -> list[list[int]]:
    """Vertices per layer in depth-first pre-order from the outputs, inputs in slot order.

    With ``seed`` (a preferred coordinate per vertex, NaN where unknown) the
    vertices with a preferred coordinate are sorted by it and the others keep
    their place relative to the walk: the order of a previous drawing is kept
    where it still applies.
    """
    layers: list[list[int]] = [[] for _ in range(pg.depth)]
    seen = [False] * pg.size
    up, lay, n_real = pg.up, pg.layer, pg.n_real
    roots = [v for v in range(pg.n_real) if not pg.down[v]]
    for root in roots:
        stack = [root]
        while stack:
            v = stack.pop()
            if seen[v]:
                continue
            seen[v] = True
            layers[lay[v]].append(v)
            ups = up[v]
            if len(ups) > 1:
                # Long edges first, so they run on the left, outside the short side branches.
                ups = [u for u in ups if u >= n_real] + [u for u in ups if u < n_real]
            stack.extend(reversed(ups))
    if seed is not None:
        filled = _fill_seed(pg, layers, seed)
        layers = [_merge_seeded(row, filled, seed) for row in layers]
    return layers


def _fill_seed(pg: ProperGraph, layers: list[list[int]], seed: list[float]) -> list[float]:
    """Seeds for new nodes from their neighbours': down from above, then up from below.

    A new node hanging under an old one then starts under it, instead of
    wherever the walk met it (which could be across an old edge). A new long
    edge keeps the walk's place, which is outside, on the left.
    """
    filled = list(seed)
    n_real = pg.n_real
    for rows, nbrs in ((layers, pg.up), (layers[::-1], pg.down)):
        for row in rows:
            for v in row:
                if v < n_real and filled[v] != filled[v]:  # NaN: not seeded yet
                    known = [filled[u] for u in nbrs[v] if filled[u] == filled[u]]
                    if known:
                        filled[v] = sum(known) / len(known)
    return filled


def _merge_seeded(row: list[int], seed: list[float], old: list[float]) -> list[int]:
    """Sort the seeded vertices of ``row`` by seed; others follow their predecessor in the walk.

    A new node seeded where an old one is (under the same input, say) goes on
    the outer side of it, toward the nearer edge of the layer, where there is
    room: the old one keeps its place. Other ties keep the walk's order.
    """
    rank = {v: k for k, v in enumerate(row)}
    olds = [old[v] for v in row if old[v] == old[v]]
    middle = sum(olds) / len(olds) if olds else 0.0

    def key(v: int) -> tuple[float, int, int]:
        if old[v] == old[v]:
            return (seed[v], 0, rank[v])
        return (seed[v], -1 if seed[v] < middle else 1, rank[v])

    known = sorted((v for v in row if seed[v] == seed[v]), key=key)
    if len(known) == len(row) or not known:
        return known or row
    after: dict[int, list[int]] = {}
    anchor = -1
    for v in row:
        if seed[v] == seed[v]:
            anchor = v
        else:
            after.setdefault(anchor, []).append(v)
    merged = list(after.get(-1, ()))
    for v in known:
        merged.append(v)
        merged.extend(after.get(v, ()))
    return merged


class _Orderer:
    """Mutable layer orders with the position index and per-strip crossing counts."""

    def __init__(self, pg: ProperGraph, layers: list[list[int]]) -> None:
        self.up, self.down = pg.up, pg.down
        self.layers = layers
        self.pos = [0] * pg.size
        for row in layers:
            for k, v in enumerate(row):
                self.pos[v] = k
        self.strips = self._count_all()
        self.work = 0  # vertices visited by sweeps so far

    def _count_all(self) -> list[int]:
        """Crossings of every strip; inlined, as most strips of a tall graph have none."""
        layers, down, pos = self.layers, self.down, self.pos
        strips = [0] * (len(layers) - 1)
        for i in range(len(layers) - 1):
            upper = layers[i]
            if len(upper) < 2 or len(layers[i + 1]) < 2:
                continue
            lower: list[int] = []
            for v in upper:
                ends = down[v]
                if len(ends) == 1:
                    lower.append(pos[ends[0]])
                else:
                    lower.extend(sorted([pos[w] for w in ends]))
            if lower != sorted(lower):
                strips[i] = inversions(lower, len(layers[i + 1]))
        return strips

    def strip(self, i: int) -> int:
        upper, size = self.layers[i], len(self.layers[i + 1])
        if size < 2 or len(upper) < 2:
            return 0  # all edges share an end
        return strip_crossings(upper, self.down, self.pos, size)

    def window_crossings(self, a: int, b: int) -> int:
        return sum(self.strip(i) for i in range(max(a - 1, 0), min(b + 1, len(self.layers) - 1)))

    def median_sort(self, i: int, upward: bool, flip: bool) -> None:
        """Reorder layer ``i`` by the weighted median of its neighbours above (or below).

        Vertices without such neighbours keep their slots; ties keep their
        order, or reverse it with ``flip`` so that alternate sweeps can leave
        a plateau.
        """
        row = self.layers[i]
        if len(row) < 2:
            return
        nbrs, pos = (self.up if upward else self.down), self.pos
        keyed: list[tuple[float, int, int]] = []
        free: list[int] = []
        for k, v in enumerate(row):
            ps = [pos[w] for w in nbrs[v]]
            if ps:
                keyed.append((_weighted_median(ps), -k if flip else k, v))
                free.append(k)
        if len(keyed) < 2:
            return
        keyed.sort()
        for k, (_, _, v) in zip(free, keyed):
            row[k] = v
            pos[v] = k

    def transpose(self, a: int, b: int, ties: bool) -> None:
        """Swap neighbours on layers ``a..b`` while a swap removes crossings.

        With ``ties``, a pair with crossings is also swapped when swapping
        leaves as many: that walks plateaus where strict descent stalls (as
        ``dot`` does on alternate rounds). Only strict gains revisit layers,
        so this ends.
        """
        up, down, pos, layers = self.up, self.down, self.pos, self.layers
        candidates = list(range(a, b + 1))
        while candidates and self.work <= WORK_LIMIT:
            touched: set[int] = set()
            for i in candidates:
                row = layers[i]
                self.work += len(row)
                for k in range(len(row) - 1):
                    v, w = row[k], row[k + 1]
                    keep = _pair_crossings(up[v], up[w], pos) + _pair_crossings(
                        down[v], down[w], pos
                    )
                    if not keep:
                        continue
                    swap = _pair_crossings(up[w], up[v], pos) + _pair_crossings(
                        down[w], down[v], pos
                    )
                    if swap < keep or (ties and swap == keep):
                        row[k], row[k + 1] = w, v
                        pos[v], pos[w] = k + 1, k
                        if swap < keep:
                            touched.update((i - 1, i, i + 1))
            candidates = sorted(j for j in touched if a <= j <= b)

    def snapshot(self, a: int, b: int) -> list[list[int]]:
        return [list(self.layers[i]) for i in range(a, b + 1)]

    def restore(self, a: int, saved: list[list[int]]) -> None:
        pos = self.pos
        for offset, row in enumerate(saved):
            self.layers[a + offset] = row
            for k, v in enumerate(row):
                pos[v] = k

    def improve_window(self, a: int, b: int, drift: bool = True) -> int:
        """Median sweeps and swaps on layers ``a..b``, dot's schedule; keeps the best order.

        With ``drift`` an order as good as the best replaces it (so sweeps can
        walk along a plateau); otherwise only a strictly better one does. Only
        a gain of more than half a per cent buys more rounds.
        """
        saved = self.snapshot(a, b)
        # Swapping neighbours alone mends most crossings of an autograd graph
        # (a weight drawn on the wrong side of a long edge), at a fraction of a
        # sweep; where it does not, the sweeps start from the order as it was,
        # which they do better from.
        self.transpose(a, b, ties=False)
        if not self.window_crossings(a, b):
            return self._settle(a, b, self.snapshot(a, b), 0)
        self.restore(a, saved)
        best = self.window_crossings(a, b)
        size = sum(len(row) for row in saved)
        trying = 0
        for round_ in range(MAX_ROUNDS):
            if not best or trying >= PATIENCE or self.work > WORK_LIMIT:
                break
            trying += 1
            self.work += size
            upward = round_ % 2 == 0
            reverse = round_ % 4 < 2
            rows = range(a, b + 1) if upward else range(b, a - 1, -1)
            for i in rows:
                self.median_sort(i, upward, reverse)
            self.transpose(a, b, ties=not reverse)
            crossings = self.window_crossings(a, b)
            if crossings < best or (drift and crossings == best):
                saved = self.snapshot(a, b)
                if crossings < CONVERGENCE * best:
                    trying = 0
                best = crossings
        return self._settle(a, b, saved, best)

    def _settle(self, a: int, b: int, saved: list[list[int]], crossings: int) -> int:
        """Keep ``saved`` for layers ``a..b`` and recount the strips they touch."""
        self.restore(a, saved)
        for i in range(max(a - 1, 0), min(b + 1, len(self.layers) - 1)):
            self.strips[i] = self.strip(i)
        return crossings


def reduce_crossings(
    pg: ProperGraph, layers: list[list[int]], *, allowed: list[int] | None = None
) -> tuple[list[list[int]], int]:
    """Improve ``layers`` in place around each crossing; returns them and the crossings left.

    ``allowed`` is for an order seeded from a previous drawing: the crossings
    it already had per strip. Only strips with more than that are repaired,
    taking only strictly better orders, so that what was drawn before stays
    as it was.
    """
    if len(layers) < 2:
        return layers, 0
    orderer = _Orderer(pg, layers)
    last = len(layers) - 1
    radius = 2
    while True:
        if allowed is None:
            dirty = [i for i, c in enumerate(orderer.strips) if c]
        else:
            dirty = [i for i, c in enumerate(orderer.strips) if c > allowed[i]]
        windows = _windows(dirty, radius, last)
        if not windows:
            break
        for a, b in windows:
            orderer.improve_window(a, b, drift=allowed is None)
        if windows == [(0, last)]:
            break
        radius *= 4
    return orderer.layers, sum(orderer.strips)


def _windows(strips: list[int], radius: int, last: int) -> list[tuple[int, int]]:
    """Merged layer ranges reaching ``radius`` layers beyond each crossing strip."""
    merged: list[tuple[int, int]] = []
    for i in strips:  # strip i joins layers i and i + 1
        a, b = max(i + 1 - radius, 0), min(i + radius, last)
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _weighted_median(ps: list[int]) -> float:
    """Gansner et al.'s weighted median: leans toward the side where neighbours are denser."""
    n = len(ps)
    if n == 1:
        return ps[0]
    ps.sort()
    m = n // 2
    if n % 2:
        return ps[m]
    if n == 2:
        return (ps[0] + ps[1]) / 2
    left, right = ps[m - 1] - ps[0], ps[-1] - ps[m]
    if left + right == 0:
        return (ps[m - 1] + ps[m]) / 2
    return (ps[m - 1] * right + ps[m] * left) / (left + right)


def _pair_crossings(left: list[int], right: list[int], pos: list[int]) -> int:
    """Crossings between the edges of a vertex and those of its right-hand neighbour."""
    if not left or not right:
        return 0
    if len(left) * len(right) <= 64:
        total = 0
        for a in left:
            pa = pos[a]
            for b in right:
                if pos[b] < pa:
                    total += 1
        return total
    # Large degrees: a merge of the sorted ends, linear instead of quadratic.
    pl = sorted(pos[a] for a in left)
    pr = sorted(pos[b] for b in right)
    total = j = 0
    for pa in pl:
        while j < len(pr) and pr[j] < pa:
            j += 1
        total += j
    return total
