"""One node record of a pass, seen with the graph around it: names, shapes, values."""

from __future__ import annotations

import re
from typing import Any

from gradstep.trace.chainrule.numbers import show_number
from gradstep.trace.chainrule.terms import Operand
from gradstep.trace.model import GraphNode, NodeRecord, Trace, is_summary

_SUPERSCRIPT_T = "ᵀ"
_GENERATED = re.compile(r"Backward\d*$")


def node_label(trace: Trace, node_id: str | None) -> str:
    """How a lecture names a node: its variable, else the expression that made it
    (``w * x``), else a transposed name (``model.0.weightᵀ``), else its op."""
    if node_id is None:
        return "constant"
    node = trace.nodes.get(node_id)
    if node is None:
        return node_id
    if node.name:
        return node.name
    if node.expr:
        return node.expr
    if node.op in ("TBackward0", "TransposeBackward0", "PermuteBackward0") and node.inputs:
        inner = trace.nodes.get(node.inputs[0][0] or "")
        if inner is not None and inner.name:
            return inner.name + _SUPERSCRIPT_T
    if node.module:  # made inside a module's forward: "Tanh in model.1"
        return f"{_GENERATED.sub('', node.op)} in {node.module}"
    return node.op


def constant_label(node: GraphNode, slot: int, *, value: bool = True) -> str | None:
    """``x = 6.7`` for a constant input slot that the scenario names, ``6.7`` for a
    literal (``value=False``: the name alone where there is one)."""
    if slot >= len(node.constants) or node.constants[slot] is None:
        return None
    c = node.constants[slot] or {}
    v = c.get("value")
    name = str(c["name"]) if c.get("name") else None
    if v is not None and not is_summary(v) and not isinstance(v, list):
        shown = show_number(v).text
        if name and not value:
            return name
        return f"{name} = {shown}" if name else shown
    return name


class NodeView:
    """A node record with what its chain rule needs around it."""

    def __init__(self, trace: Trace, pass_index: int, index: int) -> None:
        self.trace = trace
        self.pass_index = pass_index
        self.index = index
        self.bpass = trace.passes[pass_index]
        self.rec: NodeRecord = self.bpass.nodes[index]
        self.node: GraphNode | None = trace.nodes.get(self.rec.node)
        outs = self.rec.grad_outputs
        self.up = Operand(outs[0] if outs else None)

    @property
    def op(self) -> str:
        return self.rec.op

    @property
    def computed(self) -> bool:
        return any(g is not None for g in self.rec.grad_inputs)

    def slots(self) -> list[int]:
        """The input slots a gradient flows to (not constants)."""
        if self.node is not None:
            return [i for i, (src, _) in enumerate(self.node.inputs) if src is not None]
        return [i for i, g in enumerate(self.rec.grad_inputs) if g is not None]

    def down(self, slot: int) -> Operand:
        g = self.rec.grad_inputs
        return Operand(g[slot] if slot < len(g) else None)

    def input_label(self, slot: int, *, value: bool = True) -> str:
        if self.node is None or slot >= len(self.node.inputs):
            return f"input {slot + 1}"
        src = self.node.inputs[slot][0]
        if src is None:
            return constant_label(self.node, slot, value=value) or "constant"
        return node_label(self.trace, src)

    def input_shape(self, slot: int) -> tuple[int, ...] | None:
        """The shape of the tensor at input ``slot`` (what its gradient has)."""
        if self.node is not None and slot < len(self.node.inputs):
            src, nr = self.node.inputs[slot]
            producer = self.trace.nodes.get(src) if src is not None else None
            if producer is not None and nr < len(producer.output_shapes):
                return tuple(producer.output_shapes[nr])
        d = self.down(slot)
        return d.shape if d.kind != "none" else None

    def output_shape(self) -> tuple[int, ...]:
        if self.node is not None and self.node.output_shapes:
            return tuple(self.node.output_shapes[0])
        return self.up.shape

    def saved(self, key: str) -> Any:
        return self.rec.saved.get(key)

    def saved_operand(self, key: str) -> Operand:
        v = self.saved(key)
        return Operand(v if v != "<freed>" else None)
