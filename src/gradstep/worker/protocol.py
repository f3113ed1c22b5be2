"""The wire protocol between the caller and a worker: the trace streamed as it is made.

A worker that dies (a segfault in a native library, a hard kill after the time
limit, the kernel's out-of-memory killer) must not take the steps recorded
before it along, so the trace is not sent in one piece at the end: the worker
writes every step as soon as it is made, and the caller assembles the trace
as the messages arrive. Internal to gradstep; the trace document itself
(``docs/trace-format.md``) is unchanged.

Each message is one line of JSON (written with orjson) on the worker's
protocol descriptor (its original stdout):

1. ``{"ready": true, "pid": N}`` once torch is imported; the caller then writes
   one request line on the worker's stdin: ``{"path", "trusted", "limits"}``.
2. ``{"scenario": {...}}``: the scenario as loaded (source, title, notes), in
   the trace document's form, before any of it runs.
3. ``{"limits": {"walls": {...}}, "clock": true}``: the walls are up and the time
   limit starts (the caller's hard kill counts from here).
4. Any number of ``{"nodes": [...], "passes": [...], "steps": [...], "limits": {...}}``
   messages, each key optional, each applied in that order:

   - ``nodes``: graph nodes, new or renamed; a node replaces the one of its id;
   - ``passes``: backward passes; a pass replaces the one of its index. A pass
     is sent when it starts (its records still empty, with its ``pass_start``
     step) and again, complete, with the steps of its hook events;
   - ``steps``: the next steps, in order (``index`` is their position);
   - ``limits``: the trace's ``limits`` (sent with the first steps).

   Every prefix of this stream is a consistent trace: a step only refers to
   nodes and passes sent before it.
5. ``{"end": {"error", "variables", "limits", "stats", "loops"}}``: the run is over; the
   trace is complete.

A run that was refused before it ran sends ``end`` (with its error) and perhaps
a few steps. When the stream stops without ``end``, the caller ends the trace
itself with an error step at the line that was running (see
:mod:`gradstep.worker.register`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from gradstep.trace.clean import storable
from gradstep.trace.errors import end_with_error
from gradstep.trace.io import step_document
from gradstep.trace.model import (
    BackwardPass,
    GraphNode,
    LoopRounds,
    ScenarioInfo,
    Step,
    Trace,
    TraceError,
    VariableState,
)


class TraceStream:
    """The worker's side: writes what the recorder made since the last call."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._steps = 0  # steps sent
        self._nodes = 0  # nodes sent (the trace's nodes are in the order they were made)
        self._passes = 0  # passes sent complete
        self._limits = False

    def send(self, message: dict[str, Any]) -> None:
        try:
            data = orjson.dumps(message)
        except orjson.JSONEncodeError:  # a lone surrogate the recorder did not clean
            data = orjson.dumps(_clean(message))
        self._write(data + b"\n")

    def _write(self, data: bytes) -> None:
        # a line may be larger than the pipe: write until all of it is out. (The time
        # limit never interrupts this frame, see Deadline: a half line would end the stream.)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def scenario(self, info: ScenarioInfo) -> None:
        self.send({"scenario": info})

    def publish(
        self,
        trace: Trace,
        *,
        passes: Iterable[BackwardPass] = (),
        nodes: Iterable[GraphNode] = (),
        complete: bool = False,
    ) -> None:
        """Send the nodes and steps made since the last call, ``nodes`` (renamed ones)
        and ``passes``; ``complete``: those passes are finished (not to be sent again)."""
        message: dict[str, Any] = {}
        new = len(trace.nodes) - self._nodes
        fresh = list(islice(reversed(trace.nodes.values()), new))[::-1] if new > 0 else []
        fresh.extend(nodes)
        if fresh:
            message["nodes"] = fresh
        passes = list(passes)
        if passes:
            message["passes"] = passes
        steps = trace.steps[self._steps :]
        if steps:
            message["steps"] = [step_document(s) for s in steps]
        if not self._limits:
            message["limits"] = trace.limits
        if not message:
            return
        self.send(message)
        # counted once written: a message cut short by an error is sent again
        self._nodes += max(new, 0)
        self._steps += len(steps)
        self._limits = True
        if complete and passes:
            self._passes = max(self._passes, passes[-1].index + 1)

    def finish(self, trace: Trace) -> None:
        """Send what is left, then the end of the run."""
        self.publish(trace, passes=trace.passes[self._passes :], complete=True)
        self.send(
            {
                "end": {
                    "error": trace.error,
                    "variables": trace.variables,
                    "limits": trace.limits,
                    "stats": trace.stats,
                    "loops": trace.loops,
                }
            }
        )


#: the code that writes a message: the time limit never interrupts it (a message cut in
#: half would end the stream; one written but not counted would be sent twice)
ATOMIC_CODE = (TraceStream.publish.__code__, TraceStream.send.__code__, TraceStream._write.__code__)


class ProtocolError(Exception):
    """The worker sent something that is not this protocol."""


class TraceAssembler:
    """The caller's side: builds the trace from the messages as they arrive."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.trace: Trace | None = None
        self.ended = False
        #: the walls as the worker said before the scenario's first line ran (with the
        #: clock); from then on the scenario's code may hold the protocol descriptor
        self.walls: Any = None
        self.started = False

    def _trace(self) -> Trace:
        if self.trace is None:  # no scenario message (a refusal): the path is all there is
            info = ScenarioInfo(path=self.path, title=Path(self.path).stem, summary="", source="")
            self.trace = Trace(scenario=info)
        return self.trace

    def feed(self, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise ProtocolError(f"not a message: {type(message).__name__}")
        if self.started:
            self._check_after_start(message)
        if "scenario" in message:
            self.trace = Trace(scenario=ScenarioInfo.from_dict(message["scenario"]))
        trace = self._trace()
        for d in message.get("nodes", ()):
            trace.nodes[d["id"]] = GraphNode.from_dict(d)
        passes = trace.passes
        for d in message.get("passes", ()):
            p = BackwardPass.from_dict(d)
            if p.index < len(passes):
                passes[p.index] = p
            elif p.index == len(passes):
                passes.append(p)
            else:
                raise ProtocolError(f"pass {p.index} after {len(passes)} passes")
        steps = trace.steps
        for d in message.get("steps", ()):
            step = Step.from_dict(d)
            if step.index != len(steps):
                raise ProtocolError(f"step {step.index} after {len(steps)} steps")
            steps.append(step)
        if "limits" in message:
            trace.limits.update(message["limits"])
        end = message.get("end")
        if end is not None:
            trace.error = TraceError.from_dict(end.get("error"))
            trace.variables = {
                k: VariableState.from_dict(v) for k, v in (end.get("variables") or {}).items()
            }
            trace.limits.update(end.get("limits") or {})
            trace.stats.update(end.get("stats") or {})
            trace.loops = [LoopRounds.from_dict(x) for x in end.get("loops") or ()]
            if trace.error is not None and not (trace.steps and trace.steps[-1].kind == "error"):
                end_with_error(trace, trace.error)  # refused before the recorder ran
            self.ended = True
        if "clock" in message:
            self.started = True
            self.walls = trace.limits.get("walls")

    def _check_after_start(self, message: dict[str, Any]) -> None:
        """Once the scenario runs, its code may write to the protocol descriptor (a hole
        in the Python layer is enough): what was said before it ran stays as said. A
        second scenario would replace the title and source, a second clock restart the
        caller's hard kill (a run without end), other walls claim what did not hold."""
        if "scenario" in message or "clock" in message:
            raise ProtocolError("the scenario or the clock was sent again while it ran")
        end = message.get("end")
        for limits in (message.get("limits"), end.get("limits") if end else None):
            if limits and limits.get("walls", self.walls) != self.walls:
                raise ProtocolError("the walls changed while the scenario ran")

    def cut_short(self, error: TraceError, limits: dict[str, Any]) -> Trace:
        """The trace of a run whose stream stopped before its end: every step received,
        then ``error`` as a step of its own."""
        trace = self._trace()
        trace.limits.update(limits)
        end_with_error(trace, error)
        variables: dict[str, VariableState] = {}  # as they were at the last step
        for step in trace.steps:
            for name, state in step.variables.items():
                if state is None:
                    variables.pop(name, None)
                else:
                    variables[name] = state
        trace.variables = variables
        return trace


def _clean(value: Any) -> Any:
    """Plain JSON data with every string, keys included, made valid UTF-8."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _clean(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {(storable(k) if isinstance(k, str) else k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
