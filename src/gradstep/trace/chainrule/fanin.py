"""Fan-in and accumulation: where several gradients add up.

A node whose output fed several consumers receives the sum of what they sent
(the engine adds them before the node's hooks fire); a leaf adds what it
receives to its ``.grad``. Both are written as the sums they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gradstep.trace.chainrule.elementwise import settled_line
from gradstep.trace.chainrule.numbers import Expr, ShownTensor, leaves
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term, leaf
from gradstep.trace.chainrule.view import NodeView, node_label
from gradstep.trace.model import Trace


@dataclass
class Contribution:
    """What one consumer sent to a node's output: ``value`` from ``consumer``'s ``slot``."""

    consumer: str  # node id
    label: str  # how the consumer is named (``loss``, ``1 - prediction``)
    slot: int
    value: Any  # encoded tensor
    step: int | None  # the consumer's compute step


Fans = dict[tuple[str, int], list[Contribution]]
#: the last passes' contributions, by id of the pass (held, so the id stays its own): a
#: table of every step asks once per node
_RECENT: list[tuple[Any, int, Fans]] = []


def contributions(trace: Trace, pass_index: int) -> Fans:
    """For each (node, output) of a pass, what each consumer sent it, in the engine's order.

    The engine sums these before the node's hooks fire; each is the consumer's
    outgoing gradient in the slot that points at the node (``x * x`` sends two).
    """
    bpass = trace.passes[pass_index]
    for held, count, fans in _RECENT:
        if held is bpass and count == len(bpass.nodes):
            return fans
    fans = _contributions(trace, pass_index)
    _RECENT.insert(0, (bpass, len(bpass.nodes), fans))
    del _RECENT[2:]
    return fans


def _contributions(trace: Trace, pass_index: int) -> Fans:
    out: Fans = {}
    for rec in trace.passes[pass_index].nodes:
        node = trace.nodes.get(rec.node)
        if node is None:
            continue
        for slot, (src, nr) in enumerate(node.inputs):
            if src is None or slot >= len(rec.grad_inputs) or rec.grad_inputs[slot] is None:
                continue
            label = node_label(trace, rec.node)
            if sum(1 for s, _ in node.inputs if s == src) > 1:
                label = f"{label}, input {slot + 1}"
            out.setdefault((src, nr), []).append(
                Contribution(rec.node, label, slot, rec.grad_inputs[slot], rec.compute_step)
            )
    return out


def fan_in_line(parts: list[Contribution], total: Any) -> ChainLine:
    """``upstream = c₁ (from A) + c₂ (from B) = total``."""
    ops = [Operand(c.value) for c in parts]
    tot = Operand(total)
    labels = [f"from {c.label}" for c in parts]
    formula = "upstream = " + " + ".join(f"({lab})" for lab in labels)
    if not all(o.kind == "inline" for o in ops) or tot.kind != "inline":
        terms: list[Term | str] = []
        for o, lab in zip(ops, labels):
            terms += [o.term(lab, 4), "+"]
        return ChainLine(formula, [*terms[:-1], "=", tot.term("upstream", 4)])

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        return ("add", *[leaf(o.shown(sig)) for o in ops]), tot.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        terms: list[Term | str] = []
        for o, lab, shown in zip(ops, labels, leaves(expr)):
            terms += [o.term(lab, 0, shown), "+"]
        return [*terms[:-1], "≈" if approx else "=", tot.term("upstream", 0, result)]

    return settled_line(formula, build, terms_of)


def accumulate_line(view: NodeView) -> ChainLine:
    rec = view.rec
    before, incoming = Operand(rec.grad_before), view.up
    after = Operand(rec.grad_after) if rec.compute_step is not None else Operand(None)
    name = view.rec.name or "the leaf"  # a leaf the scenario did not name
    if rec.grad_before is None:
        formula = ".grad = incoming (it was None)"
        ops: list[tuple[str, Operand]] = [("incoming", incoming)]
    else:
        formula = ".grad before + incoming = .grad after"
        ops = [(".grad before", before), ("incoming", incoming)]
    if not all(o.kind == "inline" for _, o in ops) or after.kind != "inline":
        terms: list[Term | str] = []
        for lab, o in ops:
            terms += [o.term(lab, 4), "+"]
        return ChainLine(formula, [*terms[:-1], "=", after.term(".grad after", 4)], f"{name}.grad")

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        shown = [leaf(o.shown(sig)) for _, o in ops]
        expr: Expr = ("add", *shown) if len(shown) > 1 else shown[0]
        return expr, after.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        terms: list[Term | str] = []
        for (lab, o), shown in zip(ops, leaves(expr)):
            terms += [o.term(lab, 0, shown), "+"]
        return [*terms[:-1], "≈" if approx else "=", after.term(".grad after", 0, result)]

    return settled_line(formula, build, terms_of, target=f"{name}.grad")
