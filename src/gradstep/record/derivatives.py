"""Local derivatives of autograd nodes, computed by calling the node itself.

Calling a ``grad_fn`` returns its vector-Jacobian product. With basis vectors
(batched with ``torch.vmap``) it gives the whole local Jacobian, which is cheap
for the small tensors of a lecture; larger nodes get the VJP with a ones
vector, and big ones nothing (their outgoing gradient, the VJP with the real
upstream gradient, is recorded anyway). The call must happen while the
node's saved tensors are alive: before or inside the backward pass.
"""

from __future__ import annotations

from typing import Any

import torch

from gradstep.record.encode import encode
from gradstep.record.graph import is_leaf_node

#: full Jacobian when outputs x inputs has at most this many entries
JACOBIAN_ENTRIES = 1024
#: VJP with ones when the node's outputs have at most this many elements; beyond,
#: the node's outgoing gradient (its VJP with the real upstream) is all there is
VJP_NUMEL = 1024
#: per pass, local derivatives for nodes with this many output elements in all, in the
#: engine's order: a whole lecture graph, the last layers of a real model
PASS_BUDGET = 16384

Kinds = list[str | None]


def _sum_to(g: torch.Tensor, shape: torch.Size, batch: int = 0) -> torch.Tensor:
    """Reduce a node's result to its input's shape (the engine does this after the node).

    ``batch`` leading dimensions are kept (one per Jacobian row).
    """
    if g.shape[batch:] == shape:
        return g
    try:
        extra = g.dim() - batch - len(shape)
        if extra > 0:
            g = g.sum(dim=tuple(range(batch, batch + extra)))
        return g.sum_to_size(tuple(g.shape[:batch]) + tuple(shape))
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


def _out_numel(node: Any) -> int:
    return sum(int(torch.Size(m.shape).numel()) for m in node._input_metadata)


def local_derivative_cost(node: Any, *, max_numel: int = VJP_NUMEL) -> int:
    """The output elements ``local_derivatives`` would work on; 0: it would compute nothing.

    Calling a node costs as much as the engine's own call, so big nodes (a
    convolution, an attention block) are left out; that keeps recording a big
    model close to the cost of a plain backward.
    """
    if is_leaf_node(node):
        return 0
    try:
        n = _out_numel(node)
    except (AttributeError, RuntimeError):
        return 0
    return n if 0 < n <= max_numel else 0


def local_derivatives(node: Any, *, allow_jacobian: bool = True) -> tuple[list[Any], Kinds]:
    """(values, kinds) aligned with ``node.next_functions``.

    kinds: ``"scalar"`` (a number), ``"jacobian"`` (shape ``out + in``),
    ``"vjp_ones"`` (shape of the input), or None where not applicable (an input
    that needs no gradient, or a node that cannot be called).
    """
    n_in = len(node.next_functions)
    empty: tuple[list[Any], Kinds] = ([None] * n_in, [None] * n_in)
    meta = node._input_metadata
    if not meta or is_leaf_node(node):
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
                and out_dtypes[0].is_floating_point
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


#: up to this many Jacobian rows, one call per row beats vmap's set-up cost
_LOOP_ROWS = 16


def _jacobian_rows(node: Any, eye: torch.Tensor) -> tuple[Any, ...]:
    """The node applied to each basis vector: one result per input, rows first."""
    if len(eye) > _LOOP_ROWS:
        try:
            return _as_tuple(torch.vmap(node)(eye))
        except Exception:  # a node vmap cannot batch: one call per row
            pass
    rows = [_as_tuple(node(e)) for e in eye]
    return tuple(
        None if any(r[i] is None for r in rows) else torch.stack([r[i] for r in rows])
        for i in range(len(rows[0]))
    )


def _jacobian(
    node: Any, out_shape: torch.Size, out_dtype: torch.dtype, in_shapes: list[torch.Size | None]
) -> tuple[list[Any], Kinds]:
    m = int(out_shape.numel())
    eye = torch.eye(m, dtype=out_dtype).reshape((m, *out_shape))
    grads = _jacobian_rows(node, eye)
    values: list[Any] = []
    kinds: Kinds = []
    for i, s in enumerate(in_shapes):
        g = grads[i] if i < len(grads) else None
        if s is None or g is None:
            values.append(None)
            kinds.append(None)
            continue
        rows = _sum_to(g, s, batch=1)
        jac = rows.reshape(tuple(out_shape) + tuple(s))
        values.append(encode(jac))
        kinds.append("scalar" if jac.dim() == 0 else "jacobian")
    return values, kinds


#: f′(x) of an elementwise node is taken up to this many output elements (the lesson's
#: batch, a hidden layer); beyond, its chain rule shows the gradients' summaries
ELEMENTWISE_NUMEL = 16384


def elementwise_cost(node: Any) -> int:
    """The output elements ``elementwise_derivatives`` would work on (0: none)."""
    try:
        n = _out_numel(node)
    except (AttributeError, RuntimeError):
        return 0
    return n if 0 < n <= ELEMENTWISE_NUMEL and len(node._input_metadata) == 1 else 0


def elementwise_derivatives(node: Any) -> list[Any]:
    """f′ of an elementwise node for each input slot, in the output's shape.

    The node applied to ones is the row sums of its Jacobian; the Jacobian of an
    elementwise op is diagonal, so that is f′(x) element by element (for ``a * b``:
    b, broadcast to the output). Not reduced over broadcast dimensions: the
    formatter shows that sum as a step of its own. One call of the node, like the
    engine's own.
    """
    meta = node._input_metadata[0]
    if not meta.dtype.is_floating_point:
        return []
    with torch.no_grad():
        grads = _as_tuple(node(torch.ones(torch.Size(meta.shape), dtype=meta.dtype)))
    return [encode(g) if isinstance(g, torch.Tensor) else None for g in grads]
