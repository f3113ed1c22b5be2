"""The time limit in the recording process: it fires until the scenario has really stopped."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from gradstep.record.deadline import SLOT_FIRED, SLOT_LINE, Deadline, LimitExceeded
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.worker.register import Register, attach

BEFORE = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\n"

SWALLOWERS = {
    "finally: continue": "n = 0\nwhile True:\n    try:\n        n = n + 1\n    finally:\n        continue\n",
    "__exit__ returns True": (
        "class Swallow:\n    def __enter__(self):\n        return self\n\n"
        "    def __exit__(self, *exc):\n        return True\n\n\n"
        "while True:\n    with Swallow():\n        n = sum(range(100))\n"
    ),
    "__del__": (
        "class Slow:\n    def __del__(self):\n        n = 0\n        while n < 20000:\n"
        "            n += 1\n\n\ndef spin():\n    while True:\n        s = Slow()\n\n\nspin()\n"
    ),
    "except BaseException: pass": (
        "def spin():\n    while True:\n        try:\n            sum(range(1000))\n"
        "        except BaseException:\n            pass\n\n\nspin()\n"
    ),
    "the limit turned into another error": (
        "def spin():\n    while True:\n        try:\n            sum(range(1000))\n"
        "        except BaseException:\n            raise ValueError('not a limit')\n\n\nspin()\n"
    ),
    "a statement that ends after swallowing it": (
        "for i in range(10**9):\n    try:\n        n = i\n    finally:\n        continue\nz = 1\n"
    ),
}


@pytest.mark.parametrize("name", list(SWALLOWERS))
def test_a_swallowed_limit_still_stops_the_run_at_a_line_of_the_loop(name):
    scenario = scenario_from_source(BEFORE + SWALLOWERS[name], "swallow.py")
    slots = [0, 0, 0, 0]
    deadline = Deadline(0.5, scenario.path, slots)
    tracing = sys.gettrace()
    started = time.perf_counter()
    deadline.start()
    try:
        trace = record_scenario(scenario, trusted=True, deadline=deadline)
    finally:
        deadline.stop()
    assert time.perf_counter() - started < 4
    assert trace.error is not None and trace.error.type == "TimeLimit", trace.error
    assert trace.error.kind == "limit" and "0.5 s" in trace.error.message
    assert trace.error.line is not None and trace.error.line > 3
    assert trace.steps[-1].kind == "error"
    assert trace.variables["y"].value == 6.0
    assert slots[SLOT_FIRED] >= 1 and slots[SLOT_LINE] > 3
    assert deadline.settled and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert sys.gettrace() is tracing  # a debugger's or coverage's trace function is back
    assert signal.getsignal(signal.SIGALRM) is not deadline._on_alarm


def test_a_run_that_ends_in_time_is_not_touched():
    scenario = scenario_from_source(BEFORE + "z = y * 2\n", "quick.py")
    deadline = Deadline(30.0, scenario.path)
    deadline.start()
    try:
        trace = record_scenario(scenario, trusted=True, deadline=deadline)
    finally:
        deadline.stop()
    assert trace.error is None and deadline.fired == 0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


class _Lines(list):
    """Slots that remember every line stored."""

    def __init__(self) -> None:
        super().__init__([0, 0, 0, 0])
        self.lines: list[int] = []

    def __setitem__(self, i, v):
        if i == SLOT_LINE:
            self.lines.append(v)
        super().__setitem__(i, v)


def test_the_line_running_is_kept_statement_by_statement():
    # what a worker killed from outside leaves for the caller: lines inside functions too
    scenario = scenario_from_source(
        BEFORE + "def f(v):\n    w = v + 1\n    return w\n\n\nz = f(y)\n", "lines.py"
    )
    slots = _Lines()
    record_scenario(scenario, trusted=True, deadline=Deadline(30.0, scenario.path, slots))
    assert slots.lines[:4] == [1, 2, 3, 4]
    assert slots.lines[4:] == [9, 5, 6, 9]  # into f and back


def test_the_code_that_writes_to_the_caller_is_never_interrupted():
    def writing():  # stands for TraceStream's methods: a message cut in half ends the stream
        return sys._getframe()

    deadline = Deadline(1.0, "lesson.py", quiet=(writing.__code__,))
    tracing = sys.gettrace()
    try:
        deadline._on_alarm(signal.SIGALRM, writing())  # fired, but nothing raised
        assert deadline.fired == 1
        with pytest.raises(LimitExceeded):
            deadline._on_alarm(signal.SIGALRM, sys._getframe())
        with pytest.raises(LimitExceeded):
            deadline.check()  # and no statement starts
    finally:
        deadline.settle()
    assert sys.gettrace() is tracing
    deadline.check()  # settled: the recorder writes the end of the trace in peace


def test_the_shared_page_carries_the_line_to_the_caller():
    register = Register()
    try:
        slots = attach(os.dup(register.fd))
        assert register.line is None and register.fired == 0
        slots[SLOT_LINE] = 12
        slots[SLOT_FIRED] = 2
        assert register.line == 12 and register.fired == 2
        register.handed_over()  # the mapping outlives the descriptor
        slots[SLOT_LINE] = 13
        assert register.line == 13
    finally:
        register.close()
    assert register.read() == (0, 0, 0, 0)
