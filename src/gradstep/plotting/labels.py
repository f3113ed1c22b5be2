"""Short texts for figures: captions and a chain-rule line that fits under an image."""

from __future__ import annotations

from typing import Any

from gradstep.trace.model import NodeRecord, Step, Trace, is_summary
from gradstep.trace.text import chain_rule_line, step_label

#: a chain-rule line longer than this is shown with shapes instead of numbers
MAX_LINE = 140


def shape_of(v: Any) -> str:
    if v is None:
        return "None"
    if is_summary(v):
        shape = v.get("shape", [])
    else:
        shape = []
        while isinstance(v, list):
            shape.append(len(v))
            v = v[0] if v else None
    return "scalar" if not shape else "×".join(str(s) for s in shape)


def _shapes(values: list[Any]) -> str:
    shown = [shape_of(v) for v in values if v is not None]
    if not shown:
        return "—"
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def compact_chain_line(rec: NodeRecord, max_chars: int = MAX_LINE) -> str:
    """``chain_rule_line`` when it is short, else the same line with tensor shapes."""
    line = chain_rule_line(rec)
    if len(line) <= max_chars:
        return line
    if rec.op == "AccumulateGrad":
        before = "None" if rec.grad_before is None else f"[{shape_of(rec.grad_before)}]"
        return f".grad: {before} + [{_shapes(rec.grad_outputs)}] = [{shape_of(rec.grad_after)}]"
    up = _shapes(rec.grad_outputs)
    local = _shapes(rec.local_derivatives)
    down = _shapes(rec.grad_inputs)
    return f"upstream [{up}] × local [{local}] = downstream [{down}]"


def step_caption(trace: Trace, step: Step) -> list[str]:
    """Caption lines for the graph at ``step``: title, step (numbered from 1, as in the
    window), chain-rule line."""
    title = trace.scenario.title or trace.scenario.path or "gradstep"
    where = f", line {step.line}" if step.line is not None else ""
    lines = [title, f"{step_label(step.index, len(trace.steps))}{where}: {step.text}"]
    rec = trace.record_for(step)
    if rec is not None and step.kind in ("compute", "accumulate"):
        lines.append(compact_chain_line(rec))
        if rec.formula and step.kind == "compute":
            lines.append(rec.formula)
    return lines
