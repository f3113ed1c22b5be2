"""An exercise's notes without the answers they give away (no Qt, no torch).

A lesson's summary and notes say what the class is asked to predict:
``w.grad = 6.6918``, ``dy/dx = 2x = 6``, ``4 + 4 = 8``. In an exercise handout
each number that is one of the exercise's answers (as :func:`~gradstep.trace.quiz.answers`
lists them, at the precision the note writes it) is written "?", while what
the scenario is given stays: a number the code itself writes (``x = 6.7``,
the label ``y = 0``, a learning rate) is data, not an answer. Only right
after a derivative (``x.grad = 2``, ``dE/dA = 2``, ``∂var/∂xᵢ = …: [−1, 0, 1]``) is
even such a number hidden.
Zero and one are left alone elsewhere: prose is full of them.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Iterator

from gradstep.trace.model import Trace
from gradstep.trace.quiz import HIDDEN, answers

#: a number as a note writes it (a sign glued to it, ``−`` or ``-``); not a part of a word
#: (``x1``, ``2x``) or of another number
NUMBER = r"(?<![\w.])[-−]?\d+(?:\.\d+)?(?!\w)(?!\.\d)"
_NUMBER = re.compile(NUMBER)
#: a relation (or a colon that introduces a result) and what follows it: a number, or a
#: list of numbers
_STATED = re.compile(rf"[=≈→:]\s*(\[[^\]\n]*\]|{NUMBER})")
#: what makes a left-hand side a derivative: ``x.grad``, ``grad_w``, ``dL/dŷ``, ``∂y/∂xᵢ``
_DERIVATIVE = re.compile(r"\.grad\b|\bgrad\w*|\bd[^\s/=]*/d[^\s=]+|∂[^\s/=]*/∂[^\s=]+")
#: where a clause begins, looking back from a relation
_CLAUSE = re.compile(r"[.;:!?,]\s|\band\b|\bwhile\b|—|\n")
#: at most this many numbers of an exercise's answers are looked for (a big tensor's
#: thousands of elements would match any number)
MOST_VALUES = 256


class Spoilers:
    """What gives ``trace``'s exercise answers away in its notes: see :meth:`hide`."""

    def __init__(self, trace: Trace) -> None:
        self.values = list(_answer_values(trace))
        self.given = _literals(trace.scenario.source)  # data, not answers

    def hide(self, text: str) -> str:
        """``text`` (a note of the scenario) with the numbers that give an answer away
        written as "?"."""
        if not self.values:
            return text
        hidden: set[tuple[int, int]] = set()
        decided: set[tuple[int, int]] = set()
        for m in _STATED.finditer(text):
            if not _after_derivative(text, m.start()):
                continue
            for n in _NUMBER.finditer(text, m.start(1), m.end(1)):
                decided.add(n.span())
                if _matches(n.group(), self.values):
                    hidden.add(n.span())
        for n in _NUMBER.finditer(text):
            if n.span() in decided:
                continue
            value = _value(n.group())
            if value in (0.0, 1.0, -1.0) or value in self.given:
                continue
            if _matches(n.group(), self.values):
                hidden.add(n.span())
        out, at = [], 0
        for start, end in sorted(hidden):
            out += [text[at:start], HIDDEN]
            at = end
        return "".join([*out, text[at:]])


def _after_derivative(text: str, relation: int) -> bool:
    """Whether the clause before the relation at ``relation`` names a derivative."""
    starts = [m.end() for m in _CLAUSE.finditer(text, 0, relation)]
    clause = text[starts[-1] if starts else 0 : relation]
    return _DERIVATIVE.search(clause) is not None


def _value(token: str) -> float:
    return float(token.replace("−", "-"))


def _matches(token: str, values: list[float]) -> bool:
    """Whether ``token`` is one of ``values`` written to its own precision (``6.6918`` and
    ``6.69`` for 6.691776; ``4`` for 4.0000002)."""
    t = _value(token)
    decimals = len(token.partition(".")[2])
    half = 0.5 * 10.0**-decimals if decimals else 1e-4 * max(1.0, abs(t))
    return any(abs(v - t) <= half * (1 + 1e-9) for v in values)


def _answer_values(trace: Trace) -> Iterator[float]:
    count = 0
    for a in answers(trace):
        for v in _numbers(a.raw):
            yield v
            count += 1
            if count >= MOST_VALUES:
                return


def _numbers(value: object) -> Iterable[float]:
    """The finite numbers of an encoded value (a number or nested lists; a summary of a
    big tensor has none to give away)."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def _literals(source: str) -> set[float]:
    """The numbers the scenario's code writes (with their sign: ``-1``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    out: set[float] = set()
    for node in ast.walk(tree):
        sign = 1.0
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            node, sign = node.operand, -1.0
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.add(sign * float(value))
    return out
