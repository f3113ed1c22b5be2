"""A pass's hook events turned into its steps, in the engine's order.

Each event is a step; the node it concerns gets a record in the pass (its incoming and
outgoing gradients, local derivatives, formula and saved values), made at its first event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gradstep.record.building import TraceBuilder
from gradstep.record.formulas import formula_for
from gradstep.record.graph import NameTable, is_leaf_node
from gradstep.record.passes import Event, EventKind, PassHooks
from gradstep.record.snapshots import Snapshots
from gradstep.trace.model import BackwardPass, NodeRecord, Step


def add_event_steps(
    builder: TraceBuilder,
    snapshots: Snapshots,
    bpass: BackwardPass,
    hooks: PassHooks,
    names: NameTable,
    line: int | None,
) -> None:
    """One step for each of ``hooks``' events on a captured node; ``bpass`` gets the records."""
    _EventSteps(builder, snapshots, bpass, hooks, names).add(line)


class _EventSteps:
    def __init__(
        self,
        builder: TraceBuilder,
        snapshots: Snapshots,
        bpass: BackwardPass,
        hooks: PassHooks,
        names: NameTable,
    ) -> None:
        self._builder = builder
        self._snapshots = snapshots
        self._bpass = bpass
        self._hooks = hooks
        self._names = names
        self._records: dict[Any, int] = {}  # graph node -> its record in the pass

    def add(self, line: int | None) -> None:
        ids = self._builder.capture.ids
        for ev in self._hooks.events:
            if ev.node not in ids:
                continue
            r = self._record_of(ev.node)
            rec = self._bpass.nodes[r]
            step = Step(
                index=0,
                kind=ev.kind,
                line=line,
                text="",
                pass_index=self._bpass.index,
                node=rec.node,
                record=r,
            )
            _DESCRIBE[ev.kind](self, step, rec, ev)
            self._builder.add_step(step)

    def _record_of(self, node: Any) -> int:
        r = self._records.get(node)
        if r is None:
            gnode = self._builder.capture.nodes[self._builder.capture.ids[node]]
            n_in = len(gnode.inputs)
            r = self._records[node] = len(self._bpass.nodes)
            saved = self._hooks.saved.get(node, {})
            self._bpass.nodes.append(
                NodeRecord(
                    node=gnode.id,
                    op=gnode.op,
                    name=gnode.name,
                    grad_outputs=[],
                    grad_inputs=[None] * n_in,
                    local_derivatives=[None] * n_in,
                    local_derivative_kinds=[None] * n_in,
                    formula=formula_for(gnode.op, saved),
                    saved=saved,
                    chain=self._hooks.chain.get(node, {}),
                )
            )
        return r

    def _next_index(self) -> int:
        """The index the step being described will have."""
        return len(self._builder.trace.steps)

    def _receive(self, step: Step, rec: NodeRecord, ev: Event) -> None:
        rec.grad_outputs = ev.values or []
        rec.receive_step = self._next_index()
        if is_leaf_node(ev.node):
            rec.grad_before = ev.before
            step.text = f"{rec.name or rec.op} receives its gradient"
        elif rec.name:
            step.text = f"{rec.op} ({rec.name}) receives its gradient"
        else:
            step.text = f"{rec.op} receives its gradient"
        if ev.local is not None:
            rec.local_derivatives, rec.local_derivative_kinds = ev.local

    def _compute(self, step: Step, rec: NodeRecord, ev: Event) -> None:
        rec.grad_inputs = ev.values or []
        rec.compute_step = self._next_index()
        step.text = f"{rec.op} computes upstream × local = downstream"

    def _accumulate(self, step: Step, rec: NodeRecord, ev: Event) -> None:
        values = ev.values or []
        rec.grad_after = values[0] if values else None
        rec.compute_step = self._next_index()
        step.text = f"{rec.name or rec.op}.grad accumulates"
        t = self._names.tensors.get(ev.name or "")
        if t is not None and ev.name:
            # AccumulateGrad runs once per pass: what .grad holds now that the pass is
            # over is what this step made it (encoded as variables are)
            after = self._hooks.after.get(ev.node)
            step.variables = {ev.name: self._snapshots.after_pass(ev.name, t, after)}

    def _tensor_hook(self, step: Step, rec: NodeRecord, ev: Event) -> None:
        name = ev.name or ""
        values = ev.values or []
        if not values or values[0] is None:
            step.text = f"{name} receives no gradient (None)"
            return
        t = self._names.tensors.get(name)
        retains = t is not None and t.retains_grad
        step.text = f"{name} receives its gradient" + (" (retained)" if retains else "")
        if retains and t is not None:
            # retain_grad() stores (or adds) this gradient right after the hook, once per
            # pass: what .grad holds now that the pass is over is what it kept at this step
            step.variables = {name: self._snapshots.after_pass(name, t)}


# what each kind of event's step says and records (functions, not bound methods: a table
# of those would be a reference cycle that keeps the scenario's namespace alive)
_DESCRIBE: dict[EventKind, Callable[[_EventSteps, Step, NodeRecord, Event], None]] = {
    "tensor_hook": _EventSteps._tensor_hook,
    "receive": _EventSteps._receive,
    "compute": _EventSteps._compute,
    "accumulate": _EventSteps._accumulate,
}
