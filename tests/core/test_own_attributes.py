"""A scenario's own single-underscore attributes (micrograd's ``_prev``, ``_backward``,
``_op``) pass the static check; the libraries' internals stay refused however the
scenario spells its own names (the attacks: defining an internal's name to unlock it).

The check runs as a restricted run calls it: with the module proxies' allow-lists
(``member``) and the libraries' underscore names (``library_internal``).
"""

from __future__ import annotations

import textwrap

import pytest

from gradstep.scenario.check import find_refusals, own_underscore_attributes, parse_scenario
from gradstep.scenario.internals import library_internal
from gradstep.scenario.sandbox import member

MICROGRAD_VALUE = """
import math

class Value:
    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

a, b = Value(2.0), Value(-3.0)
c = a * b
c.backward()
ops = [n._op for n in c._prev]
"""


def refusals(source: str) -> list[str]:
    source = textwrap.dedent(source)
    return [p.message for p in find_refusals(source, "lesson.py", member, library_internal)]


def test_micrograds_value_passes_with_its_own_underscore_attributes() -> None:
    assert refusals(MICROGRAD_VALUE) == []


def test_without_the_libraries_names_every_underscore_attribute_stays_refused() -> None:
    """A caller that cannot say which names the libraries use gets the old rule."""
    problems = find_refusals(MICROGRAD_VALUE, "lesson.py", member)
    assert {p.message.split("'")[1] for p in problems} == {"._backward", "._prev", "._op"}


def test_what_counts_as_defined_by_the_scenario() -> None:
    tree = parse_scenario(
        textwrap.dedent(
            """
            class A:
                _cache = {}
                _n: int = 0
                def _helper(self):
                    self._seen = True
                    self._count += 1
                    del self._gone
                __private = 1
                def f(self):
                    self.__hidden = 2
            x = A()
            x._late = 3
            for x._loop in range(2):
                pass
            _local = 1
            print(x._read_only)
            """
        ),
        "lesson.py",
    )
    assert own_underscore_attributes(tree) == {
        "_cache", "_n", "_helper", "_seen", "_count", "_gone", "_late", "_loop"
    }  # fmt: skip


def test_underscore_locals_parameters_and_functions_pass() -> None:
    assert refusals("def _f(_x, _y=1):\n    _z = _x + _y\n    return _z\n_f(1)\n") == []


# (scenario, the attribute refused, a fragment of why)
ATTACKS = [
    # defining a library's private name to unlock it on the library's object
    ("import torch\nclass V:\n    _version = 0\nt = torch.ones(1)._version", "._version", "torch"),
    (
        "import torch\nclass A:\n    def __init__(self):\n        self._C = 1\nc = torch._C",
        "._C",
        "torch",
    ),
    ("import torch\nt = torch\nclass A:\n    _C = 1\nt._C._get_tracing_state()", "._C", "torch"),
    (
        "import torch\nx = torch.ones(1, requires_grad=True)\nclass A:\n    _saved_self = 1\n"
        "s = (x * x).grad_fn._saved_self",
        "._saved_self",
        "grad_fn",
    ),
    (
        "import torch\nx = torch.ones(1, requires_grad=True)\nclass A:\n    _raw_saved_other = 1\n"
        "s = (x * x).grad_fn._raw_saved_other",
        "._raw_saved_other",
        "grad_fn",
    ),
    (
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self._parameters = {}\nn = Net()",
        "._parameters",
        "torch",
    ),
    (
        "import torch\nlayer = torch.nn.Linear(1, 1)\nlayer._forward_hooks = {}",
        "._forward_hooks",
        "torch",
    ),
    (
        "import torch\nopt = torch.optim.SGD([torch.zeros(1)])\nopt._optimizer_step_pre_hooks = {}",
        "._optimizer_step_pre_hooks",
        "torch.optim",
    ),
    ("import torch\nx = torch.ones(1)\nx._grad_fn = None", "._grad_fn", "torch"),
    ("import torch\nx = torch.ones(1)\nx._cdata = 0", "._cdata", ""),
    ("import numpy as np\nclass A:\n    _core = 1\nnp._core", "._core", "numpy"),
    (
        "import matplotlib.pyplot as plt\nax = plt.gca()\nax._children = []\nax._children",
        "._children",
        "matplotlib",
    ),
    # dunder and mangled names stay refused, defined or not
    ("class A:\n    def f(self):\n        self.__secret = 1", ".__secret", "underscore"),
    ("x = object()\nx.__class__ = int", ".__class__", "double-underscore"),
    # a name nobody defines is an internal
    ("import torch\nv = torch.ones(1)._foo", "._foo", "underscore"),
]


@pytest.mark.parametrize(("source", "attribute", "owner"), ATTACKS)
def test_an_internal_stays_refused_whatever_the_scenario_defines(
    source: str, attribute: str, owner: str
) -> None:
    messages = refusals(source)
    hit = [m for m in messages if m.startswith(f"'{attribute}' is not allowed")]
    assert hit, messages
    assert owner in hit[0]
    assert "--trust" in hit[0]


def test_a_defined_name_that_clashes_says_to_rename_it() -> None:
    (message,) = refusals("class V:\n    def __init__(self):\n        self._version = 0\n")
    assert message.startswith("'._version' is not allowed: the scenario defines an attribute")
    assert "rename the scenario's attribute (say 'version_')" in message


def test_importing_a_private_name_stays_refused_even_when_defined() -> None:
    messages = refusals("from torch import _C\nclass A:\n    _C = 1\n")
    assert any("importing '_C' from torch" in m for m in messages)


@pytest.mark.parametrize(
    "name", ["_backward", "_prev", "_op", "_children_of", "_label_text", "_w", "_b", "_out"]
)
def test_names_a_lesson_would_choose_are_no_library_internals(name: str) -> None:
    assert library_internal(name) is None


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("_C", "torch"),
        ("_version", ""),
        ("_grad_fn", "tensor"),
        ("_parameters", "nn.Module"),
        ("_modules", "nn.Module"),
        ("_step_count", "torch.optim"),
        ("_saved_weight", "grad_fn"),
        ("_children", "matplotlib"),
        ("_core", "numpy"),
    ],
)
def test_the_libraries_internals_are_known(name: str, owner: str) -> None:
    where = library_internal(name)
    assert where is not None and owner in where
