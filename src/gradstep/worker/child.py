"""The worker process: import torch early, wait for one scenario, record it, exit.

One run per process keeps every run clean (no torch state, patched modules or
lowered limits leak into the next); the parent keeps a spare worker started
ahead of need, so torch's import cost is paid before the user asks.

Protocol (see :mod:`gradstep.worker.protocol`): one JSON request line on stdin;
the trace streamed, step by step as it is recorded, on the protocol file
descriptor (the original stdout, which is then pointed at stderr so that
nothing the scenario or a native library prints can corrupt it). The line
running is kept in a page shared with the parent (``--register FD``, see
:mod:`gradstep.worker.register`), for when this process dies without a word.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time


def _protocol_fd() -> int:
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    # what the scenario or a library writes to the original stdout goes to stderr too
    setattr(sys, "__stdout__", sys.stdout)  # noqa: B010 - typeshed marks it Final
    return fd


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


def main() -> int:
    return _serve(_protocol_fd())


def _serve(fd: int) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch  # the expensive part, done before any request arrives

    torch.set_num_threads(1)  # the GUI and the worker share the cores
    from gradstep.record.deadline import Deadline, LimitExceeded
    from gradstep.record.run import record_scenario
    from gradstep.scenario import sandbox
    from gradstep.scenario.errors import ScenarioRefused
    from gradstep.scenario.loader import load_scenario, scenario_from_source
    from gradstep.scenario.overrides import scenario_with
    from gradstep.worker import walls
    from gradstep.worker.limits import Limits
    from gradstep.worker.protocol import ATOMIC_CODE, TraceStream

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
    line = sys.stdin.readline()
    if not line:
        return 0
    req = json.loads(line)
    limits = req.get("limits", {})
    trusted = bool(req.get("trusted"))
    started = time.perf_counter()
    _set_memory_limit(limits.get("memory_mb", 8192))
    try:
        if "source" in req:
            scenario = scenario_from_source(req["source"], req.get("path", "<scenario>"))
        else:
            scenario = load_scenario(req["path"])
        scenario = scenario_with(scenario, req.get("overrides"))  # what-if: --set, the panel
    except ScenarioRefused as e:
        error = {"type": "ScenarioRefused", "message": e.message, "line": e.line or None}
        stream.send({"end": {"error": {**error, "kind": "refused"}}})
        return 0
    stream.scenario(scenario.info())
    if not trusted:
        sandbox.prepare_for(scenario.source)  # before the clock starts
    # the OS walls (gradstep.worker.walls): up from here to the end of this process
    walls_started = time.perf_counter()
    wall_report = walls.for_request(trusted, req.get("path"), "source" in req)
    walls_seconds = time.perf_counter() - walls_started
    python_layer = not trusted and walls.python_layer_on()
    if python_layer:
        sandbox.seal()  # after the walls (raising them takes calls it refuses), before the clock
    # said even if the run dies; the caller's own clock for this run starts now too
    stream.send({"limits": {"walls": wall_report}, "clock": True})
    deadline = Deadline(
        float(limits.get("seconds", Limits.seconds)), scenario.path, slots, quiet=ATOMIC_CODE
    )
    deadline.start()
    try:
        trace = record_scenario(
            scenario,
            trusted=not python_layer,
            max_steps=int(limits.get("max_steps", Limits.max_steps)),
            seal=True,  # one scenario per process: its guard never comes off
            sink=stream,
            deadline=deadline,
        )
    except LimitExceeded as e:  # before the recorder ran (checking a huge file)
        error = {"type": f"{e.limit.capitalize()}Limit", "message": str(e), "line": None}
        stream.send({"end": {"error": {**error, "kind": "limit"}}})
        return 0
    finally:
        deadline.stop()
    # What the scenario built stays alive until the process ends: freeing it can take
    # long, and a runaway chain of a million autograd nodes overflows the C stack when
    # the collector releases it. The process exits without tearing anything down.
    gc.disable()
    trace.limits.update(limits)
    trace.limits["walls"] = wall_report
    trace.stats["walls_seconds"] = round(walls_seconds, 6)
    trace.stats["worker_seconds"] = round(time.perf_counter() - started, 6)
    stream.finish(trace)
    return 0


def run() -> None:
    """Entry point: answer, then leave without freeing the scenario's objects."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
