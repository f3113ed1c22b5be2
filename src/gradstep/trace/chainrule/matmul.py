"""Matrix products as taught: ``upstream @ Bᵀ`` and ``Aᵀ @ upstream``, with the saved matrices."""

from __future__ import annotations

import numpy as np

from gradstep.trace.chainrule.elementwise import product_line, settled_line
from gradstep.trace.chainrule.numbers import Expr, ShownTensor, leaves
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term, from_array, leaf, to_array
from gradstep.trace.chainrule.view import NodeView

#: a matrix line tries fewer figures than a scalar one before it says "≈"
_SIGS = (4, 5, 6)


def _transposed(op: Operand, batched: bool = False) -> Operand:
    """``op`` with its last two dimensions swapped (a vector stays as it is)."""
    if op.kind == "none" or len(op.shape) < 2:
        return op
    if op.exact:
        a = to_array(op.raw)
        return Operand(from_array(np.swapaxes(a, -1, -2)))
    raw = dict(op.raw)
    shape = list(raw.get("shape", []))
    shape[-2], shape[-1] = shape[-1], shape[-2]
    raw["shape"], raw["preview"] = shape, []  # a summary's first elements are not Bᵀ's
    return Operand(raw)


def _t(label: str) -> str:
    """``Wᵀ``; a name that is a transpose already loses it (``model.0.weightᵀ``ᵀ = ``model.0.weight``)."""
    return label[:-1] if label.endswith("ᵀ") else f"{label}ᵀ"


def _paren(label: str) -> str:
    return f"({label})" if " " in label else label


def matmul_line(
    left: Operand,
    right: Operand,
    down: Operand,
    *,
    formula: str,
    labels: tuple[str, str],
    target: str,
    scale: float = 1.0,
    outer: bool = False,
) -> ChainLine:
    """``left @ right = downstream`` (``outer``: a column times a row, ``up ⊗ v``)."""
    sym = "⊗" if outer else "@"
    inline = left.kind == right.kind == down.kind == "inline"
    if not inline:
        terms: list[Term | str] = [
            left.term(labels[0], 4),
            sym,
            right.term(labels[1], 4),
            "=",
            down.term("downstream", 4),
        ]
        return ChainLine(formula, terms, target)

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        a, b = leaf(left.shown(sig)), leaf(right.shown(sig))
        if outer:
            a = ("reshape", a, (left.shape[0], 1))
            b = ("reshape", b, (1, right.shape[0]))
        expr: Expr = ("matmul", a, b)
        if scale != 1.0:
            expr = ("mul", expr, ("const", repr(scale)))
        return expr, down.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        a, b = leaves(expr)
        return [
            left.term(labels[0], 0, a),
            sym,
            right.term(labels[1], 0, b),
            "≈" if approx else "=",
            down.term("downstream", 0, result),
        ]

    return settled_line(formula, build, terms_of, target=target, sigs=_SIGS)


def matmul_lines(view: NodeView) -> list[ChainLine]:
    op = view.op
    slots = set(view.slots())
    lines: list[ChainLine] = []
    if op == "DotBackward0":
        for slot, other in ((0, "tensor"), (1, "self")):
            if slot in slots:
                lines.append(
                    product_line(
                        view.up,
                        view.saved_operand(other),
                        view.down(slot),
                        factor_label=view.input_label(1 - slot),
                        target=view.input_label(slot),
                        in_shape=view.input_shape(slot),
                    )
                )
        return lines
    if op == "AddmmBackward0":
        first, a_key, b_key = 1, "mat1", "mat2"
        alpha = view.saved("alpha")
        scale = float(alpha) if isinstance(alpha, (int, float)) else 1.0
        if 0 in slots:
            lines.append(_bias_line(view, view.saved("beta")))
    else:
        first, a_key, b_key = 0, "self", "vec" if op == "MvBackward0" else "mat2"
        scale = 1.0
    a_label, b_label = view.input_label(first), view.input_label(first + 1)
    up = view.up
    if first in slots:  # d/dA = upstream @ Bᵀ (for A @ v: upstream ⊗ v)
        outer = op == "MvBackward0"
        b_t = view.saved_operand(b_key) if outer else _transposed(view.saved_operand(b_key))
        b_name = _paren(b_label) if outer else _t(_paren(b_label))
        lines.append(
            matmul_line(
                up,
                b_t,
                view.down(first),
                formula=f"upstream {'⊗' if outer else '@'} {b_name} = downstream",
                labels=("upstream", b_name),
                target=a_label,
                scale=scale,
                outer=outer,
            )
        )
    if first + 1 in slots:  # d/dB = Aᵀ @ upstream
        a_name = _t(_paren(a_label))
        lines.append(
            matmul_line(
                _transposed(view.saved_operand(a_key)),
                up,
                view.down(first + 1),
                formula=f"{a_name} @ upstream = downstream",
                labels=(a_name, "upstream"),
                target=b_label,
                scale=scale,
            )
        )
    return lines


def _bias_line(view: NodeView, beta: object) -> ChainLine:
    """``b`` of ``b + x @ W``: the upstream summed over the batch (× β, usually 1)."""
    from gradstep.trace.chainrule.moves import spread_line

    return spread_line(
        view,
        0,
        kind="sum_to",
        formula="Σ upstream over the batch = downstream",
        scale=float(beta) if isinstance(beta, (int, float)) and beta != 1 else None,
    )
