"""The worker's one request: get ready, read the scenario, raise the walls, record, stream.

:mod:`gradstep.worker.child` sets the process up (the protocol descriptor, one OpenMP
thread) before this module imports torch. Every failure travels in the stream as the
trace's end, so the exit status is always 0; a death without a word is the parent's to
report, from the line left in the shared page.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from gradstep.record.deadline import Deadline, LimitExceeded
from gradstep.record.run import record_scenario
from gradstep.scenario import sandbox
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.folder import ScenarioFolder
from gradstep.scenario.loader import Scenario, load_scenario, scenario_from_source
from gradstep.scenario.overrides import scenario_with
from gradstep.trace.model import Trace
from gradstep.worker import walls
from gradstep.worker.limits import Limits
from gradstep.worker.protocol import ATOMIC_CODE, TraceStream


@dataclass
class _Walls:
    """The walls raised around the run, as the trace reports them."""

    report: dict[str, Any]
    seconds: float
    python_layer: bool  # the restricted run's audit guard is sealed on top of them


def serve(fd: int) -> int:
    """Answer one request on the protocol descriptor ``fd``."""
    stream, slots = _get_ready(fd)
    request = _read_request()
    if request is None:
        return 0  # the parent closed stdin: this spare worker is not needed
    started = time.perf_counter()
    limits = request.get("limits", {})
    _set_memory_limit(limits.get("memory_mb", 8192))
    scenario = _scenario(request, stream)
    if scenario is None:
        return 0  # refused: the stream's end says why
    raised = _raise_walls(request, scenario, stream)
    trace = _record(scenario, limits, raised, stream, slots)
    if trace is not None:
        _finish(trace, limits, raised, started, stream)
    return 0


def _get_ready(fd: int) -> tuple[TraceStream, memoryview | None]:
    """Everything that can be done before a request, then say so."""
    torch.set_num_threads(1)  # the GUI and the worker share the cores
    walls.prepare()  # the walls' bindings, loaded while the worker may still start processes
    # the lazy imports torch would make under the guard (torch._dynamo, ~1 s) happen in a
    # thread the guard lets through, overlapping a spare worker's wait for a request; a
    # worker started for a request already waiting (``--on-demand``) makes them only for
    # a scenario that needs them: run beside a scenario, the thread holding the GIL
    # made it an order of magnitude slower (every torch kernel lets the GIL go)
    sandbox.install_audit_guard()
    if "--on-demand" not in sys.argv[1:]:
        sandbox.prewarm_in_background()
    stream = TraceStream(fd)
    slots = _shared_slots()
    stream.send({"ready": True, "pid": os.getpid()})
    return stream, slots


def _read_request() -> dict[str, Any] | None:
    line = sys.stdin.readline()
    if not line:
        return None
    request: dict[str, Any] = json.loads(line)
    return request


def _scenario(request: dict[str, Any], stream: TraceStream) -> Scenario | None:
    """The scenario asked for, with its what-if values set; None once a refusal is sent."""
    try:
        if "source" in request:
            scenario = scenario_from_source(request["source"], request.get("path", "<scenario>"))
        else:
            scenario = load_scenario(request["path"])
        scenario = scenario_with(scenario, request.get("overrides"))  # what-if: --set, the panel
    except ScenarioRefused as e:
        error = {"type": "ScenarioRefused", "message": e.message, "line": e.line or None}
        stream.send({"end": {"error": {**error, "kind": "refused"}}})
        return None
    stream.scenario(scenario.info())
    return scenario


def _raise_walls(request: dict[str, Any], scenario: Scenario, stream: TraceStream) -> _Walls:
    """The OS walls (:mod:`gradstep.worker.walls`), up from here to the end of this process;
    the sealed audit guard on top for a restricted run. Then the caller's clock starts."""
    trusted = bool(request.get("trusted"))
    if "source" not in request:
        _enter_folder(request.get("path"))
    if not trusted:
        sandbox.prepare_for(scenario.source)  # before the clock starts
    started = time.perf_counter()
    report = walls.for_request(trusted, request.get("path"), "source" in request)
    seconds = time.perf_counter() - started
    python_layer = not trusted and walls.python_layer_on()
    if python_layer:
        # the scenario's folder stays readable, as the walls let it (scenario.folder)
        path = None if "source" in request else request.get("path")
        readable = ScenarioFolder(path).readable()
        # after the walls (raising them takes calls it refuses), before the clock
        sandbox.seal(readable)
    # said even if the run dies; the caller's own clock for this run starts now too
    stream.send({"limits": {"walls": report}, "clock": True})
    return _Walls(report, seconds, python_layer)


def _enter_folder(path: str | None) -> None:
    """Run in the scenario's own folder, as Jupyter runs a notebook in its own: a trusted
    run's ``open('names.txt')`` reads the file beside it, and what it writes lands there,
    not wherever the app was started. (A restricted run resolves its paths against that
    folder anyway: scenario.folder.)"""
    if not path:
        return
    try:
        os.chdir(os.path.dirname(os.path.abspath(path)))
    except OSError:
        pass  # a folder gone since the request was sent: the run reports the file itself


def _record(
    scenario: Scenario,
    limits: dict[str, Any],
    raised: _Walls,
    stream: TraceStream,
    slots: memoryview | None,
) -> Trace | None:
    """The run, under its time limit, streamed as it is recorded; None once a limit hit
    before the recorder ran (checking a huge file) is sent."""
    deadline = Deadline(
        float(limits.get("seconds", Limits.seconds)), scenario.path, slots, quiet=ATOMIC_CODE
    )
    deadline.start()
    try:
        return record_scenario(
            scenario,
            trusted=not raised.python_layer,
            max_steps=int(limits.get("max_steps", Limits.max_steps)),
            seal=True,  # one scenario per process: its guard never comes off
            sink=stream,
            deadline=deadline,
        )
    except LimitExceeded as e:
        error = {"type": f"{e.limit.capitalize()}Limit", "message": str(e), "line": None}
        stream.send({"end": {"error": {**error, "kind": "limit"}}})
        return None
    finally:
        deadline.stop()


def _finish(
    trace: Trace, limits: dict[str, Any], raised: _Walls, started: float, stream: TraceStream
) -> None:
    """The trace's end: its limits, walls and timings."""
    # What the scenario built stays alive until the process ends: freeing it can take
    # long, and a runaway chain of a million autograd nodes overflows the C stack when
    # the collector releases it. The process exits without tearing anything down.
    gc.disable()
    trace.limits.update(limits)
    trace.limits["walls"] = raised.report
    trace.stats["walls_seconds"] = round(raised.seconds, 6)
    trace.stats["worker_seconds"] = round(time.perf_counter() - started, 6)
    stream.finish(trace)


def _set_memory_limit(memory_mb: int) -> None:
    limit = int(memory_mb) << 20
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass  # a platform without RLIMIT_AS still has the parent's wall-time kill


def _shared_slots() -> memoryview | None:
    """The page shared with the parent, if it passed one (``--register FD``)."""
    args = sys.argv[1:]
    if "--register" not in args:
        return None
    from gradstep.worker.register import attach

    try:
        return attach(int(args[args.index("--register") + 1]))
    except (IndexError, ValueError, OSError):
        return None  # the parent then knows no line; the run itself is unaffected
