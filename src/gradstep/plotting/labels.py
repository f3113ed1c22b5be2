"""Short texts for figures: captions and a chain-rule line that fits under an image."""

from __future__ import annotations

from typing import Any

from gradstep.trace.chainrule import chain_rule_at, compact_lines
from gradstep.trace.chainrule.elementwise import product_line
from gradstep.trace.chainrule.terms import Operand
from gradstep.trace.model import Step, Trace, is_summary
from gradstep.trace.quiz import NONE, Blanks
from gradstep.trace.text import chain_rule_line, step_label

#: a chain-rule line longer than this is shown with shapes instead of numbers
MAX_LINE = 140
#: how a caption's line with the local derivative's formula begins
LOCAL = "Local derivative:"


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


def chain_lines(
    trace: Trace, step: Step, max_chars: int = MAX_LINE, blanks: Blanks = NONE
) -> list[str]:
    """A compute or accumulate step's chain rule for a caption, a legend or a handout: one
    line per equation (``gradstep.trace.chainrule``), each whole when it fits in
    ``max_chars``, else its formula with the operands' shapes; ``blanks``: a quiz's "?"."""
    if step.kind not in ("compute", "accumulate"):
        return []
    try:
        rule = chain_rule_at(trace, step)
    except Exception:  # noqa: BLE001 - a caption falls back to the plain line
        rec = trace.record_for(step)
        return [chain_rule_line(rec)] if rec is not None and not blanks else []
    return compact_lines(blanks.rule(rule), max_chars) if rule is not None else []


def compact_chain_line(trace: Trace, step: Step, max_chars: int = MAX_LINE) -> str:
    """The step's chain rule in one line (its equations joined by ``;``), for a plot's legend."""
    return "; ".join(chain_lines(trace, step, max_chars))


def product_text(incoming: Any, slope: Any, outgoing: Any) -> str:
    """``813.36 × 0.001228 = 0.9988``: a scalar op's chain rule with figures that multiply
    out (or "≈"), for the tangent plot's note."""
    line = product_line(
        Operand(incoming),
        Operand(slope),
        Operand(outgoing),
        factor_label="",
        target="",
        in_shape=None,
    )
    return line.numbers()


def step_caption(trace: Trace, step: Step, blanks: Blanks = NONE) -> list[str]:
    """Caption lines for the graph at ``step``: title, step (numbered from 1, as in the
    window), its chain rule's equations (with a quiz's ``blanks``), the local derivative."""
    title = trace.scenario.title or trace.scenario.path or "gradstep"
    where = f", line {step.line}" if step.line is not None else ""
    lines = [title, f"{step_label(step.index, len(trace.steps))}{where}: {step.text}"]
    lines += chain_lines(trace, step, blanks=blanks)
    rec = trace.record_for(step)
    if rec is not None and rec.formula and step.kind == "compute":
        lines.append(f"{LOCAL} {rec.formula}")
    return lines
