"""The debugger window: composes the panels, the loader and the commands around one Session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QWidget,
)

from gradstep.graph.collapse import is_box
from gradstep.gui.actions import Actions
from gradstep.gui.docks import (
    add_docks,
    add_message_bar,
    arrange,
    default_sizes,
    fit_to_screen,
    free_area,
    keep_on_screen,
    layout_kind,
    set_minimum_sizes,
)
from gradstep.gui.export.commands import ExportCommands
from gradstep.gui.graph.search import SearchBar
from gradstep.gui.graph.view import GraphView
from gradstep.gui.loader import ScenarioLoader
from gradstep.gui.menus import build_menus
from gradstep.gui.panels.code import CodeView
from gradstep.gui.panels.figures import FiguresPanel
from gradstep.gui.panels.inspector import Inspector
from gradstep.gui.panels.message_bar import MessageBar
from gradstep.gui.panels.notes import NotesView
from gradstep.gui.panels.plots import PlotsPanel
from gradstep.gui.panels.timeline import Timeline
from gradstep.gui.panels.variables import VariablesView
from gradstep.gui.panels.whatif import WhatIfPanel
from gradstep.gui.presentation import Presentation
from gradstep.gui.quiz import QuizControl
from gradstep.gui.settings import is_trusted, saved_bytes, set_trusted
from gradstep.gui.shown_file import ShownFile
from gradstep.gui.stepping import (
    Breakpoints,
    Player,
)
from gradstep.gui.theme import Theme, choose_theme
from gradstep.gui.wiring import connect_window
from gradstep.session import Selection, Session
from gradstep.trace.model import Trace
from gradstep.trace.text import step_label, step_what

SCENARIO_SUFFIXES = (".py", ".ipynb")
#: the version of the dock layout saved in the settings: a layout saved by an older gradstep
#: (fragile: panels down to their titles) gives way to the default for the screen
LAYOUT_VERSION = 2
PLOTS_DELAY_MS = 120  # after the last step; holding → down redraws the plots once


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
        self.trusted = False
        self.setWindowTitle("gradstep")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.actions_ = a = Actions(self)
        self.breakpoints = Breakpoints()
        self.player = Player(self.breakpoints)
        self.loader = ScenarioLoader(self, pool=pool)
        # the node chosen in any panel; the panels that show it subscribe to it
        self.selection = Selection()
        self.graph = GraphView(self.theme, self.breakpoints, selection=self.selection)
        self.code = CodeView(self.theme)
        self.notes = NotesView(self.theme)
        self.inspector = Inspector(self.theme, self.selection)
        self.variables = VariablesView(self.theme, self.selection)
        self.timeline = Timeline(self.theme, a.timeline_controls())
        self.plots = PlotsPanel(self.theme)
        self.whatif = WhatIfPanel(self.theme, self.loader, self.reload)
        self.message = MessageBar(self.theme)
        self.search = SearchBar()
        self.exports = ExportCommands(self, self.settings)
        self._plots_due = QTimer(self, singleShot=True, interval=PLOTS_DELAY_MS)
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)
        self.toolbar = build_menus(self, a, self.settings, self.open_scenario)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.search)
        add_message_bar(self, self.message)
        #: every panel has set_session and set_theme (the plots take the trace instead)
        self.panels: list[Any] = [self.graph, self.notes, self.code, self.inspector]
        self.panels += [self.variables, self.whatif]
        self.panels += [self.timeline, self.plots, FiguresPanel(self.theme)]
        fit_to_screen(self, 1500, 950)
        geometry = saved_bytes(self.settings, "window/geometry")
        self.first_launch = not self.restoreGeometry(geometry)
        room = free_area(self)
        self.docks = add_docks(self, self.panels, layout_kind(room.size() if room else self.size()))
        self.presentation = Presentation(
            self,
            [self.docks["graph_view"], self.docks["inspector"]],
            self._retheme,
            by_node=a.step_by_node,
            plot=self.docks["plots"],
            plot_action=a.presentation_plot,
            settle=self._presentation_settled,
        )
        self.apply_theme()
        state = saved_bytes(self.settings, "window/state")
        # the default proportions are set again at the first show, at the real size
        self._default_layout = not self.restoreState(state, LAYOUT_VERSION)
        keep_on_screen(self)
        a.direction_lr.setChecked(self.settings.value("view/direction", "TB") == "LR")
        self.graph.set_direction("LR" if a.direction_lr.isChecked() else "TB")
        a.minimap.setChecked(self.settings.value("view/minimap", "true") in (True, "true"))
        self.graph.minimap.wanted = a.minimap.isChecked()
        a.step_by_node.setChecked(
            self.settings.value("view/step_by_node", "false") in (True, "true")
        )
        self.player.by_node = a.step_by_node.isChecked()
        self.shown = ShownFile(self)  # the loader's results on screen, breakpoints per file
        connect_window(self)
        self.quiz = QuizControl(self)  # View ▸ Quiz Mode: predict, then reveal
        self.graph.setFocus()  # not the search field: → steps from the start

    # -------------------------------------------------------------- public
    @property
    def step_index(self) -> int:
        return self.session.index if self.session else 0

    @property
    def step_count(self) -> int:
        return self.session.step_count if self.session else 0

    @property
    def path(self) -> str | None:
        """The file open in the window (the one being run, or last run, and watched)."""
        return self.loader.path

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
        self.actions_.trust_file.setChecked(self.trusted)
        self.status.setText(f"Running {Path(path).name}{' (trusted)' if self.trusted else ''}…")
        self.loader.load(path, trusted=self.trusted, reload=reload)

    # ------------------------------------------------------------ stepping
    def _step_changed(self, k: int) -> None:
        if self.session is None:
            return
        step = self.session.state(k).step
        label = step_label(k, self.session.step_count)
        self.status.setText(f"{label} — {step_what(self.session.trace, step, where=False)}")
        lines = self.session.trace.scenario.source.splitlines()
        code = lines[step.line - 1].strip() if step.line and step.line <= len(lines) else ""
        self.presentation.say(f"{label}   ·   line {step.line}:  {code}" if code else label)
        self._plots_due.start()  # a plot costs more than a frame: drawn once stepping pauses

    def _update_plots(self) -> None:
        """The plots follow the cursor, or the selected node; not while hidden (they cost ms)."""
        if self.session is None or not self.plots.isVisible():
            return
        selected = self.graph.selected
        self.plots.show_step(self.session.state(), node=selected is None)
        if selected is not None:
            record = self.session.record_at(selected)
            self.plots.show_record(self.session.trace, record, False, self.session.index)

    def _go_to_node(self, node: str) -> None:
        if self.session is not None and (k := self.session.step_for_node(node)) is not None:
            self.session.go_to(k)

    def _go_to_line(self, line: int) -> None:
        if self.session is not None and (k := self.session.first_step_of_line(line)) is not None:
            self.session.go_to(k)

    def _select(self, node: str | None) -> None:
        """Choose ``node`` (None: none) in every panel; see ``Selection``."""
        self.selection.set(node)

    def _selected(self, node: str | None) -> None:
        """The plots show the selected node (the panels follow the selection themselves)."""
        self._update_plots()
        if node is not None and self.session is not None:
            self.plots.show_record(
                self.session.trace, self.session.record_at(node), step=self.session.index
            )

    def _found(self, node: str) -> None:
        """A search match: opened out of its box if need be, centred, selected; a match in
        another iteration of a loop is shown at its step, where its graph is drawn."""
        if self.session is not None and node in self.session.state().hidden_nodes:
            k = self.session.step_for_node(node)
            if k is not None:
                self.session.go_to(k)
        self.graph.boxes.reveal(node)
        self._select(node)

    def _module_clicked(self, path: str) -> None:
        size = len(self.graph.drawing.tree.members.get(path, ())) if self.graph.drawing else 0
        self.status.setText(f"{path}: {size} nodes — double-click the box to open it")

    def _graph_drawn(self) -> None:
        if self.graph.drawing is not None:
            self.search.set_graph(self.graph.drawing.graph)

    def _toggle_breakpoint(self) -> None:
        node = self.graph.selected or (self.session.state().current_node if self.session else None)
        if node and not is_box(node):  # a box is no node of the trace: nothing stops there
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
        layout = self.saveState(LAYOUT_VERSION)
        self._retheme(self.presentation.active)
        self.restoreState(layout, LAYOUT_VERSION)  # new colours, the panels where they were

    def reset_layout(self) -> None:
        """The default layout for the window's size: every panel shown, docked, in place."""
        if self.presentation.active:
            self.actions_.presentation_mode.setChecked(False)
        arrange(self, self.docks, layout_kind(self.size()))

    def _retheme(self, presenting: bool) -> None:
        self.theme = choose_theme(self.theme_mode, presenting=presenting)
        QApplication.setPalette(self.theme.palette())
        QApplication.setFont(self.theme.ui_font())
        set_minimum_sizes(self.docks, self.theme.ui_font())
        for panel in [*self.panels, self.message]:
            panel.set_theme(self.theme)
        self.graph.fit(readable=True)

    # ------------------------------------------------------------ commands
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

    def _minimap_toggled(self, on: bool) -> None:
        self.settings.setValue("view/minimap", "true" if on else "false")
        self.graph.minimap.wanted = on
        self.graph.minimap.place()

    def _presentation_settled(self) -> None:
        """Presentation mode began or ended and the window has its size: the panels that
        lay out for their width render again, the graph fits its new pane."""
        self.graph.fit(readable=True)
        if self.session is not None:
            self.inspector.show_step(self.session.index)
        self._update_plots()

    def _presentation_plot_toggled(self, on: bool) -> None:
        self.settings.setValue("view/presentation_plot", "true" if on else "false")

    def _step_by_node_toggled(self, on: bool) -> None:
        self.player.by_node = on
        if not self.presentation.active:  # presentation turns it on for itself only
            self.settings.setValue("view/step_by_node", "true" if on else "false")

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

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._default_layout:  # once the layout has the window's real size
            self._default_layout = False
            QTimer.singleShot(0, self, lambda: default_sizes(self, self.docks))
        # a window manager may not honour "maximised" (a bare X server, a kiosk)
        QTimer.singleShot(100, self, self._fill_when_maximised)
        keep_on_screen(self)

    def _fill_when_maximised(self) -> None:
        room = free_area(self)
        if self.presentation.active or room is None:
            return
        if self.isMaximized() and self.geometry() != room:
            self.setGeometry(room)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.presentation.active:
            self.presentation.set_active(False)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.player.stop()
        self.loader.close()
        super().closeEvent(event)


def _dropped_scenario(event: QDragEnterEvent | QDropEvent) -> str | None:
    for url in event.mimeData().urls():
        if url.isLocalFile() and url.toLocalFile().lower().endswith(SCENARIO_SUFFIXES):
            return url.toLocalFile()
    return None
