"""The worker process: import torch early, wait for one scenario, record it, exit.

This module sets the process up; :mod:`gradstep.worker.serve` answers the request.

One run per process keeps every run clean (no torch state, patched modules or
lowered limits leak into the next); the parent keeps a spare worker started
ahead of need, so torch's import cost is paid before the user asks.

Protocol (see :mod:`gradstep.worker.protocol`): one JSON request line on stdin;
the trace streamed, step by step as it is recorded, on the protocol file
descriptor (the original stdout, which is then pointed at stderr so that
nothing the scenario or a native library prints can corrupt it). The line
running is kept in a page shared with the parent (``--register FD``, see
:mod:`gradstep.worker.register`), for when this process dies without a word.
"""

from __future__ import annotations

import os
import sys


def _protocol_fd() -> int:
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    # what the scenario or a library writes to the original stdout goes to stderr too
    setattr(sys, "__stdout__", sys.stdout)  # noqa: B010 - typeshed marks it Final
    return fd


def main() -> int:
    fd = _protocol_fd()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read once, when torch is imported
    from gradstep.worker.serve import serve  # imports torch: before any request arrives

    return serve(fd)


def run() -> None:
    """Entry point: answer, then leave without freeing the scenario's objects."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
