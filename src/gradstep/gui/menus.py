"""The menu bar and the toolbar; Open Recent and the bundled scenarios."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from gradstep.gui.actions import Actions
from gradstep.resources import bundled_scenarios

RECENT_KEY = "files/recent"
TRUSTED_KEY = "files/trusted"  # files the user chose to run unrestricted
MAX_RECENT = 10


def recent_files(settings: QSettings) -> list[str]:
    return _paths(settings, RECENT_KEY)


def remember_recent(settings: QSettings, path: str) -> None:
    items = [p for p in recent_files(settings) if p != path]
    settings.setValue(RECENT_KEY, [path, *items][:MAX_RECENT])


def _paths(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [p for p in items if p]


def is_trusted(settings: QSettings, path: str) -> bool:
    return path in _paths(settings, TRUSTED_KEY)


def set_trusted(settings: QSettings, path: str, on: bool) -> None:
    others = [p for p in _paths(settings, TRUSTED_KEY) if p != path]
    settings.setValue(TRUSTED_KEY, [*others, path] if on else others)


def build_menus(
    window: QMainWindow, a: Actions, settings: QSettings, open_path: Callable[[str], None]
) -> QToolBar:
    """Fill the menu bar; return the stepping toolbar."""
    bar = window.menuBar()
    file = bar.addMenu("&File")
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
    file.addAction(a.reload)
    file.addAction(a.trust_file)
    file.addSeparator()
    for action in (a.export_graph, a.copy_graph, a.export_screenshot, a.export_handout):
        file.addAction(action)
    file.addSeparator()
    file.addAction(a.quit)

    step = bar.addMenu("&Step")
    for action in (
        a.step_back,
        a.step_forward,
        a.first_step,
        a.last_step,
        None,
        a.previous_pass,
        a.next_pass,
        None,
        a.play,
        a.run_to_breakpoint,
        a.toggle_breakpoint,
    ):
        step.addSeparator() if action is None else step.addAction(action)

    view = bar.addMenu("&View")
    for action in (
        a.zoom_in,
        a.zoom_out,
        a.fit,
        a.follow,
        a.direction_lr,
        a.minimap,
        None,
        a.find,
        a.find_next,
        a.find_previous,
        None,
        a.collapse_all,
        a.expand_all,
        None,
        a.presentation_mode,
    ):
        view.addSeparator() if action is None else view.addAction(action)
    theme = view.addMenu("&Theme")
    theme.addActions(a.themes.actions())
    panels = view.addMenu("P&anels")
    panels.setObjectName("menu_panels")

    toolbar = QToolBar("Stepping", window)
    toolbar.setObjectName("toolbar_stepping")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for action in (
        a.open,
        a.reload,
        None,
        a.fit,
        a.follow,
        a.direction_lr,
        None,
        a.presentation_mode,
    ):
        toolbar.addSeparator() if action is None else toolbar.addAction(action)
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
