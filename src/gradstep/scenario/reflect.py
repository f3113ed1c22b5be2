"""``getattr``, ``setattr`` and ``delattr`` for restricted scenarios, with names checked.

The forward-mode AD tutorial swaps a module's parameters for dual tensors with
``delattr(model, name)`` and ``setattr(model, name, fwAD.make_dual(p, t))``,
``name`` coming from ``model.named_parameters()``. The static check reads a
name written out (``setattr(model, "weight", w)``) as it reads ``.weight``
(:mod:`gradstep.scenario.check`); a name computed at run time is checked here,
by the same rule, when the call runs:

- no double-underscore name (``"__" + "class__"``): Python's internals;
- no single-underscore name that an object of the allowed libraries has
  (``"_" + "version"``, ``"_C"``: :func:`gradstep.scenario.internals.library_internal`),
  though a scenario's own (``"_prev"`` on a micrograd ``Value``) passes;
- none of the names the check refuses wherever they appear: frames
  (``f_back``), escape hatches (``save``, ``storage``), and ``format``
  (``"{0.__class__}".format(x)`` walks attributes by a string);
- a module proxy answers for itself (it hands out its allow-list only:
  ``getattr(torch, "save")`` is its folder door, as ``torch.save`` is).

A refused name raises ``PermissionError`` (not ``AttributeError``, which
``getattr(obj, name, default)`` would swallow) at the scenario's line. The
operating system's walls, not this, are the security boundary.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from gradstep.scenario.check import FORMAT_ATTRIBUTES, is_dunder, refused_attribute_reason
from gradstep.scenario.errors import TRUST_HINT

_MISSING = object()

#: the sandbox's module proxies, which allow-list for themselves (set by the sandbox)
PROXY_TYPES: tuple[type, ...] = ()


def _unknown_internals(name: str) -> str | None:
    return "the libraries (which underscore names are theirs is not known here)"


#: where an underscore name is a library's (:func:`gradstep.scenario.internals.library_internal`,
#: given by :func:`use_internals` before a restricted run); until then every one is refused
_library_internal: Callable[[str], str | None] = _unknown_internals


def use_internals(library_internal: Callable[[str], str | None]) -> None:
    """Let computed underscore names that no library has pass, as the static check does."""
    global _library_internal
    _library_internal = library_internal


def refusal(obj: Any, name: object) -> str | None:
    """Why a restricted scenario may not reach ``obj.<name>`` by name, or None."""
    if not isinstance(name, str):
        return None  # Python's own TypeError says what is wrong
    if type(obj) in PROXY_TYPES:
        return None  # the proxy allow-lists for itself
    if name in FORMAT_ATTRIBUTES:
        return "a format string walks attributes named by a string; use an f-string"
    if is_dunder(name):
        return "double-underscore attributes reach Python internals"
    if name.startswith("_"):
        owner = _library_internal(name)
        if owner is None:
            return None  # one of the scenario's own (self._prev), as the check lets through
        return f"names starting with an underscore are internals ({owner} has one of that name)"
    reason = refused_attribute_reason(name)
    if reason is None:
        return None
    return reason.split(": ", 1)[-1].removesuffix("; " + TRUST_HINT)


def _refuse(call: str, obj: Any, name: object) -> None:
    why = refusal(obj, name)
    if why is not None:
        raise PermissionError(
            f"{call}(..., {name!r}) is not allowed in a restricted scenario: {why}; {TRUST_HINT}"
        )


def getattr(obj: Any, name: str, default: Any = _MISSING, /) -> Any:  # noqa: A001
    _refuse("getattr", obj, name)
    if default is _MISSING:
        return builtins.getattr(obj, name)
    return builtins.getattr(obj, name, default)


def setattr(obj: Any, name: str, value: Any, /) -> None:  # noqa: A001
    _refuse("setattr", obj, name)
    builtins.setattr(obj, name, value)


def delattr(obj: Any, name: str, /) -> None:  # noqa: A001
    _refuse("delattr", obj, name)
    builtins.delattr(obj, name)


#: the scenario's built-ins of these names (scenario.sandbox)
BUILTINS: dict[str, Any] = {"getattr": getattr, "setattr": setattr, "delattr": delattr}
