"""The underscore names of the libraries a restricted scenario can reach, for the
static check's rule on a scenario's own underscore attributes.

A micrograd-style lesson defines ``self._backward``, ``self._prev`` and
``self._op`` on its own ``Value`` class; the static check
(:mod:`gradstep.scenario.check`) lets a file use the single-underscore
attribute names it defines itself. The check reads names, not types: it
cannot tell ``node._prev`` on the scenario's ``Value`` from the same name on
a tensor. So a name the scenario defines is let through only when no object
of the allowed libraries has an attribute of that name; otherwise defining
``self._version = 0`` would unlock ``torch.ones(1)._version``, and
``_C = 1`` in a class body ``torch._C``.

:func:`library_internal` answers from a table built once per process (in the
worker, where the libraries are imported anyway), and only when a scenario
uses an underscore attribute of its own. The table holds every underscore
name (dunders aside: the check refuses those whatever defines them) of:

- the modules a scenario may import, and their proxied child modules;
- every class among their public names (its ``dir``: inherited names too);
- instances a lesson gets from them whose attributes are set in ``__init__``
  and so are not on the class: a tensor that requires grad, its ``grad_fn``
  and ``AccumulateGrad`` nodes, ``nn`` modules, optimisers and a scheduler, a
  dataset and its ``DataLoader`` with its iterator, numpy arrays and
  generators, a matplotlib figure with axes and a line, a graphviz graph;
- every name that starts as autograd's saved tensors do (``_saved_self``,
  ``_raw_saved_other``...: one per argument of each of hundreds of ops).

This is an enumeration, so an object reached some other way may still hold
a private name missing here; what such a read gives the scenario is data the
operating system's walls keep in the worker (:mod:`gradstep.worker.walls`),
and the module proxies never hand out an underscore name at all.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

#: autograd's saved-tensor attributes, one per argument of each op (``MulBackward0._saved_self``)
SAVED_PREFIXES = ("_saved_", "_raw_saved_")

#: modules reachable through an allowed module's proxy beyond those a scenario may import
_CHILD_MODULES = ("torch.linalg", "torch.special", "torch.fft", "torch.cuda", "matplotlib.style")


def _private(names: list[str]) -> Iterator[str]:
    for name in names:
        if name.startswith("_") and not (
            len(name) > 4 and name.startswith("__") and name.endswith("__")
        ):
            yield name


def _names_of(obj: Any) -> list[str]:
    try:
        return dir(obj)
    except Exception:  # noqa: BLE001 - an object whose __dir__ fails has nothing to add
        return []


def _torch_samples() -> Iterator[tuple[str, Any]]:
    """Objects a lesson gets from torch with attributes of their own (C++ ones: no
    Python method of theirs names them)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.ones(2, requires_grad=True)
    y = (x * 2).sum()
    yield "a torch tensor", x
    yield "a torch tensor", y
    yield "a torch grad_fn node", y.grad_fn
    if y.grad_fn is not None:
        for node, _ in y.grad_fn.next_functions:
            yield "a torch grad_fn node", node  # MulBackward0, then AccumulateGrad below it
            for below, _ in node.next_functions if node is not None else ():
                yield "a torch grad_fn node", below
    layer = torch.nn.Linear(1, 1)
    yield "a torch nn.Module", layer
    yield "a torch nn.Module", torch.nn.Sequential(layer, torch.nn.Tanh())
    yield "a torch Parameter", layer.weight
    loader = DataLoader(TensorDataset(torch.ones(2, 1)), batch_size=1)
    yield "a torch DataLoader", loader
    yield "a torch DataLoader iterator", iter(loader)
    yield "a torch Generator", torch.Generator()


def _numpy_samples() -> Iterator[tuple[str, Any]]:
    import numpy as np

    yield "a numpy array", np.ones(2)
    yield "a numpy generator", np.random.default_rng(0)


def _matplotlib_samples() -> Iterator[tuple[str, Any]]:
    from matplotlib.figure import Figure

    figure = Figure()
    axes = figure.add_subplot()
    (line,) = axes.plot([0.0, 1.0], [0.0, 1.0])
    yield "a matplotlib figure", figure
    yield "matplotlib axes", axes
    yield "a matplotlib line", line
    yield "a matplotlib axis", axes.xaxis


def _graphviz_samples() -> Iterator[tuple[str, Any]]:
    import graphviz

    yield "a graphviz graph", graphviz.Digraph()


#: (the module they need, the samples), made when that module is loaded
_SAMPLES: tuple[tuple[str, Callable[[], Iterator[tuple[str, Any]]]], ...] = (
    ("torch", _torch_samples),
    ("numpy", _numpy_samples),
    ("matplotlib.pyplot", _matplotlib_samples),
    ("graphviz", _graphviz_samples),
)


def _code_names(code: types.CodeType) -> Iterator[str]:
    """The attribute and global names a function's code uses, nested functions' too."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _functions(cls: type) -> Iterator[types.FunctionType]:
    for value in vars(cls).values():
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        if isinstance(value, property):
            accessors = (value.fget, value.fset, value.fdel)
            yield from (f for f in accessors if isinstance(f, types.FunctionType))
        elif isinstance(value, types.FunctionType):
            yield value


def _class_names(cls: type) -> list[str]:
    """A class's names (``dir``) and the names its Python methods use: the instance
    attributes its ``__init__`` sets (``Optimizer._optimizer_step_pre_hooks``) are on no
    class, and making an instance may cost (an optimiser imports ``torch._dynamo``)."""
    names = _names_of(cls)
    for klass in getattr(cls, "__mro__", ()):
        if klass.__module__ == "builtins":
            continue
        for function in _functions(klass):
            names.extend(_code_names(function.__code__))
    return names


def _loaded(paths: list[str]) -> tuple[str, ...]:
    """The modules of ``paths`` this process has imported: the check may run under the
    sealed audit guard, which refuses new imports (and a module not imported is one the
    scenario's imports did not reach: the worker imports them before the check)."""
    return tuple(p for p in paths if p in sys.modules)


@cache
def _table(paths: tuple[str, ...]) -> dict[str, str]:
    """Each underscore name of the modules ``paths`` and what they make -> where it is
    (the first place found: the objects a lesson handles, then torch's modules)."""
    from gradstep.scenario.sandbox import allowed_names

    table: dict[str, str] = {}

    def note(owner: str, obj: Any) -> None:
        for name in _private(obj if isinstance(obj, list) else _names_of(obj)):
            table.setdefault(name, owner)

    for owner, make in _SAMPLES:
        if owner in paths:
            try:
                for what, obj in make():
                    note(what, obj)
            except Exception:  # noqa: BLE001 - a sample that cannot be made here adds nothing
                continue
    seen: set[int] = set()
    for path in sorted(paths, key=lambda p: (not p.startswith("torch"), p)):
        module = sys.modules[path]
        note(path, module)
        for attr in sorted(allowed_names(path)):
            try:
                value = getattr(module, attr)
            except Exception:  # noqa: BLE001 - a lazy attribute that fails to load
                continue
            cls = value if isinstance(value, type) else type(value)
            if isinstance(value, types.ModuleType) or id(cls) in seen:
                continue
            seen.add(id(cls))
            note(f"{path}.{attr}", _class_names(cls))
    return table


def library_internal(name: str) -> str | None:
    """Where ``name`` is an underscore attribute of the allowed libraries' modules or
    objects (``"torch.Tensor"``, ``"a grad_fn"``, ``"matplotlib axes"``), or None."""
    if name.startswith(SAVED_PREFIXES):
        return "autograd's grad_fn nodes (their saved tensors)"
    from gradstep.scenario.audit import prepare_library, restricted_now
    from gradstep.scenario.check import ALLOWED_MODULES

    paths = sorted(ALLOWED_MODULES) + list(_CHILD_MODULES)
    if not restricted_now():  # in-process runs check before they import (the worker after)
        for path in paths:
            if path not in sys.modules:
                with contextlib.suppress(ImportError):
                    prepare_library(path)
    return _table(_loaded(paths)).get(name)
