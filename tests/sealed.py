"""Running a scenario restricted in a real worker, behind its walls, for the tests that
check what the restricted language lets through and what it keeps out."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gradstep.worker import WorkerPool
from gradstep.worker.client import RunResult


def run_restricted(pool: WorkerPool, folder: Path, code: str, name: str = "lesson.py") -> RunResult:
    """``code`` (dedented) written to ``folder/name`` and run restricted; the Python check
    must really have been on (not switched off for a walls-only test)."""
    path = folder / name
    path.write_text(textwrap.dedent(code))
    result = pool.run(path)
    assert not result.trace.limits["walls"].get("python_check", "").startswith("off")
    return result


def printed(result: RunResult) -> str:
    """What the run printed, every step's output in order."""
    return "".join(s.output for s in result.trace.steps)
