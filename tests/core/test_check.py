"""The static allow-list check: what it refuses (with the line), what it accepts, and fuzzing.

The refusal table is written as an attacker would write the attempts; the
acceptance list as a lecturer would write lessons. The run-time side of the
same story is in ``test_sandbox.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradstep.scenario.check import check_source, find_refusals
from gradstep.scenario.errors import ScenarioRefused, ScenarioSyntaxError

# (source, line refused, a fragment of the message)
REFUSED: list[tuple[str, int, str]] = [
    # imports in all spellings
    ("import os", 1, "importing 'os' is not allowed: it reads or writes files"),
    ("import torch\nimport os.path", 2, "'os.path'"),
    ("import os as o", 1, "'os'"),
    ("import torch, subprocess", 1, "'subprocess'"),
    ("from os import path", 1, "'os'"),
    ("from os.path import join", 1, "'os.path'"),
    ("import sys", 1, "'sys'"),
    ("import pickle as pk", 1, "'pickle'"),
    ("import numpy.lib.format", 1, "'numpy.lib.format'"),
    ("import matplotlib.backends", 1, "'matplotlib.backends'"),
    ("import importlib", 1, "'importlib'"),
    ("import builtins", 1, "'builtins'"),
    ("import torch.utils", 1, "'torch.utils'"),
    ("import torch.utils.cpp_extension as ce", 1, "'torch.utils.cpp_extension'"),
    ("import torch.hub", 1, "'torch.hub'"),
    ("from torch import hub", 1, "importing 'hub' from torch"),
    ("from torch import storage", 1, "importing 'storage' from torch"),
    ("from torch import _C", 1, "importing '_C' from torch"),
    ("from torch import utils", 1, "importing 'utils' from torch"),
    ("from torch import *", 1, "'from torch import *' is not allowed"),
    ("from . import helpers", 1, "relative imports are not allowed"),
    ("from ..lessons import x", 1, "relative imports are not allowed"),
    ("import torch as __builtins__", 1, "'__builtins__'"),
    ("def f():\n    import os\n    return os", 2, "'os'"),
    ("try:\n    import socket\nexcept ImportError:\n    pass", 2, "'socket'"),
    ("import torch\nif torch.cuda.is_available():\n    import ctypes", 3, "'ctypes'"),
    # reflective and I/O built-ins
    # open() is the folder's: a literal path that leaves any folder is refused up front
    ('open("/etc/passwd")', 1, "open('/etc/passwd'): a restricted scenario may use only the files"),
    ("x = open('../secret.txt').read()", 1, "'../secret.txt' is outside it"),
    ("open('data/../../x', 'w')", 1, "open('data/../../x')"),
    ("x = 1\neval('1 + 1')", 2, "'eval'"),
    ("exec('import os')", 1, "'exec'"),
    ("compile('1', 'f', 'eval')", 1, "'compile'"),
    # a name written out is checked as the attribute would be (scenario.reflect: computed ones)
    ("import torch\ngetattr(torch, '_C')", 2, "getattr(..., '_C') is not allowed: '._C'"),
    ("class X: pass\nsetattr(X(), '__class__', X)", 2, "setattr(..., '__class__')"),
    ("import torch\nt = torch.ones(1)\ngetattr(t, 'storage')()", 3, "getattr(..., 'storage')"),
    ("delattr(object, 'f_back')", 1, "delattr(..., 'f_back') is not allowed"),
    ("getattr('{0.__class__}', 'format')", 1, "getattr(..., 'format')"),
    ("import numpy as np\ngetattr(np, 'ctypeslib')", 2, "'ctypeslib'"),
    ("import torch\nvars(torch)", 2, "'vars'"),
    ("globals()", 1, "'globals'"),
    ("locals()", 1, "'locals'"),
    ("dir()", 1, "'dir'"),
    ("breakpoint()", 1, "'breakpoint'"),
    ("name = input()", 1, "'input'"),
    ("memoryview(b'')", 1, "'memoryview'"),
    ("help()", 1, "'help'"),
    ("exit()", 1, "'exit'"),
    ("quit()", 1, "'quit'"),
    ("ｅｖａｌ('x')", 1, "'eval'"),  # identifiers are NFKC-normalised: fullwidth letters too
    ("ｏｐｅｎ('/etc/passwd')", 1, "open('/etc/passwd')"),
    ("__import__('os')", 1, "the name '__import__' is not allowed"),
    ("T = type('T', (), {})", 1, "'type' may only be called with one argument"),
    ("t = type", 1, "'type' may only be called with one argument"),
    ("t = type(*[1])", 1, "'type' may only be called with one argument"),
    # dunders and underscores
    ("x = 1\ny = x.__class__", 2, "'.__class__' is not allowed"),
    ("().__class__.__base__.__subclasses__()", 1, "double-underscore attributes"),
    ("[c for c in ().__class__.__mro__[1].__subclasses__()]", 1, "double-underscore"),
    ("import torch\nd = torch.nn.Module.__dict__", 2, "'.__dict__'"),
    ("import torch\nv = torch.ones(1)._version", 2, "'._version'"),
    (
        "import torch\ns = (torch.ones(1, requires_grad=True) ** 2).grad_fn._saved_self",
        2,
        "'._saved_self'",
    ),
    ("f = lambda: 0\nf.__globals__", 2, "'.__globals__'"),
    ("print.__self__", 1, "'.__self__'"),
    ("x = __builtins__", 1, "the name '__builtins__' is not allowed"),
    ("__loader__", 1, "'__loader__'"),
    ("__spec__", 1, "'__spec__'"),
    ("path = __file__", 1, "'__file__'"),
    ("__name__ = 'other'", 1, "'__name__'"),
    ("def f():\n    global __builtins__", 2, "'__builtins__'"),
    ("def f(__builtins__=None):\n    pass", 1, "'__builtins__'"),
    ("try:\n    pass\nexcept Exception as __builtins__:\n    pass", 3, "'__builtins__'"),
    ("class __Meta__:\n    pass", 1, "'__Meta__'"),
    ("class A:\n    __slots__ = ()", 2, "'__slots__'"),
    ("class A:\n    def f(self):\n        return self.__secret", 3, "'.__secret'"),
    (
        "class A:\n    def f(self):\n        return super().__getattribute__('__dict__')",
        3,
        "'.__getattribute__'",
    ),
    ("d = {}\nd['__builtins__']", 2, "subscripting with '__builtins__'"),
    ("d = {}\nd['__class__', 0]", 2, "'__class__'"),
    ("class A:\n    def __del__(self):\n        pass", 2, "defining '__del__' is not allowed"),
    ("class A:\n    def __getattribute__(self, n):\n        pass", 2, "'__getattribute__'"),
    ("class A:\n    def __reduce__(self):\n        pass", 2, "'__reduce__'"),
    ("class A:\n    def __init_subclass__(cls):\n        pass", 2, "'__init_subclass__'"),
    # frames, code, tracebacks
    ("g = (x for x in [])\ng.gi_frame.f_back.f_globals", 2, "interpreter's frames"),
    ("(x for x in []).gi_code", 1, "'.gi_code'"),
    ("def c():\n    pass\nc().cr_frame", 3, "'.cr_frame'"),
    ("def g():\n    yield\ng().ag_frame", 3, "'.ag_frame'"),
    ("try:\n    1 / 0\nexcept Exception as e:\n    e.tb_frame", 4, "'.tb_frame'"),
    ("tb = None\ntb.tb_next", 2, "'.tb_next'"),
    ("frame = None\nframe.f_locals", 2, "'.f_locals'"),
    ("frame = None\nframe.f_builtins", 2, "'.f_builtins'"),
    ("frame = None\nframe.f_code.co_code", 2, "'.f_code'"),
    ("f = None\nf.func_globals", 2, "'.func_globals'"),
    ("int.mro()", 1, "'.mro'"),
    # format strings walk attributes by name
    ('x = 1\n"{0.__class__}".format(x)', 2, "'.format' is not allowed here"),
    ('x = 1\n"{0.real}".format(x)', 2, "'.format'"),
    ('x = [1]\n"{0[0]}".format(x)', 2, "'.format'"),
    ('"{:{0.real}}".format(1)', 1, "'.format'"),
    ('s = "{}"\ns.format(1)', 2, "'.format'"),
    ('str.format("{0.__class__}", 1)', 1, "'.format'"),
    ('"{x}".format_map({"x": 1})', 1, "'.format_map'"),
    ('"{".format(1)', 1, "'.format'"),
    ('x = 1\nf"{x.__class__}"', 2, "'.__class__'"),
    ('x = 1\nf"{x:{x.__class__}}"', 2, "'.__class__'"),
    # torch and numpy escape hatches, by attribute name wherever they appear
    # torch.save and np.load go through the scenario's folder (scenario.savers): the same
    # names on anything but the module itself stay refused
    ("import torch\nt = torch\nt.save(1, 'p')", 3, "'.save' is not allowed in a scenario"),
    ("import torch\nm = torch.ones(1)\nm.load('p')", 3, "'.load' is not allowed in a scenario"),
    ("import numpy as np\nn = np\nn.load('p')", 3, "'.load'"),
    ("import numpy as np\nnp.savez('p', a=1)", 2, "'.savez'"),
    ("from numpy import fromfile", 1, "importing 'fromfile' from numpy"),
    ("import torch\n[torch][0].save(1, 'p')", 2, "'.save'"),
    (
        "import torch\ntorch.ones(2).numpy().tofile('p')",
        2,
        "'.tofile' is not allowed in a scenario: it writes a file",
    ),
    ("a = None\na.tofile('p')", 2, "'.tofile'"),
    ("import torch\ntorch.from_file('p', shared=True, size=4)", 2, "'.from_file'"),
    ("import torch\ntorch.frombuffer(None)", 2, "'.frombuffer'"),
    ("import torch\ntorch.ones(1).storage()", 2, "'.storage'"),
    ("import torch\ntorch.ones(1).untyped_storage()", 2, "'.untyped_storage'"),
    ("import torch\ntorch.ones(1).share_memory_()", 2, "'.share_memory_'"),
    ("import torch\ntorch.ones(1).set_(torch.ones(2))", 2, "'.set_'"),
    ("import torch\ntorch.to_dlpack(torch.ones(1))", 2, "'.to_dlpack'"),
    ("import torch\ntorch.from_dlpack(None)", 2, "'.from_dlpack'"),
    ("import torch\ntorch.hub.load('a/b', 'm')", 2, "'.hub'"),
    ("import torch\ntorch.ops.aten.add", 2, "'.ops'"),
    ("import torch\ntorch.utils.cpp_extension.load_inline('m', '')", 2, "'.cpp_extension'"),
    ("import torch\nu = torch.ones(1).utils", 2, "'.utils'"),
    ("import torch\ntorch.classes.load_library('x.so')", 2, "'.classes'"),
    ("import torch\ntorch.jit.script(len)", 2, "'.jit'"),
    ("import torch\ntorch.compile(len)", 2, "'.compile'"),
    ("import torch\ntorch.nn.Linear(1, 1).compile()", 2, "'.compile'"),
    ("import torch\ntorch.library.Library('aten', 'IMPL')", 2, "'.library'"),
    ("import torch\ntorch.distributed.init_process_group()", 2, "'.distributed'"),
    ("import torch\ntorch.multiprocessing.Process()", 2, "'.multiprocessing'"),
    ("import torch\ntorch.backends.cudnn.deterministic = True", 2, "'.backends'"),
    (
        "import torch\nwith torch.autograd.profiler.profile() as p:\n    pass\np.export_chrome_trace('t')",
        4,
        "'.export_chrome_trace' is not allowed in a scenario: it writes a trace file",
    ),
    ("from torch.profiler import tensorboard_trace_handler", 1, "writes trace files"),
    ("from torch.utils.benchmark import Timer", 1, "Timer runs code given as strings"),
    ("globals()['x']", 1, "the scenario's whole namespace"),
    (
        "from matplotlib.animation import FuncAnimation as F\nF(1, 2).to_html5_video()",
        2,
        "runs ffmpeg",
    ),
    ("import torch\ntorch.set_default_tensor_type('os.system')", 2, "'.set_default_tensor_type'"),
    ("import torch\ntorch.FloatStorage", 2, "'.FloatStorage'"),
    ("import torch\ntorch.os.system('ls')", 2, "'.os'"),
    ("import torch.nn.functional as F\nF.np", 2, "'.np'"),
    ("import torch.nn.functional as F\nF.torch.save", 2, "'.torch'"),
    ("import torch.nn.functional as F\nF.importlib", 2, "'.importlib'"),
    ("import torch\ntorch.compiler.load_cache_artifacts(b'')", 2, "'.compiler'"),
    ("x = (torch\n     .save(1, 'p'))", 2, "'.save'"),
    # language features a scenario does not need
    ("async def f():\n    pass", 1, "async functions"),
    ("def f():\n    pass\nasync def g():\n    await f()", 3, "async functions"),
    ("x = 1\nmatch x:\n    case object(__class__=c):\n        pass", 2, "'match' statements"),
    ("try:\n    pass\nexcept* ValueError:\n    pass", 1, "'except*'"),
    # what would also catch the time limit that stops a runaway scenario
    ("while True:\n    try:\n        pass\n    except:\n        pass", 4, "bare 'except:'"),
    ("try:\n    pass\nexcept BaseException:\n    pass", 3, "catching BaseException"),
    ("try:\n    pass\nexcept (ValueError, KeyboardInterrupt):\n    pass", 3, "KeyboardInterrupt"),
    ("try:\n    pass\nexcept SystemExit as e:\n    pass", 3, "catching SystemExit"),
]


@pytest.mark.parametrize(("source", "line", "fragment"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_its_line_and_a_reason(source: str, line: int, fragment: str) -> None:
    with pytest.raises(ScenarioRefused) as refused:
        check_source(source, "lesson.py")
    assert refused.value.line == line, str(refused.value)
    assert fragment in refused.value.message
    assert not isinstance(refused.value, ScenarioSyntaxError)


def test_the_refusal_table_is_an_attack_corpus() -> None:
    assert len(REFUSED) >= 40


def test_refusal_names_file_line_and_what_is_allowed() -> None:
    with pytest.raises(ScenarioRefused) as refused:
        check_source("import torch\n\n\n\n\n\nimport os\n", "lesson.py")
    error = refused.value
    assert (error.filename, error.line, error.col) == ("lesson.py", 7, 0)
    assert str(error) == (
        "lesson.py, line 7: importing 'os' is not allowed: it reads or writes files, or "
        "fetches data; a restricted scenario may import torch (its teaching parts, "
        "torch.utils.data), numpy, matplotlib (pyplot and its plotting modules, "
        "mpl_toolkits.mplot3d), graphviz (to build graphs) and the "
        "standard library's pure computation (math, cmath, random, statistics, numbers, "
        "fractions, decimal, itertools, operator, functools, collections, collections.abc, "
        "heapq, bisect, copy, dataclasses, typing, abc, string, textwrap, re, pprint, time, "
        "datetime, enum, __future__); if you trust "
        "the file, open it with --trust to run it as ordinary Python"
    )
    assert isinstance(error, Exception)


def test_an_attribute_is_located_at_its_name() -> None:
    (problem,) = find_refusals("import torch\ny = (torch\n     .ones(1)\n     .storage())", "a.py")
    assert (problem.line, problem.col) == (4, 6)


def test_every_refusal_is_found_in_source_order() -> None:
    problems = find_refusals("import os\nx = 1\nopen('/f')\ny = x.__class__\n", "a.py")
    assert [p.line for p in problems] == [1, 3, 4]


def test_a_syntax_error_is_a_clean_error_with_its_line() -> None:
    with pytest.raises(ScenarioSyntaxError) as refused:
        check_source("import torch\nx = torch.tensor(3.0\ny = x ** 2\n", "lesson.py")
    assert isinstance(refused.value, ScenarioRefused)
    assert refused.value.line in (2, 3)
    assert str(refused.value).startswith("lesson.py, line ")


@pytest.mark.parametrize(
    "source",
    ["x = 1\0", "x = " + "(" * 300 + ")" * 300, "x = " + "-" * 100_000 + "1", "x = '\ud800'"],
    ids=["null byte", "deep parentheses", "deep unary", "lone surrogate"],
)
def test_pathological_text_is_refused_cleanly(source: str) -> None:
    with pytest.raises(ScenarioRefused):
        check_source(source, "lesson.py")


# ------------------------------------------------------------------ acceptance

ACCEPTED: list[str] = [
    # the seed lessons' shapes
    "import torch\nx = torch.tensor(3.0, requires_grad=True)\ny = x ** 2\ny.backward()\nprint(x.grad)",
    "import torch\nimport math\nx = torch.tensor(4.0, requires_grad=True)\nz = torch.sin(x ** 2)\n"
    "z.backward()\nprint(x.grad, 2 * 4 * math.cos(16))",
    "import torch\na = torch.tensor([[1,3,4]],requires_grad=True,dtype=float)\nloss = torch.var(a)\n"
    "loss.backward()\nprint(a.grad)",
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom torch import nn, optim\n"
    "from torch.autograd import Function\nfrom math import pi\nimport torch.autograd.functional as AF",
    'import torch\nw = torch.tensor(1.0, requires_grad=True)\nprint(f"Initial Weight: {w.item()}")\n'
    'print(f"Loss: {w.item():.4f}")',
    "import torch\nx = torch.tensor(2.0, requires_grad=True)\nwith torch.no_grad():\n    y = x * 2\n"
    "z = x.detach()\ny2 = x * 3\ny2.retain_grad()\nx.grad = None\nx.requires_grad_(False)",
    "import torch\nwith torch.enable_grad():\n    pass\ntorch.set_grad_enabled(False)\n"
    "with torch.inference_mode():\n    pass",
    # a module, a custom Function, dunders teaching code defines
    "import torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
    "        super().__init__()\n        self.fc = nn.Linear(2, 1)\n\n    def forward(self, x):\n"
    "        return torch.relu(self.fc(x))\n\nclass Old(nn.Module):\n    def __init__(self):\n"
    "        super(Old, self).__init__()\n",
    "import torch\n\nclass Square(torch.autograd.Function):\n    @staticmethod\n"
    "    def forward(ctx, x):\n        ctx.save_for_backward(x)\n        return x ** 2\n\n"
    "    @staticmethod\n    def backward(ctx, grad):\n        (x,) = ctx.saved_tensors\n"
    "        return 2 * x * grad\n",
    "class Value(object):\n    def __init__(self, data):\n        self.data = data\n"
    "    def __add__(self, other):\n        return Value(self.data + other.data)\n"
    "    def __radd__(self, other):\n        return self + other\n"
    "    def __mul__(self, other):\n        return Value(self.data * other.data)\n"
    "    def __pow__(self, k):\n        return Value(self.data ** k)\n"
    "    def __neg__(self):\n        return self * Value(-1)\n"
    "    def __repr__(self):\n        return f'Value(data={self.data})'\n"
    "    def __call__(self):\n        return self.data\n"
    "    def __len__(self):\n        return 1\n"
    "    def __getitem__(self, i):\n        return self.data\n",
    # the ordinary language
    "a, *rest = [1, 2, 3]\nb: int = 3\nb += 1\nc = [i * i for i in range(3) if i]\n"
    "d = {k: v for k, v in zip('ab', [1, 2])}\ne = {i for i in c}\ng = (i for i in c)\n"
    "h = lambda x=1: x\ndel d['a']\nassert b == 4, 'four'\n",
    "total = 0\ndef bump():\n    global total\n    total += 1\n"
    "def outer():\n    n = 0\n    def inner():\n        nonlocal n\n        n += 1\n"
    "    inner()\n    return n\n"
    "def gen():\n    yield 1\n    yield from [2, 3]\n",
    "for i in range(3):\n    if i == 1:\n        continue\n    if i == 2:\n        break\n"
    "else:\n    pass\nwhile False:\n    pass\n",
    "import torch\ntry:\n    torch.tensor(1.0).backward()\nexcept RuntimeError as e:\n"
    "    print(f'RuntimeError: {e}')\nfinally:\n    pass\ntry:\n    raise ValueError('x')\n"
    "except (ValueError, TypeError):\n    pass\n",
    # names a scenario may own, and idioms that look close to refused ones
    "import torch\ninput = torch.randn(3, 5, requires_grad=True)\ntarget = torch.tensor([1, 0, 4])\n"
    "import torch.nn.functional as F\nloss = F.cross_entropy(input, target)\n",
    "def dir(x):\n    return x\ncompile = 3\nprint(dir(compile))",
    'import torch\nx = torch.ones(1)\nprint(type(x), type(x).__name__)\nif __name__ == "__main__":\n'
    "    print('main')\n",
    'print("{:.4f} {} {0} {name!r:>10}".format(1.0, 2, name="x"))\nprint("%s and %d" % ("a", 1))',
    "from torch.nn.utils import clip_grad_norm_\n"
    "import torch\nimport torch.nn as nn\nm = nn.Linear(2, 2)\nnn.utils.clip_grad_norm_(m.parameters(), 1.0)\n"
    "torch.nn.utils.clip_grad_value_(m.parameters(), 0.5)\nnn.init.zeros_(m.bias)\n",
    "import torch\nfrom torch.optim import lr_scheduler\nimport torch.optim as optim\n"
    "p = [torch.zeros(1, requires_grad=True)]\nopt = optim.Adam(p)\ns = lr_scheduler.StepLR(opt, 1)\n"
    "opt.zero_grad()\nopt.step()\ns.step()\nprint(opt.state_dict())\n",
    "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 2).sum()\n"
    "print(y.grad_fn, y.grad_fn.next_functions, y.is_leaf, x.data, x.data_ptr())\n"
    "h = x.register_hook(lambda g: g * 2)\nh.remove()\nx.type(torch.float64)\n",
    "import torch\ndevice = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
    "model = torch.nn.Linear(1, 1).to(device)\nmodel.eval()\nmodel.train()\n"
    "for name, param in model.named_parameters():\n    print(name, param.shape)\n",
    # files beside the scenario and the run's scratch (scenario.folder, scenario.savers)
    "words = open('names.txt', 'r').read().splitlines()\nwith open('data/x.csv') as f:\n"
    "    rows = f.readlines()\nout = open('log.txt', 'w')\nprint('hi', file=out)\n",
    "import torch\nfrom torch import save, load\nm = torch.nn.Linear(2, 2)\n"
    "torch.save(m.state_dict(), 'model.pth')\nm.load_state_dict(torch.load('model.pth', "
    "weights_only=True))\nsave(m.state_dict(), 'm2.pth')\nload('m2.pth')\n",
    "import numpy as np\nnp.save('a.npy', np.ones(3))\na = np.load('a.npy')\n"
    "np.savetxt('a.txt', a)\nb = np.loadtxt('a.txt')\nc = np.genfromtxt('a.txt')\n",
]


@pytest.mark.parametrize("source", ACCEPTED, ids=range(len(ACCEPTED)))
def test_teaching_code_is_accepted(source: str) -> None:
    check_source(source, "lesson.py")


BUNDLED = sorted((Path(__file__).parents[2] / "resources" / "scenarios").glob("*.py"))


@pytest.mark.skipif(not BUNDLED, reason="no bundled scenarios in this checkout")
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_scenarios_are_accepted(path: Path) -> None:
    check_source(path.read_text(encoding="utf-8"), str(path))


# --------------------------------------------------------------------- fuzzing

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Fragments that steer mutations towards the interesting parts of the grammar.
TOKENS = [
    "import os", "import torch", "from torch import ", "__class__", "__builtins__", ".save",
    ".format(", "{0.__class__}", "open(", "eval", "type(", "lambda", "yield", "async ",
    "await ", "match x:\n case 1: pass", "class ", "def ", "super().__init__()", "._x",
    ".gi_frame", "f'{", "}'", "(", ")", "[", "]", ":", "\n", "    ", "*", "**", "=", ",",
    "@", "\\", "'", '"', "#", ";", "global ", "nonlocal ", "\0", "\ud800", "ｏｐｅｎ",
]  # fmt: skip


def _outcome_is_clean(source: str) -> None:
    try:
        result = check_source(source, "fuzz.py")
    except ScenarioRefused as e:
        assert isinstance(e.line, int) and e.line >= 0
        assert isinstance(e.col, int) and e.col >= 0
        assert e.message and str(e).startswith("fuzz.py, line ")
    else:
        assert result is None


@FUZZ
@given(st.text(max_size=400))
def test_random_text_is_accepted_or_refused(source: str) -> None:
    _outcome_is_clean(source)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS + ["x", "torch", "1", " "]), max_size=60).map("".join))
def test_random_token_soup_is_accepted_or_refused(source: str) -> None:
    _outcome_is_clean(source)


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(ACCEPTED))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(source)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate line", "replace"]))
        if kind == "insert":
            source = source[:at] + draw(st.sampled_from(TOKENS)) + source[at:]
        elif kind == "delete":
            source = source[:at] + source[at + draw(st.integers(1, 20)) :]
        elif kind == "duplicate line":
            lines = source.split("\n")
            i = at % len(lines)
            lines.insert(i, lines[i])
            source = "\n".join(lines)
        else:
            source = source[:at] + draw(st.text(max_size=5)) + source[at + 5 :]
    return source


@FUZZ
@given(mutated_scenarios())
def test_mutated_scenarios_are_accepted_or_refused(source: str) -> None:
    _outcome_is_clean(source)


def test_every_refused_construct_is_reported_at_once() -> None:
    """A file with four problems is refused once, with all four and their lines."""
    source = "import torch\nimport os\nx = torch.ones(1)\nopen('/f')\ny = x.__class__\nimport os\n"
    with pytest.raises(ScenarioRefused) as info:
        check_source(source, "lesson.py")
    err = info.value
    assert (err.line, [p.line for p in err.more]) == (2, [4, 5, 6])
    rows = err.details().split("\n")
    assert rows[0] == err.message and "'os'" in err.message
    assert rows[1] == "3 more refused constructs:"
    assert rows[2].startswith("line 4: open('/f'): a restricted scenario may use only the files")
    assert rows[3].startswith("line 5: '.__class__'")
    assert rows[4].startswith("line 6: importing 'os'")
    assert len(rows) == 5


def test_the_same_reason_on_several_lines_is_said_once() -> None:
    source = "import torch\nx = torch.ones(1)\nimport os\nimport socket\na = x.storage()\nb = x.storage()\n"
    with pytest.raises(ScenarioRefused) as info:
        check_source(source, "lesson.py")
    rows = info.value.details().split("\n")
    assert rows[1] == "3 more refused constructs:"
    assert rows[2].startswith("line 4: importing 'socket'")
    assert rows[3].startswith("lines 5, 6: '.storage'")
    assert len(rows) == 4


def test_a_long_list_of_refusals_is_cut_with_a_count() -> None:
    modules = [f"mod{i}" for i in range(20)]
    source = "import torch\n" + "".join(f"import {m}\n" for m in modules)
    with pytest.raises(ScenarioRefused) as info:
        check_source(source, "lesson.py")
    rows = info.value.details().split("\n")
    assert rows[1] == "19 more refused constructs:"
    assert rows[2].startswith("line 3: importing 'mod1'")
    assert rows[-1] == "... and 7 more"  # 19 reasons, 12 shown
    assert len(rows) == 2 + 12 + 1


def test_a_file_with_one_problem_says_just_that() -> None:
    with pytest.raises(ScenarioRefused) as info:
        check_source("import torch\nimport os\n", "lesson.py")
    assert info.value.more == ()
    assert info.value.details() == info.value.message


def test_a_refused_trace_lists_every_problem_and_its_step_one_line() -> None:
    from gradstep.record.run import record_scenario
    from gradstep.scenario.loader import scenario_from_source

    source = "import torch\nx = torch.ones(1)\nimport os\nimport socket\na = x.storage()\nb = x.storage()\n"
    trace = record_scenario(scenario_from_source(source, "lesson.py"), trusted=False)
    assert trace.error is not None and trace.error.kind == "refused"
    assert trace.error.line == 3
    assert "\nline 4: importing 'socket'" in trace.error.message
    assert "\nlines 5, 6: '.storage'" in trace.error.message
    (step,) = trace.steps
    assert step.line == 3 and "\n" not in step.text and "'os'" in step.text


# (source, line, fragment): names the run would refuse, refused up front when the check
# knows the modules' allow-lists (as a restricted run does: record.run passes them)
REFUSED_MEMBERS: list[tuple[str, int, str]] = [
    ("import numpy as np\nd = np.lib.format", 2, "numpy.lib is not available"),
    ("from numpy import ctypeslib", 1, "'.ctypeslib' is not allowed"),
    ("import numpy\nm = numpy.memmap", 2, "'.memmap' is not allowed"),
    ("import numpy as np\nf = np.DataSource", 2, "'.DataSource' is not allowed"),
    ("from numpy import testing", 1, "'.testing' is not allowed"),
    ("import matplotlib.pyplot as plt\nplt.imsave('a.png', 0)", 2, "'.imsave'"),
    ("import matplotlib\nmatplotlib.use('module://evil')", 2, "matplotlib.use is not available"),
    ("import matplotlib.pyplot as plt\nplt.ginput()", 2, "matplotlib.pyplot.ginput"),
    ("import operator\ng = operator.attrgetter('x')", 2, "reads attributes named by a string"),
    ("from typing import get_type_hints", 1, "evaluates annotation strings"),
    ("import torch\nc = torch.utils.checkpoint", 2, "torch.utils.checkpoint is not available"),
    ("import torch.utils.data as data\nd = data.dataloader", 2, "torch.utils.data.dataloader"),
    ("import torch.nn as nn\nnn.DataParallel", 2, "torch.nn.DataParallel is not available"),
]


@pytest.mark.parametrize(("source", "line", "fragment"), REFUSED_MEMBERS)
def test_names_the_run_refuses_are_refused_up_front(source: str, line: int, fragment: str) -> None:
    from gradstep.scenario.sandbox import member

    problems = find_refusals(source, "lesson.py", member)
    assert problems, source
    assert problems[0].line == line
    assert fragment in problems[0].message
    assert "--trust" in problems[0].message


def test_widened_teaching_code_passes_the_check_with_the_allow_lists() -> None:
    from gradstep.scenario.sandbox import member

    source = (
        "from __future__ import annotations\n"
        "import random, itertools, functools, collections, math, statistics, time\n"
        "from dataclasses import dataclass\n"
        "from typing import List, Optional\n"
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "import torch\n"
        "from torch.utils.data import Dataset, DataLoader, TensorDataset, random_split\n"
        "from torch.autograd import gradcheck\n"
        "from torch.autograd.functional import jacobian\n"
        "print(torch.__version__, np.__version__)\n"
        "a = np.random.randn(3)\n"
        "t = torch.from_numpy(a)\n"
        "b = t.numpy()\n"
        "xs = np.linspace(-1, 1, 5)\n"
        "plt.plot(xs, np.sin(xs))\n"
        "plt.show()\n"
        "torch.set_default_dtype(torch.float64)\n"
        "torch.set_default_device('cpu')\n"
        "loader = DataLoader(TensorDataset(t), batch_size=2)\n"
        "n = functools.reduce(lambda u, v: u + v, itertools.chain([1], [2]))\n"
        "c = collections.Counter('abc')\n"
        "m = statistics.mean([1, 2])\n"
    )
    assert find_refusals(source, "lesson.py", member) == []
