"""The run-time layer: curated built-ins, allow-listing proxies and the audit guard.

Two corpora drive it. The attack corpus holds escape attempts written as an
attacker would, each with a payload that would leave a trace (a file, a
process, a connection); every attempt must be refused by the whole pipeline
(static check, then the restricted run under the guard) and leave no trace,
and where the run-time layer can stop it alone it is also run without the
static check. The acceptance corpus holds ordinary teaching code, which must
run restricted and give PyTorch's own numbers.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import math
import os
import socket
import subprocess
import sys
import tracemalloc  # noqa: F401  pytest's unraisable-exception hook imports it lazily, under the guard
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from gradstep.scenario import libraries, sandbox
from gradstep.scenario.check import check_source, refused_attribute_reason
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.sandbox import (
    RestrictedModule,
    allowed_names,
    guarded,
    restricted_globals,
    restricted_module,
    trusted_globals,
)

#: What a refused attempt may raise at run time.
REFUSALS = (
    PermissionError,
    AttributeError,
    ImportError,
    NameError,
    TypeError,
    KeyError,
    IndexError,
)


def run_restricted(source: str, filename: str = "lesson.py") -> dict[str, Any]:
    """The whole pipeline: static check, then exec in restricted globals under the guard."""
    check_source(source, filename)
    return run_unchecked(source, filename)


def run_unchecked(source: str, filename: str = "attack.py") -> dict[str, Any]:
    """The run-time layer alone, as if the static check had missed something."""
    namespace = restricted_globals(filename)
    with guarded():
        exec(compile(source, filename, "exec"), namespace)
    return namespace


def run_trusted(source: str, filename: str = "lesson.py") -> dict[str, Any]:
    namespace = trusted_globals(filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace


# ---------------------------------------------------------------- attack corpus

STATIC_ONLY = "static only"  # the run-time layer alone cannot stop it (native file I/O)
HARMLESS = "harmless"  # run alone it succeeds, but can reach nothing with an effect


@dataclass(frozen=True)
class Attack:
    name: str
    source: str  # {mark}: a path the attempt tries to create; {victim}: a file it tries to harm
    line: int | None  # the line the static check refuses, None when only the run time can
    alone: Any  # exceptions the run-time layer alone raises, or STATIC_ONLY / HARMLESS


B = "print.__self__"  # the real builtins module, one dunder away from any builtin function
# os's globals, through a class every Python process has (not through builtins.__import__:
# in the test process PySide6's shiboken replaces it, and calling its hook from a frame with
# curated built-ins aborts the interpreter; scenarios never run next to Qt)
OS = '[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close"][0].__init__.__globals__'
MODULES = OS + '["sys"].modules'

ATTACKS = [
    # imports, in every spelling
    Attack("import os", 'import os\nos.system("touch {mark}")', 1, ImportError),
    Attack("from os import", 'from os import system\nsystem("touch {mark}")', 1, ImportError),
    Attack(
        "import subprocess",
        'import subprocess\nsubprocess.run(["touch", "{mark}"])',
        1,
        ImportError,
    ),
    Attack(
        "import as alias",
        'import torch\nimport pathlib as torch_utils\ntorch_utils.Path("{mark}").touch()',
        2,
        ImportError,
    ),
    Attack(
        "import in a function",
        'def f():\n    import shutil\n    shutil.copy(__file__, "{mark}")\nf()',
        2,
        ImportError,
    ),
    Attack("__import__ by name", '__import__("os").system("touch {mark}")', 1, ImportError),
    Attack(
        "import torch.utils",
        "import torch.utils.cpp_extension as ce\nce.load_inline('m', '')",
        1,
        (ImportError, PermissionError),  # torch's own module is imported, setuptools is not
    ),
    Attack("from torch.utils import", "from torch.utils import cpp_extension", 1, ImportError),
    Attack("from torch import *", "from torch import *\nsave(ones(1), '{mark}')", 1, ImportError),
    Attack("relative import", "from . import sibling", 1, ImportError),
    Attack(
        "fresh stdlib module",
        MODULES + '["importlib"].import_module("tabnanny")',
        1,
        PermissionError,
    ),
    # reflective built-ins
    # open() is the scenario folder's: a path outside it is refused (scenario.folder)
    Attack("open for writing", 'open("{mark}", "w").write("x")', 1, PermissionError),
    Attack("fullwidth open", 'ｏｐｅｎ("{mark}", "w").write("x")', 1, PermissionError),
    Attack("eval", "eval(\"__import__('os').system('touch {mark}')\")", 1, NameError),
    Attack("exec", "exec(\"import os; os.system('touch {mark}')\")", 1, NameError),
    Attack("compile", "code = compile('1', 'x', 'eval')", 1, NameError),
    # getattr/setattr/delattr check a computed name when they run (scenario.reflect); on a
    # module proxy, getattr gives what the proxy gives: torch.save is the folder's door
    Attack(
        "getattr by string",
        'import torch\ngetattr(torch, "sa" + "ve")(torch.ones(1), "{mark}")',
        None,
        PermissionError,
    ),
    Attack(
        "getattr of a computed dunder",
        'import torch\ng = getattr(torch.nn.functional.relu, "__" + "globals__")\n'
        'g["os"].system("touch {mark}")',
        None,
        PermissionError,
    ),
    Attack(
        "setattr of a computed dunder",
        'class X:\n    pass\nsetattr(X(), "__" + "class__", X)',
        None,
        PermissionError,
    ),
    Attack(
        "getattr of a computed internal",
        'import torch\nv = getattr(torch.ones(1), "_" + "version")',
        None,
        PermissionError,
    ),
    Attack("getattr of torch._C", 'import torch\ngetattr(torch, "_C")', 2, AttributeError),
    Attack(
        "getattr of a computed format",
        'f = getattr("{{0.__init__.__globals__}}", "for" + "mat")',
        None,
        PermissionError,
    ),
    Attack("vars", "import torch\nvars(torch)", 2, NameError),
    Attack("globals", 'globals()["__builtins__"]', 1, NameError),
    Attack("__builtins__ dict", '__builtins__["open"]("{mark}", "w")', 1, PermissionError),
    Attack("three-argument type", 'T = type("T", (), {{"x": 1}})', 1, TypeError),
    Attack("help", "help()", 1, NameError),
    Attack("breakpoint", "breakpoint()", 1, NameError),
    Attack("input", "secret = input()", 1, NameError),
    Attack(
        "shadowed then deleted",
        'if False:\n    open = None\nopen("{mark}", "w")',
        None,
        PermissionError,
    ),
    Attack("sys without import", 'sys.modules["os"].system("touch {mark}")', None, NameError),
    # dunder walks to the builtins and to os
    Attack(
        "subclasses walk to os.system",
        'w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close"][0]\n'
        'w.__init__.__globals__["system"]("touch {mark}")',
        1,
        PermissionError,
    ),
    Attack(
        "subclasses walk to Popen",
        'p = [c for c in ().__class__.__mro__[-1].__subclasses__() if c.__name__ == "Popen"][0]\n'
        'p(["touch", "{mark}"])',
        1,
        PermissionError,
    ),
    Attack(
        "catch_warnings builtins",
        "for c in ().__class__.__base__.__subclasses__():\n"
        '    if c.__name__ == "catch_warnings":\n'
        '        c()._module.__builtins__["open"]("{mark}", "w").write("x")',
        1,
        PermissionError,
    ),
    Attack("builtins via __self__", f'{B}.open("{{mark}}", "w").write("x")', 1, PermissionError),
    Attack("os via a class walk", OS + '["system"]("touch {mark}")', 1, PermissionError),
    Attack("remove a file", OS + '["remove"]("{victim}")', 1, PermissionError),
    Attack(
        "rename a file",
        OS + '["rename"]("{victim}", "{mark}")',
        1,
        PermissionError,
    ),
    Attack("shutil", MODULES + '["shutil"].copy("{victim}", "{mark}")', 1, PermissionError),
    Attack(
        "pathlib write",
        MODULES + '["pathlib"].Path("{mark}").write_text("x")',
        1,
        PermissionError,
    ),
    Attack("read a private file", f'secret = {B}.open("{{victim}}").read()', 1, PermissionError),
    Attack("environment", OS + '["environ"]["GRADSTEP_PWNED"] = "1"', 1, PermissionError),
    Attack(
        "ctypes",
        MODULES + '["ctypes"].CDLL(None).system(b"touch {mark}")',
        1,
        PermissionError,
    ),
    Attack("gc objects", "objs = " + MODULES + '["gc"].get_objects()', 1, PermissionError),
    Attack(
        "new code object", "c = (lambda: 0).__code__.replace(co_consts=(1,))", 1, PermissionError
    ),
    Attack(
        "lambda default argument",
        f'f = lambda b={B}: b.open("{{mark}}", "w").write("x")\nf()',
        1,
        PermissionError,
    ),
    Attack("walrus", f'(b := {B}).open("{{mark}}", "w").write("x")', 1, PermissionError),
    Attack(
        "decorator",
        f"@{B}.exec\n@lambda f: \"open('{{mark}}', 'w').write('x')\"\ndef payload():\n    pass",
        1,
        PermissionError,
    ),
    Attack(
        "class body",
        f'class Sneaky:\n    opener = {B}.open\n    handle = opener("{{mark}}", "w")',
        2,
        PermissionError,
    ),
    Attack(
        "finalizer",
        'class Later:\n    def __del__(self):\n        open("{mark}", "w")\nx = Later()\ndel x',
        2,
        HARMLESS,
    ),
    # frames and tracebacks
    Attack(
        "generator frame walk",
        'g = (x for x in [1])\ng.gi_frame.f_back.f_builtins["open"]("{mark}", "w")',
        2,
        PermissionError,
    ),
    Attack(
        "traceback walk",
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n"
        '    e.__traceback__.tb_frame.f_back.f_builtins["open"]("{mark}", "w")',
        4,
        PermissionError,
    ),
    # format strings walk attributes by name
    Attack("str.format attribute walk", 'leak = "{{0.__self__}}".format(print)', 1, HARMLESS),
    Attack("format_map", 'leak = "{{p.__self__}}".format_map({{"p": print}})', 1, HARMLESS),
    Attack("f-string walk", 'leak = f"{{().__class__.__base__.__subclasses__()}}"', 1, HARMLESS),
    # torch's escape hatches
    # torch.save/load go through the scenario's folder (scenario.savers): outside it, refused
    Attack("torch.save", 'import torch\ntorch.save(torch.ones(1), "{mark}")', 2, PermissionError),
    Attack(
        "alias then save",
        'import torch\nt = torch\nt.save(torch.ones(1), "{mark}")',
        3,
        PermissionError,
    ),
    Attack(
        "list then save",
        'import torch\n[torch][0].save(torch.ones(1), "{mark}")',
        2,
        PermissionError,
    ),
    Attack("torch.load", 'import torch\nm = torch.load("{victim}")', 2, PermissionError),
    Attack(
        "numpy tofile",
        'import torch\ntorch.ones(2).numpy().tofile("{mark}")',
        2,
        # numpy's C code loses the guard's PermissionError and reports a SystemError
        (PermissionError, SystemError),
    ),
    Attack(
        "torch.from_file",
        'import torch\ntorch.from_file("{mark}", shared=True, size=4)',
        2,
        AttributeError,
    ),
    Attack(
        "storage from_file",
        'import torch\ntorch.ones(1).untyped_storage().from_file("{mark}", True, 4)',
        2,
        STATIC_ONLY,
    ),
    Attack("share_memory_", "import torch\ntorch.ones(1).share_memory_()", 2, STATIC_ONLY),
    Attack("torch.hub", 'import torch\ntorch.hub.load("evil/repo", "model")', 2, AttributeError),
    Attack("torch.ops", 'import torch\ntorch.ops.load_library("{mark}")', 2, AttributeError),
    Attack("torch.ops.aten", "import torch\ntorch.ops.aten.add", 2, AttributeError),
    Attack(
        "cpp_extension",
        'import torch\ntorch.utils.cpp_extension.load_inline("m", "")',
        2,
        AttributeError,
    ),
    Attack(
        "torch.classes", 'import torch\ntorch.classes.load_library("{mark}")', 2, AttributeError
    ),
    Attack("torch.jit", "import torch\ntorch.jit.script(lambda x: x)", 2, AttributeError),
    Attack("torch.compile", "import torch\ntorch.compile(lambda x: x)", 2, AttributeError),
    Attack(
        "torch.library", 'import torch\ntorch.library.Library("aten", "IMPL")', 2, AttributeError
    ),
    Attack(
        "torch re-exports os", 'import torch\ntorch.os.system("touch {mark}")', 2, AttributeError
    ),
    Attack(
        "F re-exports torch",
        'import torch.nn.functional as F\nF.torch.save(F.torch.ones(1), "{mark}")',
        2,
        AttributeError,
    ),
    Attack(
        "F re-exports numpy",
        'import torch.nn.functional as F\nF.np.save("{mark}", [1])',
        2,
        AttributeError,
    ),
    Attack(
        "import by dotted name",
        'import torch\ntorch.set_default_tensor_type("tabnanny.check")',
        2,
        AttributeError,
    ),
    Attack(
        "globals of a torch function",
        'import torch\nimport torch.nn.functional as F\nF.relu.__globals__["torch"].save(torch.ones(1), "{mark}")',
        3,
        STATIC_ONLY,
    ),
    Attack(
        "nn.Module.__dict__",
        'from torch import nn\nnn.Module.__dict__["__init__"].__globals__["torch"].save(1, "{mark}")',
        2,
        STATIC_ONLY,
    ),
    # what the tree cannot see: the proxies answer
    Attack(
        "nn aliasing torch.utils",
        "import torch\nnn = torch\nloader = nn.utils.checkpoint.checkpoint",
        None,
        AttributeError,
    ),
    Attack(
        "nn.utils beyond clipping",
        "from torch import nn\nnn.utils.prune.identity",
        None,
        AttributeError,
    ),
    Attack("import from nn.utils", "from torch.nn.utils import prune", None, ImportError),
    Attack("torch.nn.modules", "import torch\nm = torch.nn.modules.module", None, AttributeError),
    Attack("threads", "import torch\ntorch.set_num_threads(64)", None, AttributeError),
    Attack(
        "patch the recorder", "import torch\ntorch.autograd.backward = print", None, AttributeError
    ),
    Attack("forge a proxy", 'import torch\nfake = type(torch)(torch, "os")', None, TypeError),
    Attack("subclass a proxy", "import torch\nclass P(type(torch)):\n    pass", None, TypeError),
]


@pytest.fixture
def marks(tmp_path: Path) -> dict[str, Path]:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    return {"mark": tmp_path / "pwned", "victim": victim}


def _source(attack: Attack, marks: dict[str, Path]) -> str:
    return attack.source.format(**{k: str(v) for k, v in marks.items()})


def _assert_no_trace(marks: dict[str, Path]) -> None:
    assert not marks["mark"].exists(), "the attempt left a file behind"
    assert marks["victim"].read_text() == "keep me", "the attempt harmed a file"
    assert "GRADSTEP_PWNED" not in os.environ


@pytest.fixture(autouse=True)
def _forget_tabnanny() -> None:
    # the import attacks ask for a module nobody has imported yet
    sys.modules.pop("tabnanny", None)


def test_the_attack_corpus_is_large_and_varied() -> None:
    assert len(ATTACKS) >= 40
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)
    assert sum(a.line is None for a in ATTACKS) >= 5  # some only the run time can see


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attack_is_refused_by_the_pipeline_without_a_trace(
    attack: Attack, marks: dict[str, Path]
) -> None:
    source = _source(attack, marks)
    if attack.line is not None:
        with pytest.raises(ScenarioRefused) as refused:
            run_restricted(source, "attack.py")
        assert refused.value.line == attack.line, str(refused.value)
        assert refused.value.filename == "attack.py"
    else:
        check_source(source, "attack.py")  # nothing for the tree to see...
        with pytest.raises(REFUSALS):  # ...so the run time refuses it
            run_restricted(source, "attack.py")
    _assert_no_trace(marks)


RUNTIME_ALONE = [a for a in ATTACKS if a.alone not in (STATIC_ONLY, HARMLESS)]


@pytest.mark.parametrize("attack", RUNTIME_ALONE, ids=lambda a: a.name)
def test_runtime_layer_alone_refuses(attack: Attack, marks: dict[str, Path]) -> None:
    """Defence in depth: with the static check skipped, the run time still refuses."""
    with pytest.raises(attack.alone):
        run_unchecked(_source(attack, marks))
    _assert_no_trace(marks)


@pytest.mark.parametrize(
    "attack", [a for a in ATTACKS if a.alone == HARMLESS], ids=lambda a: a.name
)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the finalizer's
def test_runtime_layer_alone_leaves_no_trace(attack: Attack, marks: dict[str, Path]) -> None:
    with contextlib.suppress(Exception):
        run_unchecked(_source(attack, marks))
    _assert_no_trace(marks)


def test_connections_are_refused() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        source = MODULES + f'["socket"].create_connection(("127.0.0.1", {port}))'
        with pytest.raises(PermissionError):
            run_unchecked(source)
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()


def test_the_recorders_patch_survives_an_attempt_to_replace_it() -> None:
    real = torch.autograd.backward
    with pytest.raises(AttributeError, match="read-only"):
        run_unchecked("import torch\ntorch.autograd.backward = print")
    assert torch.autograd.backward is real


# ------------------------------------------------------------ acceptance corpus

SQUARE = """
import torch
x = torch.tensor(3.0, requires_grad=True)
y = x ** 2
y.backward()
result = x.grad.item()
"""

SIN_OF_SQUARE = """
import torch
import math
x = torch.tensor(4.0, requires_grad=True)
y = x ** 2
z = torch.sin(y)
z.backward()
result = x.grad.item()
expected = 2 * 4 * math.cos(16)
"""

MLP_TRAINING = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim

torch.manual_seed(0)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        return self.out(F.relu(self.hidden(x)))


model = TinyNet()
optimizer = optim.SGD(model.parameters(), lr=0.1)
inputs = torch.randn(8, 3)
targets = torch.randn(8, 1)
losses = []
for step in range(2):
    optimizer.zero_grad()
    loss = F.mse_loss(model(inputs), targets)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
result = [p.detach().clone() for p in model.parameters()]
"""

CUSTOM_FUNCTION = """
import torch
from torch.autograd import Function


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad_output


x = torch.tensor([1.0, 2.0], requires_grad=True)
Cube.apply(x).sum().backward()
result = x.grad.tolist()
"""

SECOND_DERIVATIVE = """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
(dy,) = torch.autograd.grad(y, x, create_graph=True)
(d2y,) = torch.autograd.grad(dy, x)
result = (dy.item(), d2y.item())
"""

GRAD_MODES = """
import torch
x = torch.tensor(2.0, requires_grad=True)
with torch.no_grad():
    frozen = x * 3
detached = (x * 3).detach()
y = x * 3
y.retain_grad()
z = y ** 2
z.backward()
with torch.enable_grad():
    again = x * 1
torch.set_grad_enabled(False)
off = x * 1
torch.set_grad_enabled(True)
result = (frozen.requires_grad, detached.requires_grad, y.grad.item(), x.grad.item(),
          again.requires_grad, off.requires_grad)
"""

LOSSES = """
import torch
import torch.nn.functional as F
logits = torch.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
ce = F.cross_entropy(logits, torch.tensor([0]))
ce.backward()
p = torch.sigmoid(torch.tensor(6.7, requires_grad=True))
bce = F.binary_cross_entropy(p, torch.tensor(0.0))
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
var = torch.var(a)
var.backward()
result = (ce.item(), bce.item(), a.grad.tolist())
"""

ERROR_MESSAGE = """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x.detach() * 2
try:
    y.backward()
except RuntimeError as e:
    print(f"RuntimeError: {e}")
    result = str(e)
"""

TEACHING_MISC = '''
"""Everything else a lecture shows: helpers, generators, notes in code."""
import torch
from torch import nn, optim
from torch.optim import lr_scheduler
from math import pi

counter = 0


def bump():
    global counter
    counter += 1


def outer():
    total = 0

    def inner():
        nonlocal total
        total += 1

    inner()
    return total


def squares(n):
    for i in range(n):
        yield i * i


class Value(object):
    """micrograd-style scalar."""

    def __init__(self, data):
        self.data = data

    def __add__(self, other):
        return Value(self.data + other.data)

    def __mul__(self, other):
        return Value(self.data * other.data)

    def __repr__(self):
        return f"Value({self.data})"


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc = nn.Linear(2, 2)
        nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, input):
        return torch.tanh(self.fc(input))


bump()
input = torch.randn(4, 2)
net = Net()
opt = optim.Adam(net.parameters(), lr=0.01)
sched = lr_scheduler.StepLR(opt, step_size=1)
loss = net(input).pow(2).mean()
loss.backward()
norm = nn.utils.clip_grad_norm_(net.parameters(), 1.0)
opt.step()
sched.step()
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=float)
x.grad = None
(x ** 2).sum().backward()
x.grad.zero_()
x.requires_grad_(False)
jac = torch.autograd.functional.jacobian(lambda t: t ** 2, torch.ones(3))
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
a, *rest = [1, 2, 3]
n: int = len(rest)
table = {k: v for k, v in zip("ab", (1, 2))}
evens = {i for i in range(6) if i % 2 == 0}
del table["a"]
assert n == 2, "two left"
kind = type(x).__name__ if False else str(type(x))
text = "{:.2f} and {name}".format(pi, name="pi")
if __name__ == "__main__":
    print(f"{loss.item():.4f}", Value(2) * Value(3) + Value(1), text, kind)
result = (counter, outer(), list(squares(4)), x.grad.tolist(), tuple(jac.shape), device.type)
'''


@dataclass(frozen=True)
class Lesson:
    name: str
    source: str


LESSONS = [
    Lesson("square", SQUARE),
    Lesson("sin of square", SIN_OF_SQUARE),
    Lesson("mlp training", MLP_TRAINING),
    Lesson("custom function", CUSTOM_FUNCTION),
    Lesson("second derivative", SECOND_DERIVATIVE),
    Lesson("grad modes", GRAD_MODES),
    Lesson("losses", LOSSES),
    Lesson("error message", ERROR_MESSAGE),
    Lesson("teaching misc", TEACHING_MISC),
]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_lesson_runs_restricted_with_pytorchs_numbers(lesson: Lesson) -> None:
    restricted = run_restricted(lesson.source)["result"]
    trusted = run_trusted(lesson.source)["result"]
    if isinstance(restricted, list) and restricted and isinstance(restricted[0], torch.Tensor):
        assert all(torch.equal(a, b) for a, b in zip(restricted, trusted))
    else:
        assert restricted == trusted


def test_square_gives_six() -> None:
    assert run_restricted(SQUARE)["result"] == 6.0


def test_sin_of_square_gives_the_chain_rule() -> None:
    ns = run_restricted(SIN_OF_SQUARE)
    assert ns["result"] == pytest.approx(8 * math.cos(16))
    assert ns["result"] == pytest.approx(ns["expected"])


def test_training_steps_change_the_weights_and_lower_the_loss() -> None:
    ns = run_restricted(MLP_TRAINING)
    assert len(ns["losses"]) == 2
    assert ns["losses"][1] < ns["losses"][0]


def test_custom_function_second_derivative_and_grad_modes() -> None:
    assert run_restricted(CUSTOM_FUNCTION)["result"] == [3.0, 12.0]
    assert run_restricted(SECOND_DERIVATIVE)["result"] == (12.0, 12.0)
    assert run_restricted(GRAD_MODES)["result"] == (False, False, 12.0, 36.0, True, False)


def test_losses_match_their_formulas() -> None:
    ce, bce, var_grad = run_restricted(LOSSES)["result"]
    logits = [2.0, 0.5, -1.0]
    assert ce == pytest.approx(-logits[0] + math.log(sum(math.exp(v) for v in logits)))
    assert bce == pytest.approx(-math.log(1 - 1 / (1 + math.exp(-6.7))), rel=1e-4)
    assert var_grad == pytest.approx([-1.0, 0.0, 1.0])


def test_an_exception_the_lesson_catches_prints_its_message() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ns = run_restricted(ERROR_MESSAGE)
    assert "does not require grad" in ns["result"]
    assert out.getvalue().startswith("RuntimeError: element 0 of tensors does not require grad")


def test_uncaught_scenario_errors_propagate_unchanged() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        run_restricted("import torch\ntorch.tensor(1.0).backward()")


# --------------------------------------------------------------------- proxies


def test_proxy_refusals_name_the_attribute() -> None:
    torch_proxy = restricted_module("torch")
    with pytest.raises(
        AttributeError,
        match=r"^torch\.frombuffer is not available in a restricted scenario: it views foreign "
        "memory; if you trust the file, open it with --trust",
    ):
        torch_proxy.frombuffer  # noqa: B018
    with pytest.raises(AttributeError, match="module 'torch' has no attribute 'tensr'"):
        torch_proxy.tensr  # noqa: B018
    assert repr(torch_proxy) == "<restricted module 'torch'>"
    assert "tensor" in dir(torch_proxy) and "frombuffer" not in dir(torch_proxy)
    # the file doors a scenario may call are the folder's (scenario.savers), not torch's
    assert torch_proxy.save is not torch.save and torch_proxy.save.__name__ == "save"


def test_proxies_look_attributes_up_at_access_time(monkeypatch: pytest.MonkeyPatch) -> None:
    autograd = restricted_module("torch.autograd")
    assert autograd.grad is torch.autograd.grad

    def patched(*args: Any, **kwargs: Any) -> str:
        return "patched"

    monkeypatch.setattr(torch.autograd, "grad", patched)
    monkeypatch.setattr(torch.autograd, "backward", patched)
    assert autograd.grad is patched
    ns = run_unchecked("import torch\nr = torch.autograd.backward(None)")
    assert ns["r"] == "patched"


def test_submodules_are_proxies_too() -> None:
    ns = run_unchecked(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "from torch.autograd import functional as AF\nimport torch.optim.lr_scheduler as S\n"
        "import math\nparts = (torch.nn, nn, F, nn.init, nn.utils, torch.optim, S, AF, math)"
    )
    assert all(isinstance(p, RestrictedModule) for p in ns["parts"])
    assert ns["nn"] is restricted_module("torch.nn")


def test_proxies_cannot_be_made_or_subclassed_from_outside() -> None:
    with pytest.raises(TypeError):
        RestrictedModule(object(), "os")
    with pytest.raises(TypeError):
        type("Sub", (RestrictedModule,), {})


ALL_PROXIED = sorted(
    {"torch", *(child for children in sandbox._CHILDREN.values() for child in children.values())}
    | {"math"}
)


@pytest.mark.parametrize("path", ALL_PROXIED)
def test_allow_lists_hold_no_modules_and_no_refused_names(path: str) -> None:
    if path.startswith("matplotlib"):
        sandbox.prepare_library(path)
    module = importlib.import_module(path)
    children = sandbox._CHILDREN.get(path, {})
    names = allowed_names(path)
    assert names, path
    doors = libraries.FOLDER_DOORS.get(path, frozenset())
    for name in names - set(children) - doors:
        assert refused_attribute_reason(name) is None, name
        assert not isinstance(getattr(module, name), types.ModuleType), name


def test_teaching_names_are_allowed() -> None:
    torch_names = allowed_names("torch")
    assert {
        "tensor",
        "randn",
        "sin",
        "var",
        "sigmoid",
        "float32",
        "no_grad",
        "manual_seed",
    } <= torch_names
    assert {"from_file", "frombuffer", "hub", "ops", "jit"}.isdisjoint(torch_names)
    assert {"save", "load"} <= torch_names  # through the scenario's folder (scenario.savers)
    assert {"from_numpy", "set_default_device", "set_default_dtype"} <= torch_names
    assert allowed_names("torch.utils") == {"data"}
    assert {"Dataset", "TensorDataset", "DataLoader", "random_split"} <= allowed_names(
        "torch.utils.data"
    )
    assert {"array", "linspace", "random", "sin", "ndarray"} <= allowed_names("numpy")
    assert {"savez", "memmap", "fromfile", "ctypeslib", "lib"}.isdisjoint(allowed_names("numpy"))
    assert {"plot", "show", "subplots", "figure"} <= allowed_names("matplotlib.pyplot")
    assert {"savefig", "imsave", "imread", "switch_backend"}.isdisjoint(
        allowed_names("matplotlib.pyplot")
    )
    assert {"Linear", "ReLU", "Module", "Parameter", "Sequential", "MSELoss"} <= allowed_names(
        "torch.nn"
    )
    assert "DataParallel" not in allowed_names("torch.nn")
    assert {"cross_entropy", "binary_cross_entropy", "relu"} <= allowed_names("torch.nn.functional")
    assert {"SGD", "Adam", "Optimizer", "lr_scheduler"} <= allowed_names("torch.optim")
    assert {"backward", "grad", "Function", "functional"} <= allowed_names("torch.autograd")


def _agg_axes() -> Any:
    sandbox.prepare_library("matplotlib.pyplot")
    plt = sys.modules["matplotlib.pyplot"]
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    plt.close(fig)  # the axes stay readable; no figure is left open for the next test
    return ax


def test_nothing_dangerous_is_reachable_through_public_attributes() -> None:
    """Three public attribute steps from every proxy and from everyday objects.

    No module object and no reflective or I/O built-in may be reachable, since
    the static check lets public, non-escape attribute names through.
    """
    dangerous = {
        id(getattr(builtins, name))
        for name in (
            "open",
            "eval",
            "exec",
            "compile",
            "getattr",
            "setattr",
            "vars",
            "globals",
            "__import__",
        )
    } | {id(os.system), id(io.open)}
    seen: set[int] = set()
    found: list[str] = []

    def walk(obj: Any, path: str, depth: int) -> None:
        if id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType) or id(obj) in dangerous:
            found.append(path)
            return
        try:
            names = dir(obj)
        except Exception:
            return
        for name in names:
            if refused_attribute_reason(name):
                continue
            try:
                value = getattr(obj, name)
            except Exception:
                continue
            if not isinstance(value, int | float | str | bytes | bool | type(None) | torch.dtype):
                walk(value, f"{path}.{name}", depth + 1)

    x = torch.ones(2, requires_grad=True)
    y = (x * 2).sum()
    roots = {
        "torch": restricted_module("torch"),
        "math": restricted_module("math"),
        "tensor": x,
        "grad_fn": y.grad_fn,
        "module": torch.nn.Linear(2, 2),
        "optimizer": torch.optim.SGD([x], lr=0.1),
        # what issue 11 widened: numpy, pyplot and its figures, data loading, the stdlib
        "numpy": restricted_module("numpy"),
        "array": x.detach().numpy(),
        "pyplot": restricted_module("matplotlib"),
        "axes": _agg_axes(),
        "loader": restricted_module("torch.utils"),
        **{m: restricted_module(m) for m in ("random", "functools", "collections", "typing")},
        **{m: restricted_module(m) for m in ("operator", "dataclasses", "time", "copy", "re")},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reading .grad of non-leaves, x.T on 1-D tensors
        for name, root in roots.items():
            walk(root, name, 0)
    assert found == []


# ------------------------------------------------------------------ the guard


def test_guard_refuses_effects_from_any_code_while_active(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    with guarded():
        with pytest.raises(PermissionError, match="writing the file"):
            open(target, "w")  # noqa: SIM115
        with pytest.raises(PermissionError):
            os.system("true")
        with pytest.raises(PermissionError):
            os.mkdir(tmp_path / "new")
        with pytest.raises(PermissionError, match="reading the file"):
            Path("/etc/hostname").read_text()
    assert not target.exists()
    target.write_text("after")  # inert once the block is left
    assert target.read_text() == "after"


def test_guard_allows_python_and_torch_to_read_their_own_files() -> None:
    with guarded():
        assert Path(torch.__file__).read_text()
        assert Path(os.__file__).read_text()
        # lazy imports under torch still work
        sys.modules.pop("torch._subclasses.schema_check_mode", None)
        importlib.import_module("torch._subclasses.schema_check_mode")


def test_guard_readable_adds_a_file_and_nests(tmp_path: Path) -> None:
    lesson = tmp_path / "lesson.py"
    lesson.write_text("x = 1\n")
    with guarded(readable=[lesson]):
        assert lesson.read_text() == "x = 1\n"
        with guarded():
            assert lesson.read_text() == "x = 1\n"
    with guarded(), pytest.raises(PermissionError):
        lesson.read_text()


def test_guard_refuses_frame_attributes_only_to_scenario_code() -> None:
    with guarded():
        frame = sys._getframe()
        assert frame.f_code is not None  # the recorder reads frames: allowed
        with pytest.raises(PermissionError, match="gi_frame"):
            exec("g = (x for x in [1])\ng.gi_frame", restricted_globals("attack.py"))


def test_a_fresh_process_trains_under_the_guard() -> None:
    """The first optimiser imports torch._dynamo (sympy, a temp-dir probe): guarded() prewarms."""
    code = (
        "import sys\n"
        "from gradstep.scenario.sandbox import guarded, restricted_globals\n"
        "assert 'torch._dynamo' not in sys.modules\n"
        "ns = restricted_globals('lesson.py')\n"
        "with guarded():\n"
        f"    exec(compile({MLP_TRAINING!r}, 'lesson.py', 'exec'), ns)\n"
        "print(len(ns['losses']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


def test_restricted_globals_are_fresh_and_curated() -> None:
    first, second = restricted_globals("a.py"), restricted_globals("a.py")
    assert first is not second and first["__builtins__"] is not second["__builtins__"]
    builtins_ = first["__builtins__"]
    for name in ("print", "range", "len", "super", "isinstance", "__build_class__", "RuntimeError"):
        assert name in builtins_
    for name in ("eval", "exec", "compile", "vars", "globals", "input", "help"):
        assert name not in builtins_
    for name in ("getattr", "setattr", "delattr"):  # names checked at run time (scenario.reflect)
        assert builtins_[name] is not getattr(builtins, name)
    assert builtins_["open"] is not open  # the scenario folder's (scenario.folder)
    assert first["__name__"] == "__main__"
    assert builtins_["type"](3) is int
    with pytest.raises(TypeError, match=r"^type\(\) takes 1 positional argument but 3"):
        builtins_["type"]("T", (), {})


def test_trusted_globals_have_the_real_builtins() -> None:
    ns = run_trusted("import os\nsep = os.sep\nf = open")
    assert ns["sep"] == os.sep and ns["f"] is open
    assert ns["__file__"] == "lesson.py"
