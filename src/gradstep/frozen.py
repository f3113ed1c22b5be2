"""The desktop bundle's entry point.

In a bundle ``sys.executable`` is the app itself, not a Python, yet the worker
and the doctor's window check are started as ``sys.executable -m gradstep.…``
(the same command as from a Python install). So the app answers that command
too: ``-m`` followed by one of these modules runs that module; anything else is
the ``gradstep`` command line.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

#: the modules gradstep starts as child processes of itself
CHILD_MODULES = ("gradstep.worker", "gradstep.qt_probe")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "-m" and args[1] in CHILD_MODULES:
        sys.argv = [sys.argv[0], *args[2:]]  # what the module would see under python -m
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)  # may raise SystemExit
        return 0
    from gradstep.cli import main as cli_main

    return cli_main(args)
