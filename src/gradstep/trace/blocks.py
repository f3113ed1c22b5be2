"""Tensors as aligned monospace text: a number, a row, a bracketed matrix, or a summary.

Lines of equal width that panels, figures and handouts set side by side under
headers (``upstream × local = downstream``); the GUI wraps them in ``<pre>``.
"""

from __future__ import annotations

from typing import Any

from gradstep.trace.model import is_summary
from gradstep.trace.text import format_number, format_value

MAX_ITEMS = 8  # per row / column before an ellipsis


def tensor_lines(value: Any, empty: str = "None") -> list[str]:
    """The value as lines of equal width."""
    if value is None:
        return [empty]
    if is_summary(value):
        return _summary(value)
    if not isinstance(value, list):
        return [format_number(value)]
    if not value or not isinstance(value[0], list):
        return _matrix([value], vector=True)
    if all(isinstance(row, list) and (not row or not isinstance(row[0], list)) for row in value):
        return _matrix(value, vector=False)
    return [f"{format_value(value, max_items=4)}  ({'×'.join(map(str, shape_of(value)))})"]


def _matrix(rows: list[list[Any]], *, vector: bool) -> list[str]:
    shown = rows[:MAX_ITEMS]
    cols = max((len(r) for r in shown), default=0)
    cut_cols = cols > MAX_ITEMS
    texts = [[format_number(x) for x in r[:MAX_ITEMS]] + (["…"] if cut_cols else []) for r in shown]
    if len(rows) > MAX_ITEMS:
        texts.append(["⋮"] + [""] * (len(texts[0]) - 1))
    width = (
        [max(len(r[c]) for r in texts if c < len(r)) for c in range(len(texts[0]))] if texts else []
    )
    body = ["  ".join(cell.rjust(width[c]) for c, cell in enumerate(r)) for r in texts]
    if vector or len(body) == 1:
        return [f"[{body[0] if body else ''}]"]
    n = len(body)
    left = ["⎡"] + ["⎢"] * (n - 2) + ["⎣"]
    right = ["⎤"] + ["⎥"] * (n - 2) + ["⎦"]
    size = max(len(b) for b in body)
    return [f"{left[i]} {b.ljust(size)} {right[i]}" for i, b in enumerate(body)]


def _summary(v: dict[str, Any]) -> list[str]:
    shape = "×".join(str(s) for s in v.get("shape", []))
    lines = [f"tensor {shape} {v.get('dtype', '')}".rstrip()]
    stats = [f"{k} {format_number(v[k])}" for k in ("min", "max", "mean", "norm") if k in v]
    if stats:
        lines.append(", ".join(stats))
    flags = [f"{v[k]} {k}" for k in ("nan", "inf") if v.get(k)]
    if flags:
        lines.append("contains " + ", ".join(flags))
    if v.get("preview") is not None:
        lines.append("first: " + format_value(v["preview"], max_items=6))
    return lines


def side_by_side(blocks: list[list[str]], gap: str = " ") -> list[str]:
    """Blocks next to each other, each centred vertically on the tallest."""
    height = max(len(b) for b in blocks)
    widths = [max((len(line) for line in b), default=0) for b in blocks]
    out = []
    for row in range(height):
        parts = []
        for block, width in zip(blocks, widths):
            top = (height - len(block)) // 2
            line = block[row - top] if 0 <= row - top < len(block) else ""
            parts.append(line.ljust(width))
        out.append(gap.join(parts).rstrip())
    return out


def columns(headers: list[str], blocks: list[list[str]], gap: str = "   ") -> list[str]:
    """``side_by_side`` with a header over each block (blank headers for operators)."""
    widths = [max(len(h), *(len(line) for line in b)) for h, b in zip(headers, blocks)]
    padded = [[line.ljust(w) for line in b] for b, w in zip(blocks, widths)]
    head = gap.join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()
    return [head, *side_by_side(padded, gap)]


def shape_of(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def shape_text(shape: list[int]) -> str:
    return "scalar" if not shape else "×".join(str(s) for s in shape)
