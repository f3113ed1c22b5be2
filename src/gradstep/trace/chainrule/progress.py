"""A node's chain rule as far as the pass has got at some step (no torch, no Qt).

Stepping through a pass, a node's rule fills in as it happens: its consumers'
contributions arrive one by one (``upstream = 0 (from log) + … (from 1 − p)``),
the summed upstream when it receives, the downstream gradients when it
computes. What has not happened yet is shown as "…", never as a number the
class has not seen.
"""

from __future__ import annotations

from gradstep.trace.chainrule.chain import ChainRule, chain_rule
from gradstep.trace.chainrule.fanin import Contribution, contributions
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term
from gradstep.trace.model import Trace

#: the symbols after which a line states its result
RELATIONS = ("=", "≈", "→")
#: the labels of the terms that hold what the node received
INCOMING = ("upstream", "incoming")


def rule_as_of(trace: Trace, pass_index: int, index: int, k: int) -> ChainRule:
    """The chain rule of ``trace.passes[pass_index].nodes[index]`` as it stands at step ``k``
    (0-based): contributions that arrived by then, the upstream once received, the
    results once computed."""
    rule = chain_rule(trace, pass_index, index)
    rec = trace.passes[pass_index].nodes[index]
    if rec.compute_step is not None and rec.compute_step <= k:
        return rule
    received = (
        rec.receive_step is not None and received_from(trace, rec.node, rec.receive_step) <= k
    )
    if not received:
        fans = contributions(trace, pass_index)
        rule.upstream = [
            arrived_line(parts, k, nr)
            for nr in range(len(rec.grad_outputs))
            if len(parts := fans.get((rec.node, nr), [])) > 1
        ]
    rule.lines = [pending(line, hide_incoming=not received) for line in rule.lines]
    return rule


def received_from(trace: Trace, node: str, receive_step: int) -> int:
    """The step from which ``node``'s upstream is known: its tensor's hook step just before
    its receive step when it has one (the engine sums the contributions before the node's
    hooks fire, and the graph's edge shows the gradient from then on), else the receive step."""
    first = receive_step
    while first > 0 and first - 1 < len(trace.steps):
        step = trace.steps[first - 1]
        if step.kind != "tensor_hook" or step.node != node:
            break
        first -= 1
    return first


def arrived(part: Contribution, k: int) -> bool:
    return part.step is not None and part.step <= k


def arrived_line(parts: list[Contribution], k: int, nr: int = 0) -> ChainLine:
    """``upstream = 0 (from A) + … (from B) = …``: the contributions that arrived by step ``k``."""
    head = "upstream" if nr == 0 else f"upstream[{nr}]"
    labels = [f"from {c.label}" for c in parts]
    terms: list[Term | str] = []
    for c, lab in zip(parts, labels):
        term = Operand(c.value).term(lab, 4) if arrived(c, k) else Term(lab, None, "…")
        terms += [term, "+"]
    formula = f"{head} = " + " + ".join(f"({lab})" for lab in labels)
    return ChainLine(formula, [*terms[:-1], "=", Term(head, None, "…")])


def pending(line: ChainLine, *, hide_incoming: bool) -> ChainLine:
    """``line`` with its results (after the last ``=``/``≈``/``→``) shown as "…", and what
    came in too when it has not arrived; it then claims no arithmetic."""
    return masked(line, "…", incoming=hide_incoming)


def results_start(line: ChainLine) -> int:
    """The index of ``line``'s first result term: the one after its last relation (0: none)."""
    return 1 + max((i for i, t in enumerate(line.terms) if t in RELATIONS), default=-1)


def masked(line: ChainLine, mark: str, *, incoming: bool) -> ChainLine:
    """``line`` with its results written as ``mark``, and with ``incoming`` what the node
    received too; an ``≈`` becomes ``=``, since the numbers that made it approximate are gone."""
    start = results_start(line)
    terms: list[Term | str] = []
    for i, t in enumerate(line.terms):
        if isinstance(t, Term) and (i >= start or (incoming and t.label in INCOMING)):
            t = Term(t.label, None, mark)
        elif t == "≈":
            t = "="
        terms.append(t)
    return ChainLine(line.formula, terms, line.target, line.note)
