"""Record a scenario into a trace, in this process (the worker calls this)."""

from __future__ import annotations

import builtins
import contextlib
import re
from typing import Any

import torch

from gradstep.record.deadline import Deadline
from gradstep.record.limits import MAX_STEPS
from gradstep.record.recorder import Recorder
from gradstep.scenario import check, folder
from gradstep.scenario.audit import prepare_library
from gradstep.scenario.errors import ScenarioRefused, ScenarioSyntaxError
from gradstep.scenario.loader import Scenario
from gradstep.trace.clean import storable
from gradstep.trace.errors import ErrorKind, end_with_error, error_trace
from gradstep.trace.model import Trace, TraceError

_USES_MATPLOTLIB = re.compile(r"\bmatplotlib\b")


def refused_trace(scenario: Scenario, error: ScenarioRefused) -> Trace:
    """The trace of a scenario that never ran: its source, its notes and the error."""
    kind: ErrorKind = "syntax" if isinstance(error, ScenarioSyntaxError) else "refused"
    etype = "SyntaxError" if kind == "syntax" else "ScenarioRefused"
    info = scenario.info()
    where = info.where if info.notebook_cells else None  # a notebook's: "cell 4, line 2"
    return error_trace(info, etype, error.details(where), kind, error.line or None)


def record_scenario(
    scenario: Scenario,
    *,
    trusted: bool = False,
    max_steps: int = MAX_STEPS,
    seal: bool = False,
    sink: Any = None,
    deadline: Deadline | None = None,
) -> Trace:
    """Check, then run the scenario under the recorder; always returns a trace.

    ``seal``: a restricted run turns the audit guard on for the rest of the process
    (see :func:`gradstep.scenario.audit.seal`); the worker, which runs one scenario
    and exits, asks for it. ``sink`` gets the trace as it grows (see ``Recorder``);
    ``deadline`` is the time limit, started by the caller.
    """
    try:
        if not trusted:
            from gradstep.scenario import internals, sandbox

            # names of the imported modules that the run would refuse are refused now, too
            check.check_source(
                scenario.source, scenario.path, sandbox.member, internals.library_internal
            )
        tree = check.parse_scenario(scenario.source, scenario.path)
    except ScenarioRefused as e:
        return refused_trace(scenario, e)
    if _USES_MATPLOTLIB.search(scenario.source):
        # on the Agg canvas, before any guard: the figures are captured (record.figures)
        prepare_library("matplotlib.pyplot")
    guard: contextlib.AbstractContextManager[Any]
    scenario_folder: folder.ScenarioFolder | None = None
    if trusted:
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__file__": scenario.path,
            "__builtins__": builtins,
        }
        guard = contextlib.nullcontext()
    else:
        from gradstep.scenario import sandbox

        scenario_folder = folder.ScenarioFolder(scenario.path)
        namespace = sandbox.restricted_globals(scenario.path, scenario_folder)
        if seal:
            sandbox.seal(scenario_folder.readable())
        guard = sandbox.guarded(scenario_folder.readable())
    recorder = Recorder(scenario, namespace, max_steps=max_steps, sink=sink, deadline=deadline)
    grad_enabled = torch.is_grad_enabled()
    try:
        with recorder.patched_autograd(), guard:
            trace = recorder.run(tree)
    except Exception as e:  # noqa: BLE001 - a bug of ours: the steps so far and a message
        trace = recorder.trace
        line = trace.steps[-1].line if trace.steps else None
        message = storable(f"recording stopped: {type(e).__name__}: {e}")
        end_with_error(trace, TraceError("RecorderError", message, line, "crash"))
    finally:
        torch.set_grad_enabled(grad_enabled)
    if scenario_folder is not None and scenario_folder.scratch:
        trace.stats["scratch"] = dict(scenario_folder.written())
        _note(trace, scenario_folder.note())
    trace.stats["trusted"] = trusted
    if seal and not trusted:
        trace.stats["guard"] = "sealed"  # the audit guard stays on until the process ends
    return trace


def _note(trace: Trace, note: str | None) -> None:
    """A sentence for whoever reads the trace (``gradstep trace`` prints the notes)."""
    if note:
        trace.stats.setdefault("notes", []).append(note)
