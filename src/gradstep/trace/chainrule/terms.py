"""The pieces of a chain-rule line: displayed tensors, and the line itself.

A :class:`ChainLine` is what a lecturer writes on the board for one gradient
(``upstream ⊙ f′(x) = downstream → x``): a formula, the operands with their
numbers, and, for the checker, the same numbers as an expression
(:mod:`gradstep.trace.chainrule.numbers`). Small tensors are shown whole, a matrix one
row a line; big ones (more than ``INLINE_NUMEL`` elements) by shape, their
first elements and their range, never as "—".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradstep.trace.chainrule.numbers import (
    Expr,
    Shown,
    ShownTensor,
    flatten,
    holds,
    shape_of,
    show_number,
)
from gradstep.trace.model import is_summary

#: tensors with at most this many elements are shown whole (a batch of 8 through 8 units)
INLINE_NUMEL = 64
#: a big tensor shows its first elements (its "corner", in memory order)
CORNER = 4


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "scalar" if not shape else "×".join(str(s) for s in shape)


def to_float(v: Any) -> float:
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, math.nan)
    return float(v)


def to_array(value: Any) -> np.ndarray:
    """An exact encoded tensor as a float array (non-finite strings decoded)."""
    flat = [to_float(v) for v in flatten(value)]
    return np.array(flat, dtype=float).reshape(shape_of(value))


def from_array(a: np.ndarray) -> Any:
    return a.tolist() if a.ndim else float(a)


class Operand:
    """An encoded tensor of the trace, ready to be shown at some precision."""

    def __init__(self, value: Any) -> None:
        self.raw = value
        self.shape: tuple[int, ...] = ()
        self.kind = "none"
        self.corner: list[Any] = []
        self.low: Any = None
        self.high: Any = None
        if value is None:
            return
        if is_summary(value):
            self.kind, self.shape = "big", tuple(value.get("shape", ()))
            self.corner = list(value.get("preview", []))[:CORNER]
            self.low, self.high = value.get("min"), value.get("max")
            return
        self.shape = shape_of(value)
        flat = flatten(value)
        if len(flat) <= INLINE_NUMEL:
            self.kind = "inline"
            return
        self.kind = "big"
        self.corner = flat[:CORNER]
        finite = [to_float(v) for v in flat if math.isfinite(to_float(v))]
        if finite:
            self.low, self.high = min(finite), max(finite)

    @property
    def exact(self) -> bool:
        """Every element is in the trace (small enough to compute with)."""
        return self.kind == "inline" or (self.kind == "big" and not is_summary(self.raw))

    def shown(self, sig: int) -> ShownTensor:
        """What is displayed: the whole tensor, or a big one's corner."""
        if self.kind == "inline":
            return ShownTensor.of(self.raw, sig)
        return ShownTensor((len(self.corner),), [show_number(v, sig) for v in self.corner])

    def term(self, label: str, sig: int, shown: ShownTensor | None = None) -> Term:
        if self.kind == "none":
            return Term(label, None, "…")
        value = shown if shown is not None else self.shown(sig)
        if self.kind == "inline":
            return Term(label, value)
        parts = [shape_text(self.shape)]
        if self.low is not None and self.high is not None:
            lo, hi = show_number(to_float(self.low)), show_number(to_float(self.high))
            parts.append(f"min {lo}, max {hi}")
        return Term(label, value, "; ".join(parts))


@dataclass
class Term:
    """One operand of a line: what it is (``upstream``, ``f′(x)``, ``Wᵀ``) and its numbers.

    ``summary`` (shape and range) marks a big tensor: ``value`` then holds its first
    elements only.
    """

    label: str
    value: ShownTensor | None
    summary: str = ""

    def text(self) -> str:
        if self.value is None:
            return self.summary or "…"
        if not self.summary:
            return self.value.text()
        first = ", ".join(s.text for s in self.value.items)
        return f"⟨{self.summary}: {first}, …⟩"

    def lines(self) -> list[str]:
        if self.value is not None and not self.summary:
            return self.value.rows()
        return [self.text()]


@dataclass
class ChainLine:
    """One equation of a node's chain rule, as a lecturer writes it.

    ``terms`` alternate operands (:class:`Term`) and symbols (``"⊙"``, ``"@"``,
    ``"="`` or ``"≈"``, ...). ``expr`` and ``result`` are the displayed numbers
    as an equation for :func:`consistent`; None where the line claims no
    arithmetic (a summary, a custom backward).
    """

    formula: str
    terms: list[Term | str]
    target: str = ""  # the input the result flows to ("x"); "" for an upstream sum
    note: str = ""  # what happened to the shape: "summed over dim 0 (4×3 → 3)"
    approx: bool = False
    expr: Expr | None = field(default=None, repr=False)
    result: ShownTensor | None = field(default=None, repr=False)

    def numbers(self) -> str:
        """The numbers of the line in one line: ``1 × 0.5 = 0.5``."""
        return " ".join(t if isinstance(t, str) else t.text() for t in self.terms)

    def text(self) -> str:
        """Formula, numbers and note in one line (the step table, a caption)."""
        head = self.formula + (f" → {self.target}" if self.target else "")
        out = f"{head}:  {self.numbers()}"
        return f"{out}  ({self.note})" if self.note else out

    def block(self) -> list[str]:
        """The line over several lines, matrices row by row, operands side by side
        under their labels (the inspector, a handout)."""
        columns: list[tuple[str, list[str]]] = []
        for t in self.terms:
            if isinstance(t, str):
                columns.append(("", [t]))
            else:
                columns.append((t.label, t.lines()))
        height = max(len(c[1]) for c in columns)
        widths = [max([len(h)] + [len(x) for x in rows]) for h, rows in columns]
        mid = height // 2
        out = ["  ".join(h.ljust(w) for (h, _), w in zip(columns, widths)).rstrip()]
        for i in range(height):
            cells = []
            for (_, rows), w in zip(columns, widths):
                if len(rows) == 1:
                    cell = rows[0] if i == mid else ""
                else:
                    cell = rows[i] if i < len(rows) else ""
                cells.append(cell.ljust(w))
            out.append("  ".join(cells).rstrip())
        head = self.formula + (f" → {self.target}" if self.target else "")
        return [head, *out] + ([f"({self.note})"] if self.note else [])

    def split(self) -> list[str]:
        """The line in two blocks, what is multiplied over ``= downstream``: half as wide
        as :meth:`block`, the operands still side by side."""
        last = max((i for i, t in enumerate(self.terms) if t in ("=", "≈", "→")), default=-1)
        if last <= 0:
            return self.block()
        left = ChainLine(self.formula, self.terms[:last], self.target)
        right = ChainLine("", ["", *self.terms[last:]])  # the relation under the left's start
        body = left.block()[1:] + [""] + right.block()[1:]
        return [left.block()[0], *body] + ([f"({self.note})"] if self.note else [])

    def stacked(self) -> list[str]:
        """The line one operand under the other, for a narrow panel: the same numbers as
        :meth:`block`, never wider than the widest operand."""
        head = self.formula + (f" → {self.target}" if self.target else "")
        out = [head]
        for t in self.terms:
            if isinstance(t, str):
                out.append(t)
                continue
            rows = t.lines()
            if len(rows) == 1:
                out.append(f"{t.label}: {rows[0]}" if t.label else rows[0])
            else:
                out += [f"{t.label}:", *("  " + r for r in rows)]
        return out + ([f"({self.note})"] if self.note else [])


def consistent(line: ChainLine) -> bool:
    """The checker: every displayed ``a × b = c`` of the line is arithmetically true to
    its displayed precision, or the line says "≈" (or claims no arithmetic)."""
    if line.expr is None or line.result is None:
        # no arithmetic is claimed where not every number is shown (a summary, a
        # formula without values) or where the line only says where a gradient went (→)
        return "=" not in line.terms or any(
            isinstance(t, Term) and (t.value is None or bool(t.summary)) for t in line.terms
        )
    ok = holds(line.expr, line.result)
    if ok is None:
        return True
    return ok or (line.approx and "≈" in line.terms)


def leaf(t: ShownTensor) -> Expr:
    return ("leaf", t)


def scalar_shown(x: float, sig: int) -> ShownTensor:
    s: Shown = show_number(x, sig)
    return ShownTensor((), [s])
