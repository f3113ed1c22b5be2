"""Layer assignment: which row each node of a directed graph is drawn on.

Nodes are integers ``0..n-1`` and edges ``(u, v)`` pairs, parallel edges
already merged by the caller. Every edge ends on a strictly later layer than
it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median_low

from gradstep.graph.layout.simplex import tighten

BALANCE_REACH = 64  # layers a node may be spread over, counted from the highest it may take


def break_cycles(n: int, edges: list[tuple[int, int]]) -> set[int]:
    """Indices of edges to reverse so that the graph has no cycle.

    Autograd graphs are acyclic, so the usual cost is one topological sort.
    Otherwise the back edges of a depth-first search (in node order, so the
    choice is deterministic) are reversed: removing them leaves a DAG, and a
    reversed back edge cannot close a new cycle.
    """
    if _topological_order(n, edges) is not None:
        return set()
    out: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for index, (u, v) in enumerate(edges):
        out[u].append((v, index))
    state = [0] * n  # 0 unvisited, 1 on the stack, 2 done
    back: set[int] = set()
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            node, it = stack[-1]
            for v, index in it:
                if state[v] == 1:
                    back.add(index)
                elif state[v] == 0:
                    state[v] = 1
                    stack.append((v, iter(out[v])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def _topological_order(n: int, edges: list[tuple[int, int]]) -> list[int] | None:
    """Kahn's order (ties by node index, via a FIFO), or None if there is a cycle."""
    indegree = [0] * n
    out: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        out[u].append(v)
        indegree[v] += 1
    order = [v for v in range(n) if not indegree[v]]
    for u in order:  # the list grows while we walk it: a FIFO without a deque
        for v in out[u]:
            indegree[v] -= 1
            if not indegree[v]:
                order.append(v)
    return order if len(order) == n else None


class CycleError(ValueError):
    """The graph has a cycle; reverse the edges ``break_cycles`` names first."""


def assign_layers(
    n: int, edges: list[tuple[int, int]], previous: Sequence[float] | None = None
) -> list[int]:
    """Layer per node of a DAG, the least total edge span, the first layer 0.

    A greedy start: each node as late as its consumers allow (so a weight sits
    right above the op that uses it, not on the first layer with every other
    source), then a node with more inputs than outputs moved up as far as its
    inputs allow, which shortens its in-edges more than it lengthens its
    out-edges (in topological order one pass is a fixed point: nodes only move
    up, and a node with more outputs never wants to). On autograd graphs this
    is already optimal; network simplex (``simplex.tighten``) proves it, or
    improves it on other graphs (within a work limit on huge ones). Last, nodes with as many inputs as outputs
    are spread to the least crowded layer they may take.

    With ``previous`` (a node's layer in an earlier drawing, NaN for a new
    node) the nodes start where they were, pushed down only as far as new
    edges demand, new nodes where the greedy pass puts them; network simplex
    then moves a node only for a strictly shorter total, and only new nodes
    are spread out, so an unchanged part keeps its layers.

    Raises ``CycleError`` if the graph is not acyclic.
    """
    if not n:
        return []
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        succ[u].append(v)
        pred[v].append(u)
    indegree = [len(p) for p in pred]
    order = [v for v in range(n) if not indegree[v]]
    for u in order:  # the list grows while we walk it: a FIFO without a deque
        for v in succ[u]:
            indegree[v] -= 1
            if not indegree[v]:
                order.append(v)
    if len(order) != n:
        raise CycleError("assign_layers needs a DAG")
    layer = [0] * n
    for v in reversed(order):
        s = succ[v]
        if len(s) == 1:
            layer[v] = layer[s[0]] - 1
        elif s:
            layer[v] = min([layer[w] for w in s]) - 1
    for v in order:
        p = pred[v]
        if len(p) > len(succ[v]):
            top = max([layer[u] for u in p]) + 1
            if top < layer[v]:
                layer[v] = top
    if previous is None:
        layer = tighten(n, edges, layer)
        _balance(layer, pred, succ)
        return layer
    known = [p == p for p in previous]  # not NaN
    if not any(known):
        return assign_layers(n, edges)
    start = _resume(layer, previous, known, order, pred)
    layer = tighten(n, edges, start)
    _return_home(layer, start, known, order, pred, succ)
    _balance(layer, pred, succ, known)
    return layer


def _resume(
    layer: list[int],
    previous: Sequence[float],
    known: list[bool],
    order: list[int],
    pred: list[list[int]],
) -> list[int]:
    """Previous layers in this layering's frame, made feasible by pushing nodes down."""
    shifts = [int(p) - x for p, x, k in zip(previous, layer, known) if k]
    if not shifts:
        return layer
    offset = median_low(shifts)
    start = [int(p) - offset if k else x for p, x, k in zip(previous, layer, known)]
    for v in order:
        p = pred[v]
        if p:
            low = max([start[u] for u in p]) + 1
            if start[v] < low:
                start[v] = low
    return start


def _return_home(
    layer: list[int],
    home: list[int],
    known: list[bool],
    order: list[int],
    pred: list[list[int]],
    succ: list[list[int]],
) -> None:
    """Put known nodes with as many inputs as outputs back on their old layer where they may.

    Network simplex may have moved them between equally short layerings; for
    such a node any feasible layer costs the same, so the old one is free.
    """
    # The simplex renumbered from 0 (and may have moved a few); match the frames.
    shift = median_low([h - x for h, x, k in zip(home, layer, known) if k])
    for v in order:
        p, s = pred[v], succ[v]
        if not known[v] or len(p) != len(s):
            continue
        target = home[v] - shift
        low = max([layer[u] for u in p]) + 1 if p else target
        high = min([layer[w] for w in s]) - 1 if s else target
        layer[v] = min(max(target, low), high)


def _balance(
    layer: list[int], pred: list[list[int]], succ: list[list[int]], fixed: list[bool] | None = None
) -> None:
    """Move each node with as many inputs as outputs to its least crowded feasible layer.

    Such a node can sit anywhere between its inputs and its outputs without
    changing the total edge span; spreading them out (ties: the highest
    layer) narrows the widest rows, which is where crossings come from.
    Graphviz's ``dot`` does the same after its network simplex.
    """
    top = max(layer)
    count = [0] * (top + 1)
    for x in layer:
        count[x] += 1
    for v, p in enumerate(pred):
        s = succ[v]
        if len(p) != len(s) or not p or (fixed is not None and fixed[v]):
            continue
        if len(p) == 1:  # most of an autograd graph: one input, one output
            low, high = layer[p[0]] + 1, layer[s[0]] - 1
        else:
            low = max([layer[u] for u in p]) + 1
            high = min([layer[w] for w in s]) - 1
        if low >= high:
            continue
        choice = low
        # Looking a bounded way down keeps a graph of long parallel paths linear.
        for i in range(low + 1, min(high, low + BALANCE_REACH) + 1):
            if count[i] < count[choice]:
                choice = i
        count[layer[v]] -= 1
        count[choice] += 1
        layer[v] = choice
