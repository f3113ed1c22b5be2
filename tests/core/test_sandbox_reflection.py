"""Holes in the Python layer, by class: objects that hand out real attributes, the real
``type``, the recorder's machinery, and a guard that could be switched off.

Each class is tested the way it was found: the attack as written, then its
variants (``super()`` round the hardened method, ``load_state_dict``, computed
keys), and, for the guard, an attacker who already has full reflection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from gradstep.record.run import record_scenario
from gradstep.scenario import hardened
from gradstep.scenario.check import check_source
from gradstep.scenario.loader import scenario_from_source
from gradstep.scenario.sandbox import guarded, restricted_globals, restricted_module
from gradstep.trace.model import Step

SCHEDULER = """
import torch
from torch import optim
from torch.optim import lr_scheduler
w = torch.zeros(1, requires_grad=True)
opt = optim.SGD([w], lr=0.1)
sched = lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
"""

DUNDER = '"_" + "_getattribute__"'


def run_restricted(source: str) -> dict[str, Any]:
    check_source(source, "attack.py")
    namespace = restricted_globals("attack.py")
    with guarded():
        exec(compile(source, "attack.py", "exec"), namespace)
    return namespace


# ------------------------------------------------ objects that hand out real attributes


@pytest.mark.parametrize(
    "attack",
    [
        # the attack as found: a class among the lambdas, then state_dict() copies its namespace
        "sched.lr_lambdas[0] = object\nleak = sched.state_dict()['lr_lambdas'][0][" + DUNDER + "]",
        "sched.lr_lambdas = [object]\nleak = sched.state_dict()",
        "leak = lr_scheduler.LambdaLR(opt, [object]).state_dict()",
        "leak = lr_scheduler.MultiplicativeLR(opt, object).state_dict()",
        # round the hardened method: the check is in the attribute, not in state_dict
        "sched.lr_lambdas[0] = object\nleak = super(type(sched), sched).state_dict()",
        # load_state_dict updates the instance dict; the property still checks every read
        "sched.load_state_dict({'lr_lambdas': [None], 'base_lrs': [0.1]})\n"
        "sched.lr_lambdas.append(torch.nn.Linear)\nleak = sched.state_dict()",
        "leak = lr_scheduler.CyclicLR(opt, 0.1, 1.0, scale_fn=object).state_dict()",
    ],
)
def test_no_scheduler_hands_out_a_class_namespace(attack: str) -> None:
    with pytest.raises(TypeError, match="not a class"):
        run_restricted(SCHEDULER + attack)


def test_schedulers_still_work_and_save_callable_objects() -> None:
    source = (
        SCHEDULER + "class Half:\n    def __init__(self):\n        self.rate = 0.5\n"
        "    def __call__(self, epoch):\n        return self.rate ** epoch\n"
        "sched2 = lr_scheduler.LambdaLR(opt, Half())\n"
        "opt.step()\nsched2.step()\nstate = sched2.state_dict()\n"
        "sched2.load_state_dict(state)\nlrs = sched2.get_last_lr()\n"
        "cyc = lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0)\n"
        "cyc.step()\ncyc_lrs = cyc.get_last_lr()\n"
    )
    ns = run_restricted(source)
    trusted: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "lesson.py", "exec"), trusted)  # PyTorch's own classes
    assert ns["state"]["lr_lambdas"] == [{"rate": 0.5}]
    assert ns["lrs"] == trusted["lrs"] and ns["cyc_lrs"] == trusted["cyc_lrs"]
    assert isinstance(ns["sched2"], torch.optim.lr_scheduler.LambdaLR)
    assert type(ns["sched2"]).__name__ == "LambdaLR"


@pytest.mark.parametrize(
    "attack",
    [
        'leak = pd["_" + "_class__"]',
        'leak = pd["_" + "_dict__"]',
        'leak = pd["forward"]',
        'leak = pd["training"]',
        'pd["_" + "_class__"] = 1',
        'pd["state_dict"] = torch.ones(1)',
        'leak = nn.ParameterDict({"_" + "_dict__": torch.ones(1)})',
        # torch's own methods make torch's own ParameterDicts: the check is in torch's class
        'leak = pd.copy()["_" + "_class__"]',
        'leak = pd.fromkeys(["_" + "_dict__"])',
        'leak = pd.setdefault("_" + "_class__", 1)',
    ],
)
def test_parameter_dict_keys_never_name_its_attributes(attack: str) -> None:
    source = "import torch\nfrom torch import nn\npd = nn.ParameterDict({'w': torch.ones(2)})\n"
    with pytest.raises(KeyError, match="names an attribute"):
        run_restricted(source + attack)


def test_parameter_dicts_work_as_in_torch() -> None:
    source = (
        "import torch\nfrom torch import nn\n"
        "pd = nn.ParameterDict({'w': torch.ones(2), 'b': torch.zeros(2)})\n"
        "pd['c'] = torch.full((2,), 3.0)\ndel pd['b']\n"
        "loss = (pd['w'] * pd['c']).sum()\nloss.backward()\n"
        "names = [n for n, _ in pd.named_parameters()]\ngrad = pd['w'].grad.tolist()\n"
        "copied = list(pd.copy().keys())\n"
    )
    ns = run_restricted(source)
    assert ns["names"] == ["w", "c"] and ns["copied"] == ["w", "c"]
    assert ns["grad"] == [3.0, 3.0]
    assert isinstance(ns["pd"], torch.nn.ParameterDict)


def test_the_proxies_hand_out_the_hardened_classes() -> None:
    for (path, name), cls in hardened.REPLACEMENTS.items():
        assert getattr(restricted_module(path), name) is cls
        assert cls.__name__ == name
        assert issubclass(cls, getattr(sys.modules[path], name))


#: values that are reflection itself: unbound slot methods, descriptors, class namespaces
_REFLECTIVE = (
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.MappingProxyType,
    types.ModuleType,
    types.FrameType,
    types.CodeType,
)


def _walk_values(obj: Any, path: str, depth: int, found: list[str], seen: set[int]) -> None:
    if id(obj) in seen or depth > 5:
        return
    seen.add(id(obj))
    if isinstance(obj, _REFLECTIVE) or (isinstance(obj, type) and issubclass(obj, type)):
        found.append(f"{path}: {type(obj).__name__}")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _walk_values(v, f"{path}[{k!r}]", depth + 1, found, seen)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _walk_values(v, f"{path}[{i}]", depth + 1, found, seen)


def test_state_dicts_hold_no_reflection_whatever_the_scenario_plants() -> None:
    """Everything callable a scenario can hand to torch, planted where torch keeps
    callables; then every ``state_dict()`` walked for reflective values."""
    source = (
        "import torch\nfrom torch import nn, optim\nfrom torch.optim import lr_scheduler\n"
        "class Plain:\n    def __call__(self, epoch):\n        return 1.0\n"
        "model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n"
        "opt = optim.Adam(model.parameters(), lr=0.1)\n"
        "plants = [Plain(), Plain, print, len, model, nn.Linear, torch.Tensor, object]\n"
        "made = []\n"
        "for plant in plants:\n"
        "    for make in (lambda p: lr_scheduler.LambdaLR(opt, p),\n"
        "                 lambda p: lr_scheduler.MultiplicativeLR(opt, p),\n"
        "                 lambda p: lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=p)):\n"
        "        try:\n            made.append(make(plant))\n"
        "        except TypeError:\n            pass\n"
        "pd = nn.ParameterDict({'a': torch.ones(1)})\n"
        "states = [opt.state_dict(), model.state_dict(), pd.state_dict(),\n"
        "          lr_scheduler.StepLR(opt, 1).state_dict()]\n"
        "for m in made:\n"
        "    try:\n        states.append(m.state_dict())\n"
        "    except AttributeError:\n        pass  # print has no __dict__ to copy\n"
    )
    ns = run_restricted(source)
    assert len(ns["made"]) >= 6  # the callable objects and functions were accepted
    assert len(ns["states"]) >= 8
    found: list[str] = []
    _walk_values(ns["states"], "states", 0, found, set())
    assert found == []


# ------------------------------------------------------------------- the real type


@pytest.mark.parametrize(
    "attack",
    [
        "T = type(type(1))",
        "T = type(type(torch.ones(1)))",
        "T = type(torch.autograd.Function)",
        "T = type(torch.Tensor)",
        "class Meta(type(type(1))):\n    pass",
        "class C:\n    pass\nT = type(C)",
    ],
)
def test_type_never_hands_out_a_metaclass(attack: str) -> None:
    with pytest.raises(TypeError, match=r"type\(\) of a class"):
        run_restricted("import torch\n" + attack)


def test_type_of_an_instance_still_reads_as_usual() -> None:
    ns = run_restricted(
        "import torch\nclass C:\n    pass\n"
        "names = [type(x).__name__ for x in (1, 'a', torch.ones(1), C(), None)]\n"
        "same = type(torch.ones(1)) is torch.Tensor\n"
    )
    assert ns["names"] == ["int", "str", "Tensor", "C", "NoneType"]
    assert ns["same"] is True


# ---------------------------------------------------------- the recorder's machinery


@pytest.mark.parametrize(
    "call",
    ["_gradstep_step(10 ** 9)", "_gradstep_line(3)", "_gradstep_leave()", "_gradstep_enter()"],
)
def test_the_recorders_machinery_cannot_be_named_by_the_scenario(call: str) -> None:
    source = f"import torch\nx = torch.ones(1)\nfor i in range(2):\n    {call}\n"
    trace = record_scenario(scenario_from_source(source, "forge.py"))
    assert trace.error is not None
    assert (trace.error.type, trace.error.line) == ("NameError", 4), trace.error
    assert [s.kind for s in trace.steps][-1] == "error"


def test_a_restricted_namespace_holds_no_name_of_gradsteps_own() -> None:
    source = "import torch\nx = torch.ones(1)\nfor i in range(2):\n    x = x + 1\n"
    from gradstep.record.recorder import Recorder

    scenario = scenario_from_source(source, "lesson.py")
    namespace = restricted_globals(scenario.path)
    recorder = Recorder(scenario, namespace)
    spellable = [k for k in namespace if isinstance(k, str) and k.isidentifier()]
    assert all(not k.startswith("_gradstep") for k in spellable), spellable
    import ast

    with recorder.patched_autograd(), guarded():
        trace = recorder.run(ast.parse(source))
    assert trace.error is None
    assert [s.line for s in trace.steps] == [1, 2, 4, 4]  # the marks still make a step a round


# -------------------------------------------------------------- a guard that stays on

_SEALED = r"""
import os, socket, subprocess, sys
from gradstep.scenario import audit, sandbox

sandbox.prepare_for("")  # no optimiser: nothing to import first
sandbox.seal()
# an attacker with full reflection rewrites every piece of Python data the guard has
audit._state.depth = 0
audit._state.sealed = False
audit.REFUSED_EVENTS = frozenset()
audit.REFUSED_PREFIXES = frozenset()
audit.IMPORTABLE_ROOTS = frozenset({"socket", "subprocess"})
audit._kind_of = lambda event: 0
audit.make_policy = lambda *a, **k: (lambda event, args: None)
import posixpath
posixpath.realpath = lambda path, **kw: sys.prefix  # every path would look like Python's
posixpath._joinrealpath = lambda *a: (sys.prefix, True)
os.lstat = lambda path: None
sandbox.install_audit_guard()
with sandbox.guarded():
    pass

results = []
def attempt(name, fn):
    try:
        fn()
    except PermissionError:
        results.append(name + ":refused")
    else:
        results.append(name + ":ALLOWED")

mark, secret = sys.argv[1], sys.argv[2]
attempt("write", lambda: open(mark, "w"))
attempt("system", lambda: os.system("touch " + mark))
attempt("popen", lambda: subprocess.run(["touch", mark]))
attempt("socket", lambda: socket.socket())
attempt("read", lambda: open(secret).read())
attempt("remove", lambda: os.remove(secret))
attempt("settrace", lambda: sys.settrace(lambda *a: None))
added = []  # a refused hook is dropped silently (CPython swallows the refusal)
sys.addaudithook(lambda event, args: added.append(event))
sys.audit("gradstep.probe")
results.append("hook:ALLOWED" if added else "hook:refused")
attempt("import", lambda: __import__("tabnanny"))
print(" ".join(results))
"""


def test_a_sealed_guard_holds_after_an_attacker_rewrites_its_python_state(
    tmp_path: Path,
) -> None:
    mark, secret = tmp_path / "pwned", tmp_path / "secret.txt"
    secret.write_text("keep me")
    done = subprocess.run(
        [sys.executable, "-c", _SEALED, str(mark), str(secret)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = done.stdout.split()
    assert len(results) == 9
    assert all(r.endswith(":refused") for r in results), results
    assert not mark.exists()
    assert secret.read_text() == "keep me"


def test_the_worker_seals_the_guard_for_a_restricted_run_only(tmp_path: Path) -> None:
    from gradstep.worker import WorkerPool

    lesson = tmp_path / "lesson.py"
    lesson.write_text(
        "import torch\nx = torch.tensor(2.0, requires_grad=True)\n(x * x).backward()\n"
    )
    with WorkerPool(prestart=False) as pool:
        restricted = pool.run(lesson).trace
        trusted = pool.run(lesson, trusted=True).trace
    assert restricted.error is None and trusted.error is None
    assert restricted.stats.get("guard") == "sealed"
    assert "guard" not in trusted.stats
    assert restricted.variables["x"].grad == trusted.variables["x"].grad == 4.0


# ----------------------------------------------- the policy itself, called as a function


@pytest.fixture
def policy(tmp_path: Path) -> Any:
    from gradstep.scenario.audit import make_policy, read_roots

    roots = (*read_roots(), str(tmp_path.resolve()))
    return make_policy(lambda: roots, caller=1, private=True)


@pytest.mark.parametrize(
    ("event", "args", "refusal"),
    [
        ("open", ("{tmp}/new.txt", "w", 0), "writing the file"),
        ("open", ("{tmp}/new.txt", None, os.O_WRONLY | os.O_CREAT), "writing the file"),
        ("open", ("/etc/hostname", "r", 0), "reading the file"),
        ("open", (b"/etc/hostname", "r", 0), "reading the file"),
        ("open", (object(), "r", 0), "reading"),
        ("os.listdir", ("/etc",), "reading the file"),
        ("os.system", (b"true",), "processes, signals"),
        ("os.remove", ("{tmp}/x",), "processes, signals"),
        ("subprocess.Popen", ("sh", ["sh"], None, None), "subprocess.Popen"),
        ("socket.connect", (None, ("127.0.0.1", 1)), "socket.connect"),
        ("ctypes.dlopen", ("libc.so.6",), "ctypes.dlopen"),
        ("sys.settrace", (), "sys.settrace"),
        ("import", ("tabnanny", None, None, None, None), "importing 'tabnanny'"),
    ],
)
def test_the_policy_refuses_each_effect(
    policy: Any, tmp_path: Path, event: str, args: tuple[Any, ...], refusal: str
) -> None:
    args = tuple(a.replace("{tmp}", str(tmp_path)) if isinstance(a, str) else a for a in args)
    with pytest.raises(PermissionError, match=refusal):
        policy(event, args)


def test_the_policy_lets_reads_of_its_roots_and_harmless_events_through(
    policy: Any, tmp_path: Path
) -> None:
    (tmp_path / "lesson.py").write_text("x = 1\n")
    policy("open", (str(tmp_path / "lesson.py"), "r", 0))
    policy("open", (torch.__file__, "rb", 0))
    policy("open", (3, "r", 0))  # a descriptor already open
    policy("os.listdir", (str(tmp_path),))
    policy("import", ("torch.nn", None, None, None, None))
    policy("builtins.id", (1,))
    policy("object.__getattr__", (sys._getframe(), "f_code"))  # not from scenario code


def test_the_policy_refuses_frame_attributes_to_scenario_code_only(policy: Any) -> None:
    namespace = restricted_globals("attack.py")
    namespace["probe"] = policy
    with pytest.raises(PermissionError, match="using 'tb_frame'"):
        exec("probe('object.__getattr__', (None, 'tb_frame'))", namespace)


def test_the_sealed_realpath_is_a_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import posixpath

    from gradstep.scenario.audit import _private_realpath

    real = tmp_path / "real.txt"
    real.write_text("x")
    (tmp_path / "link.txt").symlink_to(real)
    private = _private_realpath()
    expected = os.path.realpath(real)
    assert private(str(tmp_path / "link.txt")) == expected
    monkeypatch.setattr(posixpath, "_joinrealpath", lambda *a: (sys.prefix, True))
    monkeypatch.setattr(os, "lstat", lambda path: None)
    assert os.path.realpath(tmp_path / "link.txt") == sys.prefix  # the module's is bent
    assert private(str(tmp_path / "link.txt")) == expected


def test_a_failure_of_the_recorder_itself_ends_in_an_error_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gradstep.record.recorder import Recorder

    def broken(self: Recorder, tree: Any, then: Any = None) -> Any:
        self._builder.add_step(Step(0, "statement", 1, "x"))
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(Recorder, "run", broken)
    trace = record_scenario(scenario_from_source("x = 1\n", "lesson.py"))
    assert trace.error is not None and trace.error.kind == "crash"
    assert trace.error.type == "RecorderError" and "a bug of ours" in trace.error.message
    assert [s.kind for s in trace.steps] == ["statement", "error"]
    assert trace.steps[-1].line == 1 and trace.steps[-1].index == 1
