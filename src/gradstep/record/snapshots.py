"""Snapshotting the scenario's tensors: what each variable holds, recorded when it changes.

After every step the bound tensors are compared with what was last recorded of them
(cheaply: by identity, version counters and, for small tensors, their values); only the
variables that changed are encoded again, and a step carries just those.
"""

from __future__ import annotations

from typing import Any

import torch

from gradstep.record.building import TraceBuilder
from gradstep.record.encode import dtype_name, oid, same_values, snapshot
from gradstep.record.graph import NameTable
from gradstep.trace.model import VariableState

#: tensors up to this size are compared by value after each statement, besides their
#: version counter (which ``.data`` bypasses); larger ones by the counter alone
SNAPSHOT_NUMEL = 1024

#: what a variable's state depends on (see ``_key``)
Key = tuple[Any, ...]


class Snapshots:
    """The last state recorded of each variable, and the encodings of unchanged values."""

    def __init__(self, builder: TraceBuilder) -> None:
        self._builder = builder
        # name -> (key, state): the last state recorded, and what it was recorded for
        self._vars: dict[str, tuple[Key, VariableState]] = {}
        self._values: dict[int, tuple[torch.Tensor, int, Any]] = {}

    def state(self, t: torch.Tensor, grad: Any = ...) -> VariableState:
        """``grad``: an already encoded gradient to show instead of the tensor's own."""
        if grad is ...:
            # reading .grad of a non-leaf that keeps none warns; it is None by definition
            grad = self._builder.encode(t.grad if (t.is_leaf or t.retains_grad) else None)
        capture = self._builder.capture
        node = None
        if t.grad_fn is not None:
            node = capture.ids.get(t.grad_fn)
        elif t.requires_grad:
            node = capture.leaf_ids.get(oid(t))
        return VariableState(
            shape=list(t.shape),
            dtype=dtype_name(t.dtype),
            requires_grad=t.requires_grad,
            is_leaf=t.is_leaf,
            grad_fn=type(t.grad_fn).__name__ if t.grad_fn is not None else None,
            value=self._value(t),
            grad=grad,
            node=node,
            retains_grad=bool(t.retains_grad) if not t.is_leaf else False,
        )

    def _value(self, t: torch.Tensor) -> Any:
        """The encoded value, reused while the tensor is unchanged (a parameter whose
        gradient changes every pass keeps its value)."""
        hit = self._values.get(oid(t))
        small = t.numel() <= SNAPSHOT_NUMEL  # encoded afresh: ``.data`` changes keep versions
        if hit is not None and hit[0] is t and hit[1] == version(t) and not small:
            return hit[2]
        value = self._builder.encode(t)
        self._values[oid(t)] = (t, version(t), value)
        return value

    def deltas(self, names: NameTable) -> dict[str, VariableState | None]:
        """The variables that changed since they were last recorded (None: no longer bound)."""
        deltas: dict[str, VariableState | None] = {}
        for name, t in names.tensors.items():
            known = self._vars.get(name)
            if known is None or not _same(known[0], _key(t)):
                state = self.state(t)
                self._vars[name] = (_key(t, keep_values=True), state)
                deltas[name] = state
        for name in list(self._vars):
            if name not in names.tensors:
                del self._vars[name]
                deltas[name] = None
        # the value cache holds its tensors: keep only those still bound
        live = {oid(t) for t in names.tensors.values()}
        for k in [k for k in self._values if k not in live]:
            del self._values[k]
        return deltas

    def final(self, names: NameTable) -> dict[str, VariableState]:
        """Every bound variable's state at the end of the run."""
        out: dict[str, VariableState] = {}
        for name, t in names.tensors.items():
            known = self._vars.get(name)
            if known is not None and _same(known[0], _key(t)):
                out[name] = known[1]
            else:
                out[name] = self.state(t)
        return out

    def after_pass(
        self, name: str, t: torch.Tensor, after: tuple[torch.Tensor, int, Any] | None = None
    ) -> VariableState:
        """``name``'s state now that a pass is over, recorded for the step that changed its
        ``.grad`` (so the pass's end does not show it again). ``after``: the pass's own
        encoding of that gradient, reused while it still fits."""
        state = self.state(t, self._summary_of(t.grad, after))
        self._vars[name] = (_key(t, keep_values=True), state)
        return state

    def _summary_of(
        self, g: torch.Tensor | None, after: tuple[torch.Tensor, int, Any] | None
    ) -> Any:
        """``g`` encoded as a variable's gradient, reusing the pass's encoding of the same
        unchanged tensor when both are summaries (a summary does not depend on the
        threshold that made it one); ``...`` when it has to be encoded afresh."""
        if (
            g is not None
            and after is not None
            and after[0] is g
            and after[1] == g._version
            and isinstance(after[2], dict)
            and g.numel() > self._builder.exact_numel
        ):
            return after[2]
        return ...


def version(t: torch.Tensor) -> int:
    """A tensor's version counter; an inference tensor has none (-2: never seen to change)."""
    return -2 if t.is_inference() else t._version


def _key(t: torch.Tensor, keep_values: bool = False) -> Key:
    """What a variable's state depends on. Compared element by element with ``is``:
    the key holds the objects themselves, since a freed gradient's id is soon reused
    by the next one (``retain_grad`` replaces ``.grad`` on every pass)."""
    g = t.grad if t.is_leaf or t.retains_grad else None
    return (
        t,
        version(t),
        t.requires_grad,
        t.retains_grad if not t.is_leaf else False,
        t.grad_fn,
        g,
        version(g) if g is not None else -1,
        # what the version counter misses: ``w.data -= lr * w.grad`` (the SGD step of
        # many lessons) changes w in place through a tensor with a counter of its own.
        # A stored key keeps a copy of a small tensor's values, a fresh one none: it is
        # compared with the tensor itself (see _same)
        snapshot(t) if keep_values and t.numel() <= SNAPSHOT_NUMEL else None,
    )


def _same(a: Key, b: Key) -> bool:
    """``a``, a stored key, still describes the tensor of ``b``, a fresh one."""
    # spelled out for ``_key``'s layout (ints at 1 and 6, a snapshot at 7, the rest by
    # identity): this runs for every bound tensor after every statement
    return (
        a[0] is b[0]
        and a[1] == b[1]
        and a[2] is b[2]
        and a[3] is b[3]
        and a[4] is b[4]
        and a[5] is b[5]
        and a[6] == b[6]
        and (a[7] is None or same_values(a[7], b[0].detach()))
    )
