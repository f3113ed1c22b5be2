"""Resource limits for running a scenario, with documented defaults.

- ``seconds``: wall time for the whole run (default 10 s). Enforced inside the
  worker by an interval timer that stops the scenario at its current line and
  keeps firing until it has stopped (a scenario cannot swallow it, see
  ``gradstep.record.deadline``); the parent kills the worker if its trace has
  not ended ``grace`` seconds later (a loop inside one long native call),
  keeping every step streamed until then.
- ``memory_mb``: address-space limit of the worker (default: half the
  machine's RAM). An allocation beyond it fails inside torch, which the
  recorder reports as a memory limit at the scenario's line.
- ``max_steps`` / ``max_trace_mb``: how large a trace may grow (the steps are
  counted by the recorder, the megabytes by the parent as they arrive).

Overrides: command-line options (``--timeout``, ``--memory``), or the
environment variables ``GRADSTEP_TIMEOUT``, ``GRADSTEP_MEMORY_MB``,
``GRADSTEP_MAX_STEPS``, ``GRADSTEP_MAX_TRACE_MB``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from gradstep.record.limits import MAX_STEPS


def _machine_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):
        return 8192


@dataclass(frozen=True)
class Limits:
    seconds: float = 10.0
    memory_mb: int = max(2048, _machine_memory_mb() // 2)
    max_steps: int = MAX_STEPS
    max_trace_mb: int = 512
    grace: float = 5.0

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> Limits:
        env = os.environ
        values: dict[str, float | int] = {}
        if "GRADSTEP_TIMEOUT" in env:
            values["seconds"] = float(env["GRADSTEP_TIMEOUT"])
        if "GRADSTEP_MEMORY_MB" in env:
            values["memory_mb"] = int(env["GRADSTEP_MEMORY_MB"])
        if "GRADSTEP_MAX_STEPS" in env:
            values["max_steps"] = int(env["GRADSTEP_MAX_STEPS"])
        if "GRADSTEP_MAX_TRACE_MB" in env:
            values["max_trace_mb"] = int(env["GRADSTEP_MAX_TRACE_MB"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)
