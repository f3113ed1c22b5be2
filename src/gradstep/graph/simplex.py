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
    start = 0
    for _ in range(MAX_PIVOTS_PER_EDGE * m):
        leaving, start = tree.negative_edge(start)
        if leaving < 0:
            break
        entering = tree.entering_edge(leaving, rank)
        tree.exchange(leaving, entering, rank)
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
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = a = parent[parent[a]]
        return a

    in_tree = bytearray(m)
    for i in range(m):
        if rank[heads[i]] - rank[tails[i]] == 1:
            a, b = find(tails[i]), find(heads[i])
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
    """The spanning tree with postorder ranges (``low``, ``lim``) and cut values."""

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
        self.low = [0] * n
        self.lim = [0] * n
        self.parent_edge = [-1] * n
        self.cut = [0] * len(tails)
        self._number()

    def _number(self) -> None:
        """Postorder from node 0: ranges, parent edges, then cut values bottom-up."""
        tails, heads, incident, in_tree = self.tails, self.heads, self.incident, self.in_tree
        low, lim, parent_edge, cut = self.low, self.lim, self.parent_edge, self.cut
        parent_edge[0] = -1
        postorder: list[int] = []
        stack = [(0, -1, 0)]  # node, edge to it, next incident index
        counter = 1
        lows = [0] * self.n
        lows[0] = counter
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
                    lows[w] = counter
                    stack.append((w, i, 0))
                    break
            else:
                stack.pop()
                low[v] = lows[v]
                lim[v] = counter
                counter += 1
                postorder.append(v)
        for c in postorder:
            f = parent_edge[c]
            if f < 0:
                continue
            child_is_tail = tails[f] == c
            value = 1
            for i in incident[c]:
                if i == f:
                    continue
                to_head = (tails[i] == c) == child_is_tail
                value += 1 if to_head else -1
                if in_tree[i]:  # an edge down to one of c's children
                    value += -cut[i] if to_head else cut[i]
            cut[f] = value

    def negative_edge(self, start: int) -> tuple[int, int]:
        """A tree edge with a negative cut value, searching round from ``start``."""
        edges, cut = self.tree_edges, self.cut
        count = len(edges)
        for step in range(count):
            k = (start + step) % count
            if cut[edges[k]] < 0:
                return edges[k], k + 1
        return -1, start

    def entering_edge(self, leaving: int, rank: list[int]) -> int:
        """The least-slack edge from the leaving edge's head side to its tail side."""
        low, lim, tails, heads = self.low, self.lim, self.tails, self.heads
        u, v = tails[leaving], heads[leaving]
        # The subtree hangs below whichever end is the child (the smaller lim).
        inside_is_tail = lim[u] < lim[v]
        child = u if inside_is_tail else v
        lo, hi = low[child], lim[child]
        best, best_slack = -1, 1 << 60
        for i in range(len(tails)):
            t_in = lo <= lim[tails[i]] <= hi
            h_in = lo <= lim[heads[i]] <= hi
            if t_in != h_in and h_in == inside_is_tail:
                slack = rank[heads[i]] - rank[tails[i]] - 1
                if slack < best_slack:
                    best, best_slack = i, slack
        return best

    def exchange(self, leaving: int, entering: int, rank: list[int]) -> None:
        """Swap the edges, renumber, and re-rank so that tree edges are tight again."""
        self.in_tree[leaving] = 0
        self.in_tree[entering] = 1
        self.tree_edges[self.tree_edges.index(leaving)] = entering
        self._number()
        tails, heads, incident, in_tree = self.tails, self.heads, self.incident, self.in_tree
        # Re-rank from the root down the tree: every tree edge spans exactly one layer.
        seen = bytearray(self.n)
        seen[0] = 1
        stack = [0]
        while stack:
            v = stack.pop()
            for i in incident[v]:
                if in_tree[i]:
                    w = heads[i] if tails[i] == v else tails[i]
                    if not seen[w]:
                        seen[w] = 1
                        rank[w] = rank[v] + 1 if tails[i] == v else rank[v] - 1
                        stack.append(w)
