"""The window's signal connections in one place: actions to commands, panels to one another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QGuiApplication

from gradstep.session import Session


def connect_window(w: Any) -> None:
    """Connect everything of ``w`` (a ``MainWindow``, its panels built)."""
    a = w.actions_

    def s(command: Callable[[Session], object]) -> Callable[..., None]:
        """``command`` on the session, once there is one."""

        def run(*_: object) -> None:
            if w.session is not None:
                command(w.session)

        return run

    a.open.triggered.connect(w._ask_open)
    a.reload.triggered.connect(w.reload)
    a.trust_file.toggled.connect(w._trust_toggled)
    a.quit.triggered.connect(w.close)
    w.exports.connect(a)
    a.step_forward.triggered.connect(s(w.player.forward))
    a.step_back.triggered.connect(s(w.player.back))
    a.step_by_node.toggled.connect(w._step_by_node_toggled)
    a.first_step.triggered.connect(s(Session.first))
    a.last_step.triggered.connect(s(Session.last))
    a.next_pass.triggered.connect(s(Session.next_pass))
    a.previous_pass.triggered.connect(s(Session.previous_pass))
    a.play.triggered.connect(w.player.toggle)
    a.run_to_breakpoint.triggered.connect(w.player.run_to_breakpoint)
    a.toggle_breakpoint.triggered.connect(w._toggle_breakpoint)
    a.zoom_in.triggered.connect(lambda: w.graph.fitter.zoom(1.25))
    a.zoom_out.triggered.connect(lambda: w.graph.fitter.zoom(0.8))
    a.fit.triggered.connect(lambda: w.graph.fitter.fit_graph())
    a.follow.toggled.connect(lambda on: setattr(w.graph, "follow", on))
    a.direction_lr.toggled.connect(w._direction_toggled)
    a.minimap.toggled.connect(w._minimap_toggled)
    a.node_values.toggled.connect(w.graph.set_show_values)
    a.find.triggered.connect(w.search.focus)
    a.find_next.triggered.connect(lambda: w.search.next(1))
    a.find_previous.triggered.connect(lambda: w.search.next(-1))
    a.collapse_all.triggered.connect(w.graph.boxes.collapse_all)
    a.expand_all.triggered.connect(w.graph.boxes.expand_all)
    a.presentation_mode.toggled.connect(w.presentation.set_active)
    a.escape.triggered.connect(w._escape)
    a.reset_layout.triggered.connect(w.reset_layout)
    a.presentation_plot.toggled.connect(w._presentation_plot_toggled)
    a.themes.triggered.connect(
        lambda act: w.apply_theme(act.objectName().removeprefix("action_theme_"))
    )
    for act in a.themes.actions():
        act.setChecked(act.objectName().endswith(w.theme_mode))
    w.player.playing_changed.connect(a.play.setChecked)
    w.player.playing_changed.connect(lambda on: a.play.setIconText("Pause" if on else "Play"))
    w.timeline.speed_changed.connect(w.player.set_speed)
    w.loader.finished.connect(w.shown.loaded)
    w.loader.failed.connect(w.shown.failed)
    w.loader.file_changed.connect(lambda _p: w.reload())
    w.message.trust_requested.connect(lambda: a.trust_file.setChecked(True))
    w.graph.node_activated.connect(w._go_to_node)
    w.graph.breakpoint_requested.connect(w.breakpoints.toggle)
    w.graph.module_clicked.connect(w._module_clicked)
    w.graph.drawn.connect(w._graph_drawn)
    w.search.found.connect(w._found)
    w.search.left.connect(w.graph.setFocus)
    w.selection.changed.connect(w._selected)
    w.code.line_clicked.connect(w._go_to_line)
    w.whatif.changed.connect(w.code.set_changes)  # the file's text, what-if values marked
    w.docks["plots"].visibilityChanged.connect(lambda on: on and w._update_plots())
    w._plots_due.timeout.connect(w._update_plots)
    QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _s: w.apply_theme())
