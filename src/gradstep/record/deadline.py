"""The time limit of a run, which the scenario cannot swallow.

When the limit passes, an interval timer's signal raises :class:`LimitExceeded`
in the scenario, as a one-shot alarm did; but a scenario can discard one
exception in several ways that the restricted language allows (``finally:
continue`` in a loop, a context manager whose ``__exit__`` returns True, a
``__del__``, where exceptions are ignored) and trusted code in more
(``except BaseException: pass``). So once fired, the limit keeps firing: every
:data:`REFIRE_SECONDS` the signal raises again, and a trace function raises
at the next line the scenario's own code runs (in a ``finally`` or an
``__exit__`` that was about to swallow the first one); the recorder refuses
to start another statement (:meth:`Deadline.check`). When the recorder has
the limit in hand it calls :meth:`Deadline.settle`, and nothing fires any
more while it writes the end of the trace. A scenario stuck inside one native
call never returns to Python: the caller's hard kill is the last resort.

:data:`SLOT_LINE` and :data:`SLOT_FIRED` are the slots of the worker's shared page (see
``gradstep.worker.register``) that the recorder keeps up to date, so that a
worker killed from outside still says where it was.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import types
from typing import Any, Protocol

#: slots of the page shared with the caller: the line running, how often the limit fired,
#: and a long loop's round running with the loop's line (0: no loop)
SLOT_LINE = 0
SLOT_FIRED = 1
SLOT_ROUND = 2
SLOT_LOOP = 3
#: once the limit has passed, how often it fires again until the scenario really stops
REFIRE_SECONDS = 0.05

_OWN_CODE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class LimitExceeded(BaseException):
    """A resource limit stopped the scenario (BaseException: scenarios can't catch it)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class Slots(Protocol):
    """Where a run notes its line and how often its limit fired: a list in this process, or
    the worker's page shared with its parent (a ``memoryview`` of ints)."""

    def __getitem__(self, index: int, /) -> int: ...
    def __setitem__(self, index: int, value: int, /) -> None: ...


def new_slots() -> list[int]:
    """Slots for a run without a shared page (in-process recording)."""
    return [0, 0, 0, 0]


class Deadline:
    """The time limit of one run in this process (the main thread's ``SIGALRM``)."""

    def __init__(
        self,
        seconds: float,
        filename: str,
        slots: Slots | None = None,
        *,
        quiet: tuple[types.CodeType, ...] = (),
    ) -> None:
        self.seconds = seconds
        self.filename = filename  # the scenario's code objects carry this file name
        self.slots = slots if slots is not None else new_slots()
        #: code never interrupted: what writes the trace to the caller (a half-written
        #: message would end the stream); the next firing comes 50 ms later
        self.quiet = quiet
        self.fired = 0
        self.settled = False
        self._raised = False
        # frames given our line tracer, with theirs before; the trace function before ours
        # (a debugger's, coverage's), put back when the run settles
        self._traced: list[tuple[types.FrameType, Any]] = []
        self._tracing = False
        self._previous_trace: Any = None
        self._previous: Any = None
        self._started = False

    @property
    def message(self) -> str:
        return f"the scenario ran longer than the time limit of {self.seconds:g} s"

    def error(self) -> LimitExceeded:
        return LimitExceeded("time", self.message)

    def start(self) -> None:
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds, REFIRE_SECONDS)
        self._started = True

    def check(self) -> None:
        """Raise the limit if it has passed: no new statement starts after it."""
        if self.fired and not self.settled:
            raise self.error()

    def settle(self) -> None:
        """The recorder has the limit (or the run ended): stop firing and tracing."""
        if self.settled:
            return
        self.settled = True
        if self._started:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if self._tracing:
            with contextlib.suppress(Exception):  # refused there as it was here
                sys.settrace(self._previous_trace)
            for frame, previous in self._traced:
                frame.f_trace = previous
            self._traced.clear()
            self._tracing = False

    def stop(self) -> None:
        self.settle()
        if self._previous is not None:
            signal.signal(signal.SIGALRM, self._previous)
            self._previous = None

    # ------------------------------------------------------------ firing
    def _on_alarm(self, signum: int, frame: types.FrameType | None) -> None:
        if self.settled:
            return
        self.fired += 1
        self.slots[SLOT_FIRED] = self.fired
        if self.fired == 1:
            line = self._scenario_line(frame)
            if line is not None:
                self.slots[SLOT_LINE] = line
        if frame is None or frame.f_code in self.quiet:
            return
        self._trace_from(frame)
        if self._may_raise(frame):
            self._raised = True
            raise self.error()

    def _may_raise(self, frame: types.FrameType) -> bool:
        if frame.f_code.co_filename.startswith(_OWN_CODE) and self._raised:
            return False  # the recorder is busy with the first one; it checks at its next step
        return not _in_del(frame)

    def _scenario_line(self, frame: types.FrameType | None) -> int | None:
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return None

    # ----------------------------------------------------------- tracing
    def _trace_from(self, frame: types.FrameType) -> None:
        """Raise again at the next line the scenario runs, in this frame or another.

        (A trace function that raises is switched off by Python, so each firing sets
        it up again.) Inside a ``__del__`` nothing is traced: it runs at full speed to
        its end, where the next line of its caller raises."""
        if not self._tracing:
            self._previous_trace = sys.gettrace()
        try:
            sys.settrace(self._on_call)
        except Exception:  # noqa: BLE001 - a sealed audit guard refuses it: the firing alone
            return
        self._tracing = True
        f: types.FrameType | None = frame
        inside_del = _in_del(frame)
        while f is not None:
            scenario = not inside_del and f.f_code.co_filename == self.filename
            if scenario and f.f_trace is not self._on_line:
                self._traced.append((f, f.f_trace))
                f.f_trace = self._on_line
            if f.f_code.co_name == "__del__":
                inside_del = False  # its callers are outside
            f = f.f_back

    def _on_call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != self.filename or _in_del(frame):
            return None
        return self._on_line

    def _on_line(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if self.settled or _in_del(frame):
            return None
        if event == "line":
            self._raised = True
            raise self.error()
        return self._on_line


def _in_del(frame: types.FrameType) -> bool:
    """Inside a ``__del__``, where Python ignores exceptions (prints and drops them)."""
    f: types.FrameType | None = frame
    while f is not None:
        if f.f_code.co_name == "__del__":
            return True
        f = f.f_back
    return False
