"""Record a scenario into a trace, in this process (the worker calls this)."""

from __future__ import annotations

import ast
import builtins
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import torch

from gradstep.record import pytest_style
from gradstep.record.deadline import Deadline
from gradstep.record.limits import MAX_STEPS
from gradstep.record.recorder import Recorder, Then
from gradstep.scenario import check, folder
from gradstep.scenario.audit import prepare_library
from gradstep.scenario.errors import ScenarioRefused, ScenarioSyntaxError
from gradstep.scenario.loader import Scenario
from gradstep.scenario.siblings import SiblingModules
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
    scenario_folder: folder.ScenarioFolder | None = None
    modules: SiblingModules | None = None
    try:
        if not trusted:
            from gradstep.scenario import internals, reflect, sandbox

            reflect.use_internals(internals.library_internal)  # getattr(v, "_" + "prev")
            scenario_folder = folder.ScenarioFolder(scenario.path)
            modules = SiblingModules(scenario_folder, _check_file)
            # names of the imported modules that the run would refuse are refused now, too,
            # and so are the refused constructs of the scenario's own modules it imports
            check.check_source(
                scenario.source,
                scenario.path,
                sandbox.member,
                internals.library_internal,
                siblings=modules.problems,
            )
        tree = check.parse_scenario(scenario.source, scenario.path)
    except ScenarioRefused as e:
        return refused_trace(scenario, e)
    if _USES_MATPLOTLIB.search(scenario.source):
        # on the Agg canvas, before any guard: the figures are captured (record.figures)
        prepare_library("matplotlib.pyplot")
    guard: contextlib.AbstractContextManager[Any]
    if trusted:
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__file__": scenario.path,
            "__builtins__": builtins,
        }
        guard = contextlib.nullcontext()
    else:
        from gradstep.scenario import sandbox

        assert scenario_folder is not None
        namespace = sandbox.restricted_globals(scenario.path, scenario_folder, modules)
        if seal:
            sandbox.seal(scenario_folder.readable())
        guard = sandbox.guarded(scenario_folder.readable())
    recorder = Recorder(scenario, namespace, max_steps=max_steps, sink=sink, deadline=deadline)
    grad_enabled = torch.is_grad_enabled()
    try:
        with recorder.patched_autograd(), guard, _modules_beside(scenario.path, trusted):
            trace = recorder.run(tree, _test_calls(scenario, tree))
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


def _test_calls(scenario: Scenario, tree: ast.Module) -> Then | None:
    """A file of test functions only: its tests, run after it as pytest would (see
    :mod:`gradstep.record.pytest_style`)."""
    tests = pytest_style.test_functions(tree)
    if not tests:
        return None

    def then(trace: Trace) -> list[tuple[ast.stmt, str]]:
        if trace.passes:  # the file has backward passes of its own: nothing to add
            return []
        _note(trace, pytest_style.note(scenario.path, tests))
        return [call for f in tests for call in pytest_style.calls_of(f)]

    return then


@contextlib.contextmanager
def _modules_beside(path: str, trusted: bool) -> Iterator[None]:
    """A trusted run imports the modules beside the scenario as ``python file.py`` does:
    its folder first on ``sys.path`` (a restricted run has its own, see
    :mod:`gradstep.scenario.siblings`)."""
    folder_path = os.path.dirname(os.path.abspath(path))
    if not trusted or not os.path.isfile(path) or folder_path in sys.path:
        yield
        return
    sys.path.insert(0, folder_path)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder_path)


def _check_file(source: str, path: str, siblings: check.Siblings) -> list[ScenarioRefused]:
    """The static check of one of the scenario's own modules: the scenario's check."""
    from gradstep.scenario import internals, sandbox

    return check.find_refusals(
        source, path, sandbox.member, internals.library_internal, siblings=siblings
    )
