"""Tensors in the panels' HTML: text blocks (``gradstep.trace.blocks``) inline or in ``<pre>``.

Blocks of lines rather than HTML tables: a text browser lays out a ``<pre>``
in well under a millisecond, where a few tables cost tens of milliseconds,
which would blow a step's frame budget on its own.
"""

from __future__ import annotations

from html import escape
from typing import Any

from gradstep.trace.blocks import tensor_lines


def pre(lines: list[str]) -> str:
    return "<pre>" + escape("\n".join(lines)) + "</pre>"


def tensor_html(value: Any, *, empty: str = "None") -> str:
    """A value for an HTML panel: inline when it fits on one line, else a ``<pre>`` block."""
    lines = tensor_lines(value, empty)
    if len(lines) == 1:
        return f"<code><b>{escape(lines[0])}</b></code>"
    return pre(lines)
