"""What stopped a statement, as the trace tells it: a refused allocation is the memory limit."""

from __future__ import annotations

from gradstep.record.deadline import LimitExceeded
from gradstep.record.output import first_line, message_of


def as_reported(error: BaseException) -> BaseException:
    """``error`` as the trace reports it: running out of memory becomes the memory limit
    (kept with the error's traceback, which names the line inside a loop or a function);
    anything else, a limit or the scenario's own exception, as it is."""
    if isinstance(error, MemoryError):
        return memory_limit(str(error)).with_traceback(error.__traceback__)
    if isinstance(error, RuntimeError):
        # torch reports a refused allocation as a RuntimeError
        text = message_of(error)
        if "can't allocate memory" in text or "not enough memory" in text:
            return memory_limit(first_line(text, 200)).with_traceback(error.__traceback__)
    return error


def memory_limit(detail: str) -> LimitExceeded:
    """The memory limit as the scenario met it; ``detail`` from the failed allocation."""
    limit = _address_space_limit_mb()
    what = f"the memory limit of {limit} MB" if limit else "the memory limit"
    return LimitExceeded(
        "memory",
        f"the scenario ran out of memory: it hit {what}" + (f" ({detail})" if detail else ""),
    )


def _address_space_limit_mb() -> int | None:
    try:
        import resource  # POSIX only; the worker sets RLIMIT_AS

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft >> 20
