"""Recording one backward computation through hooks, in the engine's real order.

For every node of the pass graph a pre-hook (incoming gradients, and the
local derivative while saved tensors are alive) and a post-hook (outgoing
gradients); for leaves the post-accumulate-grad hook (``.grad`` after); for
named intermediates a tensor hook. Every handle is removed after the pass,
since hooks stay on nodes that later passes reuse.

The hooks only keep references; the recorder encodes them right after the
pass, before the scenario's next statement can touch them. Within a pass the
one buffer rewritten in place is a leaf's existing ``.grad`` (accumulation is
``grad += new``), so that "before" value is copied inside the pre-hook.
Holding references also stops the engine from summing into, or stealing,
the buffers it hands out. Past ``max_held_bytes`` the events so far are
encoded on the spot, which bounds the memory of very large passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch

from gradstep.record.aside import aside
from gradstep.record.derivatives import (
    PASS_BUDGET,
    elementwise_cost,
    elementwise_derivatives,
    local_derivative_cost,
    local_derivatives,
)
from gradstep.record.encode import Encoder, oid
from gradstep.record.graph import NameTable, is_leaf_node, saved_values
from gradstep.trace.chainrule.families import family_of

#: tensors referenced by the events of one pass, at most (bytes); beyond, they are encoded
MAX_HELD_BYTES = 256 << 20

#: what a hook saw: a named intermediate's gradient, a node's incoming gradients, its
#: outgoing ones, a leaf's ``.grad`` after accumulation (each is a step of that kind)
EventKind = Literal["tensor_hook", "receive", "compute", "accumulate"]


class Event:
    """One hook call. ``tensors`` are references until ``values`` holds their encoding."""

    __slots__ = ("before", "kind", "local", "name", "node", "tensors", "values")

    def __init__(
        self,
        kind: EventKind,
        node: Any,
        tensors: tuple[Any, ...],
        name: str | None = None,
        before: torch.Tensor | None = None,
        local: tuple[list[Any], list[str | None]] | None = None,
    ) -> None:
        self.kind = kind
        self.node = node
        self.tensors: tuple[Any, ...] | None = tensors
        self.values: list[Any] | None = None
        self.name = name  # tensor_hook: the variable; leaves: the leaf
        self.before = before  # receive at a leaf: .grad before accumulation (a copy)
        self.local = local


def _guarded(fn: Callable[..., None], errors: list[str]) -> Callable[..., None]:
    """A hook must never change what backward does: recording errors are kept, not raised."""

    def hook(*args: Any) -> None:
        try:
            with aside():  # the recorder's reading, not under the scenario's torch modes
                fn(*args)
        except Exception as e:  # noqa: BLE001 - reported in the trace's stats instead
            errors.append(f"{type(e).__name__}: {e}")

    return hook


class PassHooks:
    """Hooks on one pass graph; collects events until ``remove()``."""

    def __init__(
        self,
        nodes: list[Any],
        names: NameTable,
        encoder: Encoder,
        *,
        local: bool = True,
        jacobians: bool = True,
        large: bool = False,
        max_held_bytes: int | None = None,
    ) -> None:
        self.events: list[Event] = []
        self.errors: list[str] = []
        self.saved: dict[Any, dict[str, Any]] = {}
        #: node -> its record's ``chain`` (f′ of elementwise ops, a custom backward's line)
        self.chain: dict[Any, dict[str, Any]] = {}
        self._fprime_budget = PASS_BUDGET
        self.encoder = encoder
        self._handles: list[Any] = []
        self._local = local
        self._local_budget = PASS_BUDGET
        self._jacobians = jacobians
        self._held = 0
        self._max_held = MAX_HELD_BYTES if max_held_bytes is None else max_held_bytes
        self._materialized = 0
        #: leaf node -> (its .grad after accumulation, that tensor's version, its encoding)
        self.after: dict[Any, tuple[torch.Tensor, int, Any]] = {}
        members = set(nodes)
        for node in nodes:
            # saved tensors are freed by the pass (unless retain_graph); read them now
            self.saved[node] = saved_values(node, encoder.exact_numel, stats=not large)
            if is_leaf_node(node):
                self._hook_leaf(node, names)
            else:
                self._hook_op(node)
        hooked: set[int] = set()
        for name, t in names.tensors.items():
            if t.grad_fn is not None and t.grad_fn in members and oid(t) not in hooked:
                hooked.add(oid(t))
                self._handles.append(
                    t.register_hook(_guarded(self._tensor_hook(name, t.grad_fn), self.errors))
                )

    def _add(self, event: Event) -> None:
        self.events.append(event)
        for t in event.tensors or ():
            if t is not None:
                self._held += t.numel() * t.element_size()
        if event.before is not None:
            self._held += event.before.numel() * event.before.element_size()
        if self._held > self._max_held:
            self.materialize()

    def _hook_op(self, node: Any) -> None:
        if not self._local:
            # a large pass: no local derivatives to take while saved tensors live, so one
            # post-hook records both events (it sees the incoming gradients too, and the
            # engine runs a node's pre-hooks, the node and its post-hooks back to back);
            # half the hooks to add, call and remove. Only a node that raises is missed.
            def both(grad_inputs: tuple[Any, ...], grad_outputs: tuple[Any, ...]) -> None:
                self._add(Event("receive", node, grad_outputs))
                self._add(Event("compute", node, grad_inputs))

            self._handles.append(node.register_hook(_guarded(both, self.errors)))
            return
        cost = local_derivative_cost(node)
        family = family_of(type(node).__name__)
        if family == "custom":
            self.chain[node] = custom_backward(node)
        fprime_cost = elementwise_cost(node) if family == "elementwise" else 0

        def pre(grad_outputs: tuple[Any, ...]) -> None:
            derivs = None
            if cost and cost <= self._local_budget:
                self._local_budget -= cost
                derivs = local_derivatives(node, allow_jacobian=self._jacobians)
            if fprime_cost and fprime_cost <= self._fprime_budget:
                self._fprime_budget -= fprime_cost
                self._fprime(node, derivs)
            self._add(Event("receive", node, grad_outputs, local=derivs))

        def post(grad_inputs: tuple[Any, ...], grad_outputs: tuple[Any, ...]) -> None:
            self._add(Event("compute", node, grad_inputs))

        self._handles.append(node.register_prehook(_guarded(pre, self.errors)))
        self._handles.append(node.register_hook(_guarded(post, self.errors)))

    def _fprime(self, node: Any, derivs: tuple[list[Any], list[str | None]] | None) -> None:
        """f′(x) of an elementwise node for its chain rule (a scalar op's local
        derivative already is)."""
        if derivs is not None and derivs[1] and all(k == "scalar" for k in derivs[1] if k):
            local = list(derivs[0])
        else:
            try:
                local = elementwise_derivatives(node)
            except Exception:  # noqa: BLE001 - a node that cannot be called shows without f′
                return
        self.chain[node] = {"local": local}

    def _hook_leaf(self, node: Any, names: NameTable) -> None:
        var = node.variable
        name = names.by_tensor.get(oid(var))

        def pre(grad_outputs: tuple[Any, ...]) -> None:
            old = var.grad
            before = old.detach().clone() if old is not None else None
            self._add(Event("receive", node, grad_outputs, name=name, before=before))

        def after(t: torch.Tensor) -> None:
            self._add(Event("accumulate", node, (t.grad,), name=name))

        self._handles.append(node.register_prehook(_guarded(pre, self.errors)))
        self._handles.append(var.register_post_accumulate_grad_hook(_guarded(after, self.errors)))

    def _tensor_hook(self, name: str, node: Any) -> Any:
        def hook(g: torch.Tensor | None) -> None:
            self._add(Event("tensor_hook", node, (g,), name=name))

        return hook

    def materialize(self) -> None:
        """Encode the events recorded so far and drop their tensor references."""
        events = self.events[self._materialized :]
        flat: list[Any] = []
        for ev in events:
            flat.extend(t if isinstance(t, torch.Tensor) else None for t in ev.tensors or ())
            flat.append(ev.before)
        values = iter(self.encoder.many(flat))
        for ev in events:
            if ev.tensors is not None:
                ev.values = [next(values) for _ in ev.tensors]
                if ev.kind == "accumulate" and isinstance(ev.tensors[0], torch.Tensor):
                    g = ev.tensors[0]  # alive as the leaf's .grad anyway
                    self.after[ev.node] = (g, g._version, ev.values[0])
                ev.tensors = None
            ev.before = next(values)
        self._materialized = len(self.events)
        self.encoder.clear()
        self._held = 0

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def custom_backward(node: Any) -> dict[str, Any]:
    """Where the ``backward`` of a user's ``autograd.Function`` is written.

    Its node is not callable (no local derivative): the lesson shows that code
    as the formula, with the gradients the engine got from it.
    """
    cls = getattr(type(node), "_forward_cls", None)
    backward = getattr(cls, "backward", None)
    code = getattr(backward, "__code__", None)
    if cls is None or code is None:
        return {}
    return {
        "custom": {
            "function": getattr(cls, "__qualname__", type(node).__name__),
            "line": code.co_firstlineno,
            "file": code.co_filename,
        }
    }
