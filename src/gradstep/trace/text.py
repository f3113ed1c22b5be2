"""Readable text for values, chain-rule lines and the step table (no torch, no Qt).

Steps are numbered from 1 wherever a user reads them (the window, ``gradstep
trace``, figures, handouts, ``gradstep export --step``); a trace's ``index``
fields count from 0. ``step_number`` is the one place that turns one into the other.

The step table goes to a terminal, and much of its text is the scenario's (title,
source, printed output, messages, names): every cell passes through
:func:`~gradstep.trace.clean.visible`, so an escape sequence in it is shown, not obeyed.
"""

from __future__ import annotations

import re
from typing import Any

from gradstep.trace.chainrule import chain_rule_at
from gradstep.trace.clean import visible
from gradstep.trace.model import (
    LoopRounds,
    NodeRecord,
    Step,
    StepFigure,
    Trace,
    VariableState,
    is_summary,
)
from gradstep.trace.shorten import short_expr


def step_number(index: int) -> int:
    """The number a user reads for the step at ``index`` (0-based in the trace): from 1."""
    return index + 1


def step_label(index: int, count: int) -> str:
    """``Step 15 of 35`` for the step at ``index`` of ``count`` steps."""
    return f"Step {step_number(index)} of {count}"


def format_number(x: Any) -> str:
    if isinstance(x, str):  # "NaN", "Infinity", "-Infinity"
        return {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(x, x)
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 1e5 or abs(x) < 1e-4:
            return f"{x:.4e}"
        return f"{x:.4f}".rstrip("0").rstrip(".") if abs(x - round(x)) < 5e-5 else f"{x:.4f}"
    return str(x)


def format_value(v: Any, *, max_items: int = 6) -> str:
    """A tensor's encoded value in one line: 6, [0.6667, 1.3333, 2], [[1, 2], …]."""
    if v is None:
        return "None"
    if is_summary(v):
        shape = "×".join(str(s) for s in v["shape"])
        stats = ""
        if "mean" in v:
            stats = f" mean {format_number(v['mean'])}, |max| {format_number(v.get('absmax', v['max']))}"
        return f"<{shape}{stats}>"
    if isinstance(v, list):
        items = [format_value(x, max_items=max_items) for x in v[:max_items]]
        if len(v) > max_items:
            items.append(f"… ({len(v)})")
        return "[" + ", ".join(items) + "]"
    return format_number(v)


def _join(values: list[Any]) -> str:
    shown = [format_value(v) for v in values if v is not None]
    if not shown:
        return "—"
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def chain_rule_line(rec: NodeRecord) -> str:
    """``upstream × local = downstream`` for an op; ``old + new = new .grad`` for a leaf."""
    if rec.op == "AccumulateGrad":
        before = "None" if rec.grad_before is None else format_value(rec.grad_before)
        incoming = _join(rec.grad_outputs)
        after = format_value(rec.grad_after) if rec.grad_after is not None else "…"
        return f".grad: {before} + {incoming} = {after}"
    up = _join(rec.grad_outputs)
    local = _join(rec.local_derivatives)
    down = _join(rec.grad_inputs) if any(g is not None for g in rec.grad_inputs) else "…"
    return f"{up} × {local} = {down}"


def step_detail(trace: Trace, step: Step) -> str:
    rec = trace.record_for(step)
    if rec is None:
        return ""
    if step.kind == "tensor_hook":
        return ""
    if step.kind == "receive":
        return f"in: {_join(rec.grad_outputs)}"
    return taught_chain_line(trace, step) or chain_rule_line(rec)


def step_what(trace: Trace, step: Step, *, where: bool = True) -> str:
    """The step's text with its op node titled as the graph titles it, after the op: its
    variable (``AddBackward0 (z) computes …``) or an unnamed op's source expression
    (``MulBackward0 (w * x) computes …``), so that two ``MulBackward0`` steps read apart.
    With ``where``, an unnamed node's line too when it was made on another line than the
    step's (``MulBackward0 (w * x, line 3)``)."""
    node = trace.nodes.get(step.node) if step.node is not None else None
    if node is None or node.kind == "leaf" or node.op not in step.text:
        return step.text
    if f"{node.op} (" in step.text:  # already titled by the recorder: "AddBackward0 (z)"
        return step.text
    title = node.name or (short_expr(node.expr) if node.expr else "")
    made = where and not node.name and node.line is not None and node.line != step.line
    said = ", ".join(part for part in (title, f"line {node.line}" if made else "") if part)
    return step.text.replace(node.op, f"{node.op} ({said})", 1) if said else step.text


def taught_chain_line(trace: Trace, step: Step) -> str:
    """A compute or accumulate step's chain rule as a lecturer writes it, formula and
    numbers, its lines joined by ``;`` (see :mod:`gradstep.trace.chainrule`)."""
    try:
        rule = chain_rule_at(trace, step)
    except Exception:  # noqa: BLE001 - a table row falls back to the plain line
        return ""
    return rule.one_line() if rule is not None else ""


#: where a variable's name ends its holder's: ``inputs[0]`` of ``inputs``, ``model.weight``
_HOLDER = re.compile(r"^([^\[.]+)([\[.].*)$")


def _unbound_parts(step: Step) -> dict[str, list[str]]:
    """The names a statement unbound, by the name that held them (``inputs`` for
    ``inputs[0]``; a plain name holds itself)."""
    parts: dict[str, list[str]] = {}
    for name, new in step.variables.items():
        if new is None:
            found = _HOLDER.match(name)
            holder, part = (found.group(1), found.group(2)) if found else (name, "")
            parts.setdefault(holder, []).append(part)
    return parts


def _held(parts: list[str]) -> str:
    """What a name held, by the parts of it that were tensors: ``tensor``, ``(tensor,
    tensor)`` for ``[0]`` and ``[1]``, ``(weight, bias)`` for ``.weight`` and ``.bias``."""
    if parts == [""]:
        return "tensor"
    if all(p.startswith("[") for p in parts):
        return "(" + ", ".join("tensor" for _ in parts) + ")"
    return "(" + ", ".join(p.lstrip(".") for p in parts) + ")"


def _unbound_text(holder: str, parts: list[str], step: Step) -> str:
    """A name that no longer holds what it held, worded as a change of its value, not as
    code the author did not write: ``inputs: (tensor, tensor) → [0.1, 0.2]`` when a
    tuple's name now holds a tensor, ``x: tensor → (tensor, tensor)`` the other way,
    ``inputs: (tensor, tensor) → no tensor`` when it holds none any more (``del x``, or
    ``x = 3``: the trace follows tensors only)."""
    now = step.variables.get(holder) if parts != [""] else None
    if now is not None:
        after = format_value(now.value)
    else:
        new_parts = []
        for name, state in step.variables.items():
            found = _HOLDER.match(name)
            if state is not None and found and found.group(1) == holder:
                new_parts.append(found.group(2))
        after = _held(new_parts) if new_parts else "no tensor"
    return f"{holder}: {_held(parts)} → {after}"


def _changes(step: Step, known: dict[str, VariableState], most: int = 4) -> str:
    """What a statement changed, shortly: ``x = 2.4000, x.grad = 0``; a name rebound
    from a tuple of tensors to a tensor ``inputs: (tensor, tensor) → [1.6, 0.5]``."""
    parts: list[str] = []
    unbound = _unbound_parts(step)
    for name, new in step.variables.items():
        old = known.get(name)
        if new is None:
            found = _HOLDER.match(name)
            holder = found.group(1) if found else name
            if holder in unbound:
                parts.append(_unbound_text(holder, unbound.pop(holder), step))
            continue
        if name in unbound:
            continue  # said with what it held before
        if old is None or new.value != old.value or new.grad == old.grad:
            parts.append(f"{name} = {format_value(new.value)}")
        if old is not None and new.grad != old.grad:
            parts.append(f"{name}.grad = {format_value(new.grad)}")
    if len(parts) > most:
        parts = [*parts[:most], f"… ({len(parts) - most} more)"]
    return ", ".join(parts)


#: The walls named in a run's one-line summary, in this order (``limits["walls"]`` keys).
_WALL_NAMES = {"seccomp": "seccomp", "landlock": "landlock", "netns": "network namespace"}


def walls_summary(walls: dict[str, str]) -> str:
    """The operating-system walls of a run, shortly: ``seccomp, landlock (ABI 7),
    network namespace``; ``none (trusted run)``; what is missing and why after a ``;``.

    ``walls`` is a trace's ``limits["walls"]`` (see docs/trace-format.md).
    """
    known = {key: walls[key] for key in _WALL_NAMES if key in walls}
    if known and all(v.startswith("off") for v in known.values()):
        return "none (trusted run)"
    up, missing = [], []
    for key, value in known.items():
        if value.startswith("up"):
            up.append(f"{_WALL_NAMES[key]} {value[2:].strip()}".strip())
        else:
            missing.append(f"{_WALL_NAMES[key]} {value}")
    reasons = {value for value in known.values() if not value.startswith("up")}
    if not up and len(reasons) == 1:  # another OS: one reason for all
        text = f"none ({reasons.pop()})"
    else:
        text = "; ".join([", ".join(up) or "none", *missing])
    if "python_check" in walls:
        text += f"; Python check {walls['python_check']}"
    return text


def figure_note(figure: StepFigure) -> str:
    """``[figure 1 "Loss": 640×480 PNG, 23 KB]``, or why the figure was not kept."""
    title = f' "{figure.title}"' if figure.title else ""
    if not figure.png:
        return f"[figure {figure.number}{title}: {figure.omitted}]"
    size = len(figure.png) * 3 // 4 // 1000  # base64: four characters per three bytes
    return f"[figure {figure.number}{title}: {figure.width}×{figure.height} PNG, {size} KB]"


def notebook_where(trace: Trace, line: int | None) -> str:
    """A step's line for the table: ``17``, or in a notebook ``4:2`` (cell 4, line 2)."""
    if line is None:
        return ""
    where = trace.scenario.where(line)
    if where.startswith("cell "):
        cell, _, in_cell = where[5:].partition(", line ")
        return f"{cell}:{in_cell}"
    return str(line)


def step_table(trace: Trace) -> str:
    """The whole trace as a table, one line per step."""
    notebook = bool(trace.scenario.notebook_cells)
    rows: list[tuple[str, ...]] = [
        ("step", "cell:line" if notebook else "line", "kind", "what", "values")
    ]
    known: dict[str, VariableState] = {}  # each variable's state so far
    for s in trace.steps:
        detail = step_detail(trace, s)
        if s.kind == "statement":
            detail = _changes(s, known)
            if s.output.strip():  # beside the values it set (a warning of h = hessian(f)(x))
                printed = "→ " + s.output.strip().replace("\n", " | ")
                detail = f"{detail}  {printed}" if detail else printed
        if s.figures:
            detail = " ".join(filter(None, [detail, *map(figure_note, s.figures)]))
        for name, state in s.variables.items():
            if state is None:
                known.pop(name, None)
            else:
                known[name] = state
        at = notebook_where(trace, s.line)
        cells = (str(step_number(s.index)), at, s.kind, step_what(trace, s), detail)
        rows.append(tuple(visible(c, one_line=True) for c in cells))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    title = visible(trace.scenario.title or trace.scenario.path, one_line=True)
    out = [title, "=" * len(title)]
    if "walls" in trace.limits:  # a run in the worker says which walls held it
        out.append("walls: " + visible(walls_summary(trace.limits["walls"]), one_line=True))
    for loop in trace.loops:  # a long loop: which rounds are steps, which are summarised
        where = trace.scenario.where(loop.line)
        out.append(f"loop at {where} ({visible(loop.text, one_line=True)}): {loop.detail_text()}")
    out += ["note: " + visible(note, one_line=True) for note in run_notes(trace)]
    out += [ln.rstrip() for ln in lines]
    if trace.error:
        out.append("")
        out.append(error_line(trace))
    return "\n".join(out) + "\n"


def loop_sentence(trace: Trace, loop: LoopRounds, *, markdown: bool = False) -> str:
    """Which rounds of a long loop are steps: ``The loop `for t in range(2000):` (line 30):
    rounds 1–20, 100, 200 … 2,000 in full detail; 1,960 summarised.`` (the code in
    backticks for ``markdown``), as the notes panel, the handout and the message bar say it."""
    code = f"`{loop.text}`" if markdown else loop.text
    return f"The loop {code} ({trace.scenario.where(loop.line)}): {loop.detail_text()}."


def run_notes(trace: Trace) -> list[str]:
    """What the run did that no step shows (a scratch file written, test functions run):
    the trace's ``stats["notes"]``, each a sentence; the window, the handout and
    ``gradstep trace`` all say them."""
    return [str(note) for note in trace.stats.get("notes", []) if str(note).strip()]


def error_line(trace: Trace, where: str = "") -> str:
    """``[where, ]error at line N: Type: message`` with the scenario's text made visible
    (the message keeps its newlines; nothing in it acts on a terminal)."""
    e = trace.error
    if e is None:
        return ""
    # a crash or a hard limit may have none; a notebook's says "cell 4, line 2"
    line = trace.scenario.where(e.line) if e.line else ""
    if where:
        prefix = visible(where, one_line=True) + (f", {line}" if line else "")
    else:
        prefix = f"error at {line}" if line else "error"
    return f"{prefix}: {visible(e.type, one_line=True)}: {visible(e.message)}"
