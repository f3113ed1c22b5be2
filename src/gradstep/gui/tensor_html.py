"""Tensors as small HTML: a number, a row of numbers, a little matrix, or a summary."""

from __future__ import annotations

from html import escape
from typing import Any

from gradstep.trace.model import is_summary
from gradstep.trace.text import format_number, format_value

MAX_ITEMS = 10  # per row / column before an ellipsis


def tensor_html(value: Any, *, border: str = "#999", empty: str = "None") -> str:
    """Readable at a glance: scalars bold, vectors as one row, matrices as a grid."""
    if value is None:
        return f"<i>{escape(empty)}</i>"
    if is_summary(value):
        return _summary(value, border)
    if not isinstance(value, list):
        return f"<b>{escape(format_number(value))}</b>"
    if not value or not isinstance(value[0], list):
        return _grid([value], border)
    if all(isinstance(row, list) and (not row or not isinstance(row[0], list)) for row in value):
        return _grid(value, border)
    shape = _shape(value)
    return f"<span>{escape(format_value(value, max_items=4))}</span> <small>({'×'.join(map(str, shape))})</small>"


def _grid(rows: list[list[Any]], border: str) -> str:
    shown_rows = rows[:MAX_ITEMS]
    cells = []
    for row in shown_rows:
        tds = [f"<td align='right'>{escape(format_number(x))}</td>" for x in row[:MAX_ITEMS]]
        if len(row) > MAX_ITEMS:
            tds.append(f"<td>… <small>({len(row)})</small></td>")
        cells.append("<tr>" + "".join(tds) + "</tr>")
    if len(rows) > MAX_ITEMS:
        cells.append(
            f"<tr><td colspan='{min(len(rows[0]), MAX_ITEMS)}'>⋮ <small>({len(rows)} rows)</small></td></tr>"
        )
    return (
        f"<table cellspacing='0' cellpadding='3' style='border: 1px solid {border}; "
        f"border-collapse: collapse'>" + "".join(cells) + "</table>"
    )


def _summary(v: dict[str, Any], border: str) -> str:
    shape = "×".join(str(s) for s in v.get("shape", []))
    stats = ", ".join(
        f"{k} {escape(format_number(v[k]))}" for k in ("min", "max", "mean", "norm") if k in v
    )
    flags = [f"{v[k]} {k}" for k in ("nan", "inf") if v.get(k)]
    preview = v.get("preview")
    head = (
        f"<b>tensor {shape}</b> <small>{dtype}</small>"
        if (dtype := v.get("dtype"))
        else f"<b>tensor {shape}</b>"
    )
    text = f"{head}<br><small>{stats}</small>"
    if flags:
        text += f"<br><b style='color:#d6336c'>{', '.join(flags)}</b>"
    if preview is not None:
        text += "<br><small>first values:</small> " + escape(format_value(preview, max_items=6))
    return f"<div style='border: 1px solid {border}; padding: 3px'>{text}</div>"


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def shape_text(shape: list[int]) -> str:
    return "scalar" if not shape else "×".join(str(s) for s in shape)
