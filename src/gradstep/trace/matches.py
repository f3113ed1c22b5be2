"""Hand-computed vs autograd: a scenario's own derivatives checked against the engine's.

Lessons compute gradients by hand (``dL_dw = dloss_dy_pred * dy_pred_dz * dz_dw``)
and compare them with what ``backward()`` gave. Here the trace does the
comparison for the student.

The rule. A *hand-computed derivative* is a top-level tensor variable (its value
when the run ended) whose name reads as one:

- ``dA_dB`` (``dL_dw``, ``dloss_dy_pred``, ``dy_pred_dz``): ∂A/∂B;
- ``dB`` (``dw``, ``db``), ``grad_B``, ``B_grad`` (and ``manual_``/``hand_``/``my_``
  around them): the gradient of a backward pass's root with respect to B;

and that is not read from the engine (its line has no ``.grad`` and no
``autograd.grad``). What the engine computed, per backward pass: ∂root/∂T for
each named tensor T the gradient reached (a leaf's incoming gradient, a named
intermediate's, a retained one) and each named node's local derivative
∂A/∂B with respect to a named input. Names alone would let a coincidence pass (a
detached prediction ``p`` equals ∂loss/∂b when the label is 0), so only named
derivatives are checked.

A derivative *matches* when some engine value of the same shape equals it
within ``rtol=1e-4, atol=1e-6`` (the one its name means is preferred). When
none does and the engine has a value its name means, of the same shape, the
report gives both and the largest difference: an attempt, but wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradstep.trace.chainrule.terms import to_array
from gradstep.trace.model import Trace, is_summary

RTOL = 1e-4
ATOL = 1e-6
_READS_ENGINE = re.compile(r"\.grad\b|autograd\.grad|\.backward\(")
_DECOR = re.compile(r"^(manual|hand|by_hand|my|expected|computed)_|_(manual|hand|by_hand)$")


@dataclass(frozen=True)
class EngineValue:
    """A derivative the engine computed in one pass."""

    of: str  # the numerator: the pass's root name, or a node's name for a local derivative
    wrt: str  # the tensor it is taken with respect to
    pass_number: int  # from 1, as the app counts
    value: Any  # encoded tensor
    local: bool  # a node's local derivative (not a gradient of the root)

    def label(self) -> str:
        what = f"∂{self.of}/∂{self.wrt}"
        if self.local:
            return f"{what}, the local derivative in pass {self.pass_number}"
        return f"{what} from pass {self.pass_number}"


@dataclass(frozen=True)
class Match:
    """One hand-computed derivative and what the engine says."""

    name: str
    line: int | None  # where the variable was last bound
    engine: EngineValue
    ok: bool
    difference: float  # the largest absolute difference (0 when it matches exactly)
    hand: Any  # the variable's encoded value

    def text(self) -> str:
        if self.ok:
            return f"{self.name} = {self.engine.label()} ✓"
        return (
            f"{self.name} ≠ {self.engine.label()}: {_short(self.hand)} by hand, "
            f"{_short(self.engine.value)} by autograd (differs by {self.difference:.4g})"
        )


def find_matches(trace: Trace) -> list[Match]:
    """Every hand-computed derivative of ``trace`` with its verdict, in the order bound."""
    engine = engine_values(trace)
    if not engine:
        return []
    roots = {e.of for e in engine if not e.local}
    lines = _binding_lines(trace)
    source = trace.scenario.source.split("\n")
    out: list[Match] = []
    for name, line in sorted(lines.items(), key=lambda kv: (kv[1] or 0, kv[0])):
        state = trace.variables.get(name)
        if state is None or state.value is None or is_summary(state.value):
            continue
        meaning = _meaning(name, roots, {e.wrt for e in engine})
        if meaning is None:
            continue
        if line is not None and 0 < line <= len(source) and _READS_ENGINE.search(source[line - 1]):
            continue
        hand = _array(state.value)
        if hand is None:
            continue
        match = _verdict(name, line, state.value, hand, meaning, engine)
        if match is not None:
            out.append(match)
    return out


def engine_values(trace: Trace) -> list[EngineValue]:
    """The derivatives each pass computed for named tensors (see the module's rule)."""
    out: list[EngineValue] = []
    for p in trace.passes:
        root = p.root_name or (
            trace.nodes[p.roots[0]].name if p.roots and p.roots[0] in trace.nodes else None
        )
        number = p.index + 1
        seen: set[str] = set()
        for r in p.nodes:
            name = r.name or (trace.nodes[r.node].name if r.node in trace.nodes else None)
            if root and name and name != root and name not in seen and r.grad_outputs:
                incoming = r.grad_outputs[0]
                if incoming is not None:
                    seen.add(name)
                    out.append(EngineValue(root, name, number, incoming, False))
            node = trace.nodes.get(r.node)
            if name and node is not None and r.op != "AccumulateGrad":
                for slot, local in enumerate(r.local_derivatives):
                    wrt = (
                        _input_name(trace, node.inputs[slot][0])
                        if slot < len(node.inputs)
                        else None
                    )
                    if local is not None and wrt:
                        out.append(EngineValue(name, wrt, number, local, True))
        for name, grad in p.retained.items():
            if root and grad is not None and name not in seen:
                seen.add(name)
                out.append(EngineValue(root, name, number, grad, False))
    return out


def _input_name(trace: Trace, node_id: str | None) -> str | None:
    node = trace.nodes.get(node_id) if node_id else None
    return node.name if node is not None else None


def _binding_lines(trace: Trace) -> dict[str, int | None]:
    """Each variable's line where a statement last bound it."""
    lines: dict[str, int | None] = {}
    for step in trace.steps:
        if step.kind == "statement":
            for name, state in step.variables.items():
                if state is not None:
                    lines[name] = step.line
    return lines


def _meaning(name: str, roots: set[str], known: set[str]) -> tuple[str | None, str] | None:
    """(numerator or None for "the root", denominator) that ``name`` reads as, if any."""
    bare = _DECOR.sub("", name)
    for i in range(1, len(bare) - 1):
        if bare[i : i + 2] == "_d" and bare.startswith("d") and i > 1:
            num, den = bare[1:i].strip("_"), bare[i + 2 :].strip("_")
            if den in known and num:
                return (None if num in roots or num in ("L", "l", "J", "E") else num), den
    for pattern in (r"^grad_(.+)$", r"^(.+)_grad$", r"^d_?(.+)$"):
        m = re.match(pattern, bare)
        if m and m.group(1) in known:
            return None, m.group(1)
    return None


def _verdict(
    name: str,
    line: int | None,
    raw: Any,
    hand: np.ndarray,
    meaning: tuple[str | None, str],
    engine: list[EngineValue],
) -> Match | None:
    num, den = meaning

    def meant(e: EngineValue) -> bool:
        return (
            e.wrt == den
            and (e.local if num is not None else not e.local)
            and (num is None or e.of == num)
        )

    same_shape = [
        (e, a) for e in engine if (a := _array(e.value)) is not None and a.shape == hand.shape
    ]
    ordered = sorted(same_shape, key=lambda ea: not meant(ea[0]))  # the meant one first
    for e, a in ordered:
        if np.allclose(hand, a, rtol=RTOL, atol=ATOL, equal_nan=False):
            return Match(name, line, e, True, _difference(hand, a), raw)
    for e, a in ordered:
        if meant(e):
            return Match(name, line, e, False, _difference(hand, a), raw)
    return None


def _array(value: Any) -> np.ndarray | None:
    if value is None or is_summary(value):
        return None
    try:
        return to_array(value)
    except (TypeError, ValueError):
        return None


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    d = np.abs(a - b)
    return float(d.max()) if d.size else 0.0


def _short(value: Any) -> str:
    a = _array(value)
    if a is None:
        return "?"
    if a.size == 1:
        v = float(a.reshape(()))
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    flat = ", ".join(f"{float(x):.4g}" for x in a.reshape(-1)[:4])
    return f"[{flat}{', …' if a.size > 4 else ''}]"


def matches_text(trace: Trace) -> str:
    """The report ``gradstep trace`` prints under its table ("" when there is none)."""
    found = find_matches(trace)
    if not found:
        return ""
    rows = [f"  line {m.line}: {m.text()}" if m.line else f"  {m.text()}" for m in found]
    return "\nhand-computed vs autograd:\n" + "\n".join(rows) + "\n"
