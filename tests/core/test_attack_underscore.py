"""A scenario's own underscore attributes in a real restricted run (the worker, its
walls and the Python layer), and the attacks on that rule judged by their effect:
no library internal is read, whatever name the scenario defines first.

The check-level table of the same attacks is ``test_own_attributes.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import torch

from gradstep.worker import WorkerPool
from sealed import run_restricted as run

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the worker's walls are Linux's"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(prestart=False) as p:
        yield p


NEURON = """
import math

class Value:
    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other), '+')
        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')
        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()
        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
o = (x1 * w1 + x2 * w2 + b).tanh()
o.backward()
print(o._op, sorted(c._op for c in o._prev))
print(repr([x1.grad, x2.grad, w1.grad, w2.grad, b.grad]))
"""


def test_a_micrograd_value_runs_restricted_with_pytorchs_gradients(pool, tmp_path):
    result = run(pool, tmp_path, NEURON)
    assert result.error is None, result.error
    ops, grads = "".join(s.output for s in result.trace.steps).splitlines()
    assert ops == "tanh ['+']"
    leaves = torch.tensor([2.0, 0.0, -3.0, 1.0, 6.8813735870195432], dtype=torch.float64)
    leaves.requires_grad_(True)
    x1, x2, w1, w2, b = leaves
    torch.tanh(x1 * w1 + x2 * w2 + b).backward()
    want = leaves.grad
    assert want is not None
    got = [float(v) for v in grads.strip("[]").split(", ")]
    expected = [want[0], want[1], want[2], want[3], want[4]]
    assert got == pytest.approx([float(v) for v in expected], rel=1e-12, abs=1e-15)


def test_defining_an_internals_name_unlocks_nothing(pool, tmp_path):
    """The scenario names torch's ``_C``, a tensor's ``_version`` and a node's saved
    tensor as its own, then reaches for the library's through an alias: refused before
    anything runs (the print on line 2 never happens)."""
    code = """
    print("ran")
    import torch
    class Mine:
        _C = 1
        def __init__(self):
            self._version = 0
            self._saved_self = None
    t = torch
    native = t._C
    x = torch.ones(1, requires_grad=True)
    v = x._version
    s = (x * x).grad_fn._saved_self
    """
    result = run(pool, tmp_path, code)
    error = result.error
    assert error is not None and error.kind == "refused", error
    assert error.line == 7, error  # the definition itself, then each use
    assert "'._C' is not allowed: the scenario defines an attribute of that name" in error.message
    assert "'._version' is not allowed" in error.message and "tensor" in error.message
    assert "'._saved_self' is not allowed" in error.message
    assert not any(s.output for s in result.trace.steps)  # nothing ran


def test_an_own_name_read_on_a_module_meets_the_proxy(pool, tmp_path):
    """A name no library uses passes the check everywhere, so on a module it is the
    run-time proxy that answers: modules hand out no underscore name at all."""
    code = """
    import torch
    import numpy as np
    class Mine:
        def __init__(self):
            self._store = 1
    m = Mine()
    print(m._store)
    t = torch.ones(1)
    t._store = 2
    print(t._store)
    x = np._store
    """
    result = run(pool, tmp_path, code)
    error = result.error
    assert error is not None and error.type == "AttributeError", error
    assert error.line == 12
    assert "module 'numpy' has no attribute '_store'" in error.message
    assert "".join(s.output for s in result.trace.steps) == "1\n2\n"
