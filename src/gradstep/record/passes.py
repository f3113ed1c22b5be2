"""Recording one backward computation through hooks, in the engine's real order.

For every node of the pass graph a pre-hook (incoming gradients, and the
local derivative while saved tensors are alive) and a post-hook (outgoing
gradients); for leaves the post-accumulate-grad hook (``.grad`` after); for
named intermediates a tensor hook. Gradients are cloned inside the hooks:
the buffers the engine hands out can later become ``.grad`` and be rewritten
in place (``zero_()``, the next accumulation). Every handle is removed after
the pass, since hooks stay on nodes that later passes reuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from gradstep.record.derivatives import local_derivatives
from gradstep.record.graph import GraphCapture, NameTable, saved_values


def _clone(g: Any) -> torch.Tensor | None:
    return g.detach().clone() if isinstance(g, torch.Tensor) else None


@dataclass
class Event:
    kind: str  # "tensor_hook", "receive", "compute", "accumulate"
    node: Any
    tensors: list[torch.Tensor | None] = field(default_factory=list)
    name: str | None = None  # tensor_hook: the variable; accumulate: the leaf
    before: torch.Tensor | None = None  # receive at a leaf: .grad before accumulation
    local: tuple[list[Any], list[str | None]] | None = None


def _guarded(fn: Callable[..., None], errors: list[str]) -> Callable[..., None]:
    """A hook must never change what backward does: recording errors are kept, not raised."""

    def hook(*args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - reported in the trace's stats instead
            errors.append(f"{type(e).__name__}: {e}")

    return hook


class PassHooks:
    """Hooks on one pass graph; collects events until ``remove()``."""

    def __init__(
        self,
        capture: GraphCapture,
        nodes: list[Any],
        names: NameTable,
        *,
        jacobians: bool,
    ) -> None:
        self.events: list[Event] = []
        self.errors: list[str] = []
        self.saved: dict[Any, dict[str, Any]] = {}
        self._handles: list[Any] = []
        self._jacobians = jacobians
        exact = 4096 if len(nodes) <= 2000 else 64
        for node in nodes:
            # saved tensors are freed by the pass (unless retain_graph); read them now
            self.saved[node] = saved_values(node, exact)
            if type(node).__name__ == "AccumulateGrad":
                self._hook_leaf(node, names)
            else:
                self._hook_op(node)
        for name, t in names.tensors.items():
            if t.grad_fn is not None and t.grad_fn in capture.ids and t.requires_grad:
                self._handles.append(
                    t.register_hook(_guarded(self._tensor_hook(name, t), self.errors))
                )

    def _hook_op(self, node: Any) -> None:
        def pre(grad_outputs: tuple[Any, ...]) -> None:
            local = local_derivatives(node, allow_jacobian=self._jacobians)
            self.events.append(
                Event("receive", node, [_clone(g) for g in grad_outputs], local=local)
            )

        def post(grad_inputs: tuple[Any, ...], grad_outputs: tuple[Any, ...]) -> None:
            self.events.append(Event("compute", node, [_clone(g) for g in grad_inputs]))

        self._handles.append(node.register_prehook(_guarded(pre, self.errors)))
        self._handles.append(node.register_hook(_guarded(post, self.errors)))

    def _hook_leaf(self, node: Any, names: NameTable) -> None:
        var = node.variable
        name = names.by_tensor.get(id(var))

        def pre(grad_outputs: tuple[Any, ...]) -> None:
            self.events.append(
                Event(
                    "receive",
                    node,
                    [_clone(g) for g in grad_outputs],
                    name=name,
                    before=_clone(var.grad),
                )
            )

        def after(t: torch.Tensor) -> None:
            self.events.append(Event("accumulate", node, [_clone(t.grad)], name=name))

        self._handles.append(node.register_prehook(_guarded(pre, self.errors)))
        self._handles.append(var.register_post_accumulate_grad_hook(_guarded(after, self.errors)))

    def _tensor_hook(self, name: str, t: torch.Tensor) -> Any:
        node = t.grad_fn

        def hook(g: torch.Tensor | None) -> None:
            self.events.append(Event("tensor_hook", node, [_clone(g)], name=name))

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
