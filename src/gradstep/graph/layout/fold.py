"""Drawing each iteration of a loop in one place.

A training loop builds a new graph in every iteration, and the session draws
only the live one (``Session.hidden_at``). Laid out as they are, the copies
would stand side by side, each further from the parameters they share. So a
node made after the k-th backward pass takes the place of the node in the same
role made before the first pass: same op, same variable, same module, and the
same rank among the nodes alike made between the same two passes. The layout
is made once for the graph with one node per role; every copy is drawn where
its role is. Which node takes whose place is ``session.representatives``.

Leaves are never folded (each is its own parameter or input). A folding that
would turn the graph cyclic (iterations built differently) is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # networkx is imported when a layout is made, not with the session
    import networkx as nx

    from gradstep.graph.layout.types import GraphLayout


def folded_layout(
    g: nx.MultiDiGraph, rep: dict[str, str], lay_out: Callable[[nx.MultiDiGraph], GraphLayout]
) -> GraphLayout:
    """``lay_out(g)`` with every node drawn where its representative is."""
    import networkx as nx

    from gradstep.graph.layout.types import GraphLayout

    # a representative not drawn in this view (inside a closed box) cannot stand in
    local = {n: r for n in g if (r := _representative(rep, n)) != n and r in g}
    if not local:
        return lay_out(g)
    folded = nx.MultiDiGraph()
    folded.add_nodes_from((n, g.nodes[n]) for n in g if n not in local)
    for u, v, k in g.edges(keys=True):
        fu, fv = local.get(u, u), local.get(v, v)
        if not folded.has_edge(fu, fv, key=k):
            folded.add_edge(fu, fv, key=k)
    if not nx.is_directed_acyclic_graph(folded):
        return lay_out(g)
    lay = lay_out(folded)
    members: dict[str, list[str]] = {}
    for n, r in local.items():
        members.setdefault(r, []).append(n)
    return GraphLayout(
        positions={n: lay.positions[local.get(n, n)] for n in g},
        layers={n: lay.layers[local.get(n, n)] for n in g},
        order=[[m for r in layer for m in (r, *members.get(r, ()))] for layer in lay.order],
        edge_points={
            (u, v, k): lay.edge_points[(local.get(u, u), local.get(v, v), k)]
            for u, v, k in g.edges(keys=True)
        },
        width=lay.width,
        height=lay.height,
    )


def _representative(rep: dict[str, str], n: str) -> str:
    """``n``'s representative; a constant input's is the same input of its consumer's."""
    from gradstep.graph.model import constant_consumer, constant_id, is_constant

    if is_constant(n):
        consumer, slot = constant_consumer(n)
        r = rep.get(consumer)
        return constant_id(r, slot) if r is not None else n
    return rep.get(n, n)
