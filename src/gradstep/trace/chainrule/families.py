"""Which way a lecture teaches each autograd node's chain rule (no torch, no Qt).

The recorder asks this table which local derivative to take (f′(x) for
elementwise ops, nothing for ops whose backward is read off saved values); the
formatter asks it how to write the line.
"""

from __future__ import annotations

import re

#: upstream ⊙ f′(x) = downstream, f′ taken from the node itself (one call with ones)
ELEMENTWISE = frozenset(
    {
        "AbsBackward0",
        "AcosBackward0",
        "AddBackward0",
        "AddBackward1",
        "AsinBackward0",
        "AtanBackward0",
        "ClampBackward0",
        "ClampBackward1",
        "ClampMaxBackward0",
        "ClampMinBackward0",
        "CosBackward0",
        "CoshBackward0",
        "DivBackward0",
        "DivBackward1",
        "EluBackward0",
        "ErfBackward0",
        "ExpBackward0",
        "Expm1Backward0",
        "GeluBackward0",
        "HardtanhBackward0",
        "LeakyReluBackward0",
        "Log10Backward0",
        "Log1PBackward0",
        "Log2Backward0",
        "LogBackward0",
        "LogSigmoidBackward0",
        "MaximumBackward0",
        "MinimumBackward0",
        "MulBackward0",
        "MulBackward1",
        "NegBackward0",
        "PowBackward0",
        "PowBackward1",
        "PowBackward2",
        "ReciprocalBackward0",
        "ReluBackward0",
        "RsqrtBackward0",
        "RsubBackward0",
        "RsubBackward1",
        "SigmoidBackward0",
        "SiluBackward0",
        "SinBackward0",
        "SinhBackward0",
        "SoftplusBackward0",
        "SqrtBackward0",
        "SubBackward0",
        "SubBackward1",
        "TanBackward0",
        "TanhBackward0",
        "WhereBackward0",
    }
)
#: upstream @ Bᵀ and Aᵀ @ upstream, with the saved matrices
MATMUL = frozenset({"MmBackward0", "AddmmBackward0", "MvBackward0", "BmmBackward0", "DotBackward0"})
#: the upstream spread back over the reduced dimensions (÷N for a mean)
REDUCTION = frozenset({"SumBackward0", "SumBackward1", "MeanBackward0", "MeanBackward1"})
#: the upstream moved back where its elements came from
SHAPE = frozenset(
    {
        "ViewBackward0",
        "ReshapeAliasBackward0",
        "UnsafeViewBackward0",
        "SqueezeBackward0",
        "SqueezeBackward1",
        "SqueezeBackward2",
        "UnsqueezeBackward0",
        "TBackward0",
        "TransposeBackward0",
        "TransposeBackward1",
        "PermuteBackward0",
        "ExpandBackward0",
        "SelectBackward0",
        "SliceBackward0",
        "IndexBackward0",
        "CloneBackward0",
        "AliasBackward0",
        "ToCopyBackward0",
    }
)
#: closed forms: (p − t)·2/N, p − onehot, (p − t)/(p(1 − p))/N, (σ(z) − t)/N
LOSS = frozenset(
    {
        "MseLossBackward0",
        "BinaryCrossEntropyBackward0",
        "BinaryCrossEntropyWithLogitsBackward0",
        "NllLossBackward0",
        "LogSoftmaxBackward0",
    }
)

_GENERATED = re.compile(r"Backward\d+$")


def family_of(op: str) -> str:
    """``"elementwise"``, ``"matmul"``, ``"reduction"``, ``"shape"``, ``"loss"``,
    ``"leaf"``, ``"custom"`` (a user's ``autograd.Function``) or ``"other"``."""
    if op == "AccumulateGrad":
        return "leaf"
    if op in ELEMENTWISE:
        return "elementwise"
    if op in MATMUL:
        return "matmul"
    if op in REDUCTION:
        return "reduction"
    if op in SHAPE:
        return "shape"
    if op in LOSS:
        return "loss"
    if not _GENERATED.search(op) and op.endswith("Backward"):
        return "custom"  # torch names a Function F's node FBackward (no number)
    return "other"
