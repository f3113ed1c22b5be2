"""The scenario's own words as its steps show them: prints, warnings, echoed expressions,
exception messages."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

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


def echo(value: Any) -> str | None:
    """What a REPL would print for an expression statement; nothing for bare object reprs.

    ``<torch._C.Generator object at 0x…>`` says nothing to a student and would
    make two recordings of the same file differ.
    """
    if value is None:
        return None
    text = repr(value)
    if text.startswith("<") and " at 0x" in text:
        return None
    return text


@contextlib.contextmanager
def captured_output(out: io.StringIO) -> Iterator[list[warnings.WarningMessage]]:
    """The scenario's prints and warnings go into the step, not our stdout. Yields the
    warnings caught so far, for ``flush_warnings`` to write where they belong."""
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
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
