"""``enum`` for restricted scenarios: ``class Color(Enum)`` as written, and no class made
from dunder names given at run time.

A class body is syntax the static check reads (a ``__array_interface__ = ...``
line in it is refused like any other dunder name). Enum's functional API is not:
``Enum("E", [("__array_interface__", view), ("A", 1)])`` makes a class whose
dunder attributes come from data built at run time, and numpy then reads that
``__array_interface__`` on a member and views whatever address it names. So
while a restricted scenario runs, the functional API (``EnumType._create_``,
which every ``Enum("E", names)``, ``Color("E", names)`` and ``IntFlag(...)``
goes through) refuses a dunder member name; the names it otherwise takes, and
every trusted run, are Python's. The metaclass itself (``EnumType``, whose
three-argument call makes a class from a dict) is not handed out
(:data:`gradstep.scenario.libraries.STDLIB_DENIED`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from gradstep.scenario.audit import restricted_now
from gradstep.scenario.check import is_dunder

_create = enum.EnumType._create_  # type: ignore[attr-defined]


def _member_names(names: Any) -> Iterable[Any]:
    """The member names ``_create_`` will read from ``names``, in each form it takes."""
    if isinstance(names, str):
        return names.replace(",", " ").split()
    if isinstance(names, Mapping):
        return list(names)
    found = []
    for item in names:
        try:
            found.append(item if isinstance(item, str) else item[0])
        except (TypeError, IndexError, KeyError):
            continue  # not a form enum takes: it raises its own error
    return found


def _checked_create(cls: Any, class_name: Any, names: Any, **kwargs: Any) -> Any:
    if restricted_now():
        if not isinstance(names, str | Mapping):
            names = list(names)  # an iterator is read here and again by enum
        for name in _member_names(names):
            if isinstance(name, str) and is_dunder(name):
                raise ValueError(
                    f"{name!r} cannot be an enum member name in a restricted scenario: "
                    "a class made from names given at run time would get Python internals"
                )
    return _create(cls, class_name, names, **kwargs)


def install() -> None:
    """Check the functional API's names while a restricted scenario runs (idempotent)."""
    enum.EnumType._create_ = _checked_create  # type: ignore[attr-defined]
