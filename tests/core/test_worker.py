"""The worker process: limits, crashes and kills end in a clean error, never in the caller."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gradstep.cli import main
from gradstep.worker import Limits, WorkerPool


@pytest.fixture(scope="module")
def pool():
    with WorkerPool() as p:
        yield p


def write(tmp_path: Path, text: str, name: str = "s.py") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_runs_in_another_process_with_one_torch_thread(pool, tmp_path):
    f = write(
        tmp_path,
        "import os\nimport torch\npid = os.getpid()\nthreads = torch.get_num_threads()\n"
        "x = torch.tensor(3.0, requires_grad=True)\n(x ** 2).backward()\n",
    )
    result = pool.run(f, trusted=True)
    assert result.error is None
    assert result.trace.variables["x"].grad == 6.0
    out = {s.text: s for s in result.trace.steps}
    assert any(k.startswith("pid") for k in out)
    import os

    # the namespace holds ints, not tensors; read them from the worker's own trace output instead
    result2 = pool.run(
        write(
            tmp_path,
            "import os\nprint(os.getpid())\nimport torch\nprint(torch.get_num_threads())\n",
            "p.py",
        ),
        trusted=True,
    )
    printed = [s.output.strip() for s in result2.trace.steps if s.output.strip()]
    assert int(printed[0]) != os.getpid()
    assert printed[1] == "1"


def test_time_limit_stops_a_runaway_loop_at_its_line_and_keeps_the_steps_before(pool, tmp_path):
    f = write(
        tmp_path,
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\nwhile True:\n    y = y + 0\n",
    )
    started = time.perf_counter()
    result = pool.run(f, trusted=True, limits=Limits(seconds=1.0))
    elapsed = time.perf_counter() - started
    err = result.error
    assert err is not None and err.kind == "limit" and err.type == "TimeLimit"
    assert err.line in (4, 5)
    assert "time limit" in err.message
    assert elapsed < 8
    kinds = [s.kind for s in result.trace.steps]
    assert kinds[-1] == "error"
    assert "x" in result.trace.variables or any("x" in s.variables for s in result.trace.steps)


def test_a_160_gb_tensor_is_a_memory_limit_not_a_crash(pool, tmp_path):
    f = write(tmp_path, "import torch\na = torch.ones(3)\nhuge = torch.zeros(40_000_000_000)\n")
    result = pool.run(f, trusted=True, limits=Limits(memory_mb=4096))
    err = result.error
    assert err is not None and err.kind == "limit" and err.type == "MemoryLimit", err
    assert err.line == 3
    assert any("a" in s.variables for s in result.trace.steps)


@pytest.mark.parametrize(
    "code,expected",
    [
        ("import os\nos._exit(7)\n", "exited with status 7"),
        ("import ctypes\nctypes.string_at(0)\n", "SIGSEGV"),
    ],
)
def test_a_dying_worker_is_reported_and_replaced(pool, tmp_path, code, expected):
    result = pool.run(write(tmp_path, code), trusted=True)
    assert result.error is not None and result.error.kind == "crash"
    assert expected in result.error.message
    ok = pool.run(write(tmp_path, "import torch\nx = torch.tensor(1.0)\n", "ok.py"), trusted=True)
    assert ok.error is None


def test_a_worker_killed_mid_run_is_reported_and_the_next_run_works(pool, tmp_path):
    f = write(tmp_path, "import torch\nwhile True:\n    pass\n")
    results = []
    t = threading.Thread(
        target=lambda: results.append(pool.run(f, trusted=True, limits=Limits(seconds=60)))
    )
    t.start()
    assert pool.running.wait(60)
    time.sleep(0.5)
    pool.cancel()
    t.join(15)
    assert not t.is_alive()
    assert results[0].error is not None and results[0].error.kind == "crash"
    assert "SIGKILL" in results[0].error.message
    ok = pool.run(write(tmp_path, "import torch\nx = torch.tensor(1.0)\n", "ok.py"), trusted=True)
    assert ok.error is None


def test_cli_exit_status_for_a_limit_is_3(tmp_path, capsys):
    f = write(tmp_path, "import torch\nwhile True:\n    pass\n")
    assert main(["trace", str(f), "--trust", "--timeout", "1"]) == 3
    assert "TimeLimit" in capsys.readouterr().err


def test_an_optimizer_right_after_start_works_under_the_guard(tmp_path):
    # torch imports torch._dynamo on the first optimizer; in a fresh worker that import may
    # still be under way in the prewarm thread while the restricted scenario runs
    f = write(
        tmp_path,
        "import torch\nimport torch.nn as nn\nmodel = nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "loss = model(torch.ones(1, 2)).sum()\nloss.backward()\nopt.step()\n",
    )
    with WorkerPool(prestart=False) as fresh:
        result = fresh.run(f)
    assert result.error is None, result.error
    assert result.trace.variables["model.weight"].grad == [[1.0, 1.0]]


def test_a_spare_worker_still_preparing_runs_an_optimizer_under_the_guard(tmp_path):
    # the spare's background imports may still be under way when the request arrives
    f = write(
        tmp_path,
        "import torch\nw = torch.ones(2, requires_grad=True)\n"
        "opt = torch.optim.SGD([w], lr=0.5)\n(w * w).sum().backward()\nopt.step()\n",
    )
    with WorkerPool() as spare:
        result = spare.run(f)
    assert result.error is None, result.error
    assert result.trace.variables["w"].value == [0.0, 0.0]


_PREPARE = """
import sys
from gradstep.record.run import record_scenario
from gradstep.scenario import sandbox
from gradstep.scenario.loader import scenario_from_source

source = sys.argv[1]
sandbox.install_audit_guard()
sandbox.prepare_for(source)
trace = record_scenario(scenario_from_source(source, "lesson.py"))
print(trace.error, "torch._dynamo" in sys.modules)
"""


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("import torch\nx = torch.tensor(3.0, requires_grad=True)\n(x * x).backward()\n", False),
        (
            "import torch\nfrom torch import optim\nw = torch.ones(1, requires_grad=True)\n"
            "opt = optim.Adam([w])\n(w * 2).sum().backward()\nopt.step()\n",
            True,
        ),
        (
            "import torch\nx = torch.tensor([1.0, 2.0])\n"
            "g = torch.func.grad(lambda v: (v * v).sum())(x)\n",
            True,
        ),
    ],
    ids=["no optimiser", "optimiser", "torch.func"],
)
def test_torchs_lazy_imports_are_made_only_for_a_scenario_that_needs_them(source, imported):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _PREPARE, source], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["None", str(imported)]


# ---------------------------------------------------------------- the time limit holds
BEFORE = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * 3\n"

SWALLOWERS = {
    # restricted code may do these three
    "finally: continue": (
        "n = 0\nwhile True:\n    try:\n        n = n + 1\n    finally:\n        continue\n",
        False,
    ),
    "__exit__ returns True": (
        "class Swallow:\n    def __enter__(self):\n        return self\n\n"
        "    def __exit__(self, *exc):\n        return True\n\n\n"
        "while True:\n    with Swallow():\n        n = sum(range(100))\n",
        False,
    ),
    "finally: continue in a function": (
        "def spin():\n    while True:\n        try:\n            torch.ones(3).sum()\n"
        "        finally:\n            continue\n\n\nspin()\n",
        False,
    ),
    # a __del__ where the time goes: the exception raised in it is ignored by Python
    "__del__": (
        "class Slow:\n    def __del__(self):\n        n = 0\n        while n < 20000:\n"
        "            n += 1\n\n\ndef spin():\n    while True:\n        s = Slow()\n\n\nspin()\n",
        True,
    ),
    "except BaseException: pass": (
        "def spin():\n    while True:\n        try:\n            sum(range(1000))\n"
        "        except BaseException:\n            pass\n\n\nspin()\n",
        True,
    ),
}


@pytest.mark.parametrize("name", list(SWALLOWERS))
def test_the_time_limit_cannot_be_swallowed(pool, tmp_path, name):
    code, trusted = SWALLOWERS[name]
    source = BEFORE + code
    f = write(tmp_path, source)
    started = time.perf_counter()
    result = pool.run(f, trusted=trusted, limits=Limits(seconds=1.0, grace=30.0))
    elapsed = time.perf_counter() - started
    err = result.error
    assert err is not None and err.kind == "limit" and err.type == "TimeLimit", err
    # the worker stopped it (long before the parent's hard kill 30 s later)
    assert "worker was stopped" not in err.message and elapsed < 15
    assert err.line is not None and err.line > 3  # in the loop, not before it
    steps = result.trace.steps
    assert steps[-1].kind == "error" and steps[-1].line == err.line
    assert "x" in result.trace.variables and result.trace.variables["y"].value == 6.0


def test_a_scenario_deaf_to_the_limit_is_killed_and_keeps_its_steps(pool, tmp_path):
    # the alarm never reaches Python (as in one long native call): the parent's hard kill
    f = write(
        tmp_path,
        BEFORE + "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "while True:\n    pass\n",
    )
    started = time.perf_counter()
    result = pool.run(f, trusted=True, limits=Limits(seconds=1.0, grace=1.0))
    assert time.perf_counter() - started < 15
    err = result.error
    assert err is not None and err.kind == "limit" and err.type == "TimeLimit", err
    assert "stuck inside one long operation" in err.message
    assert err.line in (6, 7) and f"at line {err.line}" in err.message
    kinds = [s.kind for s in result.trace.steps]
    assert kinds[-1] == "error"
    assert [s.line for s in result.trace.steps][:3] == [1, 2, 3]
    assert result.trace.variables["y"].value == 6.0
    assert result.trace.scenario.source.startswith("import torch")


def test_a_long_loop_deaf_to_the_limit_says_in_which_round_it_was_killed(pool, tmp_path):
    # the parent's hard kill reads the loop's round from the page the worker shares
    f = write(
        tmp_path,
        BEFORE + "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "for i in range(10**9):\n    pass\n",
    )
    result = pool.run(f, trusted=True, limits=Limits(seconds=1.0, grace=1.0))
    err = result.error
    assert err is not None and err.type == "TimeLimit", err
    head, _, tail = err.message.partition(", in round ")
    assert head.endswith("stuck inside one long operation"), err.message
    round_ = int(tail.split(" ")[0].replace(",", ""))
    assert round_ > 100  # summarised rounds ran at plain speed until the kill
    assert " of `for i in range(10**9):` (line 6); the worker was stopped at line " in tail


@pytest.mark.parametrize(
    ("crash", "expected"),
    [
        ("ctypes.string_at(0)", "the worker crashed (signal SIGSEGV) at line 5"),
        ("os.kill(os.getpid(), signal.SIGSEGV)", "the worker crashed (signal SIGSEGV) at line 5"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "was killed (signal SIGKILL"),
    ],
    ids=["null pointer", "SIGSEGV", "SIGKILL like the OOM killer"],
)
def test_a_crash_keeps_every_step_before_it_and_names_its_line(pool, tmp_path, crash, expected):
    f = write(tmp_path, BEFORE + "import ctypes, os, signal\n" + crash + "\nz = y * 2\n")
    result = pool.run(f, trusted=True)
    err = result.error
    assert err is not None and err.kind == "crash" and err.type == "WorkerCrash", err
    assert expected in err.message and err.line == 5
    steps = result.trace.steps
    assert [s.line for s in steps] == [1, 2, 3, 4, 5] and steps[-1].kind == "error"
    assert result.trace.variables["y"].value == 6.0 and "z" not in result.trace.variables
    assert result.trace.nodes  # the graph made before the crash came along


def test_cli_exit_status_for_a_crash_is_3(tmp_path, capsys):
    f = write(tmp_path, "import ctypes\nx = 1\nctypes.string_at(0)\n")
    assert main(["trace", str(f), "--trust"]) == 3
    assert "the worker crashed (signal SIGSEGV) at line 3" in capsys.readouterr().err


def test_a_crash_inside_a_function_names_the_line_in_the_function(pool, tmp_path):
    f = write(
        tmp_path,
        BEFORE + "import ctypes\n\n\ndef f(v):\n    w = v + 1\n    ctypes.string_at(0)\n"
        "    return w\n\n\nf(y)\n",
    )
    result = pool.run(f, trusted=True)
    assert result.error is not None and result.error.line == 9, result.error


def test_a_crash_inside_a_backward_pass_keeps_the_pass_as_it_started(pool, tmp_path):
    f = write(
        tmp_path,
        BEFORE + "import ctypes\ny.register_hook(lambda g: ctypes.string_at(0))\n"
        "(y * y).backward()\n",
    )
    result = pool.run(f, trusted=True)
    trace = result.trace
    assert result.error is not None and result.error.line == 6, result.error
    assert [s.kind for s in trace.steps][-2:] == ["pass_start", "error"]
    assert len(trace.passes) == 1 and trace.passes[0].nodes == []
    start = trace.steps[-2]
    assert all(n in trace.nodes for n in start.new_nodes)
    from gradstep.session import Session

    Session(trace).state(len(trace.steps) - 1)


def test_the_trace_size_limit_stops_the_worker_and_keeps_what_came(pool, tmp_path):
    f = write(
        tmp_path,
        "import torch\nx = torch.ones(2)\nfor i in range(100):\n    print('x' * 100_000)\n",
    )
    result = pool.run(f, limits=Limits(max_trace_mb=1))
    err = result.error
    assert err is not None and err.kind == "limit" and err.type == "TraceLimit", err
    assert "1 MB" in err.message and err.line in (3, 4)
    outputs = [s for s in result.trace.steps if s.output]
    assert 3 <= len(outputs) <= 11  # what fitted in 1 MB arrived
    assert result.trace.variables["x"].value == [1.0, 1.0]


def test_the_streamed_trace_is_the_trace(pool):
    from gradstep.resources import scenarios_dir
    from gradstep.trace.io import dumps

    path = scenarios_dir() / "16_gradient_descent_loop.py"
    result = pool.run(path)
    assert result.error is None
    again = pool.run(path)
    a, b = dumps(result.trace), dumps(again.trace)
    assert len(result.trace.steps) == 58
    assert a.split('"stats"')[0] == b.split('"stats"')[0]
    assert result.trace.variables["x"].value == pytest.approx(3 * 0.8**5)


def test_a_pool_asked_for_two_spares_keeps_two_and_takes_a_ready_one(tmp_path):
    """What-if changes come seconds apart: the second must not wait for torch to import."""
    f = write(
        tmp_path, "import torch\nx = torch.tensor(2.0, requires_grad=True)\n(x * x).backward()\n"
    )

    def spares(pool, n):
        end = time.monotonic() + 30
        while len(pool._spares) < n and time.monotonic() < end:
            time.sleep(0.01)
        return {w.proc.pid for w in pool._spares}

    with WorkerPool() as pool:
        pool.keep_spares(2)
        assert pool.run(f, trusted=True).trace.variables["x"].grad == 4.0
        before = spares(pool, 2)
        assert len(before) == 2
        for w in pool._spares:
            assert w.wait_ready(60)
        assert pool.run(f, trusted=True).trace.variables["x"].grad == 4.0
        after = spares(pool, 2)
        assert len(after) == 2 and len(before & after) == 1  # one used, one replaced
        extra = pool._spares[-1]
        pool.keep_spares(1)  # the panel closed: the newer spare ends now
        assert len(pool._spares) == 1 and extra.proc.wait(10) is not None
