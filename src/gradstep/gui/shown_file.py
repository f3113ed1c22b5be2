"""What the window shows of its file: a run's trace, or the code and error of a file that did
not run, with the file's breakpoints kept per file (the loader's results, put on screen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

from gradstep.graph.drawing import nonfinite_marks
from gradstep.gui import collector
from gradstep.gui.loader import LoadResult
from gradstep.gui.settings import remember_recent, save_breakpoints, saved_breakpoints
from gradstep.session import Session
from gradstep.trace.model import Trace
from gradstep.trace.text import loop_sentence, run_notes


class ShownFile:
    """The loader's results on screen in ``window`` (a ``MainWindow``, its panels built).

    A good run replaces the trace (staying at the matching step for a reload of the same
    file); a failed run of another file replaces the window's content with its code and
    error, while a failed reload keeps the last good trace on screen.
    """

    def __init__(self, window: Any) -> None:
        self.window = window
        self.path: str | None = None  # the file whose trace is on screen
        self._restoring_breakpoints = False
        window.breakpoints.changed.connect(self._breakpoints_changed)

    def loaded(self, result: LoadResult) -> None:
        w, trace = self.window, result.trace
        same_file = w.session is not None and (w.session.trace.scenario.path == trace.scenario.path)
        self._show_trace(result, keep_place=same_file, breakpoints=True)
        if trace.error is not None:
            w.message.show_message(
                f"{result.message} — the scenario stopped there (its last step).", error=False
            )
        elif about := about_the_run(trace):
            w.message.show_message(about, error=False)
        else:
            w.message.clear()
        w.graph.set_marks(nonfinite_marks(trace))
        remember_recent(w.settings, result.path)
        title = trace.scenario.title or Path(result.path).name
        w.setWindowTitle(f"{title} — gradstep")
        w._step_changed(w.session.index if w.session is not None else 0)
        QTimer.singleShot(0, lambda: collector.settle(trace))  # once it is on screen
        w.trace_ready.emit()

    def failed(self, result: LoadResult) -> None:
        w, err = self.window, result.trace.error
        refused = err is not None and err.kind == "refused" and not result.trusted
        w.message.show_message(result.message, error=True, offer_trust=refused)
        # the last good trace stays for a reload of its own file; another file's failure
        # replaces the window's content (a mixed window would show one file's code with
        # another's graph, notes and title)
        other = w.session is None or self.path != result.path
        if other:
            self._not_run(result)
        w.code.set_source(result.trace.scenario.source)
        w.code.set_error(
            err.line if err else None,
            f"{err.type}: {err.message}" if err else "",
            result.trace.scenario.notebook_cells,
        )
        name = Path(result.path).name
        w.status.setText(
            f"{name} did not run — see the message above"
            if other
            else f"{name} did not run — the last good trace stays on screen"
        )
        w.load_failed.emit(result.message)

    def _not_run(self, result: LoadResult) -> None:
        """Show what there is of a file that did not run: its code, notes and error."""
        self._show_trace(result, keep_place=False, breakpoints=False)  # there is no graph
        self.window.graph.set_marks({})
        title = result.trace.scenario.title or Path(result.path).name
        self.window.setWindowTitle(f"{title} — not run — gradstep")

    def _show_trace(self, result: LoadResult, *, keep_place: bool, breakpoints: bool) -> None:
        """Put ``result``'s trace on screen in every panel; ``keep_place``: stay at the
        matching step (a reload of the same file); ``breakpoints``: restore the file's."""
        w, trace = self.window, result.trace
        self.path = result.path
        w.plots.set_trace(trace)
        if w.session is None:
            self._start_session(trace)
        else:
            w.session.set_trace(trace, keep_place=keep_place)
        # breakpoints follow their nodes through a reload, found again from what is kept
        # for the file (not from the trace on screen: a reload that stopped early would
        # lose those past its error)
        keys = saved_breakpoints(w.settings, trace.scenario.path) if breakpoints else []
        self._restoring_breakpoints = True
        try:
            w.breakpoints.restore(trace, keys)
        finally:
            self._restoring_breakpoints = False

    def _start_session(self, trace: Trace) -> None:
        w = self.window
        w.session = Session(trace)
        for panel in w.panels:
            if panel is not w.plots:
                panel.set_session(w.session)
        w.session.step_changed.connect(w._step_changed)
        w.player.session = w.session

    def _breakpoints_changed(self) -> None:
        """Kept per file in the settings, so they are there when the file is opened again."""
        w = self.window
        if self._restoring_breakpoints or w.session is None:
            return
        path = w.session.trace.scenario.path
        saved = saved_breakpoints(w.settings, path)
        save_breakpoints(w.settings, path, w.breakpoints.keys(w.session.trace, saved))


def about_the_run(trace: Trace) -> str:
    """What a user should know of a run that its steps do not show: which rounds of a long
    loop are summarised, what went to the run's scratch, which test functions ran."""
    lines = [loop_sentence(trace, loop) for loop in trace.loops]
    return "\n".join(lines + run_notes(trace))
