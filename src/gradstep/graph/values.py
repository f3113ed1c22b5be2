"""Each node's value and gradient at a step, for the node itself (micrograd's ``data | grad``).

Slides that must stand alone show on each node what it holds: a leaf its
value and ``.grad``, a named intermediate its value and the gradient it has
received in the pass (or what ``retain_grad()`` kept), an unnamed op the
gradient that reached it. Nothing is shown before it happens: an op that has
not received its gradient yet says ``grad …``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from gradstep.session import Session, StepState
from gradstep.trace.chainrule import show_number, value_label
from gradstep.trace.chainrule.numbers import flatten
from gradstep.trace.model import NodeRecord, is_summary
from gradstep.trace.quiz import HIDDEN

#: the widest value or gradient written in a node (longer: its shape, ``4×3``)
VALUE_CHARS = 14
#: the text a node's values row is measured for (a longer one is elided)
WIDEST = "data -0.5195 | grad -0.7571"


def node_values(session: Session, st: StepState, hidden: Collection[str] = ()) -> dict[str, str]:
    """node id -> ``data 6.7 | grad 6.692`` for every node with something to show at ``st``;
    a node in ``hidden`` shows ``grad ?`` (quiz mode: its new ``.grad`` is to be predicted)."""
    bound: dict[str, Any] = {}
    for state in st.variables.values():
        if state is not None and state.node is not None:
            bound.setdefault(state.node, state)
    records: dict[str, NodeRecord] = {}
    bpass = session.pass_at(st.index)
    if bpass is not None:
        records = {rec.node: rec for rec in bpass.nodes}
    out: dict[str, str] = {}
    for nid, node in session.trace.nodes.items():
        var = bound.get(nid)
        parts = []
        if var is not None:
            parts.append(f"data {_short(var.value)}")
        grad = _grad(node.kind, var, records.get(nid), st.node_status.get(nid))
        grad = HIDDEN if grad and nid in hidden else grad
        if grad:
            parts.append(f"grad {grad}")
        if parts:
            out[nid] = " | ".join(parts)
    return out


def _grad(kind: str, var: Any, rec: NodeRecord | None, status: str | None) -> str:
    if kind == "leaf":
        return _short(var.grad) if var is not None and var.grad is not None else "None"
    if rec is not None and status in ("received", "done"):
        return _short(rec.grad_outputs[0]) if rec.grad_outputs else ""
    if rec is not None and status == "pending":
        return "…"
    if var is not None and var.grad is not None:  # kept by retain_grad()
        return _short(var.grad)
    return ""


def _short(value: Any) -> str:
    return value_label(value, VALUE_CHARS) if value is not None else "None"


#: an edge's label is written whole up to this many characters, else as shape and norm
EDGE_CHARS = 24


def edge_text(value: Any, max_chars: int = EDGE_CHARS) -> str:
    """A gradient on an edge: ``0.9988``, ``[0.24, -0.76]`` whole when short, else its shape
    and norm, ``4×3 ‖0.2135‖`` (the inspector shows every number)."""
    text = value_label(value, max_chars)
    if "×" not in text or text.startswith("["):
        return text
    norm = _norm(value)
    return f"{text} ‖{show_number(norm).text}‖" if norm is not None else text


def _norm(value: Any) -> float | None:
    if is_summary(value):
        norm = value.get("norm")
        return float(norm) if isinstance(norm, (int, float)) else None
    try:
        return math.sqrt(sum(float(v) ** 2 for v in flatten(value)))
    except (TypeError, ValueError):
        return None
