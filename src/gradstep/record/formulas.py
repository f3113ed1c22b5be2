"""Human formulas for the local derivatives of common autograd nodes.

Each entry is the textbook derivative of the op; where the saved values are
scalars the numbers are filled in, so a lecture reads ``d(xⁿ)/dx = n·xⁿ⁻¹ =
2·3 = 6`` rather than a class name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

_SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.4g}"


def _pow(saved: dict[str, Any]) -> str:
    base = "d(xⁿ)/dx = n·xⁿ⁻¹"
    n, x = _num(saved.get("exponent")), _num(saved.get("self"))
    if n is None or x is None:
        return base
    return f"{base} = {_fmt(n)}·{_fmt(x)}{_fmt(n - 1).translate(_SUPERSCRIPT)} = {_fmt(n * x ** (n - 1))}"


def _mul(saved: dict[str, Any]) -> str:
    base = "d(a·b)/da = b,  d(a·b)/db = a"
    a, b = _num(saved.get("self")), _num(saved.get("other"))
    if a is None or b is None:
        # multiplying by a Python number saves it as "other" only
        if b is not None:
            return f"d(a·c)/da = c = {_fmt(b)}"
        return base
    return f"{base}  (a = {_fmt(a)}, b = {_fmt(b)})"


def _unary(
    name: str, expr: str, fn: Callable[[float, dict[str, Any]], float], key: str = "self"
) -> Callable[[dict[str, Any]], str]:
    def make(saved: dict[str, Any]) -> str:
        base = f"d({name})/dx = {expr}"
        x = _num(saved.get(key))
        if x is None:
            return base
        try:
            value = fn(x, saved)
        except (ValueError, ZeroDivisionError, OverflowError):
            return base
        at = "x" if key == "self" else "y"
        return f"{base} = {_fmt(value)} at {at} = {_fmt(x)}"

    return make


def _const(text: str) -> Callable[[dict[str, Any]], str]:
    return lambda saved: text


_FORMULAS: dict[str, Callable[[dict[str, Any]], str]] = {
    "PowBackward0": _pow,
    "PowBackward1": lambda s: "d(aᵇ)/da = b·aᵇ⁻¹,  d(aᵇ)/db = aᵇ·ln a",
    "MulBackward0": _mul,
    "DivBackward0": lambda s: "d(a/b)/da = 1/b,  d(a/b)/db = −a/b²",
    "AddBackward0": _const("d(a + b)/da = 1,  d(a + b)/db = α (usually 1)"),
    "SubBackward0": _const("d(a − b)/da = 1,  d(a − b)/db = −α (usually −1)"),
    "RsubBackward1": _const("d(c − x)/dx = −1"),
    "NegBackward0": _const("d(−x)/dx = −1"),
    "SinBackward0": _unary("sin x", "cos x", lambda x, s: math.cos(x)),
    "CosBackward0": _unary("cos x", "−sin x", lambda x, s: -math.sin(x)),
    "TanhBackward0": _unary("tanh x", "1 − tanh²x", lambda y, s: 1 - y * y, key="result"),
    "SigmoidBackward0": _unary("σ(x)", "σ(x)·(1 − σ(x))", lambda y, s: y * (1 - y), key="result"),
    "ExpBackward0": _unary("eˣ", "eˣ", lambda y, s: y, key="result"),
    "LogBackward0": _unary("ln x", "1/x", lambda x, s: 1 / x),
    "SqrtBackward0": _unary("√x", "1/(2√x)", lambda y, s: 1 / (2 * y), key="result"),
    "ReluBackward0": _unary(
        "relu x", "1 if x > 0 else 0", lambda y, s: 1.0 if y > 0 else 0.0, key="result"
    ),
    "AbsBackward0": _unary("|x|", "sign x", lambda x, s: math.copysign(1.0, x) if x else 0.0),
    "ClampBackward1": _const("d clamp(x, lo, hi)/dx = 1 inside [lo, hi], 0 outside"),
    "SumBackward0": _const("d(Σxᵢ)/dxᵢ = 1"),
    "SumBackward1": _const("d(Σxᵢ)/dxᵢ = 1 (over the summed dims)"),
    "MeanBackward0": _const("d(mean x)/dxᵢ = 1/N"),
    "MeanBackward1": _const("d(mean x)/dxᵢ = 1/N (over the reduced dims)"),
    "VarBackward0": _const("d(var x)/dxᵢ = 2(xᵢ − x̄)/(N − 1)"),
    "StdBackward0": _const("d(std x)/dxᵢ = (xᵢ − x̄)/((N − 1)·std x)"),
    "MmBackward0": _const("d(A·B)/dA = upstream·Bᵀ,  d(A·B)/dB = Aᵀ·upstream"),
    "MvBackward0": _const("d(A·v)/dA = upstream·vᵀ,  d(A·v)/dv = Aᵀ·upstream"),
    "DotBackward0": _const("d(a·b)/da = b,  d(a·b)/db = a"),
    "AddmmBackward0": _const("d(b + x·W)/db = 1,  /dx = upstream·Wᵀ,  /dW = xᵀ·upstream"),
    "TBackward0": _const("transpose: the gradient is transposed back"),
    "ViewBackward0": _const("reshape: the gradient is reshaped back"),
    "UnsqueezeBackward0": _const("unsqueeze: the gradient is squeezed back"),
    "SqueezeBackward0": _const("squeeze: the gradient is unsqueezed back"),
    "ExpandBackward0": _const("expand: the gradient is summed over the expanded dims"),
    "CloneBackward0": _const("d(clone x)/dx = 1"),
    "BinaryCrossEntropyBackward0": _const("d BCE(p, y)/dp = (p − y) / (p·(1 − p)) / N"),
    "BinaryCrossEntropyWithLogitsBackward0": _const("d BCEWithLogits(z, y)/dz = (σ(z) − y) / N"),
    "MseLossBackward0": _const("d MSE(a, b)/da = 2(a − b)/N"),
    "NllLossBackward0": _const("d NLL/d logpᵢ = −1/N at the target class, 0 elsewhere"),
    "LogSoftmaxBackward0": _const("d log_softmax(x)ᵢ/dxⱼ = δᵢⱼ − softmax(x)ⱼ"),
    "SoftmaxBackward0": _const("d softmax(x)ᵢ/dxⱼ = sᵢ(δᵢⱼ − sⱼ)"),
    "PowBackward2": lambda s: "d(cˣ)/dx = cˣ·ln c",
    "ReciprocalBackward0": _unary("1/x", "−1/x²", lambda y, s: -y * y, key="result"),
    "Log1PBackward0": _unary("ln(1 + x)", "1/(1 + x)", lambda x, s: 1 / (1 + x)),
    "SoftplusBackward0": _const("d softplus(x)/dx = σ(βx)"),
    "SiluBackward0": _const("d(x·σ(x))/dx = σ(x)·(1 + x·(1 − σ(x)))"),
    "GeluBackward0": _const("d(x·Φ(x))/dx = Φ(x) + x·φ(x)"),
    "LeakyReluBackward0": _const("d leaky_relu(x)/dx = 1 if x > 0 else the negative slope"),
    "LogSigmoidBackward0": _const("d ln σ(x)/dx = 1 − σ(x)"),
    "MaximumBackward0": _const("d max(a, b): 1 to the larger input, ½ each on a tie"),
    "MaxBackward1": _const("d(max x)/dxᵢ = 1 at the maximum, 0 elsewhere"),
    "ProdBackward0": _const("d(Πxⱼ)/dxᵢ = Πⱼ≠ᵢ xⱼ"),
    "LinalgVectorNormBackward0": _const("d‖x‖/dxᵢ = xᵢ/‖x‖"),
    "CumsumBackward0": _const("d(cumsum x)ⱼ/dxᵢ = 1 for i ≤ j: the gradient is a reversed cumsum"),
    "WhereBackward0": _const(
        "where(c, a, b): the gradient goes to a where c holds, to b elsewhere"
    ),
    "SelectBackward0": _const("x[i]: the gradient lands at index i, zeros elsewhere"),
    "SliceBackward0": _const("x[a:b]: the gradient lands in the slice, zeros elsewhere"),
    "IndexBackward0": _const("x[idx]: the gradient is scattered back (added where indices repeat)"),
    "CatBackward0": _const("cat: the gradient is split back into the pieces"),
    "StackBackward0": _const("stack: the gradient is unstacked back into the pieces"),
    "SplitBackward0": _const(
        "split: the pieces' gradients are concatenated (zeros for unused ones)"
    ),
    "PermuteBackward0": _const("permute: the gradient is permuted back"),
    "TransposeBackward0": _const("transpose: the gradient is transposed back"),
    "ReshapeAliasBackward0": _const("reshape: the gradient is reshaped back"),
    "UnsafeViewBackward0": _const("reshape: the gradient is reshaped back"),
    "BmmBackward0": _const("d(A·B)/dA = upstream·Bᵀ,  d(A·B)/dB = Aᵀ·upstream (per batch)"),
    "ConvolutionBackward0": _const(
        "conv: /dinput = transposed convolution of upstream with the weight, "
        "/dweight = correlation of the input with upstream, /dbias = Σ upstream"
    ),
    "NativeLayerNormBackward0": _const(
        "layer norm: normalise, scale by the weight; the "
        "gradient removes its mean and its projection on x̂"
    ),
    "NativeBatchNormBackward0": _const("batch norm: like layer norm, over the batch"),
    "EmbeddingBackward0": _const("embedding: each looked-up row gets its upstream gradient"),
    "MaxPool2DWithIndicesBackward0": _const("max pool: the gradient goes to each window's maximum"),
    "AvgPool2DBackward0": _const("average pool: the gradient is shared equally in each window"),
    "AccumulateGrad": _const(".grad ← .grad + incoming"),
}


def formula_for(op: str, saved: dict[str, Any]) -> str | None:
    """The node's local-derivative formula, with numbers filled in where scalar."""
    make = _FORMULAS.get(op)
    if make is None:
        return None
    try:
        return make(saved)
    except Exception:  # a formula must never break recording
        return None
