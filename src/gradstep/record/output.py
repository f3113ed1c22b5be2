"""The scenario's own words as its steps show them: prints, warnings, echoed expressions,
exception messages.

Which expression statements show their value is what the file's author sees in
their own tools (:func:`shown_expressions`):

- in a notebook, and in a ``.py`` file split into ``# %%`` cells (which VS Code,
  Spyder and PyCharm run cell by cell like Jupyter), the last statement of each
  code cell, when it is an expression that is not silenced with a ``;``, as
  Jupyter shows it; a ``print(...)`` there shows its own output and no ``None``;
- in a ``.py`` file without cells, nothing: it runs as a script, and
  ``plt.plot(xs, ys)`` or ``loss.item()`` written as a statement prints nothing.

A repr that names a memory address is shown without it: ``y.grad_fn`` shows
``<SubBackward0 object>`` where Jupyter shows ``<SubBackward0 object at 0x7f…>``
(NYU's autograd notebook has cells just for that), so that two recordings of the
same file stay the same. What matplotlib and graphviz return (``plt.plot``'s
``[<matplotlib.lines.Line2D at 0x7f…>]``, a ``Digraph``) is not shown at all:
it says nothing to a student, and the figure is shown as the figure
(:mod:`gradstep.record.figures`).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from typing import Any

from gradstep.scenario.loader import cell_marker_lines
from gradstep.trace.clean import storable

#: the longest message a step keeps from an exception (a scenario may raise a huge one)
MAX_MESSAGE = 10_000


def first_line(text: str, limit: int = 80) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def message_of(error: BaseException) -> str:
    """``str(error)`` made safe: a scenario's ``__str__`` may raise or run on, and its text
    may hold lone surrogates (not UTF-8) or be megabytes long."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - the scenario's own __str__ failed
        try:
            text = repr(error.args)
        except Exception:  # noqa: BLE001
            text = "(the exception's message could not be read)"
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + f"… ({len(text) - MAX_MESSAGE} more characters)"
    return storable(text)


#: the address in an object's default repr (``<SubBackward0 object at 0x7f…>``)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")

#: libraries whose return values a cell does not show: artists, axes, graphs
_UNSHOWN_LIBRARIES = frozenset({"matplotlib", "mpl_toolkits", "graphviz"})


def _from_unshown_library(value: Any) -> bool:
    items = value if isinstance(value, list | tuple) else (value,)
    for item in items[:100]:
        module = getattr(type(item), "__module__", None)
        if isinstance(module, str) and module.partition(".")[0] in _UNSHOWN_LIBRARIES:
            return True
    return False


def echo(value: Any) -> str | None:
    """What Jupyter would show for a cell's last expression, memory addresses left out;
    nothing for None or for what matplotlib and graphviz return (see the module
    docstring)."""
    if value is None or _from_unshown_library(value):
        return None
    return _ADDRESS.sub("", repr(value))


def shown_expressions(source: str) -> frozenset[tuple[int, int]]:
    """Where (line, column) the top-level expression statements whose value a step shows
    start: the last statement of each ``# %%`` cell when it is an unsilenced expression;
    none in a file without cells (see the module docstring)."""
    markers = cell_marker_lines(source)
    if not markers:
        return frozenset()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    lines = source.split("\n")
    last: dict[int, ast.stmt] = {}  # cell (its marker's index) -> its last statement
    for stmt in tree.body:
        cell = sum(1 for m in markers if m < stmt.lineno)
        last[cell] = stmt
    shown = set()
    for stmt in last.values():
        if isinstance(stmt, ast.Expr) and not _silenced(stmt, lines):
            shown.add((stmt.lineno, stmt.col_offset))
    return frozenset(shown)


def _silenced(stmt: ast.stmt, lines: list[str]) -> bool:
    """Whether a ``;`` follows the statement (``plt.plot(xs, ys);``), as IPython reads it."""
    if stmt.end_lineno is None or stmt.end_col_offset is None:
        return False
    rest = lines[stmt.end_lineno - 1].encode()[stmt.end_col_offset :].decode(errors="replace")
    return rest.lstrip().startswith(";")


def script_filters() -> None:
    """Python's default warning filters for a script (``python lesson.py``, no ``-W``):
    a DeprecationWarning shows only when the scenario's own code (``__main__``) raises
    it, not when torch raises one inside ``hessian`` or ``make_dual``; pending
    deprecations, import and resource warnings never; the others (UserWarning,
    FutureWarning, RuntimeWarning...) once per line that raised them."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for hidden in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=hidden)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


@contextlib.contextmanager
def captured_output(out: io.StringIO) -> Iterator[list[warnings.WarningMessage]]:
    """The scenario's prints and warnings go into the step, not our stdout. Yields the
    warnings caught so far, for ``flush_warnings`` to write where they belong; which
    warnings are shown is Python's choice for a script (:func:`script_filters`)."""
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        script_filters()
        try:
            yield caught
        finally:
            flush_warnings(caught, out)


def flush_warnings(caught: list[warnings.WarningMessage], out: io.StringIO) -> None:
    """Write the warnings caught so far into ``out`` as ``Category: message`` lines."""
    for w in caught:
        message = w.message if isinstance(w.message, str) else message_of(w.message)
        out.write(f"{w.category.__name__}: {first_line(message, 200)}\n")
    caught.clear()
