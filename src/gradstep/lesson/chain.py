"""Each node's chain rule as a lecturer writes it, from the trace alone (no torch, no Qt).

:func:`chain_rule` turns one node record of a pass into a :class:`ChainRule`:
the fan-in that made its upstream (``upstream = 0 (from …) + 813.36 (from …)``),
then one line per gradient it sends back, written the way the op is taught
(elementwise ``upstream ⊙ f′(x)``, matrix products ``upstream @ Wᵀ`` and
``xᵀ @ upstream``, reductions and shape ops as the upstream moved back, losses
in closed form, a custom ``backward`` by its line), every displayed product
true to its displayed precision (:func:`consistent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradstep.lesson.elementwise import elementwise_lines, product_line, settled_line
from gradstep.lesson.families import family_of
from gradstep.lesson.losses import loss_lines
from gradstep.lesson.matmul import matmul_lines
from gradstep.lesson.moves import reduction_lines, shape_lines
from gradstep.lesson.numbers import Expr, ShownTensor, leaves
from gradstep.lesson.terms import (
    INLINE_NUMEL,
    ChainLine,
    Operand,
    Term,
    consistent,
    leaf,
)
from gradstep.lesson.view import NodeView, node_label
from gradstep.trace.model import Step, Trace

__all__ = [
    "ChainLine",
    "ChainRule",
    "Contribution",
    "chain_rule",
    "chain_rule_at",
    "consistent",
    "contributions",
    "node_label",
]


@dataclass
class Contribution:
    """What one consumer sent to a node's output: ``value`` from ``consumer``'s ``slot``."""

    consumer: str  # node id
    label: str  # how the consumer is named (``loss``, ``1 - prediction``)
    slot: int
    value: Any  # encoded tensor
    step: int | None  # the consumer's compute step


@dataclass
class ChainRule:
    """A node's chain rule in one backward pass, ready to print.

    ``upstream``: how the incoming gradient was summed from several consumers
    (empty when one consumer sent it). ``lines``: one per gradient the node
    sends back (a leaf: its ``.grad`` accumulation). ``formula``: the local
    derivative's textbook formula; ``source``: a custom ``backward``'s code.
    """

    node: str
    op: str
    label: str
    family: str
    formula: str | None = None
    upstream: list[ChainLine] = field(default_factory=list)
    lines: list[ChainLine] = field(default_factory=list)
    source: str = ""

    def all_lines(self) -> list[ChainLine]:
        return [*self.upstream, *self.lines]

    def text_lines(self) -> list[str]:
        """Every line in one-line form: a caption, a handout's paragraph."""
        head = [f"{self.label}: {self.formula}"] if self.formula else []
        return head + [ln.text() for ln in self.all_lines()]

    def one_line(self) -> str:
        """All the lines joined with ``;`` (``gradstep trace``'s table)."""
        return "; ".join(ln.text() for ln in self.all_lines())


def contributions(trace: Trace, pass_index: int) -> dict[tuple[str, int], list[Contribution]]:
    """For each (node, output) of a pass, what each consumer sent it, in the engine's order.

    The engine sums these before the node's hooks fire; each is the consumer's
    outgoing gradient in the slot that points at the node (``x * x`` sends two).
    """
    out: dict[tuple[str, int], list[Contribution]] = {}
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


def _accumulate_line(view: NodeView) -> ChainLine:
    rec = view.rec
    before, incoming = Operand(rec.grad_before), view.up
    after = Operand(rec.grad_after) if rec.compute_step is not None else Operand(None)
    name = view.rec.name or view.input_label(0)
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


def _other_lines(view: NodeView) -> list[ChainLine]:
    """Ops taught by none of the families: the exact Jacobian when it is small, else the
    vector-Jacobian product the engine computed."""
    rec = view.rec
    lines = []
    for slot in view.slots():
        kinds = rec.local_derivative_kinds
        kind = kinds[slot] if slot < len(kinds) else None
        local = rec.local_derivatives[slot] if slot < len(rec.local_derivatives) else None
        down, target = view.down(slot), view.input_label(slot)
        if kind == "scalar" and len(view.rec.grad_outputs) == 1:
            lines.append(
                product_line(
                    view.up,
                    Operand(local),
                    down,
                    factor_label="local",
                    target=target,
                    in_shape=view.input_shape(slot),
                )
            )
        elif kind == "jacobian" and _jacobian_small(local):
            lines.append(_jacobian_line(view.up, Operand(local), down, target))
        else:
            terms: list[Term | str] = [view.up.term("upstream", 4), "→", down.term("downstream", 4)]
            lines.append(
                ChainLine(
                    "upstream · J = downstream (the engine's vector-Jacobian product)",
                    terms,
                    target,
                )
            )
    return lines


def _jacobian_small(local: Any) -> bool:
    return Operand(local).kind == "inline"


def _jacobian_line(up: Operand, jac: Operand, down: Operand, target: str) -> ChainLine:
    formula = "upstream · J = downstream"
    if up.kind != "inline" or down.kind != "inline":
        terms: list[Term | str] = [
            up.term("upstream", 4),
            "·",
            jac.term("J", 4),
            "=",
            down.term("downstream", 4),
        ]
        return ChainLine(formula, terms, target)
    axes = len(up.shape)

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        return ("tensordot", leaf(up.shown(sig)), leaf(jac.shown(sig)), axes), down.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        u, j = leaves(expr)
        return [
            up.term("upstream", 0, u),
            "·",
            jac.term("J", 0, j),
            "≈" if approx else "=",
            down.term("downstream", 0, result),
        ]

    return settled_line(formula, build, terms_of, target=target, sigs=(4, 5, 6))


def _custom_lines(view: NodeView) -> tuple[list[ChainLine], str, str]:
    """A user's ``autograd.Function``: its ``backward`` is the formula."""
    info = view.rec.chain.get("custom") or {}
    line, source = _backward_source(view.trace, info)
    where = f", line {line}" if line else ""
    formula = f"custom backward{where}: {info.get('function', view.op)}.backward(ctx, upstream)"
    lines = []
    for slot in view.slots():
        down = view.down(slot)
        terms: list[Term | str] = [view.up.term("upstream", 4), "→", down.term("downstream", 4)]
        lines.append(ChainLine("backward(upstream) = downstream", terms, view.input_label(slot)))
    return lines, formula, source


def _backward_source(trace: Trace, info: dict[str, Any]) -> tuple[int | None, str]:
    """The ``def backward`` line (``co_firstlineno`` may be its decorator's) and its body,
    when the Function is written in the scenario."""
    first = info.get("line")
    if not isinstance(first, int) or info.get("file") != trace.scenario.path:
        return None, ""
    lines = trace.scenario.source.splitlines()
    start = first
    while start <= len(lines) and "def backward" not in lines[start - 1]:
        start += 1
    if start > len(lines):
        return first, ""
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    body = [lines[start - 1].strip()]
    for text in lines[start:]:
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        if text.strip():
            body.append(text.rstrip()[indent:])
    return start, "\n".join(body)


_BUILDERS = {
    "elementwise": elementwise_lines,
    "matmul": matmul_lines,
    "reduction": reduction_lines,
    "shape": shape_lines,
    "loss": loss_lines,
    "other": _other_lines,
}


def chain_rule(trace: Trace, pass_index: int, index: int) -> ChainRule:
    """The chain rule of ``trace.passes[pass_index].nodes[index]``."""
    view = NodeView(trace, pass_index, index)
    rec = view.rec
    family = family_of(rec.op)
    label = node_label(trace, rec.node)
    rule = ChainRule(rec.node, rec.op, label, family, rec.formula)
    parts = contributions(trace, pass_index).get((rec.node, 0), [])
    if len(parts) > 1 and rec.grad_outputs:
        rule.upstream.append(fan_in_line(parts, rec.grad_outputs[0]))
    if family == "leaf":
        rule.lines.append(_accumulate_line(view))
    elif family == "custom":
        rule.lines, rule.formula, rule.source = _custom_lines(view)
    else:
        try:
            rule.lines = _BUILDERS[family](view)
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError):
            rule.lines = _other_lines(view)  # saved values of an unexpected form
    if len(view.rec.grad_outputs) > 1:  # several outputs: what came in, what went out
        rule.lines = _other_lines(view)
    return rule


def chain_rule_at(trace: Trace, step: Step) -> ChainRule | None:
    """The chain rule of the node a receive/compute/accumulate step is about."""
    if step.pass_index is None or step.record is None:
        return None
    if step.kind not in ("receive", "compute", "accumulate"):
        return None
    return chain_rule(trace, step.pass_index, step.record)


# the figure under which a tensor is shown whole, for callers that lay out their own
INLINE = INLINE_NUMEL
