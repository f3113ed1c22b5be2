"""Lines that multiply: ``upstream ⊙ f′(x) = downstream`` and its relatives.

Every builder here makes its numbers through :func:`settle`, so that what is
displayed multiplies out (or the line says "≈").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradstep.trace.chainrule.numbers import Expr, ShownTensor, leaves, settle
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term, leaf, shape_text
from gradstep.trace.chainrule.view import NodeView

#: the local factor's name in the line, per op and slot (default f′(x))
_FACTOR: dict[str, tuple[str, ...]] = {
    "AddBackward0": ("1", "α"),
    "SubBackward0": ("1", "−α"),
    "RsubBackward1": ("−1",),
    "NegBackward0": ("−1",),
    "DivBackward0": ("1/b", "−a/b²"),
    "PowBackward0": ("n·xⁿ⁻¹",),
    "PowBackward1": ("b·aᵇ⁻¹", "aᵇ·ln a"),
    "PowBackward2": ("cˣ·ln c",),
    "TanhBackward0": ("1 − tanh²x",),
    "SigmoidBackward0": ("σ(1 − σ)",),
    "ReluBackward0": ("[x > 0]",),
    "ExpBackward0": ("eˣ",),
    "LogBackward0": ("1/x",),
    "SinBackward0": ("cos x",),
    "CosBackward0": ("−sin x",),
    "SqrtBackward0": ("1/(2√x)",),
    "ReciprocalBackward0": ("−1/x²",),
    "ClampBackward1": ("[lo ≤ x ≤ hi]",),
    "ClampMinBackward0": ("[x ≥ lo]",),
    "ClampMaxBackward0": ("[x ≤ hi]",),
}


def factor_label(view: NodeView, slot: int) -> str:
    if view.op == "MulBackward0":  # d(a·b)/da = b: name the other factor
        label = view.input_label(1 - slot, value=False) if slot < 2 else "b"
        return f"({label})" if " " in label else label
    alpha = view.saved("alpha")
    if view.op in ("AddBackward0", "SubBackward0") and slot == 1 and alpha == 1:
        return "1" if view.op == "AddBackward0" else "−1"
    names = _FACTOR.get(view.op)
    if names and slot < len(names):
        return names[slot]
    return "f′(x)"


def _reduced(out_shape: tuple[int, ...], in_shape: tuple[int, ...] | None) -> str:
    """``summed over dim 0 (4×3 → 3)`` when broadcasting stretched the input."""
    if in_shape is None or tuple(in_shape) == tuple(out_shape):
        return ""
    extra = len(out_shape) - len(in_shape)
    dims = list(range(extra)) + [
        extra + i for i, n in enumerate(in_shape) if n == 1 and out_shape[extra + i] != 1
    ]
    which = "dim " + str(dims[0]) if len(dims) == 1 else "dims " + ", ".join(map(str, dims))
    return f"broadcast back: summed over {which} ({shape_text(out_shape)} → {shape_text(in_shape)})"


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return a


def product_line(
    up: Operand,
    factor: Operand,
    down: Operand,
    *,
    factor_label: str,
    target: str,
    in_shape: tuple[int, ...] | None,
) -> ChainLine:
    """``upstream ⊙ factor = downstream`` (× for scalars; Σ(…) where broadcasting is undone)."""
    # a number times a tensor is ×, two tensors element by element ⊙
    sym = "×" if up.shape == () or factor.shape == () else "⊙"
    out_shape = _broadcast(up.shape if up.kind != "none" else (), factor.shape)
    note = _reduced(out_shape, in_shape) if factor.kind != "none" else ""
    lhs = f"upstream {sym} {factor_label}"
    formula = f"Σ({lhs}) = downstream" if note else f"{lhs} = downstream"
    if factor.kind == "none":  # f′ not recorded (a big pass): the gradients as they are
        terms: list[Term | str] = [
            up.term("upstream", 4),
            sym,
            Term(factor_label, None, factor_label),
        ]
        return ChainLine(formula, [*terms, "=", down.term("downstream", 4)], target, note)
    reduce = bool(note)
    corners = (
        up.kind == factor.kind == down.kind == "big" and up.shape == factor.shape == down.shape
    )

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        expr: Expr = ("mul", leaf(up.shown(sig)), leaf(factor.shown(sig)))
        if reduce:
            expr = ("sum_to", expr, tuple(in_shape or ()))
        return expr, down.shown(rsig)

    checkable = down.kind != "none" and (
        (up.kind == factor.kind == down.kind == "inline") or corners
    )
    if not checkable:
        terms = [
            up.term("upstream", 4),
            sym,
            factor.term(factor_label, 4),
            "=",
            down.term("downstream", 4),
        ]
        return ChainLine(formula, terms, target, note)
    expr, result, approx = settle(build)
    u, f = leaves(expr)
    terms = [
        up.term("upstream", 0, u),
        sym,
        factor.term(factor_label, 0, f),
        "≈" if approx else "=",
        down.term("downstream", 0, result),
    ]
    return ChainLine(formula, terms, target, note, approx, expr, result)


def elementwise_lines(view: NodeView) -> list[ChainLine]:
    local = view.rec.chain.get("local") or []
    lines = []
    for slot in view.slots():
        factor = Operand(local[slot] if slot < len(local) else _scalar_local(view, slot))
        lines.append(
            product_line(
                view.up,
                factor,
                view.down(slot),
                factor_label=factor_label(view, slot),
                target=view.input_label(slot),
                in_shape=view.input_shape(slot),
            )
        )
    return lines


def _scalar_local(view: NodeView, slot: int) -> object:
    """A scalar op's derivative from a trace older than ``chain.local``: its local
    derivative, which for a scalar is f′(x) itself."""
    rec = view.rec
    kinds, values = rec.local_derivative_kinds, rec.local_derivatives
    if slot < len(kinds) and kinds[slot] == "scalar" and slot < len(values):
        return values[slot]
    return None


def settled_line(
    formula: str,
    build: Callable[[int, int], tuple[Expr, ShownTensor]],
    terms_of: Callable[[Expr, ShownTensor, bool], list[Term | str]],
    *,
    target: str = "",
    note: str = "",
    sigs: tuple[int, ...] = (4, 5, 6, 7, 8),
) -> ChainLine:
    """A line whose numbers ``settle`` picks: ``build(sig, result_sig)`` makes the
    equation, ``terms_of(expr, result, approx)`` the displayed terms."""
    expr, result, approx = settle(build, sigs)
    return ChainLine(formula, terms_of(expr, result, approx), target, note, approx, expr, result)
