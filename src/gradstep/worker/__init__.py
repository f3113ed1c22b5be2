"""Running scenarios in a separate process, with limits (no Qt)."""

from gradstep.worker.client import RunResult, WorkerPool
from gradstep.worker.limits import Limits

__all__ = ["Limits", "RunResult", "WorkerPool"]
