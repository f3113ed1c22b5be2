"""Recording a scenario: its statements run one by one, its backward passes intercepted.

The recorder composes three parts around one trace being built
(:class:`~gradstep.record.building.TraceBuilder`):

- :mod:`~gradstep.record.statements` runs the statements and makes a step of each one
  that changed something;
- :mod:`~gradstep.record.snapshots` says which variables changed, and what they hold;
- :mod:`~gradstep.record.backward` records every call of the autograd engine as a pass,
  with a step for each of its hook events.

Meanwhile a :class:`~gradstep.record.provenance.Provenance` notes which line and which
``nn.Module`` made each node.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from gradstep.record import rounds
from gradstep.record.backward import BackwardPasses
from gradstep.record.building import TraceBuilder
from gradstep.record.deadline import Deadline, LimitExceeded
from gradstep.record.encode import EXACT_NUMEL
from gradstep.record.graph import NameTable, forget_layouts
from gradstep.record.limits import MAX_NODES, MAX_STEPS
from gradstep.record.provenance import STEP
from gradstep.record.snapshots import Snapshots
from gradstep.record.statements import Statements
from gradstep.scenario.loader import Scenario
from gradstep.trace.model import Trace

#: Statements to run after the scenario's own, given the trace so far, each with its text.
Then = Callable[[Trace], list[tuple[ast.stmt, str]]]


class Recorder:
    """Owns the trace being built; one per run."""

    def __init__(
        self,
        scenario: Scenario,
        namespace: dict[str, Any],
        *,
        max_steps: int = MAX_STEPS,
        max_nodes: int = MAX_NODES,
        jacobians: bool = True,
        exact_numel: int = EXACT_NUMEL,
        sink: Any = None,
        deadline: Deadline | None = None,
    ) -> None:
        """``sink``: gets the trace as it grows (``publish``, see
        ``gradstep.worker.protocol.TraceStream``); ``deadline``: the run's time limit."""
        self._builder = TraceBuilder(
            scenario,
            namespace,
            max_steps=max_steps,
            max_nodes=max_nodes,
            exact_numel=exact_numel,
            sink=sink,
            deadline=deadline or Deadline(float("inf"), scenario.path),
        )
        self._snapshots = Snapshots(self._builder)
        self._statements = Statements(self._builder, self._snapshots)
        self._passes = BackwardPasses(self._builder, self._snapshots, jacobians=jacobians)
        namespace[STEP] = self._statements.nested
        namespace[rounds.ROUNDS] = self._statements.round_items
        namespace[rounds.ROUND] = self._statements.next_round
        namespace[rounds.DETAILED] = True

    @property
    def trace(self) -> Trace:
        return self._builder.trace

    def patched_autograd(self) -> contextlib.AbstractContextManager[None]:
        """Every backward call of the scenario's is recorded while this lasts."""
        return self._passes.patched_autograd()

    def run(self, tree: ast.Module, then: Then | None = None) -> Trace:
        """Run the scenario's statements in order, until the end or the first error; then,
        if it ended well, the statements ``then`` gives for the trace so far, each with the
        text of its step (a file's test functions: :mod:`gradstep.record.pytest_style`)."""
        started = time.perf_counter()
        body = _without_docstring(tree.body)
        figures = self._builder.figures
        figures.statements = [stmt.lineno for stmt in body]
        with self._frozen_after_passes(), figures.active():
            self._run_statements(body)
            if then is not None and self.trace.error is None:
                calls = then(self.trace)
                self._run_statements([c for c, _ in calls], [t for _, t in calls])
        self._end()
        stats = self.trace.stats
        if figures.count:
            stats.update(figures.stats())
        stats["record_seconds"] = round(time.perf_counter() - started, 6)
        stats["nodes"] = len(self.trace.nodes)
        return self.trace

    def _run_statements(self, body: list[ast.stmt], texts: list[str] | None = None) -> None:
        builder = self._builder
        deadline = builder.deadline
        try:
            with builder.provenance.active():
                for i, stmt in enumerate(body):
                    deadline.check()  # no statement starts after the time limit
                    builder.line = stmt.lineno
                    if not self._statements.run(stmt, texts[i] if texts else None):
                        break
                deadline.check()
        except LimitExceeded as e:  # hit while the recorder itself was busy
            deadline.settle()
            if self.trace.error is None:
                builder.record_error(e, builder.line)
        finally:
            deadline.settle()  # what is left is the recorder's: not under the limit

    @contextlib.contextmanager
    def _frozen_after_passes(self) -> Iterator[None]:
        """What the recorder keeps lives to the end of the run: frozen after each pass, the
        collector stops walking it again and again (unless someone else froze objects).
        What was there before the run (torch, and in a worker torch._dynamo, sympy and
        matplotlib imported ahead) is frozen at its start: one full collection walking it
        took 0.15 s in a worker, half of a 2,000-round tutorial's plain run time."""
        self._builder.freeze = gc.get_freeze_count() == 0
        if self._builder.freeze:
            gc.freeze()
        try:
            yield
        finally:
            if self._builder.freeze:
                gc.unfreeze()

    def _end(self) -> None:
        """The variables as the run left them, and the namespace let go."""
        builder = self._builder
        try:
            self.trace.variables = self._snapshots.final(NameTable(builder.ns))
        except Exception as e:  # noqa: BLE001 - the recorder's trouble: the trace still stands
            builder.note_recording_error(builder.line, e)
        finally:
            forget_layouts()
            # the namespace holds our method and we hold the namespace: without this
            # cycle everything the scenario made is freed when the caller lets go
            for name in (STEP, rounds.ROUNDS, rounds.ROUND, rounds.DETAILED):
                builder.ns.pop(name, None)
            builder.provenance.release()


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """The module docstring is the scenario's title, not a step."""
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return body[1:] if isinstance(first.value.value, str) else body
    return body
