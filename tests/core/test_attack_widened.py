"""An outsider's attacks on the restricted mode as issue 11 widened it, each judged by
its effect seen from outside the worker (as ``test_walls``): a forged trace, a run that
outlives its time limit, a figure that blows up whoever draws it.

Two kinds of scenario: restricted ones, as a user would open them (the Python layer
on), and ones that already hold real ``os`` (the Python layer off by the test switch),
which stand for any hole in that layer, found or not yet found.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradstep.trace.io import dumps
from gradstep.worker import WorkerPool
from gradstep.worker import walls as walls_module
from gradstep.worker.client import RunResult
from gradstep.worker.limits import Limits

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the worker's walls are Linux's"
)

FORGED = "FORGED-by-the-scenario"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool() as p:
        yield p


@pytest.fixture(scope="module")
def bare_pool() -> Iterator[WorkerPool]:
    """Workers whose scenarios hold real modules: the walls only (the test switch)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(walls_module.UNSAFE_TEST_SWITCH, "1")
        with WorkerPool() as p:
            yield p


def run(pool: WorkerPool, folder: Path, code: str, **limits: float) -> RunResult:
    path = folder / "attack.py"
    path.write_text(textwrap.dedent(code))
    return pool.run(path, limits=Limits(**limits) if limits else None)


#: Writes a whole trace of its own on every pipe the worker holds beyond stdin: the
#: protocol descriptor is one of them. A new title and source, walls that never were.
#: (The mark is put together at run time: the real source may not contain it.)
WRITE_A_FORGED_TRACE = """
import json
def forge(os, stat):
    mark = "FORGED-by-" + "the-scenario"
    walls = {"netns": "up", "landlock": "up (" + mark + ")", "seccomp": "up", "rlimits": "up"}
    messages = [
        {"scenario": {"path": "/x/lesson.py", "title": mark, "summary": "", "source": "x=1"}},
        {"limits": {"walls": walls}, "clock": True},
        {"end": {"error": None, "variables": {}, "limits": {"walls": walls}, "stats": {}}},
    ]
    data = "".join(json.dumps(m) + "\\n" for m in messages).encode()
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, data)
        except OSError:
            pass
"""


def assert_not_forged(result: RunResult, folder: Path) -> None:
    trace = result.trace
    assert FORGED not in dumps(trace)
    assert trace.scenario.title != FORGED
    assert trace.scenario.path == str(folder / "attack.py")
    assert "FORGED" not in str(trace.limits.get("walls"))


# ------------------------------------------------------------- the protocol descriptor


def test_code_holding_os_cannot_forge_the_title_source_or_walls(bare_pool, tmp_path):
    code = WRITE_A_FORGED_TRACE + "import os, stat\nforge(os, stat)\nx = 1\n"
    result = run(bare_pool, tmp_path, code)
    assert_not_forged(result, tmp_path)
    assert result.error is not None and result.error.kind == "crash"
    assert "unreadable" in result.error.message
    assert "sent again" in result.error.message


def test_code_holding_os_cannot_restart_the_callers_clock(bare_pool, tmp_path):
    """Its own alarm off, the scenario says "clock" every half second: the caller's hard
    kill still comes at the limit and its grace, not never."""
    code = """
    import os, signal, stat, time
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    pipes = [fd for fd in range(3, 64) if os.path.exists(f"/proc/self/fd/{fd}")]
    end = time.monotonic() + 30  # a bound for this test's sake, past the limit and grace
    while time.monotonic() < end:
        for fd in pipes:
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.write(fd, b'{"clock": true}\\n')
            except OSError:
                pass
        time.sleep(0.5)
    """
    started = time.monotonic()
    result = run(bare_pool, tmp_path, code, seconds=2.0, grace=2.0)
    took = time.monotonic() - started
    assert result.error is not None
    assert took < 15, took  # 2 s + 2 s of grace, and the start of a worker under load
