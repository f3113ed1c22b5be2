"""Ops taught by no family (the exact Jacobian when small) and custom ``autograd.Function``s."""

from __future__ import annotations

from typing import Any

from gradstep.trace.chainrule.elementwise import product_line, settled_line
from gradstep.trace.chainrule.numbers import Expr, ShownTensor, leaves
from gradstep.trace.chainrule.terms import ChainLine, Operand, Term, leaf
from gradstep.trace.chainrule.view import NodeView
from gradstep.trace.model import Trace


def other_lines(view: NodeView) -> list[ChainLine]:
    """Ops taught by none of the families: the exact Jacobian when it is small, else the
    vector-Jacobian product the engine computed."""
    rec = view.rec
    lines = []
    for slot in view.slots():
        kinds = rec.local_derivative_kinds
        kind = kinds[slot] if slot < len(kinds) else None
        local = rec.local_derivatives[slot] if slot < len(rec.local_derivatives) else None
        down, target = view.down(slot), view.input_label(slot)
        if kind == "scalar" and len(view.rec.grad_outputs) == 1:
            lines.append(
                product_line(
                    view.up,
                    Operand(local),
                    down,
                    factor_label="local",
                    target=target,
                    in_shape=view.input_shape(slot),
                )
            )
        elif kind == "jacobian" and _jacobian_small(local):
            lines.append(_jacobian_line(view.up, Operand(local), down, target))
        else:
            terms: list[Term | str] = [view.up.term("upstream", 4), "→", down.term("downstream", 4)]
            lines.append(
                ChainLine(
                    "upstream · J = downstream (the engine's vector-Jacobian product)",
                    terms,
                    target,
                )
            )
    return lines


def _jacobian_small(local: Any) -> bool:
    return Operand(local).kind == "inline"


def _jacobian_line(up: Operand, jac: Operand, down: Operand, target: str) -> ChainLine:
    formula = "upstream · J = downstream"
    if up.kind != "inline" or down.kind != "inline":
        terms: list[Term | str] = [
            up.term("upstream", 4),
            "·",
            jac.term("J", 4),
            "=",
            down.term("downstream", 4),
        ]
        return ChainLine(formula, terms, target)
    axes = len(up.shape)

    def build(sig: int, rsig: int) -> tuple[Expr, ShownTensor]:
        return ("tensordot", leaf(up.shown(sig)), leaf(jac.shown(sig)), axes), down.shown(rsig)

    def terms_of(expr: Expr, result: ShownTensor, approx: bool) -> list[Term | str]:
        u, j = leaves(expr)
        return [
            up.term("upstream", 0, u),
            "·",
            jac.term("J", 0, j),
            "≈" if approx else "=",
            down.term("downstream", 0, result),
        ]

    return settled_line(formula, build, terms_of, target=target, sigs=(4, 5, 6))


def custom_lines(view: NodeView) -> tuple[list[ChainLine], str, str]:
    """A user's ``autograd.Function``: its ``backward`` is the formula."""
    info = view.rec.chain.get("custom") or {}
    line, source = _backward_source(view.trace, info)
    where = f", line {line}" if line else ""
    formula = f"custom backward{where}: {info.get('function', view.op)}.backward(ctx, upstream)"
    call = f"{info.get('function', view.op)}.backward(ctx, upstream) = downstream"
    lines = []
    for slot in view.slots():
        down = view.down(slot)
        terms: list[Term | str] = [view.up.term("upstream", 4), "→", down.term("downstream", 4)]
        line_ = ChainLine(call, terms, view.input_label(slot), f"custom backward{where}")
        lines.append(line_)
    return lines, formula, source


def _backward_source(trace: Trace, info: dict[str, Any]) -> tuple[int | None, str]:
    """The ``def backward`` line (``co_firstlineno`` may be its decorator's) and its body,
    when the Function is written in the scenario."""
    first = info.get("line")
    if not isinstance(first, int) or info.get("file") != trace.scenario.path:
        return None, ""
    lines = trace.scenario.source.splitlines()
    start = first
    while start <= len(lines) and "def backward" not in lines[start - 1]:
        start += 1
    if start > len(lines):
        return first, ""
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    body = [lines[start - 1].strip()]
    for text in lines[start:]:
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        if text.strip():
            body.append(text.rstrip()[indent:])
    return start, "\n".join(body)
