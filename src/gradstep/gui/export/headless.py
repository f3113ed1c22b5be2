"""``gradstep export`` and ``gradstep handout``: figures and handouts without a display.

Exit status: 0 done; 1 the scenario raised, and what it recorded up to the
error was exported; 2 a bad option or a scenario refused before running
(syntax error, refused construct, unreadable file); 3 the scenario hit a
time or memory limit or crashed the worker (nothing to export).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gradstep.gui.export.files import FORMATS
from gradstep.trace.errors import exit_status
from gradstep.trace.model import Trace
from gradstep.trace.text import step_number


class UsageError(Exception):
    """A bad option: exit 2 with this message."""


def say(message: str) -> None:
    """A command's message to the user, on stderr."""
    print(f"gradstep: {message}", file=sys.stderr)


def ensure_qt_platform() -> None:
    """Offscreen rendering when there is no display (a server, CI, an ssh session)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def qt_app() -> Any:
    """The application the figures are painted in (offscreen without a display)."""
    ensure_qt_platform()
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["gradstep"])


def record(args: argparse.Namespace) -> Trace:
    """Record the command's FILE in a worker of its own, with its run options."""
    from gradstep.worker.client import record_command_file

    return record_command_file(args)


def nothing_to_export(trace: Trace, file: str) -> int | None:
    """An exit status when there is nothing to export; None to go on."""
    e = trace.error
    if e is None or e.kind == "exception":
        return None
    where = f", line {e.line}" if e.line else ""
    message = e.message if file in e.message else f"{file}{where}: {e.message}"
    say(f"{e.type}: {message}")
    return exit_status(e)


def finish(trace: Trace, file: str) -> int:
    """The command's exit status, said if the scenario raised (what came before it is out)."""
    if trace.error is not None:  # an exception: the steps up to it were exported
        e = trace.error
        say(f"{file}, line {e.line}: {e.type}: {e.message} (exported the steps up to it)")
    return exit_status(trace.error)


def _output_file(args: argparse.Namespace, step: int) -> tuple[Path, str]:
    """Where ``--step`` goes; ``step`` is the number the user reads (from 1)."""
    stem = Path(args.file).stem
    fmt = args.format
    if args.output is None:
        return Path(f"{stem}-step{step}.{fmt}"), fmt
    out = Path(args.output)
    if out.is_dir():
        return out / f"{stem}-step{step}.{fmt}", fmt
    suffix = out.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        if suffix != fmt and fmt != "png":  # png is the default: the file name decides
            raise UsageError(f"--format {fmt} but the file name {out.name} says {suffix}")
        return out, suffix
    return out.with_name(out.name + f".{fmt}"), fmt


def _check_options(args: argparse.Namespace) -> None:
    if not 0 < args.scale <= 16:
        raise UsageError(f"--scale {args.scale:g}: give a number above 0 and at most 16")


def slide_theme(args: argparse.Namespace) -> Any:
    """Figures are for slides: the presentation theme's large text and strong contrast,
    light (``--aspect fit``: the window's own light theme)."""
    from gradstep.gui.theme import LIGHT, presentation

    return LIGHT if getattr(args, "aspect", "fit") == "fit" else presentation(LIGHT)


def slide(args: argparse.Namespace) -> dict[str, Any]:
    """A figure for a slide: its shape (``--aspect``), thick edges, a compact legend that
    ``--no-legend`` and ``--no-caption`` take away."""
    ratio = {"16:9": 16 / 9, "4:3": 4 / 3}.get(getattr(args, "aspect", "fit"))
    bare = getattr(args, "no_legend", False) or getattr(args, "no_caption", False)
    return {"aspect": ratio, "bold": True, "legend": False if bare else "compact"}


def export_command(args: argparse.Namespace) -> int:
    try:
        _check_options(args)
    except UsageError as e:
        say(str(e))
        return 2
    trace = record(args)
    status = nothing_to_export(trace, args.file)
    if status is not None:
        return status
    n = len(trace.steps)
    if args.step is not None and not 1 <= args.step <= n:  # numbered as in the window
        say(f"step {args.step} is out of range (1–{n})")
        return 2
    qt_app()
    from gradstep.gui.export.files import ExportError

    try:
        if args.all:
            _export_all(trace, args)
        else:
            index = n - 1 if args.step is None else args.step - 1
            path, fmt = _output_file(args, step_number(index))
            _export_one(trace, index, path, fmt, args)
            print(path)
    except UsageError as e:
        say(str(e))
        return 2
    except (ExportError, OSError) as e:
        say(f"cannot write the export: {e}")
        return 2
    return finish(trace, args.file)


def _export_one(trace: Trace, step: int, path: Path, fmt: str, args: argparse.Namespace) -> None:
    from gradstep.gui.export.figure import graph_view_for
    from gradstep.gui.export.formats import export_graph

    view = graph_view_for(
        trace,
        step,
        theme=slide_theme(args),
        values=getattr(args, "values", False),
        direction=getattr(args, "direction", "TB"),
    )
    export_graph(view, path, fmt, scale=args.scale, caption=not args.no_caption, **slide(args))


def _export_all(trace: Trace, args: argparse.Namespace) -> None:
    """One file per step in a folder: a new folder appears whole, an existing one file by file."""
    from gradstep.files import file_mode
    from gradstep.gui.export.figure import graph_view_for
    from gradstep.gui.export.files import atomic_write_bytes
    from gradstep.gui.export.formats import figure_bytes

    target = Path(args.output or f"{Path(args.file).stem}-steps")
    if target.exists() and not target.is_dir():
        raise UsageError(f"--all writes a folder, and {target} is a file")
    if not target.resolve().parent.is_dir():
        raise UsageError(f"folder {target.resolve().parent} does not exist")
    fresh = not target.exists()
    folder = (
        Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.resolve().parent)
        )
        if fresh
        else target
    )
    try:
        if fresh:
            os.chmod(folder, file_mode(target, 0o777))  # mkdtemp makes it private
        view = graph_view_for(
            trace,
            0,
            theme=slide_theme(args),
            values=getattr(args, "values", False),
            direction=getattr(args, "direction", "TB"),
        )
        width = max(3, len(str(len(trace.steps))))
        for index in range(len(trace.steps)):
            view.session.go_to(index)
            data = figure_bytes(
                view, args.format, scale=args.scale, caption=not args.no_caption, frame=True,
                **slide(args),
            )  # fmt: skip
            name = f"step_{step_number(index):0{width}d}.{args.format}"  # from 1, as in the window
            atomic_write_bytes(folder / name, data)
        if fresh:
            os.replace(folder, target)
    except BaseException:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    print(f"{target}{os.sep} ({len(trace.steps)} files)")


def handout_command(args: argparse.Namespace) -> int:
    trace = record(args)
    status = nothing_to_export(trace, args.file)
    if status is not None:
        return status
    qt_app()
    from gradstep.gui.export.files import HandoutError
    from gradstep.gui.export.handout import write_handout

    try:
        out = write_handout(trace, args.output, per=args.per, pdf=args.pdf, exercise=args.exercise)
    except HandoutError as e:
        say(str(e))
        return 2
    except OSError as e:
        say(f"cannot write the handout: {e}")
        return 2
    print(out)
    return finish(trace, args.file)
