"""The trace being built, as the recorder's parts share it.

Statements, snapshots and backward passes all add to one trace: its steps (under the
step limit, streamed to the caller as they come), its graph (under the node limit),
the line running now, and the error that ends the run.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import torch

from gradstep.record.deadline import Deadline, LimitExceeded
from gradstep.record.encode import LARGE_PASS_EXACT_NUMEL, LARGE_PASS_NODES, encode
from gradstep.record.figures import FigureCapture
from gradstep.record.graph import GraphCapture, GraphTooLarge
from gradstep.record.output import message_of
from gradstep.record.provenance import Provenance
from gradstep.scenario.loader import Scenario
from gradstep.trace.errors import error_step
from gradstep.trace.model import Step, Trace, TraceError


class TraceBuilder:
    """One run's trace and what adding to it takes."""

    def __init__(
        self,
        scenario: Scenario,
        namespace: dict[str, Any],
        *,
        max_steps: int,
        max_nodes: int,
        exact_numel: int,
        sink: Any,
        deadline: Deadline,
    ) -> None:
        self.scenario = scenario
        self.filename = scenario.path
        self.ns = namespace
        self.max_steps = max_steps
        self.max_nodes = max_nodes
        self.exact_numel = exact_numel
        self.deadline = deadline
        self.provenance = Provenance(scenario.source, deadline.slots)
        self.provenance.bind(namespace)
        self.capture = GraphCapture(self.provenance)
        self.trace = Trace(
            scenario=scenario.info(),
            limits={
                "exact_numel": exact_numel,
                "large_pass_nodes": LARGE_PASS_NODES,
                "large_pass_exact_numel": min(exact_numel, LARGE_PASS_EXACT_NUMEL),
            },
        )
        self.trace.nodes = self.capture.nodes
        self.sink = sink
        self.line: int | None = None  # the top-level or nested statement last started
        self.in_pass = False  # inside a recorded backward pass
        self.summarising = False  # in a long loop's summarised rounds: no steps, no passes
        self.loop_round = 0  # the round of a top-level loop running (0: none)
        self.pass_rounds: list[list[int]] = []  # [pass index, loop round] of passes in loops
        self.freeze = False  # what the recorder keeps is frozen for the collector after a pass
        self.holding = False  # a pass's steps are sent with the pass, once it is complete
        # backward calls made by torch functions (gradcheck), by (line, function): said on
        # the step of the statement that made them (see record.backward)
        self.grouped: dict[tuple[int | None, str], int] = {}
        # matplotlib figures shown or left open at a cell's end go with the next step made
        self.figures = FigureCapture([c.get("line", 1) for c in self.trace.scenario.cells])

    def encode(self, t: torch.Tensor | None) -> Any:
        return encode(t, self.exact_numel)

    def add_step(self, step: Step) -> Step:
        """Append ``step``, numbered; past the step limit the run stops instead."""
        if len(self.trace.steps) >= self.max_steps:
            raise LimitExceeded("trace", f"the trace grew past {self.max_steps} steps")
        step.index = len(self.trace.steps)
        if self.figures.pending:
            step.figures.extend(self.figures.take())
        self.trace.steps.append(step)
        if self.sink is not None and not self.holding:
            self.sink.publish(self.trace)  # the caller has it, whatever happens next
        return step

    def grouped_note(self) -> str:
        """What the statement just run made torch run without steps; cleared."""
        if not self.grouped:
            return ""
        parts = [
            f"{function} ran {n:,} backward call{'s' if n != 1 else ''} of its own"
            for (_, function), n in self.grouped.items()
        ]
        self.grouped.clear()
        return "  · " + "; ".join(parts) + " (one group, not stepped through)"

    def current_line(self) -> int | None:
        """The scenario line executing now (the innermost frame in the scenario file)."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return self.line

    def walk(self, roots: list[Any], *, new_only: bool = False) -> list[Any]:
        """The graph nodes reachable from ``roots``; past the node limit the run stops."""
        try:
            return self.capture.walk(
                roots, new_only=new_only, limit=self.max_nodes - len(self.capture.nodes)
            )
        except GraphTooLarge:
            raise LimitExceeded(
                "graph", f"the autograd graph grew past the limit of {self.max_nodes} nodes"
            ) from None

    def note_recording_error(self, line: int | None, e: Exception) -> None:
        """The recorder's own trouble, kept in the stats: the trace still stands."""
        errors = self.trace.stats.setdefault("recording_errors", [])
        errors.append(f"line {line}: {type(e).__name__}: {message_of(e)}")

    def record_error(self, error: BaseException, line: int | None) -> None:
        """End the trace with ``error``, at the deepest scenario line of its traceback."""
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        if isinstance(error, LimitExceeded):
            self.trace.error = TraceError(
                f"{error.limit.capitalize()}Limit", message_of(error), line, "limit"
            )
        else:
            self.trace.error = TraceError(
                type(error).__name__, message_of(error), line, "exception"
            )
        self.add_step(error_step(self.trace.error))
