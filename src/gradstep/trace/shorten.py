"""An unnamed op's source expression, short enough to title its node (no torch, no Qt).

The graph writes it over the op (``w * x`` / ``MulBackward0``) and the step texts
of the timeline, the status bar and ``gradstep trace`` after it
(``MulBackward0 (w * x) computes…``): one function, so they read the same.
"""

from __future__ import annotations

import ast
import copy
import re

#: an unnamed op's expression is shortened to this many characters in its node
EXPR_CHARS = 30


def short_expr(expr: str, max_chars: int = EXPR_CHARS) -> str:
    """``expr`` when short, else with its deepest parts written "…":
    ``target * torch.log(prediction) + (1 - target) * torch.log(1 - prediction)`` ->
    ``target * … + … * …``."""
    if len(expr) <= max_chars:
        return expr
    expr = re.sub(r"\b(torch\.nn\.functional|torch|F)\.", "", expr)  # log(p), not torch.log(p)
    if len(expr) <= max_chars:
        return expr
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return expr[: max_chars - 1] + "…"
    best = "…"
    for depth in range(1, 8):
        text = ast.unparse(_cut_below(tree.body, depth))
        if len(text) > max_chars:
            break
        best = text
    return best if best != "…" else expr[: max_chars - 1] + "…"


def _cut_below(node: ast.expr, depth: int) -> ast.expr:
    """A copy of ``node`` with operations more than ``depth`` levels down written "…"
    (names, numbers and attributes stay: they are short)."""
    if isinstance(node, (ast.Name, ast.Constant, ast.Attribute)):
        return node
    if depth <= 0:
        return ast.Name(id="…")
    node = copy.copy(node)
    for field_name, value in ast.iter_fields(node):
        if isinstance(value, ast.expr) and field_name != "func":
            setattr(node, field_name, _cut_below(value, depth - 1))
        elif isinstance(value, list):
            setattr(
                node,
                field_name,
                [_cut_below(v, depth - 1) if isinstance(v, ast.expr) else v for v in value],
            )
    return node
