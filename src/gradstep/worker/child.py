"""The worker process: import torch early, wait for one scenario, record it, exit.

One run per process keeps every run clean (no torch state, patched modules or
lowered limits leak into the next); the parent keeps a spare worker started
ahead of need, so torch's import cost is paid before the user asks.

Protocol: one JSON request line on stdin; one JSON response on the protocol
file descriptor (the original stdout, which is then pointed at stderr so that
nothing the scenario or a native library prints can corrupt it).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import sys
import time
from typing import Any


def _protocol_stream() -> Any:
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.__stdout__ = os.fdopen(1, "w", buffering=1)
    return os.fdopen(fd, "w", encoding="utf-8")


def _set_memory_limit(memory_mb: int) -> None:
    limit = int(memory_mb) << 20
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass  # a platform without RLIMIT_AS still has the parent's wall-time kill


def main() -> int:
    out = _protocol_stream()
    try:
        return _serve(out)
    finally:
        out.flush()


def _serve(out: Any) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch  # the expensive part, done before any request arrives

    torch.set_num_threads(1)  # the GUI and the worker share the cores
    from gradstep.record.recorder import LimitExceeded
    from gradstep.record.run import record_scenario
    from gradstep.scenario import sandbox
    from gradstep.scenario.errors import ScenarioRefused
    from gradstep.scenario.loader import load_scenario, scenario_from_source
    from gradstep.trace.io import dumps
    from gradstep.worker import walls
    from gradstep.worker.limits import Limits

    walls.prepare()  # the walls' bindings, loaded while the worker may still start processes

    # the lazy imports torch would make under the guard (torch._dynamo, ~1 s) happen in a
    # thread the guard lets through, overlapping a spare worker's wait for a request; a
    # worker started for a request already waiting (``--on-demand``) makes them only for
    # a scenario that needs them: run beside a scenario, the thread holding the GIL
    # made it an order of magnitude slower (every torch kernel lets the GIL go)
    sandbox.install_audit_guard()
    if "--on-demand" not in sys.argv[1:]:
        sandbox.prewarm_in_background()
    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    out.flush()
    line = sys.stdin.readline()
    if not line:
        return 0
    req = json.loads(line)
    limits = req.get("limits", {})
    started = time.perf_counter()
    _set_memory_limit(limits.get("memory_mb", 8192))

    def on_alarm(signum: int, frame: Any) -> None:
        raise LimitExceeded(
            "time",
            f"the scenario ran longer than the time limit of {limits.get('seconds', Limits.seconds)} s",
        )

    signal.signal(signal.SIGALRM, on_alarm)
    try:
        if "source" in req:
            scenario = scenario_from_source(req["source"], req.get("path", "<scenario>"))
        else:
            scenario = load_scenario(req["path"])
    except ScenarioRefused as e:
        out.write(
            json.dumps(
                {
                    "ok": False,
                    "error": {
                        "type": "ScenarioRefused",
                        "message": str(e),
                        "line": e.line or None,
                        "kind": "refused",
                    },
                }
            )
            + "\n"
        )
        return 0
    if not req.get("trusted"):
        sandbox.prepare_for(scenario.source)  # before the clock starts
    # the OS walls (gradstep.worker.walls): up from here to the end of this process
    walls_started = time.perf_counter()
    wall_report = walls.for_request(bool(req.get("trusted")), req.get("path"), "source" in req)
    walls_seconds = time.perf_counter() - walls_started
    python_layer = not req.get("trusted") and walls.python_layer_on()
    if python_layer:
        sandbox.seal()  # after the walls (raising them takes calls it refuses), before the clock
    signal.setitimer(signal.ITIMER_REAL, float(limits.get("seconds", Limits.seconds)))
    try:
        trace = record_scenario(
            scenario,
            trusted=not python_layer,
            max_steps=int(limits.get("max_steps", Limits.max_steps)),
            seal=True,  # one scenario per process: its guard never comes off
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    # What the scenario built stays alive until the process ends: freeing it can take
    # long, and a runaway chain of a million autograd nodes overflows the C stack when
    # the collector releases it. The process exits without tearing anything down.
    gc.disable()
    trace.limits.update(limits)
    trace.limits["walls"] = wall_report
    trace.stats["walls_seconds"] = round(walls_seconds, 6)
    trace.stats["worker_seconds"] = round(time.perf_counter() - started, 6)
    text = dumps(trace)
    max_bytes = int(limits.get("max_trace_mb", 512)) << 20
    if len(text) > max_bytes:
        out.write(
            json.dumps(
                {
                    "ok": False,
                    "error": {
                        "type": "TraceLimit",
                        "message": f"the trace is larger than the limit of {limits.get('max_trace_mb')} MB",
                        "line": None,
                        "kind": "limit",
                    },
                }
            )
            + "\n"
        )
        return 0
    out.write('{"ok": true, "trace": ' + text + "}\n")
    out.flush()
    return 0


def run() -> None:
    """Entry point: answer, then leave without freeing the scenario's objects."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
