"""Presentation mode: full screen, large and high-contrast, graph and inspector only."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar, QWidget


class Presentation:
    """Remembers the window as it was, shows only the lecture panels, and puts it back."""

    def __init__(
        self,
        window: QMainWindow,
        keep: list[QDockWidget],
        retheme: Callable[[bool], None],
        by_node: QAction | None = None,
    ) -> None:
        self.window = window
        self.by_node = by_node  # stepping by node: on while presenting, as it was after
        self._by_node_before = False
        self.keep = keep
        self.retheme = retheme
        self.active = False
        self._state = QByteArray()
        self._was_maximized = False

    def _fill_screen(self) -> None:
        w = self.window
        screen = w.screen().geometry()
        if self.active and w.geometry() != screen:
            w.setGeometry(screen)

    def set_active(self, on: bool) -> None:
        if on == self.active:
            return
        self.active = on
        w = self.window
        if on:
            self._state = w.saveState()
            self._was_maximized = w.isMaximized()
            if self.by_node is not None:
                self._by_node_before = self.by_node.isChecked()
                self.by_node.setChecked(True)
            for dock in w.findChildren(QDockWidget):
                dock.setVisible(dock in self.keep)
                if dock in self.keep:
                    dock.setFloating(False)
                    dock.setTitleBarWidget(QWidget(dock))  # no title bars in front of a class
            for bar in (w.menuBar(), w.statusBar()):
                bar.setVisible(False)
            for toolbar in w.findChildren(QToolBar):
                if toolbar.objectName() != "toolbar_messages":  # shown only with a message
                    toolbar.setVisible(False)
            w.showFullScreen()
            # without a window manager (a bare X server, a kiosk) the request is not honoured
            # (the window as the timer's context: a window closed before it fires cancels it)
            QTimer.singleShot(100, w, self._fill_screen)
        else:
            for dock in self.keep:
                old = dock.titleBarWidget()
                dock.setTitleBarWidget(None)  # type: ignore[arg-type]  # the standard title bar again
                if old is not None:
                    old.deleteLater()
            w.menuBar().setVisible(True)
            w.statusBar().setVisible(True)
            w.restoreState(self._state)
            w.showMaximized() if self._was_maximized else w.showNormal()
            if self.by_node is not None:
                self.by_node.setChecked(self._by_node_before)
        self.retheme(on)
