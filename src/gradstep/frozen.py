"""The desktop bundle's entry point.

In a bundle ``sys.executable`` is the app itself, not a Python, yet gradstep
starts its children (the worker, the doctor's window check) as
``sys.executable -m gradstep.…``, the same command as from a Python install.
So the app answers that command too: ``-m`` and a module of the gradstep
package (after any of Python's flags that make no difference in a bundle, such
as ``-I``) runs that module as ``python -m`` would; anything else is the
``gradstep`` command line. Only gradstep's own modules: the app is not a
Python interpreter for anything else.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

#: interpreter flags a child may be started with: isolated mode, no user site, unbuffered,
#: no .pyc writes; a bundle's interpreter is already isolated from the environment
_IGNORED_FLAGS = frozenset({"-I", "-E", "-s", "-S", "-u", "-B"})


def child_module(args: Sequence[str]) -> tuple[str, list[str]] | None:
    """``(module, its arguments)`` when ``args`` ask to run one of gradstep's modules."""
    i = 0
    while i < len(args) and args[i] in _IGNORED_FLAGS:
        i += 1
    if i + 1 < len(args) and args[i] == "-m":
        module = args[i + 1]
        if module == "gradstep" or module.startswith("gradstep."):
            return module, list(args[i + 2 :])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    child = child_module(args)
    if child is not None:
        module, rest = child
        sys.argv = [sys.argv[0], *rest]  # what the module would see under python -m
        runpy.run_module(module, run_name="__main__", alter_sys=True)  # may raise SystemExit
        return 0
    from gradstep.cli import main as cli_main

    return cli_main(args)
