"""Presentation mode: full screen, large and high-contrast — the graph and the inspector,
the plot as an optional third pane, and a slim strip that says where the lecture is."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QToolBar,
    QWidget,
)

SETTLE_MS = 150  # the window has its full-screen size by then: panels re-render, graph refits
#: the inspector's share of the width while presenting: a 4×3 matrix of gradients, in the
#: large font, fits beside the graph at 1280×720
INSPECTOR_SHARE = 0.46


class Strip(QToolBar):
    """One line over the panels: "Step 14 of 38 · line 44  loss.backward()", elided to fit."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("Presentation", window)
        self.setObjectName("toolbar_presentation")
        self.setMovable(False)
        self.setFloatable(False)
        self.label = QLabel()
        self.label.setObjectName("presentation_strip")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setContentsMargins(8, 2, 8, 2)
        self.addWidget(self.label)
        self.text = ""  # the whole line, before eliding

    def say(self, text: str) -> None:
        self.text = text
        self._fit()

    def set_font(self, font: QFont) -> None:
        self.label.setFont(font)
        self._fit()

    def _fit(self) -> None:
        width = max(200, self.width() - 24)
        metrics = QFontMetrics(self.label.font())
        self.label.setText(metrics.elidedText(self.text, Qt.TextElideMode.ElideRight, width))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()


class Presentation:
    """Remembers the window as it was, shows only the lecture panels, and puts it back.

    ``keep``: the docks shown while presenting (graph, inspector); ``plot``: the plots dock,
    shown under the inspector while ``plot_action`` is checked; ``by_node``: stepping by
    node, on while presenting; ``settle``: called once the window has its new size (the
    panels render for it, the graph refits).
    """

    def __init__(
        self,
        window: QMainWindow,
        keep: list[QDockWidget],
        retheme: Callable[[bool], None],
        by_node: QAction | None = None,
        *,
        plot: QDockWidget | None = None,
        plot_action: QAction | None = None,
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.window = window
        self.keep = keep
        self.retheme = retheme
        self.by_node = by_node  # stepping by node: on while presenting, as it was after
        self.plot, self.plot_action = plot, plot_action
        self.settle = settle
        self.active = False
        self._state = QByteArray()
        self._was_maximized = False
        self._by_node_before = False
        self.strip = Strip(window)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.strip)
        self.strip.setVisible(False)
        if plot_action is not None:
            plot_action.toggled.connect(self._plot_toggled)

    def say(self, text: str) -> None:
        """What the strip shows: the step and the code line being run."""
        self.strip.say(text)

    def _fill_screen(self) -> None:
        w = self.window
        screen = w.screen().geometry()
        if self.active and w.geometry() != screen:
            w.setGeometry(screen)
        self._settle()

    def _settle(self) -> None:
        if self.active and len(self.keep) >= 2:
            width = self.window.width()
            side = int(width * INSPECTOR_SHARE)
            self.window.resizeDocks(self.keep[:2], [width - side, side], Qt.Orientation.Horizontal)
        if self.settle is not None:
            self.settle()

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
            shown = self._shown_docks()
            for dock in w.findChildren(QDockWidget):
                dock.setVisible(dock in shown)
                if dock in shown:
                    dock.setFloating(False)
                    dock.setTitleBarWidget(QWidget(dock))  # no title bars in front of a class
            self._place_plot()
            for bar in (w.menuBar(), w.statusBar()):
                bar.setVisible(False)
            for toolbar in w.findChildren(QToolBar):
                if toolbar.objectName() != "toolbar_messages":  # shown only with a message
                    toolbar.setVisible(toolbar is self.strip)
            w.showFullScreen()
            # without a window manager (a bare X server, a kiosk) the request is not honoured
            # (the window as the timer's context: a window closed before it fires cancels it)
            QTimer.singleShot(SETTLE_MS, w, self._fill_screen)
        else:
            for dock in w.findChildren(QDockWidget):
                old = dock.titleBarWidget()
                if old is not None:
                    dock.setTitleBarWidget(None)  # type: ignore[arg-type]  # the standard one
                    old.deleteLater()
            self.strip.setVisible(False)
            w.menuBar().setVisible(True)
            w.statusBar().setVisible(True)
            w.restoreState(self._state)
            w.showMaximized() if self._was_maximized else w.showNormal()
            if self.by_node is not None:
                self.by_node.setChecked(self._by_node_before)
            QTimer.singleShot(SETTLE_MS, w, self._settle)
        self.retheme(on)
        font = QFont(QApplication.font())  # the theme's, just set: large while presenting
        font.setBold(True)
        self.strip.set_font(font)

    def _shown_docks(self) -> list[QDockWidget]:
        if self.plot is not None and self.plot_action is not None and self.plot_action.isChecked():
            return [*self.keep, self.plot]
        return list(self.keep)

    def _place_plot(self) -> None:
        """The plot under the inspector, its own pane (not a tab behind it)."""
        if self.plot is None or not self.plot.isVisible() or len(self.keep) < 2:
            return
        inspector = self.keep[-1]
        self.window.splitDockWidget(inspector, self.plot, Qt.Orientation.Vertical)
        height = max(self.window.height(), 400)
        self.window.resizeDocks(
            [inspector, self.plot],
            [int(height * 0.55), int(height * 0.45)],
            Qt.Orientation.Vertical,
        )

    def _plot_toggled(self, on: bool) -> None:
        if not self.active or self.plot is None:
            return
        self.plot.setVisible(on)
        if on:
            self.plot.setFloating(False)
            if self.plot.titleBarWidget() is None:
                self.plot.setTitleBarWidget(QWidget(self.plot))
            self._place_plot()
        QTimer.singleShot(SETTLE_MS, self.window, self._settle)
