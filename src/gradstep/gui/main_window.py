"""The debugger window: composes the panels, the loader and the commands around one Session."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QWidget,
)

from gradstep.gui.actions import Actions
from gradstep.gui.code_view import CodeView
from gradstep.gui.docks import add_docks, add_message_bar, fit_to_screen
from gradstep.gui.graph_view import GraphView
from gradstep.gui.inspector import Inspector
from gradstep.gui.loader import LoadResult, ScenarioLoader
from gradstep.gui.menus import build_menus, is_trusted, remember_recent, set_trusted
from gradstep.gui.message_bar import MessageBar
from gradstep.gui.notes_view import NotesView
from gradstep.gui.presentation import Presentation
from gradstep.gui.stepping import Breakpoints, Player, place_in, state_of
from gradstep.gui.theme import Theme, choose_theme
from gradstep.gui.timeline import Timeline
from gradstep.gui.variables_view import VariablesView
from gradstep.session import Session
from gradstep.trace.model import Trace

SCENARIO_SUFFIXES = (".py", ".ipynb")


class MainWindow(QMainWindow):
    """gradstep's window. ``open_scenario`` is asynchronous: wait for ``trace_ready`` or ``load_failed``.

    ``settings`` (default: the user's) keeps the layout, recent and trusted files; ``pool`` is a
    ``WorkerPool`` to share (default: the window starts its own).
    """

    trace_ready = Signal()
    load_failed = Signal(str)

    def __init__(
        self,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
        *,
        pool: object = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings("gradstep", "gradstep")
        self.theme_mode = str(self.settings.value("view/theme", "system"))
        self.theme: Theme = choose_theme(self.theme_mode)
        self.session: Session | None = None
        self.path: str | None = None
        self.trusted = False
        self.setWindowTitle("gradstep")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.actions_ = a = Actions(self)
        self.breakpoints = Breakpoints()
        self.player = Player(self.breakpoints)
        self.loader = ScenarioLoader(self, pool=pool)
        self.graph = GraphView(self.theme, self.breakpoints)
        self.code = CodeView(self.theme)
        self.notes = NotesView(self.theme)
        self.inspector = Inspector(self.theme)
        self.variables = VariablesView(self.theme)
        self.timeline = Timeline(self.theme, a.timeline_controls())
        self.message = MessageBar(self.theme)
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)
        self.toolbar = build_menus(self, a, self.settings, self.open_scenario)
        add_message_bar(self, self.message)
        panels = [self.graph, self.notes, self.code, self.inspector, self.variables, self.timeline]
        self.docks = add_docks(self, panels)
        self.presentation = Presentation(
            self, [self.docks["graph_view"], self.docks["inspector"]], self._retheme
        )
        self.apply_theme()
        fit_to_screen(self, 1500, 950)
        self.restoreGeometry(self.settings.value("window/geometry", b""))
        self.restoreState(self.settings.value("window/state", b""))
        a.direction_lr.setChecked(self.settings.value("view/direction", "TB") == "LR")
        self.graph.set_direction("LR" if a.direction_lr.isChecked() else "TB")
        self._connect()

    # -------------------------------------------------------------- public
    @property
    def step_index(self) -> int:
        return self.session.index if self.session else 0

    @property
    def step_count(self) -> int:
        return self.session.step_count if self.session else 0

    @property
    def trace(self) -> Trace | None:
        return self.session.trace if self.session else None

    def open_scenario(self, path: str | Path, trusted: bool | None = None) -> None:
        """Run ``path`` in the worker; restricted unless trusted (remembered per file)."""
        path = str(Path(path).resolve())
        self.trusted = is_trusted(self.settings, path) if trusted is None else trusted
        if trusted:
            set_trusted(self.settings, path, True)
        self._load(path, reload=False)

    def reload(self) -> None:
        if self.path:
            self._load(self.path, reload=True)

    # ------------------------------------------------------------- loading
    def _load(self, path: str, *, reload: bool) -> None:
        self.path = path
        self.actions_.trust_file.setChecked(self.trusted)
        self.status.setText(f"Running {Path(path).name}{' (trusted)' if self.trusted else ''}…")
        self.loader.load(path, trusted=self.trusted, reload=reload)

    def _loaded(self, result: LoadResult) -> None:
        trace = result.trace
        if self.session is None:
            self._start_session(trace)
        else:
            same_file = self.session.trace.scenario.path == trace.scenario.path
            old, index = self.session.trace, self.session.index
            self.session.set_trace(trace, keep_place=same_file)
            if same_file:
                self.session.go_to(place_in(old, index, trace))
        if trace.error is not None:
            self.message.show_message(
                f"{result.message} — the scenario stopped there (its last step).", error=False
            )
        else:
            self.message.clear()
        remember_recent(self.settings, result.path)
        title = trace.scenario.title or Path(result.path).name
        self.setWindowTitle(f"{title} — gradstep")
        self._step_changed(self.session.index)
        self.trace_ready.emit()

    def _start_session(self, trace: Trace) -> None:
        self.session = Session(trace)
        for panel in (
            self.graph,
            self.code,
            self.notes,
            self.inspector,
            self.variables,
            self.timeline,
        ):
            panel.set_session(self.session)
        self.session.step_changed.connect(self._step_changed)
        self.player.session = self.session

    def _failed(self, result: LoadResult) -> None:
        err = result.trace.error
        refused = err is not None and err.kind == "refused" and not result.trusted
        self.message.show_message(result.message, error=True, offer_trust=refused)
        if self.session is None:
            self._start_session(result.trace)  # nothing good to keep: show the error itself
        self.code.set_source(result.trace.scenario.source)
        self.code.set_error(err.line if err else None, f"{err.type}: {err.message}" if err else "")
        self.status.setText(
            f"{Path(result.path).name} did not run — the last good trace stays on screen"
        )
        self.load_failed.emit(result.message)

    # ------------------------------------------------------------ stepping
    def _step_changed(self, k: int) -> None:
        if self.session is None:
            return
        step = state_of(self.session, k).step
        self.status.setText(f"Step {k + 1} of {self.session.step_count} — {step.text}")

    def _go_to_node(self, node: str) -> None:
        if self.session is not None and (k := self.session.step_for_node(node)) is not None:
            self.session.go_to(k)

    def _go_to_line(self, line: int) -> None:
        if self.session is not None and (k := self.session.first_step_of_line(line)) is not None:
            self.session.go_to(k)

    def _select(self, node: str | None) -> None:
        """A node chosen in one panel is selected in all of them (and pinned in the inspector)."""
        self.graph.select(node)
        self.variables.select_node(node)
        self.inspector.pin(node)

    def _toggle_breakpoint(self) -> None:
        node = self.graph.selected or (
            state_of(self.session).current_node if self.session else None
        )
        if node:
            self.breakpoints.toggle(node)

    def _escape(self) -> None:
        if self.presentation.active:
            self.actions_.presentation_mode.setChecked(False)
        else:
            self._select(None)

    # --------------------------------------------------------------- theme
    def apply_theme(self, mode: str | None = None) -> None:
        if mode is not None:
            self.theme_mode = mode
            self.settings.setValue("view/theme", mode)
        self._retheme(self.presentation.active)

    def _retheme(self, presenting: bool) -> None:
        self.theme = choose_theme(self.theme_mode, presenting=presenting)
        QApplication.setPalette(self.theme.palette())
        QApplication.setFont(self.theme.ui_font())
        for panel in (
            self.graph,
            self.code,
            self.notes,
            self.inspector,
            self.variables,
            self.timeline,
            self.message,
        ):
            panel.set_theme(self.theme)
        self.graph.fit(readable=True)

    # -------------------------------------------------------------- layout
    # -------------------------------------------------------------- wiring
    def _connect(self) -> None:
        a, s = self.actions_, lambda f: lambda *_: self.session and f(self.session)
        a.open.triggered.connect(self._ask_open)
        a.reload.triggered.connect(self.reload)
        a.trust_file.toggled.connect(self._trust_toggled)
        a.quit.triggered.connect(self.close)
        a.step_forward.triggered.connect(s(Session.step_forward))
        a.step_back.triggered.connect(s(Session.step_back))
        a.first_step.triggered.connect(s(Session.first))
        a.last_step.triggered.connect(s(Session.last))
        a.next_pass.triggered.connect(s(Session.next_pass))
        a.previous_pass.triggered.connect(s(Session.previous_pass))
        a.play.triggered.connect(self.player.toggle)
        a.run_to_breakpoint.triggered.connect(self.player.run_to_breakpoint)
        a.toggle_breakpoint.triggered.connect(self._toggle_breakpoint)
        a.zoom_in.triggered.connect(lambda: self.graph.zoom(1.25))
        a.zoom_out.triggered.connect(lambda: self.graph.zoom(0.8))
        a.fit.triggered.connect(lambda: self.graph.fit())
        a.follow.toggled.connect(lambda on: setattr(self.graph, "follow", on))
        a.direction_lr.toggled.connect(self._direction_toggled)
        a.presentation_mode.toggled.connect(self.presentation.set_active)
        a.escape.triggered.connect(self._escape)
        a.themes.triggered.connect(
            lambda act: self.apply_theme(act.objectName().removeprefix("action_theme_"))
        )
        for act in a.themes.actions():
            act.setChecked(act.objectName().endswith(self.theme_mode))
        self.player.playing_changed.connect(a.play.setChecked)
        self.player.playing_changed.connect(
            lambda on: a.play.setIconText("Pause" if on else "Play")
        )
        self.timeline.speed_changed.connect(self.player.set_speed)
        self.loader.finished.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.loader.file_changed.connect(lambda _p: self.reload())
        self.message.trust_requested.connect(lambda: a.trust_file.setChecked(True))
        self.graph.node_clicked.connect(self._select)
        self.graph.node_activated.connect(self._go_to_node)
        self.graph.background_clicked.connect(lambda: self._select(None))
        self.graph.breakpoint_requested.connect(self.breakpoints.toggle)
        self.variables.node_selected.connect(self._select)
        self.inspector.pin_changed.connect(lambda n: n is None and self.graph.select(None))
        self.code.line_clicked.connect(self._go_to_line)
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _s: self.apply_theme())

    def _ask_open(self) -> None:
        start = str(Path(self.path).parent) if self.path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open scenario", start, "Scenarios (*.py *.ipynb)"
        )
        if path:
            self.open_scenario(path)

    def _trust_toggled(self, on: bool) -> None:
        if self.path and on != self.trusted:
            self.trusted = on
            set_trusted(self.settings, self.path, on)
            self._load(self.path, reload=True)

    def _direction_toggled(self, lr: bool) -> None:
        self.settings.setValue("view/direction", "LR" if lr else "TB")
        self.graph.set_direction("LR" if lr else "TB")

    # -------------------------------------------------------------- events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if _dropped_scenario(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = _dropped_scenario(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_scenario(path)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.presentation.active:
            self.presentation.set_active(False)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.player.stop()
        self.loader.close()
        super().closeEvent(event)


def _dropped_scenario(event: QDragEnterEvent | QDropEvent) -> str | None:
    for url in event.mimeData().urls():
        if url.isLocalFile() and url.toLocalFile().lower().endswith(SCENARIO_SUFFIXES):
            return url.toLocalFile()
    return None
