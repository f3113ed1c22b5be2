"""Network simplex for layering: the least total edge span (Gansner et al., 1993).

Minimises ``sum(layer[v] - layer[u])`` over the edges subject to every edge
spanning at least one layer, starting from a feasible layering. The usual
machinery: a spanning tree of tight edges (span exactly 1), the cut value of
each tree edge (how the total span changes if the tree were split there and
the halves pulled apart), and pivots that swap a tree edge with a negative
cut value for the non-tree edge of least slack across the same cut.

The start is the greedy layering of ``layering``, already optimal on every
autograd graph we benchmark, so there the cost is one tree and one pass of
cut values, which proves it; on arbitrary DAGs the pivots bring the total
span down to the optimum (the same as Graphviz ``dot``'s).
"""

from __future__ import annotations

import heapq

MAX_PIVOTS_PER_EDGE = 4  # a safety bound; pivots on these graphs are a small fraction of it
# Vertices a pivot may touch, in all: a pivot costs up to the whole tree, so on a
# large arbitrary DAG the last few per cent of span would cost minutes of
# Python; stopping leaves a feasible, already shortened layering (~1 s here).
WORK_LIMIT = 2_000_000
SEARCH_SIZE = 30  # negative tree edges looked at before taking the most negative, as dot


def tighten(n: int, edges: list[tuple[int, int]], layer: list[int]) -> list[int]:
    """An optimal layering of the connected DAG ``edges``, from the feasible ``layer``."""
    m = len(edges)
    if n < 2 or m < 2:
        return _normalised(layer)
    rank = list(layer)
    tails = [u for u, _ in edges]
    heads = [v for _, v in edges]
    incident: list[list[int]] = [[] for _ in range(n)]
    for i, (u, v) in enumerate(edges):
        incident[u].append(i)
        incident[v].append(i)
    in_tree = _feasible_tree(n, tails, heads, incident, rank)
    tree = _Tree(n, tails, heads, incident, in_tree)
    for _ in range(MAX_PIVOTS_PER_EDGE * m):
        leaving = tree.negative_edge()
        if leaving < 0 or tree.work > WORK_LIMIT:
            break
        tree.pivot(leaving, rank)
    return _normalised(rank)


def _normalised(rank: list[int]) -> list[int]:
    low = min(rank)
    return [r - low for r in rank] if low else rank


def _feasible_tree(
    n: int, tails: list[int], heads: list[int], incident: list[list[int]], rank: list[int]
) -> bytearray:
    """Tree edges of a spanning tree whose edges are all tight; shifts ``rank`` to get one.

    Components joined by tight edges are merged smallest first: a component
    moves by the least slack among its outside edges (so no edge becomes
    infeasible) and that edge joins the tree.
    """
    m = len(tails)
    in_tree = bytearray(m)
    # Usually the tight edges alone connect everything: one walk finds the tree.
    seen = bytearray(n)
    seen[0] = 1
    order = [0]
    for v in order:
        rv = rank[v]
        for i in incident[v]:
            w = heads[i]
            if w == v:
                w = tails[i]
                if seen[w] or rv - rank[w] != 1:
                    continue
            elif seen[w] or rank[w] - rv != 1:
                continue
            seen[w] = 1
            in_tree[i] = 1
            order.append(w)
    if len(order) == n:
        return in_tree

    in_tree = bytearray(m)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = a = parent[parent[a]]
        return a

    for i, (t, h) in enumerate(zip(tails, heads)):
        if rank[h] - rank[t] == 1:
            a, b = find(t), find(h)
            if a != b:
                parent[max(a, b)] = min(a, b)
                in_tree[i] = 1
    members: dict[int, list[int]] = {}
    for v in range(n):
        members.setdefault(find(v), []).append(v)
    heap = [(len(vs), r) for r, vs in members.items()]
    heapq.heapify(heap)
    while len(members) > 1:
        size, r = heapq.heappop(heap)
        if r not in members or len(members[r]) != size:
            continue
        group = members[r]
        best, best_slack = -1, 1 << 60
        for v in group:
            for i in incident[v]:
                other = heads[i] if tails[i] == v else tails[i]
                if find(other) != r:
                    slack = rank[heads[i]] - rank[tails[i]] - 1
                    if slack < best_slack:
                        best, best_slack = i, slack
        # Move the group along its tightest outside edge: down if it holds the tail.
        delta = best_slack if find(tails[best]) == r else -best_slack
        if delta:
            for v in group:
                rank[v] += delta
        in_tree[best] = 1
        other = find(heads[best]) if find(tails[best]) == r else find(tails[best])
        big, small = (other, r) if len(members[other]) >= size else (r, other)
        parent[small] = big
        members[big].extend(members.pop(small))
        heapq.heappush(heap, (len(members[big]), big))
    return in_tree


class _Tree:
    """The spanning tree rooted at node 0 with cut values; postorder ranges once pivoting.

    ``low[v] <= lim[w] <= lim[v]`` says that ``w`` is in ``v``'s subtree. A
    pivot updates everything locally, as Graphviz does: ranks of the side that
    moves, cut values on the cycle the entering edge closes, and the ranges
    below the cycle's top.
    """

    def __init__(
        self,
        n: int,
        tails: list[int],
        heads: list[int],
        incident: list[list[int]],
        in_tree: bytearray,
    ) -> None:
        self.n, self.tails, self.heads, self.incident, self.in_tree = (
            n,
            tails,
            heads,
            incident,
            in_tree,
        )
        self.tree_edges = [i for i in range(len(tails)) if in_tree[i]]
        self.parent_edge = [-1] * n
        self.cut = [0] * len(tails)
        self.low: list[int] = []
        self.lim: list[int] = []
        self.start = 0
        self.work = 0  # vertices visited by pivots so far
        self._cut_values()

    def _cut_values(self) -> None:
        """Parent edges by a walk from the root, then cut values from the leaves up.

        A tree edge's cut value follows from its lower end's incident edges and
        the cut values of the tree edges below it (Gansner et al.), so any
        order with children before parents will do: the walk, reversed.
        """
        tails, heads, incident, in_tree = self.tails, self.heads, self.incident, self.in_tree
        parent_edge, cut = self.parent_edge, self.cut
        order = [0]
        for v in order:  # grows while walked: breadth first
            via = parent_edge[v]
            for i in incident[v]:
                if in_tree[i] and i != via:
                    w = heads[i] if tails[i] == v else tails[i]
                    parent_edge[w] = i
                    order.append(w)
        for c in reversed(order):
            f = parent_edge[c]
            if f < 0:
                continue
            child_is_tail = tails[f] == c
            value = 1
            for i in incident[c]:
                if i == f:
                    continue
                to_head = (tails[i] == c) == child_is_tail
                if in_tree[i]:  # an edge down to one of c's children
                    value += 1 - cut[i] if to_head else cut[i] - 1
                else:
                    value += 1 if to_head else -1
            cut[f] = value

    def _ranges(self, top: int, counter: int) -> None:
        """Postorder ranges (and parent edges) of ``top``'s subtree, numbered from ``counter``."""
        tails, heads, incident, in_tree = self.tails, self.heads, self.incident, self.in_tree
        low, lim, parent_edge = self.low, self.lim, self.parent_edge
        low[top] = counter
        stack = [(top, parent_edge[top], 0)]  # node, edge to it, next incident index
        while stack:
            v, via, k = stack[-1]
            inc = incident[v]
            while k < len(inc):
                i = inc[k]
                k += 1
                if in_tree[i] and i != via:
                    w = heads[i] if tails[i] == v else tails[i]
                    stack[-1] = (v, via, k)
                    parent_edge[w] = i
                    low[w] = counter
                    stack.append((w, i, 0))
                    break
            else:
                stack.pop()
                lim[v] = counter
                counter += 1

    def negative_edge(self) -> int:
        """The most negative of the next few tree edges with a negative cut value, or -1."""
        edges, cut = self.tree_edges, self.cut
        count = len(edges)
        best, found = -1, 0
        for step in range(count):
            k = (self.start + step) % count
            e = edges[k]
            if cut[e] < 0:
                if best < 0 or cut[e] < cut[best]:
                    best = e
                found += 1
                if found >= SEARCH_SIZE:
                    self.start = k + 1
                    break
        return best

    def pivot(self, leaving: int, rank: list[int]) -> None:
        """Replace ``leaving`` by the least-slack edge across its cut, and update."""
        if not self.lim:
            self.low, self.lim = [0] * self.n, [0] * self.n
            self._ranges(0, 1)
        tails, heads, low, lim, cut = self.tails, self.heads, self.low, self.lim, self.cut
        u, v = tails[leaving], heads[leaving]
        # The side below the leaving edge moves; the entering edge runs from
        # the head side to the tail side.
        inside_is_tail = lim[u] < lim[v]
        child = u if inside_is_tail else v
        entering = self._entering(child, inside_is_tail, rank)
        delta = rank[heads[entering]] - rank[tails[entering]] - 1
        if delta:
            self._shift(child, leaving, -delta if inside_is_tail else delta, rank)
        value = cut[leaving]
        top = self._climb(tails[entering], heads[entering], value, True)
        self._climb(heads[entering], tails[entering], value, False)
        cut[entering] = -value
        cut[leaving] = 0
        self.in_tree[leaving] = 0
        self.in_tree[entering] = 1
        self.tree_edges[self.tree_edges.index(leaving)] = entering
        self.work += 2 * (lim[child] - low[child]) + lim[top] - low[top] + 3
        self._ranges(top, low[top])

    def _entering(self, child: int, inside_is_tail: bool, rank: list[int]) -> int:
        """Least-slack non-tree edge between ``child``'s subtree and the rest, head side to tail side."""
        tails, heads, incident, in_tree, low, lim = (
            self.tails,
            self.heads,
            self.incident,
            self.in_tree,
            self.low,
            self.lim,
        )
        lo, hi = low[child], lim[child]
        best, best_slack = -1, 1 << 60
        stack = [child]
        seen = {child}
        while stack:
            v = stack.pop()
            for i in incident[v]:
                # Leaving the subtree from v: v must be the head if the subtree is the tail side.
                w = heads[i] if tails[i] == v else tails[i]
                if lo <= lim[w] <= hi:
                    if in_tree[i] and w not in seen:
                        seen.add(w)
                        stack.append(w)
                elif (heads[i] == v) == inside_is_tail:
                    slack = rank[heads[i]] - rank[tails[i]] - 1
                    if slack < best_slack:
                        best, best_slack = i, slack
        return best

    def _shift(self, child: int, leaving: int, delta: int, rank: list[int]) -> None:
        """Add ``delta`` to the ranks of ``child``'s subtree (the tree below ``leaving``)."""
        tails, heads, incident, in_tree = self.tails, self.heads, self.incident, self.in_tree
        rank[child] += delta
        stack = [(child, leaving)]
        while stack:
            v, via = stack.pop()
            for i in incident[v]:
                if in_tree[i] and i != via:
                    w = heads[i] if tails[i] == v else tails[i]
                    rank[w] += delta
                    stack.append((w, i))

    def _climb(self, v: int, w: int, value: int, from_tail: bool) -> int:
        """Walk up from ``v`` to the first ancestor of ``w``, updating cut values on the way."""
        tails, heads, low, lim, parent_edge, cut = (
            self.tails,
            self.heads,
            self.low,
            self.lim,
            self.parent_edge,
            self.cut,
        )
        while not low[v] <= lim[w] <= lim[v]:
            e = parent_edge[v]
            if (v == tails[e]) == from_tail:
                cut[e] += value
            else:
                cut[e] -= value
            v = tails[e] if lim[tails[e]] > lim[heads[e]] else heads[e]
        return v
