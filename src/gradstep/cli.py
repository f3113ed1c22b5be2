"""The ``gradstep`` command.

    gradstep [FILE]                      open the app (the default bundled scenario without FILE)
    gradstep trace FILE [--json]         record FILE and print its steps (or the trace document)
             [--set NAME=VALUE ...]      ... with top-level literals set (what-if; export too)
    gradstep export FILE [...]           images of the graph, headless (--step N counts from 1)
    gradstep handout FILE -o DIR         a handout folder, headless
    gradstep lessons                     the bundled lessons, by number, name and title
    gradstep doctor                      versions, display, sandbox walls, folders: a report

FILE is a path, or a bundled lesson's number or name (``05``,
``05_logistic_regression_bce``) when no such file exists. A FILE that is
neither, or a window asked for where there is no display, exits with status 2.

``trace`` exit status: 0 the scenario ran to its end, 1 it raised (the trace is
still printed), 2 it was refused before running (syntax error, refused
construct, unreadable file), 3 it hit a limit or crashed the worker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradstep import __version__
from gradstep.resources import default_scenario
from gradstep.worker.limits import Limits

if TYPE_CHECKING:
    from gradstep.trace.model import Trace

FILE_HELP = "a .py or .ipynb scenario, or a bundled lesson's number or name (gradstep lessons)"
SUBCOMMANDS = ("trace", "export", "handout", "open", "lessons", "doctor")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust",
        action="store_true",
        help="run the file as ordinary Python (still in the worker, with its limits)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"wall-time limit (default {Limits.seconds:g}, or $GRADSTEP_TIMEOUT)",
    )
    p.add_argument(
        "--memory",
        type=int,
        metavar="MB",
        help="memory limit of the worker (default: half the RAM)",
    )


def _name_value(text: str) -> tuple[str, str]:
    """``x=5.0`` or ``x@19=5.0``: checked here for its form, by the worker for its name."""
    from gradstep.scenario.overrides import parse_value

    name, eq, value = text.partition("=")
    name = name.strip()
    if not eq or not name.partition("@")[0].isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. x=5.0")
    try:
        parse_value(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None
    return name, value.strip()


def _add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_name_value,
        metavar="NAME=VALUE",
        help="run with a top-level literal set to VALUE (x = torch.tensor(3.0), lr = 0.1); "
        "the file is not changed. NAME@LINE picks one of several. Repeatable",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradstep", description="Step through PyTorch's backward pass."
    )
    parser.add_argument("--version", action="version", version=f"gradstep {__version__}")
    sub = parser.add_subparsers(dest="command")
    _open_command(sub)
    _trace_command(sub)
    _export_command(sub)
    _handout_command(sub)
    sub.add_parser("lessons", help="list the bundled lessons (open one by number: gradstep 05)")
    sub.add_parser("doctor", help="a report to paste when asking for help")
    return parser


def _open_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gradstep open [FILE]``: the window."""
    p_open = sub.add_parser("open", help="open the app on a scenario (the default command)")
    p_open.add_argument("file", nargs="?", help=FILE_HELP)
    p_open.add_argument("--presentation", action="store_true", help="start in presentation mode")
    _add_run_options(p_open)


def _trace_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gradstep trace FILE``: the steps as a table, or the trace document."""
    p_trace = sub.add_parser("trace", help="record a scenario and print its steps")
    p_trace.add_argument("file", help=FILE_HELP)
    p_trace.add_argument(
        "--json", action="store_true", help="print the trace document (JSON) instead of a table"
    )
    p_trace.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    _add_run_options(p_trace)
    _add_set_option(p_trace)


def _export_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gradstep export FILE``: a figure, every step, a page or an animated pass."""
    p_export = sub.add_parser("export", help="export the graph at a step as PNG/SVG/PDF, headless")
    p_export.add_argument("file", help=FILE_HELP)
    group = p_export.add_mutually_exclusive_group()
    group.add_argument(
        "--step",
        type=int,
        metavar="N",
        help="the step to show, numbered from 1 as in the window (default: the last)",
    )
    group.add_argument("--all", action="store_true", help="one image per step")
    p_export.add_argument(
        "--format",
        choices=("png", "svg", "pdf", "html", "gif", "apng", "mp4"),
        default="png",
        help="html: an interactive page of every step; gif/apng/mp4: an animated pass",
    )
    p_export.add_argument(
        "--animate", action="store_true", help="animate a backward pass (gif, apng or mp4)"
    )
    p_export.add_argument(
        "--pass", dest="pass_number", type=int, metavar="K", help="the pass to animate (from 1)"
    )
    p_export.add_argument("--fps", type=float, default=8.0, help="animation frames per second")
    p_export.add_argument(
        "--size", default="1280x720", metavar="WxH", help="animation size (default 1280x720)"
    )
    p_export.add_argument("-o", "--output", help="output file (or folder with --all)")
    p_export.add_argument(
        "--scale", type=float, default=2.0, help="PNG pixel scale (default 2 for slides)"
    )
    p_export.add_argument(
        "--no-caption", action="store_true", help="no caption and no legend: the graph alone"
    )
    p_export.add_argument("--no-legend", action="store_true", help="no legend under the graph")
    p_export.add_argument(
        "--direction",
        choices=("TB", "LR"),
        default="TB",
        help="the forward pass top to bottom (default, as in the window) or left to right",
    )
    p_export.add_argument(
        "--aspect",
        choices=("16:9", "4:3", "fit"),
        default="16:9",
        help="the figure's shape: a 16:9 slide (default), 4:3, or fit the graph tightly",
    )
    p_export.add_argument(
        "--values",
        action="store_true",
        help="write each tensor's value and gradient in its node (data | grad)",
    )
    _add_run_options(p_export)
    _add_set_option(p_export)


def _handout_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gradstep handout FILE -o DIR``: Markdown and images, a PDF too."""
    p_handout = sub.add_parser(
        "handout", help="write a handout folder (Markdown + images), headless"
    )
    p_handout.add_argument("file", help=FILE_HELP)
    p_handout.add_argument("-o", "--output", required=True, help="output folder")
    p_handout.add_argument("--pdf", action="store_true", help="also write handout.pdf")
    p_handout.add_argument(
        "--per",
        choices=("step", "node"),
        default="node",
        help="one image per step or per backward node",
    )
    p_handout.add_argument(
        "--exercise",
        action="store_true",
        help="blanks (?) where quiz mode hides gradients, and an answer page at the end",
    )
    _add_run_options(p_handout)
    _add_set_option(p_handout)


def record(args: argparse.Namespace) -> Trace:
    """Record ``args.file`` in a worker process and return the trace."""
    from gradstep.worker.client import record_command_file

    return record_command_file(args)


def cmd_trace(args: argparse.Namespace) -> int:
    from gradstep.trace.clean import inert_json
    from gradstep.trace.errors import exit_status
    from gradstep.trace.io import dumps
    from gradstep.trace.matches import matches_text
    from gradstep.trace.text import error_line, step_table

    if args.in_process:  # for profiling the recorder; not the safe path
        from gradstep.record.run import record_scenario
        from gradstep.scenario.loader import load_scenario
        from gradstep.scenario.overrides import scenario_with

        scenario = scenario_with(load_scenario(args.file), args.overrides)
        trace = record_scenario(scenario, trusted=args.trust)
    else:
        trace = record(args)
    if args.json:
        sys.stdout.write(inert_json(dumps(trace)) + "\n")
    else:
        sys.stdout.write(step_table(trace))
        sys.stdout.write(matches_text(trace))  # hand-computed derivatives vs the engine's
        if trace.error is not None:
            print(error_line(trace, args.file), file=sys.stderr)
    return exit_status(trace.error)


def cmd_open(args: argparse.Namespace) -> int:
    from gradstep.display import display_problem

    problem = display_problem()  # before Qt: without a display it aborts the process
    if problem:
        print(f"gradstep: {problem}", file=sys.stderr)
        return 2
    try:
        from gradstep.gui.app import run_app
    except ImportError as e:  # the window is optional for the core; say what is missing
        print(f"gradstep: the window needs PySide6 and pyqtgraph ({e})", file=sys.stderr)
        return 2
    return run_app(
        args.file or str(default_scenario()),
        presentation=getattr(args, "presentation", False),
        trusted=getattr(args, "trust", False),
    )


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "html" and not args.animate:  # needs no Qt: the gui is not imported
        from gradstep.page.command import export_page

        return export_page(args, record)
    if args.animate or args.format in ("gif", "apng", "mp4"):
        from gradstep.gui.export.animate import animate_command

        return animate_command(args)
    from gradstep.gui.export.headless import export_command

    return export_command(args)


def cmd_handout(args: argparse.Namespace) -> int:
    from gradstep.gui.export.headless import handout_command

    return handout_command(args)


def cmd_lessons(args: argparse.Namespace) -> int:
    from gradstep.lessons import lesson_table

    sys.stdout.write(lesson_table())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from gradstep.doctor import doctor_command

    return doctor_command()


def _resolve_file(args: argparse.Namespace) -> bool:
    """Turn a lesson's number or name into its path; False (said why) if FILE is neither."""
    from gradstep.lessons import NoSuchScenario, resolve_scenario

    if getattr(args, "file", None) is None:
        return True
    try:
        args.file = resolve_scenario(args.file)
    except NoSuchScenario as e:
        print(f"gradstep: {e}", file=sys.stderr)
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv = ["open", *argv]
    args = build_parser().parse_args(argv)
    if getattr(args, "overrides", None) is not None:
        args.overrides = dict(args.overrides)  # [("x", "5.0"), ...]: a later --set wins
    handlers = {
        "trace": cmd_trace,
        "open": cmd_open,
        "export": cmd_export,
        "handout": cmd_handout,
        "lessons": cmd_lessons,
        "doctor": cmd_doctor,
    }
    if not _resolve_file(args):
        return 2
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
