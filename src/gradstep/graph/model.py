"""The autograd graph of a trace as a networkx multigraph (no torch, no Qt).

Edges run in the forward direction, producer -> consumer, keyed by the
consumer's input slot, so ``x * x`` keeps both of its edges. Node attributes
carry what the views draw: a label, the op, the kind, the module path.
"""

from __future__ import annotations

import networkx as nx

from gradstep.trace.model import GraphNode, Trace

_SHORT_OPS = {
    "AccumulateGrad": "leaf",
}


def short_op(op: str) -> str:
    """``PowBackward0`` -> ``Pow``: the op as a lecture names it."""
    if op in _SHORT_OPS:
        return _SHORT_OPS[op]
    name = op
    for suffix in ("Backward0", "Backward1", "Backward2", "Backward"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name or op


def node_label(node: GraphNode) -> str:
    """The text a node shows: the variable for leaves, ``name = Op`` for named ops."""
    if node.kind == "leaf":
        return node.name or "leaf"
    op = short_op(node.op)
    return f"{node.name} = {op}" if node.name else op


def build_graph(trace: Trace) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for nid, node in trace.nodes.items():
        g.add_node(
            nid,
            label=node_label(node),
            op=node.op,
            kind=node.kind,
            name=node.name,
            module=node.module,
            step=node.step,
        )
    for nid, node in trace.nodes.items():
        for slot, (src, _nr) in enumerate(node.inputs):
            if src is not None and src in g:
                g.add_edge(src, nid, key=slot)
    return g
