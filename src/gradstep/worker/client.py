"""Running scenarios in a separate worker process, from the CLI or the GUI.

``WorkerPool.run`` blocks (call it from a thread in a GUI) and always returns
a ``RunResult``: a trace, or an error that says what went wrong. A crash,
a kill or a limit in the worker never reaches the caller as an exception.

The worker streams the trace as it records it (:mod:`gradstep.worker.protocol`)
and a thread here assembles it as it arrives, so a worker that dies keeps
every step it recorded: the trace then ends with an error step at the line
that was running (:mod:`gradstep.worker.register`). The caller never opens the
scenario file itself; the worker reads it (:mod:`gradstep.scenario.files`).
"""

from __future__ import annotations

import argparse
import json
import os
import select
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
from gradstep.worker.protocol import TraceAssembler
from gradstep.worker.register import Register

#: signals that mean the worker crashed (rather than was stopped)
_CRASH_SIGNALS = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT", "SIGSYS", "SIGTRAP"}


@dataclass
class RunResult:
    trace: Trace
    seconds: float

    @property
    def error(self) -> TraceError | None:
        return self.trace.error


def _worker_command(*, spare: bool, register: int | None = None) -> list[str]:
    """A spare worker prepares in the background while it waits; one started for a
    request already waiting does only what that request needs (``--on-demand``)."""
    return [
        sys.executable,
        "-m",
        "gradstep.worker",
        *([] if spare else ["--on-demand"]),
        *(["--register", str(register)] if register is not None else []),
    ]


def _error_trace(
    path: str, etype: str, message: str, kind: ErrorKind, line: int | None = None
) -> Trace:
    """A trace that is only an error (the file is not read: the worker reads it)."""
    info = ScenarioInfo(path=path, title=Path(path).stem, summary="", source="")
    return error_trace(info, etype, message, kind, line)


class _Worker:
    """One started worker process, waiting for its single request."""

    def __init__(self, *, spare: bool = True) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        self.register: Register | None
        try:
            self.register = Register()
        except (OSError, ValueError):
            self.register = None  # the lines of a dead worker will be unknown
        fd = self.register.fd if self.register is not None else None
        self.proc = subprocess.Popen(
            _worker_command(spare=spare, register=fd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            pass_fds=(fd,) if fd is not None else (),
            start_new_session=True,  # a Ctrl+C in the terminal is the parent's, not the worker's
        )
        if self.register is not None:
            self.register.handed_over()
        self.ready = False
        self.stopped = False  # killed by us (a time-out, a cancel), not by the system

    def wait_ready(self, timeout: float) -> bool:
        if self.ready:
            return True
        line = _readline_with_timeout(self.proc, timeout)
        self.ready = bool(line) and b'"ready"' in line
        return self.ready

    def poll_ready(self) -> bool:
        """Ready, without waiting: the worker's first line has arrived (or had)."""
        if self.ready:
            return True
        stream = self.proc.stdout
        if stream is None or not select.select([stream], [], [], 0)[0]:
            return False
        return self.wait_ready(1.0)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.stopped = True
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        if self.register is not None:
            self.register.close()

    @property
    def line(self) -> int | None:
        """The scenario line the worker was running (as it last said)."""
        return self.register.line if self.register is not None else None


def _readline_with_timeout(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    result: list[bytes] = []
    t = threading.Thread(
        target=lambda: result.append(proc.stdout.readline() if proc.stdout else b"")
    )
    t.daemon = True
    t.start()
    t.join(timeout)
    return result[0] if result else b""


class _Reader(threading.Thread):
    """Reads the worker's messages as they come and assembles the trace."""

    def __init__(self, worker: _Worker, path: str, max_bytes: int) -> None:
        super().__init__(name="gradstep-trace-reader", daemon=True)
        self.worker = worker
        self.assembler = TraceAssembler(path)
        self.max_bytes = max_bytes
        self.received = 0
        self.too_large = False
        self.failure: str | None = None  # what was wrong with the stream
        self.clock_at: float | None = None  # when the worker's clock started (walls up)

    def run(self) -> None:
        stream = self.worker.proc.stdout
        assembler = self.assembler
        if stream is None:
            return
        try:
            with collection_paused():  # a big trace is many objects that all survive
                while not assembler.ended:
                    # never more than the limit left, even inside one line
                    line = stream.readline(self.max_bytes - self.received + 1)
                    if not line:
                        return  # the worker is gone
                    self.received += len(line)
                    if self.received > self.max_bytes:
                        self.too_large = True
                        self.worker.kill()
                        return
                    if not line.endswith(b"\n"):
                        return  # a message cut short by the worker's end
                    message = orjson.loads(line)
                    assembler.feed(message)
                    if "clock" in message:
                        self.clock_at = time.monotonic()
        except OSError as e:
            self.failure = f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - the stream is untrusted data: any shape at all
            self.failure = f"{type(e).__name__}: {e}"
            self.worker.kill()


def _describe_exit(code: int | None, stopped: bool = False) -> str:
    if code is None:
        return "did not answer"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        if name in _CRASH_SIGNALS:
            return f"crashed (signal {name})"
        hint = "" if stopped or name != "SIGKILL" else ", perhaps for lack of memory"
        return f"was killed (signal {name}{hint})"
    return f"exited with status {code}"


def _at(line: int | None) -> str:
    return f" at line {line}" if line else ""


def _in_round(worker: _Worker, trace: Trace | None) -> str:
    """``, in round 5,123 of `for i in range(10**9):` (line 6)`` when a long loop ran."""
    at = worker.register.loop_round if worker.register is not None else None
    if at is None:
        return ""
    round_, line = at
    lines = trace.scenario.source.splitlines() if trace is not None else []
    text = lines[line - 1].strip() if 0 < line <= len(lines) else "the loop"
    where = trace.scenario.where(line) if trace is not None else f"line {line}"
    return f", in round {round_:,} of `{text}` ({where})"


class WorkerPool:
    """Keeps a spare worker started ahead of need (two once ``keep_spares(2)`` asked: the
    What-if panel, whose changes come seconds apart); a new one replaces each used one."""

    def __init__(self, *, prestart: bool = True) -> None:
        self._lock = threading.Lock()
        self._spares: list[_Worker] = []  # oldest first
        self._wanted = 1 if prestart else 0
        self._closed = False
        self._current: _Worker | None = None
        #: set while a request is with a worker (after it was ready and took the request)
        self.running = threading.Event()
        #: a pool that keeps a spare (the window's) hands a result back before it ends the
        #: used worker and starts the next spare; a one-off pool (the CLI's) ends it first
        self._keeps_spare = prestart
        if prestart:
            self._spares.append(_Worker())

    @property
    def _spare(self) -> _Worker | None:
        """The spare the next run takes if none is ready yet (the oldest)."""
        return self._spares[0] if self._spares else None

    def keep_spares(self, count: int) -> None:
        """Keep ``count`` spares from the next run on: a run right after another then finds
        one ready instead of waiting seconds for torch to import in the replacement. A
        smaller count ends the extra spares now (each holds ~270 MB of torch)."""
        with self._lock:
            self._wanted = max(count, 1 if self._keeps_spare else 0)
            while len(self._spares) > self._wanted:
                self._spares.pop().close()  # the newest: the oldest is nearest ready

    def _take(self) -> _Worker:
        with self._lock:
            for dead in [w for w in self._spares if w.proc.poll() is not None]:
                self._spares.remove(dead)
                dead.close()
            ready = [w for w in self._spares if w.poll_ready()]
            worker = ready[0] if ready else self._spare
            if worker is None:
                worker = _Worker(spare=False)
            else:
                self._spares.remove(worker)
            self._current = worker
            return worker

    def _replenish(self) -> None:
        # started after the run, not during it: on two cores a spare importing torch
        # would compete with the run it is meant to speed up
        with self._lock:
            while len(self._spares) < self._wanted and not self._closed:
                self._spares.append(_Worker())

    def run(
        self,
        path: str | os.PathLike[str],
        *,
        trusted: bool = False,
        limits: Limits | None = None,
        overrides: dict[str, str] | None = None,
    ) -> RunResult:
        """Run ``path``; ``overrides`` (``{"x": "5.0"}``) set its top-level literals for this
        run only (:mod:`gradstep.scenario.overrides`; the worker rewrites the source it read)."""
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
            reader = _Reader(worker, path, int(limits.max_trace_mb) << 20)
            reader.start()
            request: dict[str, object] = {
                "path": path,
                "trusted": trusted,
                "limits": limits.to_dict(),
            }
            if overrides:
                request["overrides"] = dict(overrides)
            try:
                assert worker.proc.stdin is not None
                worker.proc.stdin.write(json.dumps(request).encode() + b"\n")
                worker.proc.stdin.flush()
                self.running.set()
            except (BrokenPipeError, OSError):
                pass  # reported below from the exit status
            timed_out = not _wait(reader, limits)
            if timed_out:
                worker.kill()  # the last resort: the worker's own limit did not end the run
                reader.join()
            trace = _finish(worker, reader, limits, timed_out)
            return RunResult(trace, time.perf_counter() - started)
        finally:
            self.running.clear()
            with self._lock:
                self._current = None
            if self._keeps_spare:
                # reaping a torch process and starting a Python take ~0.1 s: not while a
                # what-if change waits for its numbers
                threading.Thread(
                    target=self._retire, args=(worker,), name="gradstep-retire", daemon=True
                ).start()
            else:
                self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.close()
        self._replenish()

    def cancel(self) -> None:
        """Stop the run in progress (the caller gets a crash/limit result)."""
        with self._lock:
            if self._current is not None:
                self._current.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for spare in self._spares:
                spare.close()
            if self._current is not None:
                self._current.kill()  # its run closes it
            self._spares = []
            self._current = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait(reader: _Reader, limits: Limits) -> bool:
    """Wait for the stream to end; False when the time limit and its grace passed,
    counted from the moment the worker's clock started (or it was asked: loading the
    scenario and raising the walls count too until then)."""
    asked = time.monotonic()
    while True:
        start = reader.clock_at or asked
        left = start + limits.seconds + limits.grace - time.monotonic()
        if left <= 0:
            return not reader.is_alive()
        reader.join(min(left, 0.5))
        if not reader.is_alive():
            return True


def _finish(worker: _Worker, reader: _Reader, limits: Limits, timed_out: bool) -> Trace:
    """The trace the stream gave, ended by an error if the worker did not end it."""
    assembler = reader.assembler
    if assembler.ended and reader.failure is None and assembler.trace is not None:
        return assembler.trace  # (an ended stream always made its trace)
    try:  # EOF comes a moment before the exit status
        code: int | None = worker.proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        worker.kill()
        code = worker.proc.poll()
    line = worker.line
    if reader.too_large:
        error = TraceError(
            "TraceLimit",
            f"the trace grew larger than the limit of {limits.max_trace_mb} MB; "
            f"the worker was stopped{_at(line)}",
            line,
            "limit",
        )
    elif timed_out:
        fired = worker.register.fired if worker.register is not None else 0
        how = (
            "and did not stop when told to (it caught the stop)"
            if fired
            else "stuck inside one long operation"
        )
        error = TraceError(
            "TimeLimit",
            f"the scenario ran longer than the time limit of {limits.seconds:g} s, {how}"
            f"{_in_round(worker, assembler.trace)}; the worker was stopped{_at(line)}",
            line,
            "limit",
        )
    elif reader.failure is not None:
        error = TraceError(
            "WorkerCrash",
            f"the worker sent something unreadable{_at(line)} ({reader.failure})",
            line,
            "crash",
        )
    else:
        error = TraceError(
            "WorkerCrash",
            f"the worker {_describe_exit(code, worker.stopped)}{_at(line)}",
            line,
            "crash",
        )
    return assembler.cut_short(error, limits.to_dict())


# ------------------------------------------------------------ one file, once
def record_file(
    path: str | os.PathLike[str],
    *,
    trusted: bool = False,
    seconds: float | None = None,
    memory_mb: int | None = None,
    overrides: dict[str, str] | None = None,
) -> Trace:
    """Record ``path`` in a worker of its own and return the trace: what ``gradstep trace``,
    ``export`` and ``handout`` run. Limits not given come from the environment, else defaults;
    ``overrides`` are ``--set`` values."""
    limits = Limits.from_env(seconds=seconds, memory_mb=memory_mb)
    with WorkerPool(prestart=False) as pool:
        return pool.run(path, trusted=trusted, limits=limits, overrides=overrides).trace


def record_command_file(options: argparse.Namespace) -> Trace:
    """``record_file`` for a command's parsed options: ``file``, ``--trust``, ``--timeout``,
    ``--memory`` and ``--set`` (``gradstep trace``, ``export``, ``handout``)."""
    return record_file(
        options.file,
        trusted=options.trust,
        seconds=options.timeout,
        memory_mb=options.memory,
        overrides=getattr(options, "overrides", None),
    )
