"""Reductions and shape ops: the upstream spread back, summed back or moved back.

``sum`` hands every element the upstream, ``mean`` the upstream ÷ N,
``expand`` and broadcasting sum it back, ``view``/``reshape``/``transpose``/
``permute`` move each element back to where it came from, ``x[i]`` puts it at
index i with zeros elsewhere. The line names the shape change.
"""

from __future__ import annotations

import math

from gradstep.trace.chainrule.elementwise import settled_line
from gradstep.trace.chainrule.numbers import Expr, ShownTensor, leaves
from gradstep.trace.chainrule.terms import ChainLine, Term, leaf, shape_text
from gradstep.trace.chainrule.view import NodeView


def _ints(v: object) -> list[int]:
    if isinstance(v, int):
        return [v]
    if isinstance(v, list):
        return [int(x) for x in v if isinstance(x, int)]
    return []


def spread_line(
    view: NodeView,
    slot: int,
    *,
    kind: str,
    formula: str,
    how: str = "",
    scale: float | None = None,
    divide: int | None = None,
    arg: object = None,
) -> ChainLine:
    """``upstream`` moved by ``kind`` (``expand``, ``sum_to``, ``reshape``, ``permute``,
    ``place``, ``same``) to the input's shape, ``× scale`` or ``÷ divide``."""
    up, down = view.up, view.down(slot)
    in_shape = view.input_shape(slot) or down.shape
    out_shape = view.output_shape()
    note = f"{shape_text(out_shape)} → {shape_text(in_shape)}"
    if how:
        note = f"{how} ({note})" if in_shape != out_shape else how
    op_terms: list[Term | str] = []
    if scale is not None:
        op_terms = ["×", Term("β", None, f"{scale:g}")]
    if divide is not None:
        op_terms = ["÷", Term("N", None, str(divide))]
    target = view.input_label(slot)
    if not (up.kind == down.kind == "inline"):
        terms = [up.term("upstream", 4), *op_terms, "=", down.term("downstream", 4)]
        return ChainLine(formula, terms, target, note)

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        expr: Expr = leaf(up.shown(sig))
        if scale is not None:
            expr = ("mul", expr, ("const", repr(scale)))
        if divide is not None:
            expr = ("div", expr, ("const", divide))
        expr = _moved(expr, kind, tuple(in_shape), arg)
        return expr, down.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        (u,) = leaves(expr)
        return [
            up.term("upstream", 0, u),
            *op_terms,
            "≈" if approx else "=",
            down.term("downstream", 0, result),
        ]

    return settled_line(formula, build, terms_of, target=target, note=note)


def _moved(expr: Expr, kind: str, in_shape: tuple[int, ...], arg: object) -> Expr:
    if kind == "expand":  # arg: the upstream's shape with the reduced dims kept as 1
        if arg is not None:
            expr = ("reshape", expr, arg)
        return ("expand", expr, in_shape)
    if kind in ("sum_to", "reshape", "permute"):
        return (kind, expr, arg if kind == "permute" else in_shape)
    if kind == "place":
        return ("place", expr, in_shape, arg)
    return expr


def reduction_lines(view: NodeView) -> list[ChainLine]:
    if not view.slots():
        return []
    in_shape = tuple(view.saved("self_sym_sizes") or view.input_shape(0) or ())
    dims = _ints(view.saved("dim"))
    keep: tuple[int, ...] | None = None
    if dims:
        nd = len(in_shape)
        dims = sorted(d % nd for d in dims) if nd else []
        keep = tuple(1 if i in dims else n for i, n in enumerate(in_shape))
    mean = view.op.startswith("Mean")
    if mean:
        out_numel = math.prod(keep) if keep is not None else 1
        n = int(view.saved("self_sym_numel") or math.prod(in_shape)) // max(out_numel, 1)
        return [
            spread_line(
                view,
                0,
                kind="expand",
                formula="upstream ÷ N, spread over every element = downstream",
                how=f"mean of N = {n}",
                divide=n,
                arg=keep,
            )
        ]
    return [
        spread_line(
            view,
            0,
            kind="expand",
            formula="upstream, spread over every summed element = downstream",
            how="each summed element gets the upstream",
            arg=keep,
        )
    ]


def _shape_move(view: NodeView) -> tuple[str, str, str, object]:
    """(kind, formula, how, arg) of a shape op."""
    op = view.op
    in_shape = view.input_shape(0) or ()
    if op in ("TBackward0", "TransposeBackward0", "TransposeBackward1"):
        nd = len(in_shape)
        perm = list(range(nd))
        d0, d1 = (view.saved("dim0"), view.saved("dim1")) if op != "TBackward0" else (0, 1)
        if nd >= 2 and isinstance(d0, int) and isinstance(d1, int):
            perm[d0 % nd], perm[d1 % nd] = perm[d1 % nd], perm[d0 % nd]
        return "permute", "upstreamᵀ = downstream", "transposed back", tuple(perm)
    if op == "PermuteBackward0":
        dims = _ints(view.saved("dims"))
        inverse = tuple(sorted(range(len(dims)), key=lambda i: dims[i]))
        return (
            "permute",
            "upstream permuted back = downstream",
            f"permuted back by {inverse}",
            inverse,
        )
    if op == "ExpandBackward0":
        return "sum_to", "Σ upstream over the expanded dims = downstream", "summed back", None
    if op == "SelectBackward0":
        dim, index = view.saved("dim"), view.saved("index")
        if isinstance(dim, int) and isinstance(index, int):
            at = tuple([slice(None)] * (dim % max(len(in_shape), 1)) + [index])
            return (
                "place",
                "upstream at x[i], 0 elsewhere = downstream",
                f"put back at index {index} of dim {dim}",
                at,
            )
    if op == "SliceBackward0":
        dim, start, end, step = (view.saved(k) for k in ("dim", "start", "end", "step"))
        if all(isinstance(v, int) for v in (dim, start, end, step)):
            at = tuple([slice(None)] * (dim % max(len(in_shape), 1)) + [slice(start, end, step)])
            return (
                "place",
                "upstream in the slice, 0 elsewhere = downstream",
                f"put back into the slice of dim {dim}",
                at,
            )
    if op in ("CloneBackward0", "AliasBackward0", "ToCopyBackward0"):
        return "same", "upstream = downstream", "passed through", None
    if op == "IndexBackward0":
        return (
            "scatter",
            "upstream scattered back to x[idx] = downstream",
            "scattered back (added where indices repeat)",
            None,
        )
    return "reshape", "upstream reshaped back = downstream", "reshaped back", None


def shape_lines(view: NodeView) -> list[ChainLine]:
    if not view.slots():
        return []
    kind, formula, how, arg = _shape_move(view)
    if kind == "scatter":
        up, down = view.up, view.down(0)
        terms: list[Term | str] = [up.term("upstream", 4), "→", down.term("downstream", 4)]
        return [ChainLine(formula, terms, view.input_label(0), how)]
    return [spread_line(view, 0, kind=kind, formula=formula, how=how, arg=arg)]
