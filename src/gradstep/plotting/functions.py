"""Elementwise ops as functions of their one input: the "derivative = slope" picture.

For an op like ``sin``, ``pow`` or ``sigmoid`` the trace holds what autograd
saved (the input ``self``, or the ``result`` from which the input is
recovered by inverting the function) and the recorded local derivative. The
function is sampled around the input, and the tangent drawn there has the
*recorded* local derivative as its slope: if the tangent touches the curve,
the recorder and the textbook agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from gradstep.plotting.values import to_array
from gradstep.trace.model import NodeRecord, Trace

Fn = Callable[[np.ndarray], np.ndarray]
Saved = dict[str, Any]

#: elementwise ops on at most this many elements get one tangent per element
MAX_POINTS = 16
SAMPLES = 401

_erf = np.vectorize(math.erf, otypes=[float])


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, 1.0 / (1.0 + np.exp(-x)))


def _gelu(s: Saved) -> Fn:
    if s.get("approximate") == "tanh":
        k = math.sqrt(2.0 / math.pi)
        return lambda x: 0.5 * x * (1.0 + np.tanh(k * (x + 0.044715 * x**3)))
    return lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _softplus(s: Saved) -> Fn:
    beta = _num(s.get("beta")) or 1.0
    threshold = _num(s.get("threshold")) or 20.0
    return lambda x: np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _leaky_relu(s: Saved) -> Fn:
    a = _num(s.get("negative_slope"))
    a = 0.01 if a is None else a
    return lambda x: np.where(x > 0, x, a * x)


def _elu(s: Saved) -> Fn:
    alpha = _num(s.get("alpha"))
    alpha = 1.0 if alpha is None else alpha
    scale = _num(s.get("scale")) or 1.0
    in_scale = _num(s.get("input_scale")) or 1.0
    return lambda x: scale * np.where(x > 0, x, alpha * (np.exp(x * in_scale) - 1.0))


@dataclass(frozen=True)
class UnaryOp:
    """How to draw one op: its function, where its input comes from, its domain."""

    label: str  # the function as a lecture writes it, in x
    make: Callable[[Saved], Fn | None]  # the function, given the node's saved values
    key: str = "self"  # the saved value that is the input ("self") or the output ("result")
    inverse: Callable[[np.ndarray], np.ndarray] | None = None  # result -> input
    positive: bool = False  # defined for x > 0 only
    span: float = 2.0  # least half-width of the view around the input
    centred: bool = False  # always show [-span, span]: where an S-curve bends
    pole: bool = False  # it shoots off at 0 (ln, √, 1/x): near 0 the view scales with |x₀|


def _fixed(fn: Fn) -> Callable[[Saved], Fn]:
    return lambda saved: fn


def _pow(saved: Saved) -> Fn | None:
    n = _num(saved.get("exponent"))
    if n is None:
        return None
    return lambda x: np.power(x, n)


def _rpow(saved: Saved) -> Fn | None:  # c ** x: the tensor is the exponent
    c = _num(saved.get("self"))
    if c is None:
        return None
    return lambda x: np.power(c, x)


def _scaled(saved: Saved, key: str, divide: bool) -> Fn | None:
    c = _num(saved.get(key))
    if c is None:
        return None
    return (lambda x: x / c) if divide else (lambda x: x * c)


OPS: dict[str, UnaryOp] = {
    "PowBackward0": UnaryOp("xⁿ", _pow),
    "PowBackward2": UnaryOp("cˣ", _rpow, key="exponent"),
    "SinBackward0": UnaryOp("sin x", _fixed(np.sin)),
    "CosBackward0": UnaryOp("cos x", _fixed(np.cos)),
    "AtanBackward0": UnaryOp("atan x", _fixed(np.arctan)),
    "SinhBackward0": UnaryOp("sinh x", _fixed(np.sinh)),
    "CoshBackward0": UnaryOp("cosh x", _fixed(np.cosh)),
    "TanhBackward0": UnaryOp(
        "tanh x", _fixed(np.tanh), key="result", inverse=np.arctanh, span=3.0, centred=True
    ),
    "SigmoidBackward0": UnaryOp(
        "σ(x)",
        _fixed(_sigmoid),
        key="result",
        inverse=lambda y: np.log(y / (1.0 - y)),
        span=5.0,
        centred=True,
    ),
    "ExpBackward0": UnaryOp("eˣ", _fixed(np.exp), key="result", inverse=np.log),
    "Exp2Backward0": UnaryOp("2ˣ", _fixed(np.exp2), key="result", inverse=np.log2),
    "Expm1Backward0": UnaryOp("eˣ − 1", _fixed(np.expm1), key="result", inverse=np.log1p),
    "LogBackward0": UnaryOp("ln x", _fixed(np.log), positive=True, pole=True),
    "Log2Backward0": UnaryOp("log₂ x", _fixed(np.log2), positive=True, pole=True),
    "Log10Backward0": UnaryOp("log₁₀ x", _fixed(np.log10), positive=True, pole=True),
    "Log1PBackward0": UnaryOp("ln(1 + x)", _fixed(np.log1p)),
    "SqrtBackward0": UnaryOp(
        "√x", _fixed(np.sqrt), key="result", inverse=np.square, positive=True, pole=True
    ),
    "RsqrtBackward0": UnaryOp(
        "1/√x",
        _fixed(lambda x: 1.0 / np.sqrt(x)),
        key="result",
        inverse=lambda y: 1.0 / y**2,
        positive=True,
        pole=True,
    ),
    "ReciprocalBackward0": UnaryOp(
        "1/x", _fixed(lambda x: 1.0 / x), key="result", inverse=lambda y: 1.0 / y, pole=True
    ),
    "ReluBackward0": UnaryOp(
        "relu x",
        _fixed(lambda x: np.maximum(x, 0.0)),
        key="result",
        inverse=lambda y: np.where(y > 0, y, np.nan),  # a zero output hides its input
    ),
    "LeakyReluBackward0": UnaryOp("leaky_relu x", _leaky_relu),
    "EluBackward0": UnaryOp("elu x", _elu),
    "GeluBackward0": UnaryOp("gelu x", _gelu),
    "SiluBackward0": UnaryOp("x·σ(x)", _fixed(lambda x: x * _sigmoid(x))),
    "SoftplusBackward0": UnaryOp("softplus x", _softplus),
    "ErfBackward0": UnaryOp("erf x", _fixed(_erf)),
    "AbsBackward0": UnaryOp("|x|", _fixed(np.abs)),
    "NegBackward0": UnaryOp("−x", _fixed(np.negative)),
    "MulBackward0": UnaryOp("c·x", lambda s: _scaled(s, "other", divide=False)),
    "DivBackward0": UnaryOp("x / c", lambda s: _scaled(s, "other", divide=True)),
}


@dataclass
class TangentPlot:
    """A function around its input point(s) and the tangent there."""

    op: str
    label: str  # "y = sin x"
    x0: np.ndarray  # input value(s), flat
    y0: np.ndarray  # f(x0)
    slope: np.ndarray  # the recorded local derivative at each x0
    xs: np.ndarray  # sample points of the curve
    ys: np.ndarray  # f(xs), NaN outside the domain
    incoming: np.ndarray | None = None  # upstream gradient at each point
    outgoing: np.ndarray | None = None  # downstream gradient at each point
    y_range: tuple[float, float] = (0.0, 1.0)  # a view that keeps the points readable
    notes: list[str] = field(default_factory=list)

    @property
    def is_scalar(self) -> bool:
        return self.x0.size == 1

    def tangent(self, i: int = 0, half_width: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Two end points of the tangent at point ``i``: y = f(x0) + slope·(x − x0)."""
        w = half_width if half_width is not None else 0.3 * (self.xs[-1] - self.xs[0])
        if self.x0.size > 1:
            w /= 2
        x = np.array([self.x0[i] - w, self.x0[i] + w])
        return x, self.y0[i] + self.slope[i] * (x - self.x0[i])


def _input_slot(trace: Trace, record: NodeRecord) -> int | None:
    node = trace.nodes.get(record.node)
    if node is None:
        return None
    slots = [i for i, (src, _) in enumerate(node.inputs) if src is not None]
    if len(slots) != 1:
        return None
    return slots[0]


def _input_from_variables(trace: Trace, record: NodeRecord, slot: int) -> np.ndarray | None:
    """The input's value from a scenario variable bound to its producer, if there is one."""
    producer = trace.nodes[record.node].inputs[slot][0]
    last = record.compute_step if record.compute_step is not None else len(trace.steps) - 1
    for step in reversed(trace.steps[: last + 1]):
        for state in step.variables.values():
            if state is not None and state.node == producer:
                a = to_array(state.value)
                return None if a is None or a.partial else a.data.reshape(-1)
    return None


def _slopes(record: NodeRecord, slot: int, n: int) -> np.ndarray | None:
    if slot >= len(record.local_derivatives):
        return None
    a = to_array(record.local_derivatives[slot])
    if a is None or a.partial:
        return None
    kind = (
        record.local_derivative_kinds[slot] if slot < len(record.local_derivative_kinds) else None
    )
    d = a.data
    if kind == "jacobian" and d.size == n * n:
        return np.diagonal(d.reshape(n, n)).copy()  # elementwise: the Jacobian is diagonal
    if d.size == n:
        return d.reshape(-1)
    return None


def _flat(v: Any, n: int) -> np.ndarray | None:
    a = to_array(v)
    if a is None or a.partial or a.data.size != n:
        return None
    return a.data.reshape(-1)


def tangent_plot(trace: Trace, record: NodeRecord) -> TangentPlot | None:
    """The "derivative = slope" plot for a one-input elementwise op, or None."""
    spec = OPS.get(record.op)
    slot = _input_slot(trace, record)
    if spec is None or slot is None:
        return None
    if record.op == "DivBackward0" and slot != 0:
        return None  # c / x is drawn through its ReciprocalBackward0 node
    fn = spec.make(record.saved)
    if fn is None:
        return None
    saved = to_array(record.saved.get(spec.key))
    x0: np.ndarray | None = None
    if saved is not None and not saved.partial:
        with np.errstate(all="ignore"):
            x0 = saved.data.reshape(-1)
            x0 = spec.inverse(x0) if spec.inverse is not None else x0
        if not np.all(np.isfinite(x0)):
            x0 = None
    if x0 is None:
        x0 = _input_from_variables(trace, record, slot)
    if x0 is None or x0.size == 0 or x0.size > MAX_POINTS or not np.all(np.isfinite(x0)):
        return None
    slope = _slopes(record, slot, x0.size)
    if slope is None:
        return None
    xs = _sample_range(x0, spec)
    with np.errstate(all="ignore"):
        ys = np.asarray(fn(xs), dtype=np.float64)
        y0 = np.asarray(fn(x0), dtype=np.float64).reshape(-1)
    ys[~np.isfinite(ys)] = np.nan
    grad_out = record.grad_outputs[0] if record.grad_outputs else None
    grad_in = record.grad_inputs[slot] if slot < len(record.grad_inputs) else None
    plot = TangentPlot(
        op=record.op,
        label=f"y = {spec.label}",
        x0=x0,
        y0=y0,
        slope=slope,
        xs=xs,
        ys=ys,
        incoming=_flat(grad_out, x0.size),
        outgoing=_flat(grad_in, x0.size),
    )
    plot.y_range = _y_range(plot)
    if record.op == "ReluBackward0" and np.any(slope == 0):
        plot.notes.append("relu: an input ≤ 0 gives slope 0 — no gradient flows back")
    return plot


def _sample_range(x0: np.ndarray, spec: UnaryOp) -> np.ndarray:
    """Where to draw the function: around the input(s), wide enough to see the curve bend,
    narrow enough that the point is not pressed against an edge."""
    lo, hi = float(x0.min()), float(x0.max())
    if spec.centred:
        w = max(0.25 * (hi - lo), 1.0)
        a, b = min(lo - w, -spec.span), max(hi + w, spec.span)
        return np.linspace(a, b, SAMPLES)
    near = max(abs(lo), abs(hi))
    if spec.pole and near < spec.span and (lo > 0 or hi < 0):
        # near the pole the curve's scale is |x₀| itself (ln 0.001 bends within 0.001):
        # from a tenth of the input to three times it, on the input's side of 0
        a, b = sorted((lo * 0.1, hi * 3.0)) if lo > 0 else sorted((hi * 0.1, lo * 3.0))
        return np.linspace(a, b, SAMPLES)
    w = max(spec.span, 0.5 * near, 0.25 * (hi - lo))
    a, b = lo - w, hi + w
    if spec.positive:
        a = max(a, lo * 0.02 if lo > 0 else 1e-6)
    return np.linspace(a, b, SAMPLES)


def _y_range(p: TangentPlot) -> tuple[float, float]:
    """Keep the point(s) and their tangents in view even when the curve shoots off (eˣ, 1/x)."""
    finite = p.ys[np.isfinite(p.ys)]
    lo = float(min(p.y0.min(), finite.min() if finite.size else p.y0.min()))
    hi = float(max(p.y0.max(), finite.max() if finite.size else p.y0.max()))
    half = 0.5 * (p.xs[-1] - p.xs[0])
    reach = float(np.max(np.abs(p.slope))) * half + 1.0
    lo = max(lo, float(p.y0.min()) - 2 * reach)
    hi = min(hi, float(p.y0.max()) + 2 * reach)
    pad = 0.08 * (hi - lo or 1.0)
    return lo - pad, hi + pad
