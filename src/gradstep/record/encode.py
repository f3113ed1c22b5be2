"""Turning tensors into the trace's plain-data encoding.

Small tensors are stored exactly (``tolist()`` of the real values, so a
float32 round-trips bit for bit); large ones as a summary with statistics and
a preview, which keeps memory and the trace bounded on big models. The common
case costs a few kernels per tensor: the sum (or ``aminmax`` and a norm) is
finite exactly when no element is NaN or infinite, so the element-wise
checks run only when something is not finite.

Every tensor a scenario can make is encoded without raising: sparse (COO,
CSR, ...) and mkldnn tensors are made dense when small and summarised by
their layout and number of stored values otherwise (never densified: a
sparse 10⁶×10⁶ matrix is one line), quantized ones dequantized, ``complex32``
widened, and a tensor with no data (``device="meta"``) or of a dtype with no
Python numbers (``bits8``) is a summary of its shape and dtype with a note.
"""

from __future__ import annotations

import math
from typing import Any

import torch

#: tensors with at most this many elements are stored exactly (a 32×32 heatmap)
EXACT_NUMEL = 1024
#: in a backward pass of more than this many nodes (a real model, not a lecture graph)
#: the node records keep tensors exact only up to LARGE_PASS_EXACT_NUMEL elements, and
#: saved tensors beyond it as shape-only summaries; the variables keep EXACT_NUMEL
LARGE_PASS_NODES = 100  # lecture graphs stay well under it (the bundled MLP: 16)
LARGE_PASS_EXACT_NUMEL = 64
PREVIEW = 8


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


#: an object's identity as a number, like ``id``, which raises an audit event on every
#: call: under the scenario sandbox's audit hook that costs a Python call each time.
#: The default hash is the object's address, rotated, so it is as unique as ``id``
#: among live objects (and a tensor's own ``__hash__`` calls ``id``)
oid = object.__hash__

_LOW_PRECISION = {torch.bfloat16, torch.float16}
_STRIDED = torch.strided
_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _plain(t: torch.Tensor) -> torch.Tensor:
    """A detached, dense, real tensor whose ``tolist()`` gives Python numbers."""
    t = t.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.is_quantized:
        t = t.dequantize()
    if t.dtype == torch.complex32:  # most kernels, view_as_real's float() among them, lack it
        t = t.to(torch.complex64)
    if t.is_complex():
        t = torch.view_as_real(t)
    if t.dtype in _LOW_PRECISION or (t.dtype.is_floating_point and t.itemsize == 1):
        t = t.float()
    return t


def encode(t: torch.Tensor | None, exact_numel: int = EXACT_NUMEL, *, stats: bool = True) -> Any:
    """A tensor as a number, nested lists, or a summary dict; None stays None. Never raises
    for a tensor torch can make (see the module docstring)."""
    if t is None:
        return None
    dtype = t.dtype
    opaque = _opaque(t, exact_numel)
    if opaque is not None:
        return opaque
    try:
        t = _plain(t)
        if t.numel() > exact_numel:
            return _summarize(t, stats, dtype)
        return _exact(t)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as e:
        return _shape_only(t, f"its values cannot be read ({type(e).__name__})")


def _opaque(t: torch.Tensor, exact_numel: int) -> dict[str, Any] | None:
    """The summary of a tensor whose values are not read: no data, or too sparse to
    densify; None for every other tensor (one attribute read in the common case)."""
    layout = t.layout
    if layout is _STRIDED:
        return _shape_only(t, "a meta tensor has no data") if t.is_meta else None
    if layout is torch._mkldnn or t.numel() <= exact_numel:  # type: ignore[attr-defined]
        return None  # dense, it is as large as it already is
    out = _shape_only(t, f"{str(layout).removeprefix('torch.')} tensor")
    try:
        out["nnz"] = int(t._nnz())
    except (RuntimeError, TypeError):
        pass
    return out


def _shape_only(t: torch.Tensor, note: str) -> dict[str, Any]:
    return {
        "summary": True,
        "shape": list(t.shape),
        "dtype": dtype_name(t.dtype),
        "note": note,
        "preview": [],
    }


def snapshot(t: torch.Tensor) -> torch.Tensor | None:
    """A copy of a small dense tensor's values to compare with later (``same_values``);
    None for the tensors ``==`` cannot compare (sparse, meta, quantized, complex32)."""
    if t.layout is not _STRIDED or t.is_meta or t.is_quantized or t.dtype == torch.complex32:
        return None
    return t.detach().clone()


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """A snapshot of a small tensor holds the tensor's values (NaN equal to NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    try:
        if torch.equal(a, b):
            return True
        return a.is_floating_point() and bool(torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
    except (RuntimeError, TypeError, NotImplementedError):
        return False  # a dtype the kernels lack: encoded afresh


def _exact(t: torch.Tensor) -> Any:
    value = t.tolist()
    # one reduction instead of an element-wise isfinite: a NaN or an infinity makes
    # the sum non-finite (and so, rarely, does overflow: then the walk below is merely exact)
    if t.is_floating_point() and t.numel() > 0 and not math.isfinite(t.sum().item()):
        value = _finite(value)
    return value


def summarize(t: torch.Tensor, *, stats: bool = True) -> dict[str, Any]:
    """Shape, dtype, statistics of the finite elements, NaN/Inf counts and the first elements.

    ``stats=False``: shape, dtype and preview only.
    """
    return _summarize(_plain(t), stats, t.dtype)


def _finite_stats(lo: float, hi: float, total: float, n: int, norm: float) -> dict[str, Any]:
    """A summary's statistics when no element is NaN or infinite."""
    return {
        "min": lo,
        "max": hi,
        "mean": total / n,
        "norm": norm,
        "absmax": max(-lo, hi),
        "nan": 0,
        "inf": 0,
    }


def _summarize(t: torch.Tensor, stats: bool, dtype: torch.dtype) -> dict[str, Any]:
    flat = t.reshape(-1)
    n = flat.numel()
    out: dict[str, Any] = {"summary": True, "shape": list(t.shape), "dtype": dtype_name(dtype)}
    if stats and n and t.is_floating_point():
        lo, hi = flat.amin().item(), flat.amax().item()  # faster than aminmax on CPU
        total, squares = flat.sum().item(), flat.dot(flat).item()
        # all four finite means no NaN or infinity anywhere (else the slow, exact count)
        if math.isfinite(lo + hi + total + squares):
            out.update(_finite_stats(lo, hi, total, n, math.sqrt(squares)))
        else:
            out.update(_slow_stats(flat))
    elif stats and n and t.dtype != torch.bool:
        lo_t, hi_t = torch.aminmax(flat)
        out.update(min=lo_t.item(), max=hi_t.item())
    out["preview"] = _finite(flat[:PREVIEW].tolist())
    return out


def _slow_stats(flat: torch.Tensor) -> dict[str, Any]:
    finite = torch.isfinite(flat)
    nan = int(torch.isnan(flat).sum())
    out: dict[str, Any] = {"nan": nan, "inf": int((~finite).sum()) - nan}
    vals = flat[finite]
    if vals.numel():
        wide = vals.double()  # the float32 sums of huge finite values can overflow
        out.update(
            min=vals.min().item(),
            max=vals.max().item(),
            mean=wide.mean().item(),
            norm=_finite(wide.norm().item()),
            absmax=vals.abs().max().item(),
        )
    return out


def dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


def encode_value(v: Any, exact_numel: int = EXACT_NUMEL, *, stats: bool = True) -> Any:
    """Saved attributes and other values: tensors encoded, containers walked."""
    if isinstance(v, torch.Tensor):
        return encode(v, exact_numel, stats=stats)
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return _finite(v)
    if isinstance(v, (list, tuple)):
        if all(type(x) is int for x in v):  # sizes and strides, the common case
            return list(v)
        return [encode_value(x, exact_numel, stats=stats) for x in v]
    if isinstance(v, torch.dtype):
        return dtype_name(v)
    return repr(v)


#: tensors up to this size are stacked as rows for batched reductions; larger ones are
#: reduced one by one, where the kernel launch is small next to the data
_ROW_NUMEL = 8192
#: rows stacked for one batched reduction, at most (elements)
_BATCH_NUMEL = 1 << 20


_FLOATS = (torch.float32, torch.float64)


def encode_many(tensors: list[torch.Tensor], exact_numel: int = EXACT_NUMEL) -> list[Any]:
    """``encode`` of each tensor; summaries of float tensors share their kernels and copies.

    A large model's pass hands out hundreds of gradients of a few shapes: stacked
    as rows, their statistics take four reductions per group instead of four each.
    Larger tensors are reduced one by one, but their statistics and previews are
    read back to Python in one copy per dtype instead of five per tensor.
    """
    out: list[Any] = [None] * len(tensors)
    # by shape: stacked whole, in one copy even when they are views (reshape copies those)
    groups: dict[tuple[tuple[int, ...], torch.dtype], list[tuple[int, torch.Tensor]]] = {}
    singles: dict[torch.dtype, list[tuple[int, torch.Tensor]]] = {}
    with torch.no_grad():  # in place of detach() on each tensor
        for i, t in enumerate(tensors):
            # most gradients are dense float32 already: skip _plain's copies and checks
            if not (t.layout is _STRIDED and t.dtype in _FLOATS and not t.is_meta):
                out[i] = encode(t, exact_numel)  # sparse gradients (Embedding), and the rest
                continue
            p = t
            n = p.numel()
            if n <= exact_numel:
                out[i] = _exact(p)
            elif not p.is_floating_point():
                out[i] = _summarize(p, True, t.dtype)
            elif n <= _ROW_NUMEL:
                groups.setdefault((p.shape, p.dtype), []).append((i, p))
            else:
                singles.setdefault(p.dtype, []).append((i, p))
        for members in singles.values():
            _summarize_singles(members, tensors, out)
        for members in groups.values():
            n = members[0][1].numel()
            step = max(1, _BATCH_NUMEL // n)
            for k in range(0, len(members), step):
                chunk = members[k : k + step]
                if len(chunk) == 1:
                    i, p = chunk[0]
                    out[i] = _summarize(p, True, tensors[i].dtype)
                    continue
                _summarize_rows(chunk, n, tensors, out)
    return out


def _summarize_singles(
    members: list[tuple[int, torch.Tensor]], tensors: list[torch.Tensor], out: list[Any]
) -> None:
    """``_summarize`` of float tensors of one dtype with more than PREVIEW elements.

    Reduced in their own layout: a gradient is often a transposed view, which
    ``reshape(-1)`` would copy whole.
    """
    parts: list[torch.Tensor] = []
    for _, p in members:
        # amin and amax: on CPU faster than aminmax, and than it by 4× on a transposed view
        parts += (p.amin(), p.amax(), p.sum(), torch.linalg.vector_norm(p))
    flat = torch.stack(parts).tolist()
    stats = [flat[k : k + 4] for k in range(0, len(flat), 4)]
    previews = torch.stack([_head(p, PREVIEW) for _, p in members]).tolist()
    _fill_summaries(members, stats, previews, tensors, out)


def _fill_summaries(
    members: list[tuple[int, torch.Tensor]],
    stats: list[list[float]],
    previews: list[list[Any]],
    tensors: list[torch.Tensor],
    out: list[Any],
) -> None:
    """``out[i]`` for each member from its (min, max, sum, norm) and preview; where one of
    those is not finite, the exact summary that counts NaN and Inf."""
    for (i, p), (lo, hi, total, norm), preview in zip(members, stats, previews):
        if not math.isfinite(lo + hi + total + norm):
            out[i] = _summarize(p, True, tensors[i].dtype)
            continue
        out[i] = {
            "summary": True,
            "shape": list(p.shape),
            "dtype": dtype_name(tensors[i].dtype),
            **_finite_stats(lo, hi, total, p.numel(), norm),
            "preview": preview,
        }


def _head(t: torch.Tensor, k: int) -> torch.Tensor:
    """``t.reshape(-1)[:k]`` (``t`` has at least k elements) without copying all of ``t``."""
    while t.dim() > 1:
        inner = t[0].numel()
        if inner < k:
            t = t[: -(-k // inner)]
            break
        t = t[0]
    return t.reshape(-1)[:k]


def _summarize_rows(
    chunk: list[tuple[int, torch.Tensor]], n: int, tensors: list[torch.Tensor], out: list[Any]
) -> None:
    rows = torch.stack([p for _, p in chunk]).view(len(chunk), n)
    # amin and amax: aminmax along a dimension is an order of magnitude slower on CPU
    stats = torch.stack(
        [rows.amin(1), rows.amax(1), rows.sum(1), torch.linalg.vector_norm(rows, dim=1)],
        dim=1,
    ).tolist()
    _fill_summaries(chunk, stats, rows[:, :PREVIEW].tolist(), tensors, out)


class Encoder:
    """``encode`` with a memo for one backward pass: a gradient handed from a node's
    post-hook to the next node's pre-hook is the same tensor, encoded once.

    Holds a reference to each tensor it has seen so that ids stay unique; call
    ``clear()`` to let them go.
    """

    def __init__(self, exact_numel: int = EXACT_NUMEL) -> None:
        self.exact_numel = exact_numel
        self._memo: dict[int, tuple[torch.Tensor, Any]] = {}

    def __call__(self, t: torch.Tensor | None) -> Any:
        if t is None:
            return None
        hit = self._memo.get(oid(t))
        if hit is not None and hit[0] is t:
            return hit[1]
        value = encode(t, self.exact_numel)
        self._memo[oid(t)] = (t, value)
        return value

    def many(self, tensors: list[torch.Tensor | None]) -> list[Any]:
        """``self(t)`` for each, batched (see ``encode_many``)."""
        todo: dict[int, torch.Tensor] = {}
        for t in tensors:
            if t is not None and oid(t) not in todo:
                hit = self._memo.get(oid(t))
                if hit is None or hit[0] is not t:
                    todo[oid(t)] = t
        if todo:
            values = encode_many(list(todo.values()), self.exact_numel)
            for t, value in zip(todo.values(), values):
                self._memo[oid(t)] = (t, value)
        return [None if t is None else self._memo[oid(t)][1] for t in tensors]

    def clear(self) -> None:
        self._memo.clear()
