"""A node's chain rule in the inspector's HTML: the one description of
``gradstep.trace.chainrule``, laid out for a panel.

Each line is its formula (``upstream ⊙ 1 − tanh²x = downstream → h``) over its
numbers, operands side by side under their labels when the panel is wide
enough, one under the other when it is not, so the downstream is never behind
a horizontal scrollbar. Kept apart from the inspector's widget so that other
views (a quiz that hides results) can render a rule their own way.
"""

from __future__ import annotations

from html import escape

from gradstep.gui.theme import Theme
from gradstep.trace.chainrule import ChainRule
from gradstep.trace.chainrule.terms import ChainLine


def rule_html(rule: ChainRule, theme: Theme, max_chars: int | None = None) -> str:
    """The whole rule: local derivative, fan-in, one block per gradient sent back, and a
    custom ``backward``'s code. ``max_chars``: the panel's width in characters (None: any)."""
    out = []
    if rule.formula:
        out.append(
            f"<p style='font-size:large'>Local derivative: <b>{escape(rule.formula)}</b></p>"
        )
    if rule.upstream:
        out.append(
            f"<p style='color:{theme.muted_text}'>Fan-in: its output fed several consumers, "
            "so its upstream is the sum of what each sent back.</p>"
        )
        out += [line_html(line, theme, max_chars) for line in rule.upstream]
    out += [line_html(line, theme, max_chars) for line in rule.lines]
    if rule.source:
        out.append(f"<p><b>The scenario's backward</b></p>{_pre(rule.source.splitlines())}")
    return "".join(out)


def line_html(line: ChainLine, theme: Theme, max_chars: int | None = None) -> str:
    """One equation: its formula in bold, its numbers in a ``<pre>`` block."""
    block = line.block()
    for narrower in (line.split, line.stacked):  # side by side, in two blocks, one by one
        if max_chars is None or max(len(s) for s in block[1:]) <= max_chars:
            break
        block = narrower()
    head, body = block[0], block[1:]
    note = ""
    if body and body[-1].startswith("(") and line.note:
        note = f"<p style='color:{theme.muted_text}'>{escape(body.pop()[1:-1])}</p>"
    approx = ""
    if "≈" in line.terms:
        approx = (
            f"<p style='color:{theme.muted_text}'>≈: the shown figures multiply out only "
            "approximately (the exact values are in the trace).</p>"
        )
    return (
        f"<p style='margin-bottom:0'><b style='font-family:monospace'>{escape(head)}</b></p>"
        f"{_pre(body)}{note}{approx}"
    )


def _pre(lines: list[str]) -> str:
    return "<pre style='margin-top:2px'>" + escape("\n".join(lines)) + "</pre>"
