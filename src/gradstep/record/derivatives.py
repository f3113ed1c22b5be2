"""Local derivatives of autograd nodes, computed by calling the node itself.

Calling a ``grad_fn`` returns its vector-Jacobian product. With basis vectors
it gives the whole local Jacobian, which is cheap for the small tensors of a
lecture; larger nodes get the VJP with a ones vector, and very large ones
nothing (their outgoing gradient is already recorded). The call must happen
while the node's saved tensors are alive: before or inside the backward pass.
"""

from __future__ import annotations

from typing import Any

import torch

from gradstep.record.encode import encode

#: full Jacobian when outputs x inputs has at most this many entries
JACOBIAN_ENTRIES = 1024
#: VJP with ones when the node's outputs have at most this many elements
VJP_NUMEL = 1 << 20


def _sum_to(g: torch.Tensor | None, shape: torch.Size) -> torch.Tensor | None:
    # a node's result is not reduced for broadcasting; the engine does that later
    if g is None or g.shape == shape:
        return g
    try:
        return g.sum_to_size(shape)
    except RuntimeError:
        return g


def _input_shapes(node: Any) -> list[torch.Size | None]:
    shapes: list[torch.Size | None] = []
    for producer, nr in node.next_functions:
        if producer is None:
            shapes.append(None)
            continue
        try:
            shapes.append(torch.Size(producer._input_metadata[nr].shape))
        except (AttributeError, IndexError, RuntimeError):
            shapes.append(None)
    return shapes


def local_derivatives(
    node: Any, *, allow_jacobian: bool = True
) -> tuple[list[Any], list[str | None]]:
    """(values, kinds) aligned with ``node.next_functions``.

    kinds: ``"scalar"`` (a number), ``"jacobian"`` (shape ``out + in``),
    ``"vjp_ones"`` (shape of the input), or None where not applicable (an input
    that needs no gradient, or a node that cannot be called).
    """
    n_in = len(node.next_functions)
    empty: tuple[list[Any], list[str | None]] = ([None] * n_in, [None] * n_in)
    meta = node._input_metadata
    if not meta or type(node).__name__ == "AccumulateGrad":
        return empty
    out_shapes = [torch.Size(m.shape) for m in meta]
    out_dtypes = [m.dtype for m in meta]
    in_shapes = _input_shapes(node)
    out_numel = sum(int(s.numel()) for s in out_shapes)
    in_numel = max((int(s.numel()) for s in in_shapes if s is not None), default=0)
    try:
        with torch.no_grad():
            if (
                allow_jacobian
                and len(out_shapes) == 1
                and out_numel * max(in_numel, 1) <= JACOBIAN_ENTRIES
            ):
                return _jacobian(node, out_shapes[0], out_dtypes[0], in_shapes)
            if out_numel <= VJP_NUMEL:
                ones = [torch.ones(s, dtype=d) for s, d in zip(out_shapes, out_dtypes)]
                grads = _as_tuple(node(*ones))
                values = [
                    encode(_sum_to(g, s)) if s is not None and g is not None else None
                    for g, s in zip(grads, in_shapes)
                ]
                return values, [("vjp_ones" if v is not None else None) for v in values]
    except Exception:  # custom Functions and some C++ nodes cannot be called directly
        return empty
    return empty


def _as_tuple(r: Any) -> tuple[Any, ...]:
    return r if isinstance(r, tuple) else (r,)


def _jacobian(
    node: Any, out_shape: torch.Size, out_dtype: torch.dtype, in_shapes: list[torch.Size | None]
) -> tuple[list[Any], list[str | None]]:
    m = int(out_shape.numel())
    rows: list[list[torch.Tensor | None]] = [[] for _ in in_shapes]
    for k in range(m):
        basis = torch.zeros(m, dtype=out_dtype)
        basis[k] = 1
        grads = _as_tuple(node(basis.reshape(out_shape)))
        for i, s in enumerate(in_shapes):
            g = grads[i] if i < len(grads) else None
            rows[i].append(_sum_to(g, s) if s is not None and g is not None else None)
    values: list[Any] = []
    kinds: list[str | None] = []
    for i, s in enumerate(in_shapes):
        if s is None or any(r is None for r in rows[i]):
            values.append(None)
            kinds.append(None)
            continue
        jac = torch.stack([r.reshape(s) for r in rows[i]]).reshape(tuple(out_shape) + tuple(s))
        values.append(encode(jac))
        kinds.append("scalar" if jac.numel() == 1 and jac.dim() == 0 else "jacobian")
    return values, kinds
