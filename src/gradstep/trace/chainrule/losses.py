"""Losses in closed form, with the saved prediction and target filled in.

MSE: ``(p − t)·2/N``; BCE: ``(p − t)/(p(1 − p))/N``; BCE with logits:
``(σ(z) − t)/N``; softmax cross-entropy (``log_softmax`` then ``nll_loss``):
``−onehot/N`` at the NLL node and ``(softmax(x) − onehot)/N`` at the log-softmax.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradstep.trace.chainrule.elementwise import settled_line
from gradstep.trace.chainrule.numbers import Expr, ShownTensor
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term, from_array, leaf, to_array
from gradstep.trace.chainrule.view import NodeView

_MEAN, _SUM = 1, 2


def _n(view: NodeView, p: Operand) -> int:
    """N of a mean reduction (1 for sum and none)."""
    return math.prod(p.shape) if view.saved("reduction") == _MEAN else 1


def _operand_line(
    view: NodeView,
    slot: int,
    formula: str,
    operands: list[tuple[str, Operand]],
    expr_of: Any,
    layout: list[Any],
) -> ChainLine:
    """A loss line: ``expr_of(*leaves)`` (upstream first) equals the downstream;
    ``layout`` lists the terms, an int standing for the i-th operand."""
    up, down = view.up, view.down(slot)
    target = view.input_label(slot)
    all_ops = [("upstream", up), *operands]
    if not all(o.kind == "inline" for _, o in all_ops) or down.kind != "inline":
        return _closed_form(view, slot, formula)

    made: dict[int, tuple[Expr, list[ShownTensor]]] = {}  # id(expr) -> its operands

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        operands = [o.shown(sig) for _, o in all_ops]
        expr = expr_of(*[leaf(t) for t in operands])
        made[id(expr)] = (expr, operands)
        return expr, down.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        shown = made[id(expr)][1]
        out: list[Term | str] = []
        for item in layout:
            if isinstance(item, int):
                label, o = all_ops[item]
                out.append(o.term(label, 0, shown[item]))
            else:
                out.append(item)
        return [*out, "≈" if approx else "=", down.term("downstream", 0, result)]

    return settled_line(f"upstream × {formula} = downstream", build, terms_of, target=target)


def _closed_form(view: NodeView, slot: int, formula: str) -> ChainLine:
    """The closed form without its numbers filled in (a weighted loss, a big batch)."""
    up, down = view.up, view.down(slot)
    terms: list[Term | str] = [up.term("upstream", 4), "×", Term(formula, None, formula)]
    return ChainLine(
        f"upstream × {formula} = downstream",
        [*terms, "=", down.term("downstream", 4)],
        view.input_label(slot),
    )


def _mse(view: NodeView, slot: int) -> ChainLine:
    p, t = view.saved_operand("self"), view.saved_operand("target")
    n = _n(view, p)
    sign = "" if slot == 0 else "−"
    formula = f"{sign}(p − t)·2" + (f"/{n}" if n != 1 else "")

    def expr_of(u: Expr, pe: Expr, te: Expr) -> Expr:
        e: Expr = ("mul", ("sub", pe, te), ("const", 2 if slot == 0 else -2))
        if n != 1:
            e = ("div", e, ("const", n))
        return ("mul", u, e)

    tail = [f")·2/{n}"] if n != 1 else [")·2"]
    layout = [0, "×", f"{sign}(", 1, "−", 2, *tail]
    return _operand_line(view, slot, formula, [("p", p), ("t", t)], expr_of, layout)


def _bce(view: NodeView, slot: int) -> ChainLine:
    p, t = view.saved_operand("self"), view.saved_operand("target")
    n = _n(view, p)
    formula = "(p − t)/(p(1 − p))" + (f"/{n}" if n != 1 else "")

    def expr_of(u: Expr, pe: Expr, te: Expr) -> Expr:
        e: Expr = ("div", ("sub", pe, te), ("mul", pe, ("sub", ("const", 1), pe)))
        if n != 1:
            e = ("div", e, ("const", n))
        return ("mul", u, e)

    layout = [0, "×", "(", 1, "−", 2, ") / (", 1, "·(1 −", 1, "))"] + ([f"/ {n}"] if n != 1 else [])
    if view.saved("weight") is not None:  # a weighted BCE: the closed form without numbers
        return _closed_form(view, slot, formula + "·weight")
    return _operand_line(view, slot, formula, [("p", p), ("t", t)], expr_of, layout)


def _sigmoid(op: Operand) -> Operand:
    if not op.exact:
        return Operand(None)
    z = to_array(op.raw)
    return Operand(from_array(1.0 / (1.0 + np.exp(-z))))


def _bce_logits(view: NodeView, slot: int) -> ChainLine:
    z, t = view.saved_operand("self"), view.saved_operand("target")
    n = _n(view, z)
    formula = "(σ(z) − t)" + (f"/{n}" if n != 1 else "")
    if view.saved("weight") is not None or view.saved("pos_weight") is not None:
        return _closed_form(view, slot, formula + " (weighted)")

    def expr_of(u: Expr, se: Expr, te: Expr) -> Expr:
        e: Expr = ("sub", se, te)
        if n != 1:
            e = ("div", e, ("const", n))
        return ("mul", u, e)

    layout = [0, "×", "(", 1, "−", 2, ")"] + ([f"/ {n}"] if n != 1 else [])
    return _operand_line(view, slot, formula, [("σ(z)", _sigmoid(z)), ("t", t)], expr_of, layout)


def _onehot(target: Any, shape: tuple[int, ...]) -> Operand:
    """One-hot rows of ``shape`` (N×C, or C for one sample) from integer class targets."""
    if not shape or isinstance(target, dict) or target is None:
        return Operand(None)
    hot = np.zeros(shape, dtype=float)
    classes = target if isinstance(target, list) else [target]
    rows = hot if hot.ndim == 2 else hot[None, :]
    for i, c in enumerate(classes[: len(rows)]):
        if isinstance(c, int) and 0 <= c < rows.shape[1]:
            rows[i, c] = 1.0
    return Operand(from_array(hot))


def _nll(view: NodeView, slot: int) -> ChainLine:
    logp = view.saved_operand("self")
    hot = _onehot(view.saved("target"), logp.shape)
    total = view.saved("total_weight")
    n = int(total) if view.saved("reduction") == _MEAN and isinstance(total, (int, float)) else 1
    formula = "−onehot(t)" + (f"/{n}" if n != 1 else "")

    def expr_of(u: Expr, he: Expr) -> Expr:
        e: Expr = ("neg", he)
        if n != 1:
            e = ("div", e, ("const", n))
        return ("mul", u, e)

    layout = [0, "× −", 1] + ([f"/ {n}"] if n != 1 else [])
    if view.saved("weight") is not None:
        return _closed_form(view, slot, formula + "·weight")
    return _operand_line(view, slot, formula, [("onehot(t)", hot)], expr_of, layout)


def _log_softmax(view: NodeView, slot: int) -> ChainLine:
    """``upstream − softmax(x)·Σupstream``; from an NLL loss that is ``(softmax − onehot)/N``."""
    y = view.saved_operand("result")
    dim = view.saved("dim")
    if not (y.exact and view.up.exact and isinstance(dim, int)):
        return _closed_form(view, slot, "(upstream − softmax(x)·Σ upstream)")
    soft = Operand(from_array(np.exp(to_array(y.raw))))
    up = to_array(view.up.raw)
    closed = _nll_upstream(up, dim)
    if closed is not None:
        hot, n = closed
        formula = "(softmax(x) − onehot)" + (f"/{n}" if n != 1 else "")

        def expr_of(u: Expr, se: Expr, he: Expr) -> Expr:
            e: Expr = ("sub", se, he)
            return ("div", e, ("const", n)) if n != 1 else e

        layout = ["(", 1, "−", 2, ")"] + ([f"/ {n}"] if n != 1 else [])
        line = _operand_line(
            view, slot, formula, [("softmax(x)", soft), ("onehot", Operand(hot))], expr_of, layout
        )
        line.formula = f"{formula} = downstream"
        return line

    def general(u: Expr, se: Expr) -> Expr:
        return ("sub", u, ("mul", se, ("sum_dim", u, dim)))

    layout = [0, "−", 1, f"⊙ Σ_{dim} upstream"]
    line = _operand_line(view, slot, "…", [("softmax(x)", soft)], general, layout)
    line.formula = "upstream − softmax(x) ⊙ Σ upstream = downstream"
    return line


def _nll_upstream(up: np.ndarray, dim: int) -> tuple[Any, int] | None:
    """(onehot, N) when ``up`` is −onehot/N (what ``nll_loss`` sends back)."""
    if up.ndim == 0 or dim % up.ndim != up.ndim - 1:
        return None
    rows = np.moveaxis(up, dim, -1).reshape(-1, up.shape[dim])
    nonzero = rows != 0
    if not (nonzero.sum(axis=1) == 1).all():
        return None
    values = rows[nonzero]
    n = round(-1 / values[0]) if values[0] < 0 else 0
    if n <= 0 or not np.allclose(values, -1.0 / n, rtol=1e-5):
        return None
    return from_array(nonzero.astype(float).reshape(up.shape)), n


_LOSSES = {
    "MseLossBackward0": _mse,
    "BinaryCrossEntropyBackward0": _bce,
    "BinaryCrossEntropyWithLogitsBackward0": _bce_logits,
    "NllLossBackward0": _nll,
    "LogSoftmaxBackward0": _log_softmax,
}


def loss_lines(view: NodeView) -> list[ChainLine]:
    make = _LOSSES[view.op]
    return [make(view, slot) for slot in view.slots()]
