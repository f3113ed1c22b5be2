"""The autograd graph of a trace as a networkx multigraph (no torch, no Qt).

Edges run in the forward direction, producer -> consumer, keyed by the
consumer's input slot, so ``x * x`` keeps both of its edges. Node attributes
carry what the views draw: a label, the op, the kind, the module path, the
source expression of an unnamed op (``w * x``).

A named constant input (``x = 6.7`` in ``w * x``, the data ``X`` of
``model(X)``) is a node of kind ``"constant"``, drawn as a small grey leaf with
its value; a literal (the ``1`` of ``1 - p``) stays in its node's expression.
"""

from __future__ import annotations

import networkx as nx

from gradstep.trace.chainrule.view import constant_label
from gradstep.trace.model import GraphNode, Trace

#: drawn ids of constant inputs: "const:" + the consumer's id + ":" + its input slot
CONSTANT = "const:"

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


def constant_id(consumer: str, slot: int) -> str:
    return f"{CONSTANT}{consumer}:{slot}"


def is_constant(node: str) -> bool:
    return node.startswith(CONSTANT)


def constant_consumer(node: str) -> tuple[str, int]:
    """``const:n5:1`` -> ``("n5", 1)``."""
    consumer, _, slot = node[len(CONSTANT) :].rpartition(":")
    return consumer, int(slot)


def named_constants(node: GraphNode) -> list[tuple[int, str]]:
    """(slot, label) of the constant inputs the scenario names: ``x = 6.7``, ``X``."""
    out = []
    for slot, c in enumerate(node.constants):
        if c and c.get("name") and (label := constant_label(node, slot)) is not None:
            out.append((slot, label))
    return out


def build_graph(trace: Trace, *, constants: bool = True) -> nx.MultiDiGraph:
    """The graph of ``trace``; ``constants``: with its named constant inputs as nodes."""
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
            expr=node.expr,
        )
    for nid, node in trace.nodes.items():
        for slot, (src, _nr) in enumerate(node.inputs):
            if src is not None and src in g:
                g.add_edge(src, nid, key=slot)
        for slot, label in named_constants(node) if constants else ():
            # outside any module: a box closed over its consumer still shows what it is fed
            cid = constant_id(nid, slot)
            g.add_node(cid, label=label, op="", kind="constant", name=label, module=None,
                       step=node.step, of=nid)  # fmt: skip
            g.add_edge(cid, nid, key=slot)
    return g
