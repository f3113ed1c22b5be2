"""What restricted mode accepts since an outsider ran ten more teaching files (issue 11):
legacy typed constructors, matplotlib's plotting submodules and mplot3d, the profilers
in-process, forward-mode AD and ``functorch``, ``getattr``/``setattr``/``delattr`` with
names checked. Each checked in a real restricted run (the worker, its walls and the
Python layer) against plain Python, or at the door it adds; the attacks on the new
built-ins are in ``test_sandbox.py`` (ATTACKS) and below.
"""

from __future__ import annotations

import contextlib
import io
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradstep.scenario.check import find_refusals
from gradstep.scenario.sandbox import member
from gradstep.worker import WorkerPool
from gradstep.worker.client import RunResult
from sealed import printed
from sealed import run_restricted as run

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the worker's walls are Linux's"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(prestart=False) as p:
        yield p


def plain(code: str) -> str:
    """What ``code`` prints run as plain Python in this process (on the Agg canvas, its
    figures closed after: later tests record figures here)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(textwrap.dedent(code), {"__name__": "__main__"})
    finally:
        plt.close("all")
    return out.getvalue()


def assert_as_plain(pool: WorkerPool, folder: Path, code: str) -> RunResult:
    """The run's printed lines are the plain run's (the warnings Python writes to stderr
    aside: a step shows them, see test_warnings_shown)."""
    result = run(pool, folder, code)
    assert result.error is None, result.error
    lines = [line for line in printed(result).splitlines() if "Warning: " not in line]
    assert lines == plain(code).splitlines()
    return result


# ------------------------------------------------------------ legacy typed constructors

LEGACY = """
import torch
torch.manual_seed(0)
x = torch.randn(3, requires_grad=True)
y = x * 2
y.backward(torch.FloatTensor([0.1, 1.0, 0.0001]))
print(x.grad.tolist())
for T in (torch.DoubleTensor, torch.LongTensor, torch.IntTensor, torch.ByteTensor, torch.BoolTensor):
    print(T([1, 0, 2]).dtype, T(2).shape)
print(isinstance(torch.ones(2), torch.FloatTensor), torch.FloatTensor(2, 3).shape)
"""


def test_legacy_typed_constructors_make_tensors(pool, tmp_path):
    """NYU-DLSP20's autograd notebook: y.backward(torch.FloatTensor([...]))."""
    result = assert_as_plain(pool, tmp_path, LEGACY)
    assert "[0.20000000298023224, 2.0, 0.00019999999494757503]" in printed(result)


# ----------------------------------------------------------------------- matplotlib

PLOTS = """
import torch
import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
from matplotlib import cm, colors, patches
import mpl_toolkits.mplot3d
from mpl_toolkits.mplot3d import Axes3D
from matplotlib.animation import FuncAnimation

w = torch.linspace(-2, 2, 9)
W1, W2 = torch.meshgrid(w, w, indexing="ij")
loss = W1**2 + 3 * W2**2
fig = plt.figure(figsize=(4, 3))
ax = fig.add_subplot(projection="3d")
ax.plot_surface(W1.numpy(), W2.numpy(), loss.numpy(), cmap=cm.viridis, norm=colors.Normalize(0, 16))
ax.xaxis.set_major_locator(ticker.MaxNLocator(3))
ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.1f"))
print(type(ax).__name__, isinstance(ax, Axes3D))
plt.show()
fig2, ax2 = plt.subplots()
ax2.add_patch(patches.Circle((0, 0), 1.0))
(line,) = ax2.plot([], [])
anim = FuncAnimation(fig2, lambda i: line.set_data([0, i], [0, i]), frames=3)
print(type(anim).__name__)
"""


def test_plotting_submodules_and_3d_surfaces_run_restricted(pool, tmp_path):
    result = assert_as_plain(pool, tmp_path, PLOTS)
    assert "Axes3D True" in printed(result)
    shown = [s for s in result.trace.steps if s.figures]
    assert shown and shown[0].line == 19  # the 3-D surface, at its plt.show()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("anim.save('descent.gif')", "'.save' is not allowed"),
        ("anim.to_html5_video()", "runs ffmpeg"),
        ("anim.to_jshtml()", "writes the frames to files"),
        ("plt.savefig('surface.png')", "'.savefig' is not allowed"),
    ],
)
def test_encoding_an_animation_is_refused_up_front(line, why):
    code = (
        "import matplotlib.pyplot as plt\nfrom matplotlib.animation import FuncAnimation\n"
        f"anim = FuncAnimation(plt.figure(), print)\n{line}\n"
    )
    problems = find_refusals(code, "lesson.py", member)
    assert [p.line for p in problems] == [4]
    assert why in problems[0].message and "--trust" in problems[0].message


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("FFMpegWriter", "matplotlib.animation.FFMpegWriter is not available"),
        ("PillowWriter", "matplotlib.animation.PillowWriter is not available"),
        ("writers", "matplotlib.animation.writers is not available"),
        ("subprocess", "'.subprocess' is not allowed"),
    ],
)
def test_movie_writers_are_not_handed_out(name, why):
    problems = find_refusals(f"import matplotlib.animation as a\na.{name}\n", "l.py", member)
    assert problems and why in problems[0].message


def test_the_animation_doors_refuse_while_restricted_only(monkeypatch):
    """What a computed name or super() would reach: matplotlib's own methods, which
    refuse while a restricted scenario runs and are matplotlib's in a --trust run."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import animation as mpl_animation

    from gradstep.scenario import animations

    assert animations.install() and animations.install()  # idempotent
    fig = plt.figure()
    anim = mpl_animation.FuncAnimation(fig, lambda i: None, frames=2)
    monkeypatch.setattr(animations, "restricted_now", lambda: True)
    for door in ("save", "to_html5_video", "to_jshtml"):
        with pytest.raises(PermissionError, match=f"FuncAnimation.{door}\\(\\) .*--trust"):
            getattr(super(type(anim), anim), door)("x.gif") if door == "save" else getattr(
                anim, door
            )()
    monkeypatch.setattr(animations, "restricted_now", lambda: False)
    assert "<video" in anim.to_jshtml() or "<script" in anim.to_jshtml()  # matplotlib's own
    plt.close(fig)


def test_str_method_formatter_stays_refused():
    """'{x.__class__}' walks attributes by a string, as string.Formatter does."""
    problems = find_refusals(
        "import matplotlib.ticker as t\nt.StrMethodFormatter('{x:.2f}')\n", "l.py", member
    )
    assert problems and "FormatStrFormatter" in problems[0].message


# ------------------------------------------------------------------------ profilers

PROFILE = """
import torch
x = torch.ones(3, requires_grad=True)
with torch.autograd.profiler.profile() as prf:
    z = (x * 2).sum()
    z.backward()
table = prf.key_averages().table(sort_by="self_cpu_time_total")
print("aten::mul" in table, "Self CPU" in table)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as p2:
    with torch.profiler.record_function("my block"):
        y = x.exp()
print("my block" in p2.key_averages().table())
print(x.grad.tolist())
"""


def test_the_profilers_run_in_process(pool, tmp_path):
    """PyTorch's autogradyt tutorial, line 485: profile() as a context manager, its table
    printed."""
    result = assert_as_plain(pool, tmp_path, PROFILE)
    assert printed(result).splitlines()[:2] == ["True True", "True"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("prf.export_chrome_trace('trace.json')", "it writes a trace file"),
        ("prf.export_stacks('stacks.txt')", "it writes a file"),
        ("prf.key_averages().export_chrome_trace('t.json')", "it writes a trace file"),
    ],
)
def test_profiler_file_doors_are_refused_up_front(line, why):
    code = f"import torch\nwith torch.autograd.profiler.profile() as prf:\n    pass\n{line}\n"
    problems = find_refusals(code, "lesson.py", member)
    assert [p.line for p in problems] == [4]
    assert why in problems[0].message and "key_averages().table()" in problems[0].message


def test_tensorboard_handler_and_trace_observer_are_refused():
    for code in (
        "import torch\ntorch.profiler.tensorboard_trace_handler('log')",
        "from torch.profiler import tensorboard_trace_handler",
        "import torch\ntorch.profiler.ExecutionTraceObserver()",
    ):
        problems = find_refusals(code + "\n", "lesson.py", member)
        assert problems and "writes" in problems[0].message, code


def test_benchmark_timer_says_it_runs_code_strings():
    for code in (
        "from torch.utils.benchmark import Timer",
        "import torch.utils.benchmark as b",
    ):
        problems = find_refusals(code + "\n", "lesson.py", member)
        assert problems and "runs code given as strings" in problems[0].message, code
        assert "time.perf_counter()" in problems[0].message
    problems = find_refusals("t = Timer(stmt='f(x)', globals=globals())\n", "lesson.py", member)
    assert "the scenario's whole namespace" in problems[0].message


# ---------------------------------------------------------------- forward-mode AD

FORWARD_AD = """
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
import functorch as ft
from torch.func import functional_call, jvp

torch.manual_seed(0)
primal = torch.randn(10, 10)
tangent = torch.randn(10, 10)

def fn(x, y):
    return x ** 2 + y ** 2

with fwAD.dual_level():
    dual_input = fwAD.make_dual(primal, tangent)
    dual_output = fn(dual_input, primal)
    jvp_fw = fwAD.unpack_dual(dual_output).tangent
print(torch.equal(jvp_fw, 2 * primal * tangent))

model = nn.Linear(5, 5)
x = torch.randn(16, 5)
params = {name: p for name, p in model.named_parameters()}
tangents = {name: torch.rand_like(p) for name, p in params.items()}
with fwAD.dual_level():
    for name, p in params.items():
        delattr(model, name)
        setattr(model, name, fwAD.make_dual(p, tangents[name]))
    out = model(x)
    jvp_model = fwAD.unpack_dual(out).tangent
_, expected = jvp(lambda p: functional_call(nn.Linear(5, 5), p, (x,)), (params,), (tangents,))
print(torch.allclose(jvp_model, expected), jvp_model.sum().item())
_, ft_out = ft.jvp(lambda t: t.sin(), (primal,), (tangent,))
print(torch.equal(ft_out, primal.cos() * tangent))
print(getattr(model, "weight").shape, hasattr(model, "bias"))
lin = nn.Linear(5, 5)
func, fparams, buffers = ft.make_functional_with_buffers(lin)
ones = tuple(torch.ones_like(p) for p in fparams)
out_f, jvp_f = ft.jvp(lambda p: func(p, buffers, x), (fparams,), (ones,))
print(torch.equal(out_f, lin(x)), torch.allclose(jvp_f, x.sum(1, keepdim=True) + 1))
"""


def test_forward_mode_ad_and_functorch_run_restricted(pool, tmp_path):
    """PyTorch's forward-mode AD tutorial: make_dual, unpack_dual, the module's
    parameters swapped with delattr/setattr, and functorch's jvp; torch.func's jvp is
    the oracle, and the plain run's numbers are the trace's."""
    result = assert_as_plain(pool, tmp_path, FORWARD_AD)
    lines = printed(result).splitlines()
    assert lines[0] == "True" and lines[1].startswith("True ") and lines[3] == "True"
    assert lines[2].startswith("FutureWarning: We've integrated functorch into PyTorch")
    assert lines[-1] == "True True"  # functorch.make_functional_with_buffers, then its jvp


@pytest.mark.parametrize(
    ("code", "line", "why"),
    [
        ("getattr(t, '_' + 'version')", 3, "getattr(..., '_version') is not allowed"),
        ("setattr(t, '__' + 'class__', int)", 3, "setattr(..., '__class__') is not allowed"),
        ("delattr(torch.nn.Linear(1, 1), 'we' + 'ight')\nx = t._version", 4, "'._version'"),
        ("f = getattr(torch.nn.functional.relu, '__' + 'globals__')", 3, "'__globals__'"),
        ("getattr(t, 'sto' + 'rage')()", 3, "getattr(..., 'storage') is not allowed"),
    ],
)
def test_a_computed_name_is_checked_at_its_line(pool, tmp_path, code, line, why):
    result = run(pool, tmp_path, f"import torch\nt = torch.ones(1)\n{code}\n")
    error = result.error
    assert error is not None and error.line == line, error
    assert why in error.message


def test_own_underscore_names_pass_by_a_computed_name(pool, tmp_path):
    """A micrograd Value's own attribute, by a computed name: as the check lets it by."""
    code = """
    class Value:
        def __init__(self, data):
            self.data = data
            self._op = ''
    v = Value(2.0)
    setattr(v, '_' + 'op', '+')
    print(getattr(v, '_op'), getattr(v, 'missing', 'default'))
    delattr(v, '_op')
    print(hasattr(v, '_op'))
    """
    assert_as_plain(pool, tmp_path, code)
