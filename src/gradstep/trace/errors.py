"""How a run can fail, written once: the kinds of error, the exit status each gives the
commands, and the trace of a run that stopped before its first step.

- ``exception``: the scenario raised; what it did up to the error is stepped through.
- ``syntax``, ``refused``: it never ran (a syntax error, a construct the check refuses,
  an unreadable file).
- ``limit``, ``crash``: it hit a time, memory, step or graph limit, or the worker died.
"""

from __future__ import annotations

from typing import get_args

from gradstep.trace.model import ErrorKind, ScenarioInfo, Step, Trace, TraceError

__all__ = [
    "ERROR_KINDS",
    "EXIT_STATUS",
    "FATAL_KINDS",
    "ErrorKind",
    "end_with_error",
    "error_step",
    "error_trace",
    "exit_status",
]

ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)

#: Kinds after which there is nothing to step through: the file never ran, or not usefully.
FATAL_KINDS: frozenset[ErrorKind] = frozenset({"syntax", "refused", "limit", "crash"})

#: ``gradstep trace``, ``export`` and ``handout``: 0 the scenario ran to its end, 1 it raised,
#: 2 it was refused before running, 3 it hit a limit or crashed the worker.
EXIT_STATUS: dict[ErrorKind, int] = {
    "exception": 1,
    "refused": 2,
    "syntax": 2,
    "limit": 3,
    "crash": 3,
}

ERROR_TEXT = 160  # characters of "Type: message" in the error step's text


def exit_status(error: TraceError | None) -> int:
    """The commands' exit status for a run that ended with ``error`` (None: it ran to its end)."""
    return 0 if error is None else EXIT_STATUS.get(error.kind, 1)


def error_step(error: TraceError) -> Step:
    """The step that shows an error: at its line, with its type and its message's first line
    (the timeline shows one line; a refusal's message goes on with the file's other ones)."""
    first = error.message.split("\n", 1)[0]
    text = f"{error.type}: {first}"
    if len(text) > ERROR_TEXT:
        text = text[: ERROR_TEXT - 1] + "…"
    return Step(index=0, kind="error", line=error.line, text=text)


def end_with_error(trace: Trace, error: TraceError) -> Step:
    """``trace`` ended by ``error``: its error, and its last step the one that shows it."""
    trace.error = error
    step = error_step(error)
    step.index = len(trace.steps)
    trace.steps.append(step)
    return step


def error_trace(
    scenario: ScenarioInfo, etype: str, message: str, kind: ErrorKind, line: int | None = None
) -> Trace:
    """The trace of a run that stopped before its first step: the file, its error, one step."""
    trace = Trace(scenario=scenario)
    end_with_error(trace, TraceError(etype, message, line, kind))
    return trace
