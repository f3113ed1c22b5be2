"""``gradstep export FILE --format html``: the lesson page, headless and without Qt.

Exit status as ``gradstep export``: 0 written; 1 the scenario raised, and the
steps up to the error are in the page; 2 a bad option or a scenario refused
before running; 3 a time or memory limit or a crashed worker (nothing to show).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from gradstep.trace.errors import exit_status
from gradstep.trace.model import Trace


def _say(message: str) -> None:
    print(f"gradstep: {message}", file=sys.stderr)


def output_path(args: argparse.Namespace) -> Path:
    stem = Path(args.file).stem
    if args.output is None:
        return Path(f"{stem}.html")
    out = Path(args.output)
    if out.is_dir():
        return out / f"{stem}.html"
    return out if out.suffix.lower() in (".html", ".htm") else out.with_name(out.name + ".html")


def export_page(args: argparse.Namespace, record: Callable[[argparse.Namespace], Trace]) -> int:
    """``record``: runs the scenario (``gradstep.cli.record``: in the walled worker)."""
    from gradstep.page import write_page

    if getattr(args, "all", False):
        _say("--all makes one image per step; a page already holds every step")
        return 2
    trace = record(args)
    e = trace.error
    if e is not None and e.kind != "exception":
        where = f", line {e.line}" if e.line else ""
        message = e.message if args.file in e.message else f"{args.file}{where}: {e.message}"
        _say(f"{e.type}: {message}")
        return exit_status(e)
    n = len(trace.steps)
    if args.step is not None and not 1 <= args.step <= n:
        _say(f"step {args.step} is out of range (1–{n})")
        return 2
    path = output_path(args)
    try:
        write_page(trace, path, start=None if args.step is None else args.step - 1)
    except OSError as err:
        _say(f"cannot write the page: {err}")
        return 2
    print(path)
    if e is not None:
        _say(
            f"{args.file}, line {e.line}: {e.type}: {e.message} (the page shows the steps up to it)"
        )
        return 1
    return 0
