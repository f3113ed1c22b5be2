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
    with WorkerPool(prestart=False) as p:  # no retire thread outlives the module
        yield p


@pytest.fixture
def bare_pool() -> Iterator[WorkerPool]:
    """Workers whose scenario holds real modules: the walls only (the test switch). No
    spare is kept, so no other pool's worker starts while the switch is set."""
    with pytest.MonkeyPatch.context() as mp, WorkerPool(prestart=False) as pool:
        mp.setenv(walls_module.UNSAFE_TEST_SWITCH, "1")
        yield pool


def run(pool: WorkerPool, folder: Path, code: str, **limits: float) -> RunResult:
    path = folder / "attack.py"
    path.write_text(textwrap.dedent(code))
    return pool.run(path, limits=Limits(**limits) if limits else None)


def run_restricted(pool: WorkerPool, folder: Path, code: str, **limits: float) -> RunResult:
    """A run as a user's: the Python layer on as well as the walls."""
    result = run(pool, folder, code, **limits)
    assert not result.trace.limits["walls"].get("python_check", "").startswith("off")
    return result


#: Writes a whole trace of its own on every pipe the worker holds beyond stdin: the
#: protocol descriptor is one of them. A new title and source, walls that never were.
#: (The mark is put together at run time: the real source may not contain it.)
WRITE_A_FORGED_TRACE = """
def forge(os, stat):
    mark = "FORGED-by-" + "the-scenario"
    walls = '{"netns": "up", "landlock": "up (' + mark + ')", "seccomp": "up", "rlimits": "up"}'
    lines = [
        '{"scenario": {"path": "/x/lesson.py", "title": "' + mark + '", "summary": "", '
        + '"source": "x = 1"}}',
        '{"limits": {"walls": ' + walls + '}, "clock": true}',
        '{"end": {"error": null, "variables": {}, "limits": {"walls": ' + walls + '}, '
        + '"stats": {}}}',
    ]
    data = ("\\n".join(lines) + "\\n").encode()
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, data)
        except Exception:
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


# ------------------------------------------------------------------- string.Formatter

#: ``Formatter().get_field`` walks attributes named by a string, ``{0.__class__}``-style:
#: from any class handed to the scenario to the real ``os``, then the forged trace.
FORMATTER_TO_OS = """
import string
from torch.utils.data import DataLoader
{get}
walk = f.get_field
found = walk("0.__init__.__globals__", (DataLoader,), {{}})[0]
os = walk("0[data].dataloader.os", (found,), {{}})[0]
stat = walk("0[data].dataloader.torch.sys.modules[stat]", (found,), {{}})[0]
forge(os, stat)
x = 1
"""


@pytest.mark.parametrize(
    ("get", "line", "kind"),
    [
        ("f = string.Formatter()", 4, "refused"),  # refused up front, by the static check
        ("s = string\nf = s.Formatter()", 5, "runtime"),  # an alias: refused by the proxy
    ],
)
def test_string_formatter_walks_no_attributes(pool, tmp_path, get, line, kind):
    code = WRITE_A_FORGED_TRACE + FORMATTER_TO_OS.format(get=get)
    line += WRITE_A_FORGED_TRACE.count("\n")
    result = run_restricted(pool, tmp_path, code)
    assert_not_forged(result, tmp_path)
    assert result.error is not None
    assert result.error.line == line, result.error
    assert "string.Formatter" in result.error.message
    assert "attributes named by a string" in result.error.message
    assert "--trust" in result.error.message
    if kind == "refused":
        assert result.error.kind == "refused"
        assert not [s for s in result.trace.steps if s.kind == "statement"]


# ------------------------------------------------------------------- figures


@pytest.mark.parametrize("inches", [80, 700])
def test_a_huge_figure_is_drawn_small_or_left_out_not_blown_up(pool, tmp_path, inches):
    """80×80 inches drew a 5,760×5,760 PNG (33 million pixels, 10 s) that the window then
    decodes whole; 700×700 inches ran the worker into its memory limit while drawing."""
    code = f"""
    import matplotlib.pyplot as plt
    plt.figure(figsize=({inches}, {inches}))
    plt.plot([0, 1], [0, 1])
    plt.show()
    x = 1
    """
    result = run_restricted(pool, tmp_path, code, seconds=30.0)
    assert result.error is None, result.error
    (figure,) = [f for s in result.trace.steps for f in s.figures]
    if inches == 80:  # drawn at a resolution that keeps it under the cap
        assert figure.png and figure.width * figure.height <= 4_000_000
        assert figure.png_bytes().startswith(b"\x89PNG")
    else:  # nothing sensible fits: a note instead, and no gigabytes drawn
        assert not figure.png and "inches" in figure.omitted
    assert result.trace.stats["record_seconds"] < 5


# ------------------------------------------------------------- functools.singledispatch

#: ``singledispatch(...).register(fn)`` evaluates ``fn``'s annotation strings as code
#: (``typing.get_type_hints``): code the static check never saw, which here takes the real
#: ``__import__`` from a library function's ``__builtins__``.
SINGLEDISPATCH_TO_OS = """
import functools
{get}
REAL_IMPORT = "[c for c in ().__class__.__mro__[1].__subclasses__() if c.__name__ == 'Repr']"
def probe(x: "[forge(i('os'), i('stat')) for i in [" + REAL_IMPORT + "[0].__init__.__builtins__['__import__']]]"):
    return x
try:
    dispatch.register(probe)
except TypeError:
    pass
x = 1
"""


@pytest.mark.parametrize(
    ("get", "line", "kind"),
    [
        ("dispatch = functools.singledispatch(print)", 3, "refused"),
        ("ft = functools\ndispatch = ft.singledispatch(print)", 4, "runtime"),
    ],
)
def test_singledispatch_evaluates_no_annotation_string(pool, tmp_path, get, line, kind):
    code = WRITE_A_FORGED_TRACE + SINGLEDISPATCH_TO_OS.format(get=get)
    line += WRITE_A_FORGED_TRACE.count("\n")
    result = run_restricted(pool, tmp_path, code)
    assert_not_forged(result, tmp_path)
    assert result.error is not None
    assert result.error.line == line, result.error
    assert "functools.singledispatch" in result.error.message
    assert "annotation strings" in result.error.message
    if kind == "refused":
        assert result.error.kind == "refused"


# ------------------------------------------------ classes made from a dict at run time

#: A class whose ``__array_interface__`` comes from a dict the static check never saw:
#: numpy then views whatever address the scenario names, here a string of its own found
#: with ``id()`` (the same view writes, so the whole worker's memory is the scenario's).
RAW_MEMORY = """
import numpy as np
{get}
mark = "in-the-worker-" + "s-memory"
view = {{"data": (id(mark), False), "shape": (80,), "typestr": "|u1", "version": 3}}
{make}
print("".join(chr(c) for c in np.asarray(thing).tolist()))
"""

MAKERS = {
    "abc.ABCMeta": ("import abc", "thing = abc.ABCMeta('X', (), {'__array_interface__': view})()"),
    "typing.ABCMeta": (
        "import typing",
        "thing = typing.ABCMeta('X', (), {'__array_interface__': view})()",
    ),
    "numbers.ABCMeta": (
        "import numbers",
        "thing = numbers.ABCMeta('X', (), {'__array_interface__': view})()",
    ),
    "enum.EnumType": (
        "import enum",
        "thing = enum.EnumType('X', (enum.Enum,), {'__array_interface__': view, 'A': 1}).A",
    ),
    "matplotlib.pyplot.Enum": (
        "import matplotlib.pyplot as plt",
        "thing = plt.Enum('E', [('__array_interface__', view), ('A', 1)]).A",
    ),
}


@pytest.mark.parametrize("door", sorted(MAKERS))
def test_no_class_is_made_from_a_dict_of_dunders(pool, tmp_path, door):
    get, make = MAKERS[door]
    result = run_restricted(pool, tmp_path, RAW_MEMORY.format(get=get, make=make))
    assert "in-the-worker-s-memory" not in dumps(result.trace)
    assert result.error is not None and result.error.kind == "refused", result.error
    assert door.partition(".")[0] in result.error.message
    assert "run time" in result.error.message


@pytest.mark.parametrize(
    "make",
    [
        "thing = enum.Enum('E', [('__array_interface__', view), ('A', 1)]).A",
        "thing = enum.IntFlag('E', {'__array_interface__': view, 'A': 1}).A",
        "thing = enum.Enum('E', (pair for pair in [('A', 1), ('__array_interface__', view)])).A",
        "class Empty(enum.Enum):\n    pass\nthing = Empty('E', [('__array_interface__', view), "
        "('A', 1)]).A",
    ],
)
def test_enums_functional_api_takes_no_dunder_name(pool, tmp_path, make):
    """``enum`` is allowed (``class Color(Enum)`` is teaching code); a class made from
    member names given at run time gets no dunder among them, in any form enum takes."""
    result = run_restricted(pool, tmp_path, RAW_MEMORY.format(get="import enum", make=make))
    assert "in-the-worker-s-memory" not in dumps(result.trace)
    error = result.error
    assert error is not None and error.type == "ValueError", error
    assert "'__array_interface__' cannot be an enum member name" in error.message
    assert error.line == 6 + make.count("\n"), error


def test_an_enum_class_and_its_functional_api_run_restricted(pool, tmp_path):
    code = """
    from enum import Enum, IntEnum, auto
    class Color(Enum):
        RED = auto()
        GREEN = auto()
    Size = IntEnum("Size", "S M L")
    print(Color.RED.name, Color(2).name, [c.name for c in Color], Size.M + 1, Size["L"].value)
    """
    result = run_restricted(pool, tmp_path, code)
    assert result.error is None, result.error
    assert "".join(s.output for s in result.trace.steps) == "RED GREEN ['RED', 'GREEN'] 3 3\n"


def test_a_schedulers_state_puts_no_dunder_on_it(pool, tmp_path):
    """``load_state_dict`` copies its dict into the scheduler's ``__dict__``: a literal
    dunder key there was the same door as above, with nothing the static check refuses."""
    code = RAW_MEMORY.format(
        get="import torch",
        make="sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1)]), 1)\n"
        "sched.load_state_dict({'__array_interface__': view})\nthing = sched",
    )
    result = run_restricted(pool, tmp_path, code)
    assert "in-the-worker-s-memory" not in dumps(result.trace)
    assert result.error is not None and result.error.line == 7, result.error
    assert "'__array_interface__' cannot be a key" in result.error.message
    lambdas = RAW_MEMORY.format(
        get="import torch",
        make="sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([torch.zeros(1)]), "
        "[lambda e: 1.0])\nsched.load_state_dict({'lr_lambdas': [{'__array_interface__': "
        "view}]})\nthing = sched.lr_lambdas[0]",
    )
    result = run_restricted(pool, tmp_path, lambdas)
    assert result.error is not None and result.error.line == 7, result.error
    assert "'__array_interface__' cannot be a key" in result.error.message
    # a state dict as torch writes it still loads
    ordinary = """
    import torch
    sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1)]), 1)
    sched.load_state_dict(sched.state_dict())
    print(sched.get_last_lr())
    """
    result = run_restricted(pool, tmp_path, ordinary)
    assert result.error is None, result.error
