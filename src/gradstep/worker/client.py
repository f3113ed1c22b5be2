"""Running scenarios in a separate worker process, from the CLI or the GUI.

``WorkerPool.run`` blocks (call it from a thread in a GUI) and always returns
a ``RunResult``: a trace, or an error that says what went wrong. A crash,
a kill or a limit in the worker never reaches the caller as an exception.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from gradstep.collection import collection_paused
from gradstep.trace.errors import ErrorKind, error_trace
from gradstep.trace.model import ScenarioInfo, Trace, TraceError
from gradstep.worker.limits import Limits


@dataclass
class RunResult:
    trace: Trace
    seconds: float

    @property
    def error(self) -> TraceError | None:
        return self.trace.error


def _worker_command(*, spare: bool) -> list[str]:
    """A spare worker prepares in the background while it waits; one started for a
    request already waiting does only what that request needs (``--on-demand``)."""
    return [sys.executable, "-m", "gradstep.worker", *([] if spare else ["--on-demand"])]


def _error_trace(
    path: str, etype: str, message: str, kind: ErrorKind, line: int | None = None
) -> Trace:
    source = ""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    info = ScenarioInfo(path=path, title=Path(path).stem, summary="", source=source)
    return error_trace(info, etype, message, kind, line)


class _Worker:
    """One started worker process, waiting for its single request."""

    def __init__(self, *, spare: bool = True) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        self.proc = subprocess.Popen(
            _worker_command(spare=spare),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # a Ctrl+C in the terminal is the parent's, not the worker's
        )
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        if self.ready:
            return True
        line = _readline_with_timeout(self.proc, timeout)
        self.ready = bool(line) and '"ready"' in line
        return self.ready

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()


def _readline_with_timeout(proc: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    t = threading.Thread(
        target=lambda: result.append(proc.stdout.readline() if proc.stdout else "")
    )
    t.daemon = True
    t.start()
    t.join(timeout)
    return result[0] if result else ""


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not answer"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class WorkerPool:
    """Keeps one spare worker started ahead of need; a new one replaces each used one."""

    def __init__(self, *, prestart: bool = True) -> None:
        self._lock = threading.Lock()
        self._spare: _Worker | None = None
        self._closed = False
        self._current: _Worker | None = None
        #: set while a request is with a worker (after it was ready and took the request)
        self.running = threading.Event()
        if prestart:
            self._spare = _Worker()

    def _take(self) -> _Worker:
        with self._lock:
            worker = self._spare
            if worker is None or worker.proc.poll() is not None:
                worker = _Worker(spare=False)
            self._spare = None
            self._current = worker
            return worker

    def _replenish(self) -> None:
        # started after the run, not during it: on two cores a spare importing torch
        # would compete with the run it is meant to speed up
        with self._lock:
            if self._spare is None and not self._closed:
                self._spare = _Worker()

    def run(
        self,
        path: str | os.PathLike[str],
        *,
        trusted: bool = False,
        limits: Limits | None = None,
    ) -> RunResult:
        limits = limits or Limits.from_env()
        path = str(path)
        started = time.perf_counter()
        worker = self._take()
        try:
            if not worker.wait_ready(60.0):
                code = worker.proc.poll()
                trace = _error_trace(
                    path,
                    "WorkerCrash",
                    f"the worker process {_describe_exit(code)} while starting",
                    "crash",
                )
                return RunResult(trace, time.perf_counter() - started)
            request = {"path": path, "trusted": trusted, "limits": limits.to_dict()}
            try:
                assert worker.proc.stdin is not None
                worker.proc.stdin.write(json.dumps(request) + "\n")
                worker.proc.stdin.flush()
                self.running.set()
            except (BrokenPipeError, OSError):
                pass  # reported below from the exit status
            line = _readline_with_timeout(worker.proc, limits.seconds + limits.grace)
            if not line:
                try:  # EOF comes a moment before the exit status
                    code: int | None = worker.proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    code = None
                timed_out = code is None
                worker.kill()
                if timed_out:
                    trace = _error_trace(
                        path,
                        "TimeLimit",
                        f"the scenario did not finish within {limits.seconds:g} s "
                        "(stuck inside one long operation); the worker was stopped",
                        "limit",
                    )
                else:
                    trace = _error_trace(
                        path,
                        "WorkerCrash",
                        f"the worker process {_describe_exit(code)} while running the scenario",
                        "crash",
                    )
                return RunResult(trace, time.perf_counter() - started)
            with collection_paused():  # a big trace is many objects that all survive
                reply = orjson.loads(line)
                trace = Trace.from_dict(reply["trace"]) if reply.get("ok") else None
            if trace is None:
                err = reply["error"]
                trace = _error_trace(
                    path, err["type"], err["message"], err.get("kind", "refused"), err.get("line")
                )
            return RunResult(trace, time.perf_counter() - started)
        finally:
            self.running.clear()
            worker.kill()
            with self._lock:
                self._current = None
            self._replenish()

    def cancel(self) -> None:
        """Stop the run in progress (the caller gets a crash/limit result)."""
        with self._lock:
            if self._current is not None:
                self._current.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for w in (self._spare, self._current):
                if w is not None:
                    w.kill()
            self._spare = None
            self._current = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------ one file, once
def record_file(
    path: str | os.PathLike[str],
    *,
    trusted: bool = False,
    seconds: float | None = None,
    memory_mb: int | None = None,
) -> Trace:
    """Record ``path`` in a worker of its own and return the trace: what ``gradstep trace``,
    ``export`` and ``handout`` run. Limits not given come from the environment, else defaults."""
    limits = Limits.from_env(seconds=seconds, memory_mb=memory_mb)
    with WorkerPool(prestart=False) as pool:
        return pool.run(path, trusted=trusted, limits=limits).trace
