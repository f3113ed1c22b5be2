"""File ▸ Export: the graph as a figure, the window as a screenshot, the clipboard, a handout,
an interactive page, an animated pass.

Figures (graph exports, the clipboard, handouts) always use the light theme,
whatever the screen shows: they go on slides and printed notes, where a dark
background wastes ink and clashes with the page. They draw the view on
screen — its boxes, its layout, the step — without the selection ring or
breakpoints. A screenshot of the window is what is on screen, dark or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

from gradstep.gui.graph.view import GraphView
from gradstep.gui.stepping import Breakpoints
from gradstep.gui.theme import LIGHT
from gradstep.session import Session

FOLDER_KEY = "files/export_folder"


def figure_view(view: GraphView) -> GraphView:
    """A light-theme copy of ``view`` at the same step, with the same boxes, never shown."""
    copy = GraphView(LIGHT, Breakpoints(), background_layout=False)
    copy.follow = False
    if view.session is None or view.drawing is None:
        return copy
    session = Session(view.session.trace)
    session.go_to(view.session.index)
    copy.session = session
    copy.direction = view.direction
    copy.marks = dict(view.marks)
    copy.boxes.draw_as(view.drawing)
    return copy


class ExportCommands:
    """The export actions of ``window`` (a ``MainWindow``): dialogs, a remembered folder."""

    def __init__(self, window: QMainWindow, settings: QSettings) -> None:
        self.window: Any = window
        self.settings = settings

    def connect(self, actions: Any) -> None:
        actions.export_graph.triggered.connect(self.export_graph)
        actions.export_screenshot.triggered.connect(self.export_screenshot)
        actions.copy_graph.triggered.connect(self.copy_graph)
        actions.export_handout.triggered.connect(self.export_handout)
        actions.export_page.triggered.connect(self.export_page)
        actions.export_animation.triggered.connect(self.export_animation)

    def folder(self) -> str:
        saved = str(self.settings.value(FOLDER_KEY, "") or "")
        if saved and Path(saved).is_dir():
            return saved
        path = self.window.path
        return str(Path(path).parent) if path else str(Path.home())

    def _done(self, path: Path | None, what: str) -> Path | None:
        if path is not None:
            self.settings.setValue(FOLDER_KEY, str(path.parent))
            self.window.status.setText(f"{what} saved: {path}")
        return path

    # The exporters load on first use: QtSvg, the PDF writer and the handout are not
    # needed to show the window.
    def export_graph(self) -> Path | None:
        from gradstep.gui.export.dialogs import save_graph_dialog

        if self.window.session is None:
            return None
        view = figure_view(self.window.graph)
        return self._done(save_graph_dialog(self.window, view, directory=self.folder()), "Graph")

    def export_screenshot(self) -> Path | None:
        from gradstep.gui.export.dialogs import save_screenshot_dialog

        path = save_screenshot_dialog(self.window, self.window, directory=self.folder())
        return self._done(path, "Screenshot")

    def copy_graph(self) -> None:
        from gradstep.gui.export.formats import copy_graph_to_clipboard

        if self.window.session is None:
            return
        copy_graph_to_clipboard(figure_view(self.window.graph), caption=True)
        self.window.status.setText("Graph copied to the clipboard (image and SVG)")

    def export_handout(self) -> Path | None:
        from gradstep.gui.export.dialogs import save_handout_dialog

        if self.window.session is None:
            return None
        path = save_handout_dialog(self.window, self.window.session.trace, directory=self.folder())
        if path is not None:
            self.settings.setValue(FOLDER_KEY, str(path.parent))
            self.window.status.setText(f"Handout written: {path}")
        return path

    def export_page(self) -> Path | None:
        from gradstep.gui.export.lesson_exports import save_page_dialog

        session = self.window.session
        if session is None:
            return None
        path = save_page_dialog(self.window, session.trace, session.index, directory=self.folder())
        return self._done(path, "Interactive page")

    def export_animation(self) -> Path | None:
        from gradstep.gui.export.lesson_exports import save_animation_dialog

        session = self.window.session
        if session is None:
            return None
        current = session.state().step.pass_index
        pass_number = 1 if current is None else current + 1
        path = save_animation_dialog(
            self.window, session.trace, pass_number, directory=self.folder()
        )
        return self._done(path, "Animation")
