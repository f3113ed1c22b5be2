"""Intercepting backward passes: each call of the engine recorded as a pass with its steps.

``torch.autograd.backward`` (which ``Tensor.backward`` calls) and ``torch.autograd.grad``
are wrapped for the duration of the run: each call captures the graph reachable from
its roots, hooks it, lets the real engine run, and turns the hook events into steps
(:mod:`gradstep.record.events`).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, Literal

import torch

from gradstep.collection import collection_paused
from gradstep.record.aside import aside
from gradstep.record.building import TraceBuilder
from gradstep.record.encode import LARGE_PASS_EXACT_NUMEL, LARGE_PASS_NODES, Encoder
from gradstep.record.events import add_event_steps
from gradstep.record.graph import NameTable
from gradstep.record.passes import PassHooks
from gradstep.record.snapshots import Snapshots
from gradstep.record.source import SourceText
from gradstep.trace.model import BackwardPass, Step

PassKind = Literal["backward", "grad"]

#: a pass's label: the call as written, cut with an ellipsis past this many characters
_LABEL_CHARS = 72

#: torch's own entry points to the engine: ``Tensor.backward`` and ``torch.autograd``'s
#: functions. A backward call reached through them alone is the scenario's own.
_ENTRY_FILES = (
    os.path.join("torch", "_tensor.py"),
    os.path.join("torch", "autograd", "__init__.py"),
    os.path.join("torch", "overrides.py"),
    os.path.join("torch", "utils", "_device.py"),  # torch.set_default_device's mode
)
#: torch's dispatch to modes and subclasses, which passes a call on unchanged
_DISPATCH = frozenset({"__torch_function__", "__torch_dispatch__"})


@dataclass
class _Started:
    """A pass that has begun: its record, its first step, and what it was captured with."""

    bpass: BackwardPass
    start: Step
    nodes: list[Any]
    names: NameTable


class BackwardPasses:
    """Records every backward call of the scenario's as a pass."""

    def __init__(self, builder: TraceBuilder, snapshots: Snapshots, *, jacobians: bool) -> None:
        self._builder = builder
        self._snapshots = snapshots
        self._jacobians = jacobians
        self._source = SourceText(builder.scenario.source)  # for each pass's call as written
        # a grouped call's text, by the scenario's code and instruction running it
        self._call_texts: dict[tuple[CodeType, int], str] = {}

    @contextlib.contextmanager
    def patched_autograd(self) -> Iterator[None]:
        """``torch.autograd.backward`` and ``grad`` recorded while this lasts."""
        real_backward = torch.autograd.backward
        real_grad = torch.autograd.grad
        builder = self._builder

        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            if builder.in_pass or builder.summarising:
                return real_backward(tensors, *args, **kwargs)
            caller = self._library_caller(sys._getframe(1))
            if caller is not None:
                return self._grouped(caller, lambda: real_backward(tensors, *args, **kwargs))
            return self.record("backward", tensors, lambda: real_backward(tensors, *args, **kwargs))

        def grad(outputs: Any, *args: Any, **kwargs: Any) -> Any:
            if builder.in_pass or builder.summarising:
                return real_grad(outputs, *args, **kwargs)
            caller = self._library_caller(sys._getframe(1))
            if caller is not None:
                return self._grouped(caller, lambda: real_grad(outputs, *args, **kwargs))
            return self.record("grad", outputs, lambda: real_grad(outputs, *args, **kwargs))

        backward.__doc__, grad.__doc__ = real_backward.__doc__, real_grad.__doc__
        torch.autograd.backward = backward
        torch.autograd.grad = grad
        try:
            yield
        finally:
            torch.autograd.backward = real_backward
            torch.autograd.grad = real_grad

    def _library_caller(self, frame: FrameType | None) -> str | None:
        """The torch function the scenario called that made this backward call, if one
        did (``gradcheck``, ``jacobian``, ``hessian``: hundreds of calls, some batched),
        else None: the scenario called the engine itself (``loss.backward()``,
        ``torch.autograd.grad``)."""
        outermost: str | None = None
        while frame is not None:
            code = frame.f_code
            if code.co_filename == self._builder.filename:
                if outermost is None:
                    return None
                return self._call_text(frame) or f"{outermost}()"
            if not code.co_filename.endswith(_ENTRY_FILES) and code.co_name not in _DISPATCH:
                outermost = code.co_name
            frame = frame.f_back
        return f"{outermost}()" if outermost is not None else None

    def _call_text(self, frame: FrameType) -> str | None:
        """The scenario's call running in ``frame``, as written (``jacrev(f)(x)``,
        ``hessian(f, x)``), not torch's wrapper that made the backward calls
        (``wrapper_fn``); the interpreter keeps each instruction's source span."""
        key = (frame.f_code, frame.f_lasti)
        text = self._call_texts.get(key)
        if text is None:
            span = next(
                itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None), None
            )
            text = ""
            line, end_line, col, end_col = span or (None, None, None, None)
            if line is not None and col is not None:
                where = ast.Pass(
                    lineno=line, end_lineno=end_line, col_offset=col, end_col_offset=end_col
                )
                text = " ".join(self._source.segment(where).split())
                if len(text) > _LABEL_CHARS:
                    text = text[: _LABEL_CHARS - 1] + "…"
            self._call_texts[key] = text
        return text or None

    def _grouped(self, caller: str, run: Callable[[], Any]) -> Any:
        """A backward call made by a library function: run as it is, counted in one group
        under the scenario's call (the step of its statement says how many)."""
        builder = self._builder
        line = builder.current_line()
        key = (line, caller)
        builder.grouped[key] = builder.grouped.get(key, 0) + 1
        stats = builder.trace.stats
        stats["grouped_backward_calls"] = stats.get("grouped_backward_calls", 0) + 1
        builder.in_pass = True  # what it calls in turn is inside the group too
        try:
            return run()
        finally:
            builder.in_pass = False

    def record(self, kind: PassKind, roots: Any, run: Callable[[], Any]) -> Any:
        """Run the engine through ``run`` and record the pass; returns what it returned."""
        builder = self._builder
        started = time.perf_counter()
        first = len(builder.trace.passes)
        try:
            with collection_paused():
                return self._record(kind, roots, run)
        finally:
            # whole cost of a recorded pass: capture, hooks, the engine, encoding
            builder.trace.stats.setdefault("pass_seconds", []).append(
                round(time.perf_counter() - started, 6)
            )
            if builder.holding:  # the pass is complete: it goes out with the steps held
                if builder.sink is not None:  # (if this is cut short, they go out at the end)
                    passes = builder.trace.passes[first:]
                    builder.sink.publish(builder.trace, passes=passes, complete=True)
                builder.holding = False

    def _record(self, kind: PassKind, roots: Any, run: Callable[[], Any]) -> Any:
        try:
            root_nodes = _root_nodes(roots, self._builder.capture.leaf_node)
        except (TypeError, AttributeError):
            root_nodes = []  # not tensors: let the engine say what is wrong
        if not root_nodes:
            return run()  # the engine raises its own error ("does not require grad")
        with aside():  # the recorder's reading, not under the scenario's torch modes
            started = self._start(kind, root_nodes)
            members = set(started.nodes)
            retaining = {
                name: t
                for name, t in started.names.tensors.items()
                if not t.is_leaf and t.retains_grad and t.grad_fn in members
            }
            hooks = self._hooks(started)
        self._builder.in_pass = True
        try:
            result = run()
        finally:
            self._builder.in_pass = False
            with aside():
                self._finish(started, hooks, retaining)
        if kind == "grad":
            with aside():
                started.bpass.results = self._encoded_results(result)
        if self._builder.freeze:
            gc.freeze()
        return result

    def _start(self, kind: PassKind, root_nodes: list[Any]) -> _Started:
        """Capture the pass's graph and make its first step, with what changed since the last
        step: inside a loop, the statements between two passes (optimizer.step(),
        zero_grad()) are no steps of their own."""
        builder, capture, trace = self._builder, self._builder.capture, self._builder.trace
        line = builder.current_line()
        names = NameTable(builder.ns)
        nodes = builder.walk(root_nodes)
        new_ids = capture.register(nodes, names, line=line, step=len(trace.steps))
        renamed = capture.rename(nodes, names)
        index = len(trace.passes)
        root_ids = [capture.ids[n] for n in root_nodes]
        root_name = next((names.name_of(n) for n in root_nodes if names.name_of(n)), None)
        what = f"{root_name}." if root_name else ""
        label = self._source.call_at(line, ("backward", "grad")) or (
            f"{what}backward()" if kind == "backward" else "torch.autograd.grad(…)"
        )
        if len(label) > _LABEL_CHARS:
            label = label[: _LABEL_CHARS - 1] + "…"
        builder.holding = True  # the pass_start step goes out with its pass
        start = builder.add_step(
            Step(
                index=0,
                kind="pass_start",
                line=line,
                text=f"pass {index + 1}: {label} — {len(nodes)} nodes",
                pass_index=index,
                new_nodes=new_ids,
                variables=self._snapshots.deltas(names),
            )
        )
        bpass = BackwardPass(
            index=index, line=line, kind=kind, roots=root_ids, nodes=[], root_name=root_name
        )
        trace.passes.append(bpass)
        if builder.loop_round:  # which round of a long loop it belongs to (record.rounds)
            builder.pass_rounds.append([index, builder.loop_round])
        if builder.sink is not None:  # the pass as it starts: a crash inside keeps it
            fresh = set(new_ids)
            nodes_renamed = [g for g in renamed if g.id not in fresh]
            builder.sink.publish(trace, passes=[bpass], nodes=nodes_renamed)
        return _Started(bpass, start, nodes, names)

    def _hooks(self, started: _Started) -> PassHooks:
        """Hooks on the pass's graph; a large pass keeps smaller exact values, and no
        local derivatives."""
        exact_numel = self._builder.exact_numel
        large = len(started.nodes) > LARGE_PASS_NODES
        encoder = Encoder(min(exact_numel, LARGE_PASS_EXACT_NUMEL) if large else exact_numel)
        return PassHooks(
            started.nodes,
            started.names,
            encoder,
            local=not large,
            jacobians=self._jacobians,
            large=large,
        )

    def _finish(
        self, started: _Started, hooks: PassHooks, retaining: dict[str, torch.Tensor]
    ) -> None:
        """The pass's steps from its events, then its last step (also when it failed
        half-way)."""
        builder, bpass = self._builder, started.bpass
        hooks.remove()
        hooks.materialize()
        add_event_steps(builder, self._snapshots, bpass, hooks, started.names, started.start.line)
        for name, t in retaining.items():
            bpass.retained[name] = builder.encode(t.grad)
        if hooks.errors:
            builder.trace.stats.setdefault("recording_errors", []).extend(hooks.errors[:20])
        bpass.first_step = started.start.index
        end = builder.add_step(
            Step(
                index=0,
                kind="pass_end",
                line=started.start.line,
                text=f"pass {bpass.index + 1} done",
                pass_index=bpass.index,
                variables=self._snapshots.deltas(NameTable(builder.ns)),
            )
        )
        bpass.last_step = end.index

    def _encoded_results(self, result: Any) -> list[Any]:
        """What ``torch.autograd.grad`` returned, encoded (None where it was no tensor)."""
        values = result.values() if isinstance(result, dict) else result
        values = values if isinstance(values, (tuple, list)) else (values,)
        return [self._builder.encode(r) if isinstance(r, torch.Tensor) else None for r in values]


def _root_nodes(roots: Any, leaf_node: Callable[[torch.Tensor], Any]) -> list[Any]:
    """The graph nodes a backward call starts from: tensors' grad_fns, leaves, GradientEdges."""
    if isinstance(roots, (torch.Tensor, torch.autograd.graph.GradientEdge)):
        roots = [roots]
    nodes: list[Any] = []
    for r in roots:
        if isinstance(r, torch.autograd.graph.GradientEdge):
            nodes.append(r.node)
        elif isinstance(r, torch.Tensor):
            if r.grad_fn is not None:
                nodes.append(r.grad_fn)
            elif r.requires_grad:
                nodes.append(leaf_node(r))
    return nodes
