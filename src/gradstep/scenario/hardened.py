"""torch classes handed to restricted scenarios in a hardened form.

A few torch classes reflect on what the scenario hands them, and so hand
back what the static check refuses to spell:

- ``nn.ParameterDict`` turns its keys into attribute names: ``pd[k]`` is
  ``getattr(pd, k)`` and ``pd[k] = v`` is ``setattr(pd, k, v)``, so a key
  computed at run time (``"_" + "_class__"``) reads or writes any attribute;
- ``LambdaLR``/``MultiplicativeLR``'s ``lr_lambdas`` and ``CyclicLR``'s
  ``scale_fn`` are copied by ``state_dict()`` as ``fn.__dict__.copy()``: for a
  class (``object``) that is the class's namespace, whose values are the real
  ``object.__getattribute__`` and ``__setattr__``.

Each check sits where no ``super()`` call and no torch method can go round it:

- ``ParameterDict._key_to_attr``, which every item access goes through, is
  replaced on torch's own class (``super(type(pd), pd).copy()`` makes a
  torch ``ParameterDict``, so a subclass would not do); the replacement
  refuses only while a restricted scenario runs, so a ``--trust`` run keeps
  PyTorch's behaviour;
- the schedulers are subclasses with the same names (``isinstance`` and
  ``repr`` read as usual) whose learning rate functions are properties that
  check every read and write (a property wins over ``load_state_dict``'s
  ``__dict__.update``, and ``super().state_dict()`` reads it too).
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.optim import lr_scheduler
from torch.utils import data

from gradstep.scenario.audit import restricted_now
from gradstep.scenario.check import is_dunder, refused_attribute_reason

_torch_key_to_attr = nn.ParameterDict._key_to_attr


def _key_to_attr(self: nn.ParameterDict, key: str) -> str:
    """torch's check (a TypeError for keys that are not strings), then, in a restricted
    run, no key that names an attribute of the dict itself."""
    attr = _torch_key_to_attr(self, key)
    if restricted_now() and (
        refused_attribute_reason(attr) or attr == "training" or hasattr(type(self), attr)
    ):
        self._keys.pop(attr, None)  # __setitem__ records the key before asking
        raise KeyError(
            f"{attr!r} cannot be a ParameterDict key in a restricted scenario: it names "
            "an attribute of the dict itself"
        )
    return attr


def install() -> None:
    """Harden torch's ParameterDict and the schedulers' ``load_state_dict`` for restricted
    runs in this process (idempotent)."""
    nn.ParameterDict._key_to_attr = _key_to_attr  # type: ignore[method-assign]
    for cls in list(vars(lr_scheduler).values()):
        load = vars(cls).get("load_state_dict") if isinstance(cls, type) else None
        if load is not None and not getattr(load, "gradstep_checked", False):
            cls.load_state_dict = _checked_load(load)


def _checked_load(load: Any) -> Any:
    """A scheduler's ``load_state_dict`` that takes no dunder key in a restricted run.

    torch's copies the dict into the instance's ``__dict__`` (and each ``lr_lambdas``
    entry's): a key computed or written as a literal (``{"__array_interface__": ...}``)
    then becomes an attribute the static check never saw, and numpy reads that one on
    the instance and views whatever address it names.
    """

    def load_state_dict(self: Any, state_dict: Any) -> Any:
        if restricted_now():
            _refuse_dunder_keys(state_dict, depth=0)
        return load(self, state_dict)

    load_state_dict.__doc__ = load.__doc__
    load_state_dict.__qualname__ = load.__qualname__
    load_state_dict.gradstep_checked = True  # type: ignore[attr-defined]
    return load_state_dict


def _refuse_dunder_keys(value: Any, depth: int) -> None:
    if depth > 4:  # a scheduler's state is two levels deep
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and is_dunder(key):
                raise KeyError(
                    f"{key!r} cannot be a key of a scheduler's state in a restricted "
                    "scenario: it would become an attribute of Python internals"
                )
            _refuse_dunder_keys(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_dunder_keys(item, depth + 1)


def _checked_functions(value: Any) -> list[Any]:
    """A list of learning rate functions, none of them a class (see the module docstring)."""
    functions = list(value) if isinstance(value, list | tuple) else [value]
    for fn in functions:
        _check_function(fn)
    return functions


def _check_function(fn: Any) -> None:
    if isinstance(fn, type):
        raise TypeError(
            f"a learning rate function must be a function or an object, not a class "
            f"({fn.__name__}), in a restricted scenario"
        )


def _lr_lambdas() -> property:
    """``lr_lambdas`` kept in the instance dict and checked at every read and write."""

    def get(self: Any) -> list[Any]:
        functions: list[Any] = vars(self)["lr_lambdas"]
        for fn in functions:  # also after ``sched.lr_lambdas[0] = object``
            _check_function(fn)
        return functions

    def set_(self: Any, value: Any) -> None:
        vars(self)["lr_lambdas"] = _checked_functions(value)

    return property(get, set_)


class LambdaLR(lr_scheduler.LambdaLR):
    lr_lambdas = _lr_lambdas()


class MultiplicativeLR(lr_scheduler.MultiplicativeLR):
    lr_lambdas = _lr_lambdas()


def _get_scale_fn(self: Any) -> Any:
    fn = vars(self).get("_scale_fn_custom")
    _check_function(fn)
    return fn


def _set_scale_fn(self: Any, fn: Any) -> None:
    _check_function(fn)
    vars(self)["_scale_fn_custom"] = fn


class CyclicLR(lr_scheduler.CyclicLR):
    # the only writers of the attribute are __init__ and this property: load_state_dict
    # pops the key before it updates the instance dict
    _scale_fn_custom = property(_get_scale_fn, _set_scale_fn)


for _cls in (LambdaLR, MultiplicativeLR, CyclicLR):
    _cls.__qualname__ = _cls.__name__
    _cls.__module__ = _cls.__mro__[1].__module__

#: (module path, name) -> what a restricted scenario gets instead of torch's class
REPLACEMENTS: dict[tuple[str, str], type] = {
    ("torch.optim.lr_scheduler", "LambdaLR"): LambdaLR,
    ("torch.optim.lr_scheduler", "MultiplicativeLR"): MultiplicativeLR,
    ("torch.optim.lr_scheduler", "CyclicLR"): CyclicLR,
}


class DataLoader(data.DataLoader):  # type: ignore[type-arg]
    """torch's DataLoader, loading in the scenario's own process only.

    ``num_workers > 0`` starts worker processes, which the walls refuse with an
    error from deep inside the loader; this says so at the line that asked,
    both when the loader is made and when it is iterated (``num_workers`` is
    a plain attribute that can be set in between).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        workers = kwargs.get("num_workers", args[5] if len(args) > 5 else 0)
        _check_workers(workers)
        super().__init__(*args, **kwargs)

    def _get_iterator(self) -> Any:
        _check_workers(self.num_workers)
        return super()._get_iterator()


def _check_workers(workers: Any) -> None:
    if restricted_now() and workers:
        raise ValueError(
            f"DataLoader(num_workers={workers!r}) starts worker processes, which a "
            "restricted scenario may not; use num_workers=0 (the default), or open the file "
            "with --trust"
        )


DataLoader.__qualname__ = DataLoader.__name__ = "DataLoader"
DataLoader.__module__ = data.DataLoader.__module__
REPLACEMENTS[("torch.utils.data", "DataLoader")] = DataLoader
