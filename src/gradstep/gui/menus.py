"""The menu bar and the toolbar: which actions go where (tables), Open Recent and the
bundled scenarios."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from gradstep.gui.actions import Actions
from gradstep.gui.settings import recent_files
from gradstep.resources import bundled_scenarios


def build_menus(
    window: QMainWindow, a: Actions, settings: QSettings, open_path: Callable[[str], None]
) -> QToolBar:
    """Fill the menu bar; return the stepping toolbar."""
    bar = window.menuBar()
    _file_menu(bar.addMenu("&File"), a, settings, open_path)
    _add(bar.addMenu("&Step"), _step_entries(a))
    _view_menu(bar.addMenu("&View"), a)
    return _toolbar(window, a)


Entries = tuple[QAction | None, ...]  # None: a separator


def _step_entries(a: Actions) -> Entries:
    return (
        a.step_back,
        a.step_forward,
        a.step_by_node,
        a.first_step,
        a.last_step,
        None,
        a.previous_pass,
        a.next_pass,
        None,
        a.play,
        a.run_to_breakpoint,
        a.toggle_breakpoint,
    )


def _view_entries(a: Actions) -> Entries:
    return (
        a.zoom_in,
        a.zoom_out,
        a.fit,
        a.follow,
        a.direction_lr,
        a.minimap,
        a.node_values,
        None,
        a.find,
        a.find_next,
        a.find_previous,
        None,
        a.collapse_all,
        a.expand_all,
        None,
        a.presentation_mode,
        a.presentation_plot,
        a.reset_layout,
        None,
        a.quiz_mode,
        a.quiz_reveal,
    )


def _toolbar_entries(a: Actions) -> Entries:
    return (a.open, a.reload, None, a.fit, a.follow, a.direction_lr, None, a.presentation_mode)


def _add(menu: QMenu | QToolBar, entries: Entries) -> None:
    for action in entries:
        menu.addSeparator() if action is None else menu.addAction(action)


def _file_menu(
    file: QMenu, a: Actions, settings: QSettings, open_path: Callable[[str], None]
) -> None:
    file.addAction(a.open)
    recent = file.addMenu("Open &Recent")
    recent.setObjectName("menu_recent")
    recent.aboutToShow.connect(lambda: _fill_recent(recent, settings, open_path))
    _fill_recent(recent, settings, open_path)
    scenarios = file.addMenu("&Bundled Scenarios")
    scenarios.setObjectName("menu_scenarios")
    for path in bundled_scenarios():
        scenarios.addAction(_pretty(path), lambda p=str(path): open_path(p))
    scenarios.setEnabled(bool(scenarios.actions()))
    exports = (a.export_graph, a.copy_graph, a.export_screenshot, a.export_handout)
    pages = (a.export_page, a.export_animation)  # the lesson for a browser, a pass for a slide
    _add(file, (a.reload, a.trust_file, None, *exports, *pages, None, a.quit))


def _view_menu(view: QMenu, a: Actions) -> None:
    _add(view, _view_entries(a))
    theme = view.addMenu("&Theme")
    theme.addActions(a.themes.actions())
    panels = view.addMenu("P&anels")
    panels.setObjectName("menu_panels")


def _toolbar(window: QMainWindow, a: Actions) -> QToolBar:
    toolbar = QToolBar("Stepping", window)
    toolbar.setObjectName("toolbar_stepping")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    _add(toolbar, _toolbar_entries(a))
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    return toolbar


def _fill_recent(menu: QMenu, settings: QSettings, open_path: Callable[[str], None]) -> None:
    menu.clear()
    for path in recent_files(settings):
        menu.addAction(path, lambda p=path: open_path(p))
    menu.setEnabled(bool(menu.actions()))


def _pretty(path: Path) -> str:
    """``03_chain_rule.py`` -> ``03 chain rule``."""
    return path.stem.replace("_", " ")
