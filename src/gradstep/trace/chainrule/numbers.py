"""Numbers that add up: significant figures chosen so that a displayed equation is true.

A lecturer's ``813.36 × 0.001228 = 0.9988`` can be checked with a calculator;
``813.3619 × 0.0012 = 0.9988`` cannot (it gives 0.976). So a number is shown
with significant figures, not fixed decimals, and an equation's operands get
as many figures as it takes for the product of the *displayed* operands,
rounded to the displayed result's last digit, to give the displayed result.
Where no reasonable precision does, the equation says "≈".

An equation is a small expression tree over displayed tensors (:class:`Shown`):
:func:`holds` evaluates it exactly (``decimal``) from the displayed values and
compares with the displayed result, which is the checker the tests run over
every compute step of every lesson.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import numpy as np

#: significant figures of a result, and what operands try before an equation says "≈"
RESULT_SIG = 4
OPERAND_SIGS = (4, 5, 6, 7, 8)
#: a result shown with more figures when the operands alone do not settle it
RESULT_SIGS = (4, 5, 6)
_NONFINITE = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


@dataclass(frozen=True)
class Shown:
    """One displayed number: its text, the exact value the text stands for, and the
    place of its last significant digit (a result may differ from the exact value of
    its operands by half of ``unit``). ``value`` is None for nan and ±inf."""

    text: str
    value: Decimal | None
    unit: Decimal

    def __str__(self) -> str:
        return self.text


def show_number(x: Any, sig: int = RESULT_SIG) -> Shown:
    """``x`` (a float, an int, or the trace's "NaN"/"Infinity" strings) with ``sig``
    significant figures: ``0.001228``, ``813.36``, ``1.228e-07``, ``6.7``."""
    if isinstance(x, str):
        return Shown(_NONFINITE.get(x, x), None, Decimal(0))
    if isinstance(x, bool):
        x = int(x)
    if isinstance(x, float) and not math.isfinite(x):
        return Shown("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"), None, Decimal(0))
    d = Decimal(repr(float(x))) if isinstance(x, float) else Decimal(int(x))  # np.float64 too
    if d == 0:
        return Shown("0", Decimal(0), Decimal(0))  # an exact zero claims exactly zero
    e = d.adjusted()
    q = e - sig + 1
    r = d.quantize(Decimal(1).scaleb(q), rounding=ROUND_HALF_EVEN)
    if r.adjusted() > e:  # 9.9996 -> 10.00: one figure fewer after the point
        q += 1
        r = d.quantize(Decimal(1).scaleb(q), rounding=ROUND_HALF_EVEN)
    return Shown(_text(r), r, Decimal(1).scaleb(q))


def _text(r: Decimal) -> str:
    e = r.adjusted()
    if -5 <= e < 6:
        text = f"{r:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    mantissa = r.scaleb(-e)
    m = f"{mantissa:f}"
    if "." in m:
        m = m.rstrip("0").rstrip(".")
    return f"{m}e{e:+03d}"


class ShownTensor:
    """A tensor as displayed: its shape and one :class:`Shown` per element (row-major)."""

    __slots__ = ("items", "shape")

    def __init__(self, shape: tuple[int, ...], items: list[Shown]) -> None:
        self.shape = shape
        self.items = items

    @classmethod
    def of(cls, value: Any, sig: int) -> ShownTensor:
        """An exact encoded tensor (a number or nested lists) at ``sig`` figures."""
        shape = shape_of(value)
        return cls(shape, [show_number(v, sig) for v in flatten(value)])

    def is_scalar(self) -> bool:
        return self.shape == ()

    def numbers(self) -> np.ndarray | None:
        """The displayed values as an object array of Decimals; None if one is not finite."""
        values = [s.value for s in self.items]
        if any(v is None for v in values):
            return None
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr.reshape(self.shape)

    def text(self, max_width: int | None = None) -> str:
        return nested_text(self.shape, [s.text for s in self.items])

    def rows(self) -> list[str]:
        """The tensor as the lines a lecturer writes: a matrix one row a line."""
        if len(self.shape) != 2 or self.shape[0] <= 1:
            return [self.text()]
        rows, cols = self.shape
        texts = [s.text for s in self.items]
        width = max((len(t) for t in texts), default=1)
        lines = []
        for i in range(rows):
            cells = ", ".join(t.rjust(width) for t in texts[i * cols : (i + 1) * cols])
            lines.append(("[[" if i == 0 else " [") + cells + ("]]" if i == rows - 1 else "],"))
        return lines


def shape_of(value: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def flatten(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return [value]
    out: list[Any] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        else:
            out.append(v)
    return out


def nested_text(shape: Sequence[int], texts: list[str]) -> str:
    if not shape:
        return texts[0] if texts else ""
    if shape[0] == 0:
        return "[]"
    inner = len(texts) // shape[0] if shape[0] else 0
    parts = [nested_text(shape[1:], texts[i * inner : (i + 1) * inner]) for i in range(shape[0])]
    return "[" + ", ".join(parts) + "]"


# ------------------------------------------------------------------ equations
#: an expression over displayed tensors: ("leaf", ShownTensor) | ("const", Decimal) |
#: (op, *args) for op in mul, add, sub, div, neg, matmul, sum_to, expand, reshape,
#: permute, tensordot, place
Expr = tuple[Any, ...]


def evaluate(expr: Expr) -> Any:
    """The exact value of ``expr`` from the displayed numbers (object array or Decimal);
    None where a value is not finite."""
    with localcontext() as ctx:
        ctx.prec = 60
        return _eval(expr)


def _eval(expr: Expr) -> Any:  # noqa: C901 - one branch per operation, flat on purpose
    op = expr[0]
    if op == "leaf":
        return expr[1].numbers()
    if op == "const":
        return np.array(Decimal(expr[1]), dtype=object)
    args = [_eval(a) if _is_expr(a) else a for a in expr[1:]]
    if any(a is None for a in args):
        return None
    if op == "mul":
        return args[0] * args[1]
    if op == "div":
        return args[0] / args[1]
    if op == "add":
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total
    if op == "sub":
        return args[0] - args[1]
    if op == "neg":
        return -args[0]
    if op == "matmul":
        return np.matmul(args[0], args[1]) if args[0].ndim and args[1].ndim else args[0] * args[1]
    if op == "tensordot":
        return np.tensordot(args[0], args[1], axes=args[2])
    if op == "sum_to":
        return sum_to(args[0], tuple(args[1]))
    if op == "sum_dim":
        return np.sum(args[0], axis=args[1], keepdims=True)
    if op == "expand":
        return np.broadcast_to(args[0], tuple(args[1])).copy()
    if op == "reshape":
        return np.asarray(args[0]).reshape(tuple(args[1]))
    if op == "permute":
        return np.transpose(args[0], tuple(args[1]))
    if op == "place":  # zeros of a shape with the value put at an index (select/slice back)
        out = np.full(tuple(args[1]), Decimal(0), dtype=object)
        out[args[2]] = args[0]
        return out
    raise ValueError(f"unknown operation {op!r}")


def _is_expr(a: Any) -> bool:
    return isinstance(a, tuple) and bool(a) and isinstance(a[0], str)


def sum_to(a: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``a`` over the dimensions that broadcasting added or stretched to ``shape``."""
    a = np.asarray(a, dtype=object)
    extra = a.ndim - len(shape)
    if extra > 0:
        a = a.sum(axis=tuple(range(extra)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and a.shape[i] != 1)
    if dims:
        a = a.sum(axis=dims, keepdims=True)
    return a


def holds(expr: Expr, result: ShownTensor) -> bool | None:
    """Does the displayed ``expr`` give the displayed ``result``, to its displayed
    precision? None when a displayed value is not finite (no arithmetic is claimed)."""
    got = evaluate(expr)
    want = result.numbers()
    if got is None or want is None:
        return None
    got = np.asarray(got, dtype=object)
    if got.size != len(result.items):
        return False
    got = got.reshape(-1)
    for value, shown in zip(got, result.items):
        if abs(value - shown.value) > shown.unit / 2:
            return False
    return True


def settle(
    build: Callable[[int, int], tuple[Expr, ShownTensor]],
    operand_sigs: Sequence[int] = OPERAND_SIGS,
) -> tuple[Expr, ShownTensor, bool]:
    """The least precision at which ``build(operand_sig, result_sig)`` holds.

    Returns ``(expr, result, approx)``; ``approx`` is True when no precision tried
    makes the displayed equation true (then it is shown at the first precision,
    with "≈"). A line with a non-finite value claims no arithmetic and is not approx.
    """
    first: tuple[Expr, ShownTensor] | None = None
    for result_sig in RESULT_SIGS:
        for sig in operand_sigs:
            if sig < result_sig:
                continue
            expr, result = build(sig, result_sig)
            if first is None:
                first = (expr, result)
            ok = holds(expr, result)
            if ok is None:
                return expr, result, False
            if ok:
                return expr, result, False
    assert first is not None
    return first[0], first[1], True


def leaves(expr: Expr) -> list[ShownTensor]:
    """The displayed tensors of an expression, left to right."""
    if expr[0] == "leaf":
        return [expr[1]]
    out: list[ShownTensor] = []
    for a in expr[1:]:
        if _is_expr(a):
            out += leaves(a)
    return out
