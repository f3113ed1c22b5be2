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

from gradstep.trace.chainrule.elementwise import elementwise_lines
from gradstep.trace.chainrule.families import family_of
from gradstep.trace.chainrule.fanin import (
    Contribution,
    accumulate_line,
    contributions,
    fan_in_line,
)
from gradstep.trace.chainrule.losses import loss_lines
from gradstep.trace.chainrule.matmul import matmul_lines
from gradstep.trace.chainrule.moves import reduction_lines, shape_lines
from gradstep.trace.chainrule.other import custom_lines, other_lines
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term, consistent
from gradstep.trace.chainrule.view import NodeView, constant_label, node_label
from gradstep.trace.model import Step, Trace

__all__ = [
    "ChainLine",
    "ChainRule",
    "Contribution",
    "chain_rule",
    "chain_rule_at",
    "compact_lines",
    "constant_inputs",
    "consistent",
    "contributions",
    "node_label",
    "value_label",
]


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


_BUILDERS = {
    "elementwise": elementwise_lines,
    "matmul": matmul_lines,
    "reduction": reduction_lines,
    "shape": shape_lines,
    "loss": loss_lines,
    "other": other_lines,
}


def chain_rule(trace: Trace, pass_index: int, index: int) -> ChainRule:
    """The chain rule of ``trace.passes[pass_index].nodes[index]``."""
    view = NodeView(trace, pass_index, index)
    rec = view.rec
    family = family_of(rec.op)
    label = node_label(trace, rec.node)
    rule = ChainRule(rec.node, rec.op, label, family, rec.formula)
    fans = contributions(trace, pass_index)
    for nr, total in enumerate(rec.grad_outputs):
        parts = fans.get((rec.node, nr), [])
        if len(parts) > 1:
            line = fan_in_line(parts, total)
            if len(rec.grad_outputs) > 1:
                line.formula = line.formula.replace("upstream", f"upstream[{nr}]", 1)
            rule.upstream.append(line)
    if family == "leaf":
        rule.lines.append(accumulate_line(view))
    elif family == "custom":
        rule.lines, rule.formula, rule.source = custom_lines(view)
    else:
        try:
            rule.lines = _BUILDERS[family](view)
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError):
            rule.lines = other_lines(view)  # saved values of an unexpected form
    if len(view.rec.grad_outputs) > 1:  # several outputs: what came in, what went out
        rule.lines = other_lines(view)
    return rule


def chain_rule_at(trace: Trace, step: Step) -> ChainRule | None:
    """The chain rule of the node a receive/compute/accumulate step is about."""
    if step.pass_index is None or step.record is None:
        return None
    if step.kind not in ("receive", "compute", "accumulate"):
        return None
    return chain_rule(trace, step.pass_index, step.record)


def compact_lines(rule: ChainRule, max_chars: int = 140) -> list[str]:
    """The rule's lines for a caption under a figure: each whole when it fits in
    ``max_chars``, else its formula with the operands' shapes."""
    out = []
    for line in rule.all_lines():
        text = line.text()
        if len(text) > max_chars and line.note:  # the numbers matter more than the note
            text = text[: -len(f"  ({line.note})")]
        if len(text) > max_chars:
            shapes = " ".join(t if isinstance(t, str) else shape_word(t) for t in line.terms)
            head = line.formula + (f" → {line.target}" if line.target else "")
            text = f"{head}:  {shapes}"
        out.append(text)
    return out


def shape_word(term: Term) -> str:
    """``[4×3]`` for a tensor term, its text for a scalar or a symbol."""
    if term.value is None:
        return term.text()
    if term.summary:
        return f"[{term.summary.split(';')[0]}]"
    shape = term.value.shape
    return term.value.text() if not shape else f"[{'×'.join(map(str, shape))}]"


def value_label(value: Any, max_chars: int = 24) -> str:
    """A gradient short enough for a graph edge: ``0.9988``, ``[0.2, -1.4]``, ``4×3``."""
    op = Operand(value)
    if op.kind == "none":
        return ""
    if op.kind == "inline":
        text = op.shown(4).text()
        if len(text) <= max_chars:
            return text
    return "×".join(map(str, op.shape)) or "scalar"


def constant_inputs(trace: Trace, node_id: str) -> list[tuple[int, str]]:
    """(slot, label) of a node's constant inputs, for small grey leaves on the graph:
    ``x = 6.7``, ``2``, ``X`` (a big tensor: its name)."""
    node = trace.nodes.get(node_id)
    if node is None:
        return []
    return [
        (slot, label)
        for slot in range(len(node.constants))
        if (label := constant_label(node, slot)) is not None
    ]
