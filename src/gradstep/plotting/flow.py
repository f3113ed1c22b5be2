"""Gradients across parameters and across passes; where NaN or Inf first appears.

A parameter is a leaf that received a gradient (an ``AccumulateGrad``
record). Its statistics come from the gradient it *received* in a pass, which
is what tells a vanishing or exploding gradient, not from the accumulated
``.grad``, which also holds earlier passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gradstep.plotting.values import abs_stats, has_nonfinite, norm, scalar
from gradstep.trace.model import BackwardPass, Trace

#: mean |grad| below this, relative to the largest parameter's, reads as vanishing
VANISHING_RATIO = 1e-3
#: max |grad| above this reads as exploding
EXPLODING = 1e3


@dataclass
class ParamFlow:
    """One parameter's gradient magnitudes in one pass."""

    node: str
    name: str
    mean_abs: float  # NaN when the gradient held no finite element
    max_abs: float
    nonfinite: bool = False


@dataclass
class GradientFlow:
    pass_index: int
    params: list[ParamFlow]
    verdict: str = ""  # one sentence for the chart's title; empty when nothing stands out

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]


def _leaf_name(trace: Trace, node_id: str, fallback: str | None) -> str:
    node = trace.nodes.get(node_id)
    return (node.name if node is not None and node.name else None) or fallback or node_id


def _incoming(rec: Any) -> Any:
    return rec.grad_outputs[0] if rec.grad_outputs else None


def _forward_order(trace: Trace, node_ids: list[str]) -> list[str]:
    """Parameters in the order the scenario bound them (first layer first), then by node."""
    bound: dict[str, tuple[int, int]] = {}
    for step in trace.steps:
        for pos, state in enumerate(step.variables.values()):
            if state is not None and state.node is not None and state.node not in bound:
                bound[state.node] = (step.index, pos)

    def key(nid: str) -> tuple[int, int, int, str]:
        node = trace.nodes.get(nid)
        first = bound.get(nid, (node.step if node else 0, 1 << 30))
        digits = "".join(c for c in nid if c.isdigit())
        return (*first, int(digits) if digits else 0, nid)

    return sorted(node_ids, key=key)


def gradient_flow(trace: Trace, pass_index: int | None = None) -> GradientFlow | None:
    """Mean and max |grad| per parameter in one pass (the last one by default)."""
    if not trace.passes:
        return None
    bpass: BackwardPass = trace.passes[-1 if pass_index is None else pass_index]
    leaves = {r.node: r for r in bpass.nodes if r.op == "AccumulateGrad"}
    params: list[ParamFlow] = []
    for nid in _forward_order(trace, list(leaves)):
        rec = leaves[nid]
        g = _incoming(rec)
        stats = abs_stats(g)
        mean_abs, max_abs = stats if stats is not None else (math.nan, math.nan)
        params.append(
            ParamFlow(nid, _leaf_name(trace, nid, rec.name), mean_abs, max_abs, has_nonfinite(g))
        )
    flow = GradientFlow(bpass.index, params)
    flow.verdict = _verdict(params)
    return flow


def _verdict(params: list[ParamFlow]) -> str:
    bad = [p.name for p in params if p.nonfinite]
    if bad:
        return f"NaN/Inf gradient in {', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}"
    finite = [p for p in params if math.isfinite(p.mean_abs)]
    if len(finite) < 2:
        return ""
    top = max(p.mean_abs for p in finite)
    big = [p.name for p in finite if p.max_abs > EXPLODING]
    if big:
        return f"exploding: max |grad| > {EXPLODING:g} in {', '.join(big[:3])}"
    if top > 0:
        small = [p for p in finite if p.mean_abs < VANISHING_RATIO * top]
        if small:
            worst = min(small, key=lambda p: p.mean_abs)
            ratio = top / worst.mean_abs if worst.mean_abs > 0 else math.inf
            how = "≥ 1e300" if not math.isfinite(ratio) else f"{ratio:.0e}"
            return f"vanishing: {worst.name} gets {how}× less gradient than the largest"
    return ""


@dataclass
class RoundLoss:
    """A long loop's loss over every round (see ``LoopRounds``): the summarised rounds'
    rows and the detailed rounds' passes, in round order."""

    line: int
    text: str  # the loop's header
    name: str  # what the loss is called
    detail: str  # which rounds are in full detail and how many summarised
    rounds: list[int] = field(default_factory=list)  # ascending
    loss: list[float] = field(default_factory=list)  # NaN where unknown
    detailed: list[bool] = field(default_factory=list)  # the round was recorded in full
    pass_round: dict[int, int] = field(default_factory=dict)  # pass index -> its round


@dataclass
class PassSeries:
    """Per backward pass: each leaf's gradient and the loss (the pass's root value)."""

    passes: list[int] = field(default_factory=list)  # pass indices (0-based)
    loss_name: str | None = None
    loss: list[float] = field(default_factory=list)  # NaN where unknown
    # leaf name -> .grad after each pass (a scalar's value, a tensor's norm), NaN where absent
    grad: dict[str, list[float]] = field(default_factory=dict)
    # leaf name -> the gradient received in each pass (same reduction)
    incoming: dict[str, list[float]] = field(default_factory=dict)
    reduction: dict[str, str] = field(default_factory=dict)  # leaf name -> "value" or "norm"
    #: the loss over every round of a long loop whose later rounds were summarised
    over_rounds: RoundLoss | None = None

    @property
    def has_loss(self) -> bool:
        return any(math.isfinite(v) for v in self.loss)


def _reduce(v: Any) -> tuple[float, str]:
    s = scalar(v)
    if s is not None:
        return s, "value"
    n = norm(v)
    return (n if n is not None else math.nan), "norm"


def _root_value(trace: Trace, bpass: BackwardPass) -> float:
    """The loss: the value of the variable the pass started from, at the end of the pass."""
    name = bpass.root_name
    if not name:
        return math.nan
    for step in reversed(trace.steps[: bpass.last_step + 1]):
        state = step.variables.get(name, ...)
        if state is ...:
            continue
        if state is None:
            return math.nan
        v = scalar(state.value)
        return v if v is not None else math.nan
    return math.nan


def pass_series(trace: Trace) -> PassSeries:
    """What changes from pass to pass in a training loop or a gradient accumulation."""
    series = PassSeries()
    names = [p.root_name for p in trace.passes if p.root_name]
    series.loss_name = max(set(names), key=names.count) if names else None
    count = len(trace.passes)
    leaves = {r.node for p in trace.passes for r in p.nodes if r.op == "AccumulateGrad"}
    for nid in _forward_order(trace, list(leaves)):  # legend order: first layer first
        name = _leaf_name(trace, nid, None)
        series.grad[name] = [math.nan] * count
        series.incoming[name] = [math.nan] * count
    for k, bpass in enumerate(trace.passes):
        series.passes.append(bpass.index)
        series.loss.append(_root_value(trace, bpass))
        for rec in bpass.nodes:
            if rec.op != "AccumulateGrad":
                continue
            name = _leaf_name(trace, rec.node, rec.name)
            if name not in series.grad:
                series.grad[name] = [math.nan] * count
                series.incoming[name] = [math.nan] * count
            after, how = _reduce(rec.grad_after)
            series.grad[name][k] = after
            series.incoming[name][k] = _reduce(_incoming(rec))[0]
            series.reduction[name] = how
    series.over_rounds = round_loss(trace, series)
    return series


def round_loss(trace: Trace, series: PassSeries) -> RoundLoss | None:
    """The loss of every round of the longest summarised loop that follows it: a row of
    the summary for each summarised round (as many as the trace keeps), the loss of the
    round's last pass for each detailed round."""
    name = series.loss_name
    loops = [lp for lp in trace.loops if name and name in lp.names and lp.passes]
    if not loops or name is None:
        return None
    loop = max(loops, key=lambda lp: lp.summarised_count)
    column = loop.names.index(name)
    by_round: dict[int, tuple[float, bool]] = {}
    for r, row in zip(loop.summarised, loop.values):
        v = scalar(row[column]) if column < len(row) else None
        by_round[r] = (v if v is not None else math.nan, False)
    pass_round: dict[int, int] = {}
    for p, r in loop.passes:  # several passes in a round: the last one's loss
        pass_round[p] = r
        if 0 <= p < len(series.loss):
            by_round[r] = (series.loss[p], True)
    detail = loop.detail_text().split(" (")[0]  # without the names each row holds
    out = RoundLoss(loop.line, loop.text, name, detail, pass_round=pass_round)
    for r in sorted(by_round):
        v, full = by_round[r]
        out.rounds.append(r)
        out.loss.append(v)
        out.detailed.append(full)
    return out


def first_nonfinite(trace: Trace) -> dict[str, int]:
    """Nodes where a NaN or Inf gradient first appears, with the step it appears at.

    A node is an origin when what it sends on is non-finite although what it
    received was finite (``0 × inf``, ``log 0``, ``sqrt`` at 0 …), or when
    it is where the pass starts and the seed gradient itself is non-finite.
    Nodes that merely pass a NaN along are not marked. Each node keeps the
    earliest step over all passes; the result is ordered by step.
    """
    found: dict[str, int] = {}
    for bpass in trace.passes:
        roots = set(bpass.roots)
        for rec in bpass.nodes:
            bad_in = any(has_nonfinite(g) for g in rec.grad_outputs)
            if rec.op == "AccumulateGrad":
                # a leaf only sums; it is the origin only where its own sum overflows
                bad_out = has_nonfinite(rec.grad_after) and not bad_in
                bad_out = bad_out and not has_nonfinite(rec.grad_before)
            else:
                bad_out = any(has_nonfinite(g) for g in rec.grad_inputs)
            step: int | None = None
            if bad_out and not bad_in:
                step = rec.compute_step
            elif bad_in and rec.node in roots:
                step = rec.receive_step
            if step is not None and rec.node not in found:
                found[rec.node] = step
    return dict(sorted(found.items(), key=lambda kv: kv[1]))
