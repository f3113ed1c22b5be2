"""Turning tensors into the trace's plain-data encoding.

Small tensors are stored exactly (``tolist()`` of the real values, so a
float32 round-trips bit for bit); large ones as a summary with statistics and
a preview, which keeps memory and the trace bounded on big models.
"""

from __future__ import annotations

import math
from typing import Any

import torch

#: tensors with at most this many elements are stored exactly
EXACT_NUMEL = 4096
PREVIEW = 8


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _plain(t: torch.Tensor) -> torch.Tensor:
    if t.is_complex():
        t = torch.view_as_real(t)
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t


def encode(t: torch.Tensor | None, exact_numel: int = EXACT_NUMEL) -> Any:
    """A tensor as a number, nested lists, or a summary dict; None stays None."""
    if t is None:
        return None
    t = _plain(t.detach())
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.numel() <= exact_numel:
        value = t.tolist()
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            value = _finite(value)
        return value
    return summarize(t)


def summarize(t: torch.Tensor) -> dict[str, Any]:
    t = _plain(t.detach())
    flat = t.reshape(-1)
    out: dict[str, Any] = {"summary": True, "shape": list(t.shape), "dtype": str(t.dtype)}
    if t.is_floating_point():
        finite = torch.isfinite(flat)
        out["nan"] = int(torch.isnan(flat).sum())
        out["inf"] = int((~finite).sum()) - out["nan"]
        vals = flat[finite] if out["nan"] or out["inf"] else flat
        if vals.numel():
            out.update(
                min=float(vals.min()),
                max=float(vals.max()),
                mean=float(vals.mean()),
                norm=float(vals.norm()),
                absmax=float(vals.abs().max()),
            )
    elif flat.numel():
        out.update(min=flat.min().item(), max=flat.max().item())
    out["preview"] = _finite(flat[:PREVIEW].tolist())
    return out


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def encode_value(v: Any, exact_numel: int = EXACT_NUMEL) -> Any:
    """Saved attributes and other values: tensors encoded, containers walked."""
    if isinstance(v, torch.Tensor):
        return encode(v, exact_numel)
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return _finite(v)
    if isinstance(v, (list, tuple)):
        return [encode_value(x, exact_numel) for x in v]
    if isinstance(v, torch.dtype):
        return dtype_name(v)
    return repr(v)
