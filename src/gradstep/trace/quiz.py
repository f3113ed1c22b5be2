"""Predict, then reveal: what quiz mode hides at a step (no Qt, no torch).

At the step where a node computes (a leaf: where its ``.grad`` accumulates),
the class is to predict what comes out: the gradients it sends along its
input edges and a leaf's new ``.grad``. Quiz mode shows them as "?" in the
graph, the inspector's chain-rule line and figures until revealed; stepping on
hides the next one, and a step already passed shows its numbers again. The
exercise handout blanks the same values on every page (the next node's
upstream is the answer before it) and lists them on an answer page.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from gradstep.trace.chainrule import ChainRule, chain_rule, node_label
from gradstep.trace.chainrule.progress import masked, results_start
from gradstep.trace.chainrule.terms import ChainLine
from gradstep.trace.model import Trace
from gradstep.trace.text import step_number

#: what a hidden number is written as
HIDDEN = "?"

EdgeKey = tuple[str, str, int]  # (producer, consumer, input slot), as StepState.edge_grads


@dataclass(frozen=True)
class Blanks:
    """What is hidden at one step: the gradients along ``edges`` and the ``.grad`` of the
    leaves in ``grads``; ``node`` is the node whose chain-rule results are "?" (with
    ``incoming``, what it received too: the exercise handout)."""

    node: str | None = None
    edges: frozenset[EdgeKey] = frozenset()
    grads: frozenset[str] = frozenset()
    incoming: bool = False

    def rule(self, rule: ChainRule) -> ChainRule:
        """``rule`` as shown with these blanks (itself when it is not the hidden node's)."""
        if rule.node != self.node:
            return rule
        return blank_rule(rule, incoming=self.incoming)

    def __bool__(self) -> bool:
        return self.node is not None or bool(self.edges) or bool(self.grads)


NONE = Blanks()


def blanks_at(trace: Trace, k: int) -> Blanks:
    """What a quiz hides at step ``k`` (0-based): a compute step's outgoing gradients, an
    accumulate step's new ``.grad``; nothing at any other step."""
    if not 0 <= k < len(trace.steps):
        return NONE
    step = trace.steps[k]
    rec = trace.record_for(step)
    node = trace.nodes.get(step.node or "")
    if step.kind not in ("compute", "accumulate") or rec is None or node is None:
        return NONE
    if rec.compute_step != k:
        return NONE
    edges = frozenset(
        (src, node.id, slot)
        for slot, (src, _) in enumerate(node.inputs)
        if src is not None and slot < len(rec.grad_inputs) and rec.grad_inputs[slot] is not None
    )
    grads = frozenset({node.id}) if node.kind == "leaf" else frozenset()
    return Blanks(node.id, edges, grads)


def exercise_blanks(trace: Trace, k: int) -> Blanks:
    """What the exercise handout hides at step ``k``: every gradient the pass has computed
    by then (a later page would give an earlier answer away), and at the step's own node
    what it received too, unless it is the pass's root."""
    step = trace.steps[k] if 0 <= k < len(trace.steps) else None
    if step is None or step.pass_index is None:
        return NONE
    edges: set[EdgeKey] = set()
    grads: set[str] = set()
    for rec in trace.passes[step.pass_index].nodes:
        if rec.compute_step is not None and rec.compute_step <= k:
            done = blanks_at(trace, rec.compute_step)
            edges |= done.edges
            grads |= done.grads
    own = blanks_at(trace, k)
    return Blanks(own.node, frozenset(edges), frozenset(grads), _hides_incoming(trace, k))


@dataclass
class Quiz:
    """Quiz mode's state in a window: on or off, and the steps revealed so far."""

    on: bool = False
    revealed: set[int] = field(default_factory=set)

    def blanks(self, trace: Trace, k: int) -> Blanks:
        if not self.on or k in self.revealed:
            return NONE
        return blanks_at(trace, k)

    def reveal(self, k: int) -> None:
        self.revealed.add(k)

    def reset(self) -> None:
        """A new trace (or quiz mode switched): every step hides its answers again."""
        self.revealed.clear()


def blank_line(line: ChainLine, *, incoming: bool = False) -> ChainLine:
    """``line`` with its results (after the last ``=``/``≈``/``→``) as "?", and with
    ``incoming`` what came in too; it then claims no arithmetic."""
    return masked(line, HIDDEN, incoming=incoming)


def blank_rule(rule: ChainRule, *, incoming: bool = False) -> ChainRule:
    """A copy of ``rule`` whose gradients sent back are "?" (see :func:`blank_line`)."""
    return dataclasses.replace(
        rule,
        upstream=list(rule.upstream),
        lines=[blank_line(line, incoming=incoming) for line in rule.lines],
    )


def _hides_incoming(trace: Trace, k: int) -> bool:
    """In the exercise handout, a node's upstream is an earlier blank's answer, so it is
    hidden too, except at a pass's root (``backward()``'s own gradient)."""
    step = trace.steps[k]
    if step.pass_index is None or step.node is None:
        return False
    return step.node not in trace.passes[step.pass_index].roots


@dataclass(frozen=True)
class Answer:
    """One blank of an exercise: where it is (step, from 1) and what fills it."""

    step: int
    node: str  # the node's label (``PowBackward0 (y)``, ``x``)
    target: str  # what the result is for (``x``, ``x.grad``)
    value: str  # as the app shows it
    raw: object = None  # the exact value in the trace (for checks)


def answers(trace: Trace) -> list[Answer]:
    """Every blank of the exercise, in step order, with the value the app shows."""
    out: list[Answer] = []
    for k in range(len(trace.steps)):
        if not blanks_at(trace, k):
            continue
        step = trace.steps[k]
        assert step.pass_index is not None and step.record is not None
        rec = trace.passes[step.pass_index].nodes[step.record]
        try:
            rule = chain_rule(trace, step.pass_index, step.record)
        except Exception:  # noqa: BLE001 - an unexpected record: its raw gradients
            rule = None
        label = node_label(trace, rec.node)
        node = trace.nodes[rec.node]
        if node.kind == "leaf":
            value = rule.lines[-1] if rule and rule.lines else None
            shown = _result(value) if value is not None else str(rec.grad_after)
            out.append(Answer(step_number(k), label, f"{label}.grad", shown, rec.grad_after))
            continue
        lines = [ln for ln in (rule.lines if rule else []) if ln.target]
        for slot, (src, _) in enumerate(node.inputs):
            if src is None or slot >= len(rec.grad_inputs) or rec.grad_inputs[slot] is None:
                continue
            target = node_label(trace, src)
            line = next((ln for ln in lines if ln.target == target), None)
            if line is not None:
                lines.remove(line)
            shown = _result(line) if line is not None else str(rec.grad_inputs[slot])
            out.append(Answer(step_number(k), label, target, shown, rec.grad_inputs[slot]))
    return out


def _result(line: ChainLine) -> str:
    terms = line.terms[results_start(line) :]
    return " ".join(t if isinstance(t, str) else t.text() for t in terms)
