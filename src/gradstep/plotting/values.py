"""Encoded tensors (see ``gradstep.trace.model.is_summary``) as numpy arrays.

A trace stores small tensors exactly, as numbers or nested lists with the
strings ``"NaN"``/``"Infinity"``/``"-Infinity"`` for non-finite floats, and
large ones as a summary with statistics and a preview. Plots need arrays; a
summary gives its preview, flagged so the plot can say it is partial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradstep.trace.model import is_summary

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _decode(v: Any) -> Any:
    if isinstance(v, str):
        return _SPECIAL.get(v, math.nan)
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


@dataclass
class Array:
    """A tensor's values for plotting."""

    data: np.ndarray  # float64; the preview (flat) for a summary
    shape: tuple[int, ...]  # the tensor's real shape
    partial: bool = False  # True when ``data`` is only a summary's preview
    summary: dict[str, Any] | None = None

    @property
    def is_scalar(self) -> bool:
        return not self.partial and self.data.size == 1 and len(self.shape) == 0


def to_array(v: Any) -> Array | None:
    """The encoded tensor ``v`` as an ``Array``; None for None or what is not a tensor."""
    if v is None:
        return None
    if is_summary(v):
        preview = np.asarray(_decode(v.get("preview", [])), dtype=np.float64).reshape(-1)
        return Array(preview, tuple(v.get("shape", [])), partial=True, summary=v)
    if isinstance(v, (int, float, str, bool, list)):
        try:
            data = np.asarray(_decode(v), dtype=np.float64)
        except (TypeError, ValueError):  # ragged or not numeric
            return None
        return Array(data, tuple(data.shape))
    return None


def scalar(v: Any) -> float | None:
    """A 0-d (or one-element) encoded tensor as a float."""
    a = to_array(v)
    if a is None or a.partial or a.data.size != 1:
        return None
    return float(a.data.reshape(-1)[0])


def has_nonfinite(v: Any) -> bool:
    """True when the encoded tensor holds a NaN or an infinity."""
    if v is None:
        return False
    if is_summary(v):
        return bool(v.get("nan")) or bool(v.get("inf"))
    if isinstance(v, str):
        return v in _SPECIAL
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, list):
        return any(has_nonfinite(x) for x in v)
    return False


def abs_stats(v: Any) -> tuple[float, float] | None:
    """(mean |x|, max |x|) of an encoded tensor, over its finite elements.

    A summary has no mean of absolute values; its root mean square
    (``norm / √n``) stands in, which is within a factor √n of it and equal
    when the magnitudes are even, so a log-scale chart reads the same.
    """
    if v is None:
        return None
    if is_summary(v):
        n = math.prod(v.get("shape", [])) or 1
        if "norm" not in v:
            return None
        absmax = v.get("absmax", max(abs(v.get("min", 0.0)), abs(v.get("max", 0.0))))
        return float(v["norm"]) / math.sqrt(n), float(absmax)
    a = to_array(v)
    if a is None or a.data.size == 0:
        return None
    finite = np.abs(a.data[np.isfinite(a.data)])
    if finite.size == 0:
        return None
    return float(finite.mean()), float(finite.max())


def norm(v: Any) -> float | None:
    """The L2 norm of an encoded tensor (its value for a scalar, signed)."""
    if v is None:
        return None
    if is_summary(v):
        return float(v["norm"]) if "norm" in v else None
    a = to_array(v)
    if a is None:
        return None
    if a.data.ndim == 0:
        return float(a.data)
    return float(np.sqrt(np.nansum(a.data * a.data)))
