"""The figures panel: what the scenario drew with matplotlib, as of the current step.

The worker captures each figure at the step that showed it (``plt.show()``, or the
end of a cell, see :mod:`gradstep.record.figures`); stepping through the lesson,
this panel shows the figures of the latest step at or before the cursor that drew
any, with which step and line drew them, so a loss curve appears where the
notebook showed it and stays in view while the next cells run.
"""

from __future__ import annotations

import bisect

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.theme import Theme
from gradstep.session import Session
from gradstep.trace.model import StepFigure
from gradstep.trace.text import figure_note, step_number


class FiguresPanel(QScrollArea, FollowsSession):
    """The figures of the latest step at or before the cursor that drew any."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("figures")
        self.setWidgetResizable(True)
        self.session: Session | None = None
        self._drawn_at: list[int] = []  # indices of the steps that drew figures
        self._shown: int | None = None  # the step whose figures are on screen
        self._body = QWidget()
        self._layout = QVBoxLayout(self._body)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(self._body)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.ui_font())

    def _on_trace(self) -> None:
        assert self.session is not None
        steps = self.session.trace.steps
        self._drawn_at = [s.index for s in steps if s.figures]
        self._shown = None
        self.show_step(self.session.index)

    def show_step(self, k: int) -> None:
        if self.session is None:
            return
        at = bisect.bisect_right(self._drawn_at, k)
        drawn = self._drawn_at[at - 1] if at else None
        if drawn == self._shown and self._layout.count():
            return
        self._shown = drawn
        self._clear()
        if drawn is None:
            text = (
                "No figure yet: figures the scenario draws with matplotlib appear here at "
                "the step that shows them (plt.show(), or the end of a cell)."
                if self._drawn_at
                else "This scenario draws no figures."
            )
            self._add_label(text)
            return
        step = self.session.trace.steps[drawn]
        where = f"step {step_number(drawn)}" + (f", line {step.line}" if step.line else "")
        for figure in step.figures:
            self._add_figure(figure, where)

    @property
    def shown_step(self) -> int | None:
        """The step whose figures are on screen (None: none yet)."""
        return self._shown

    def _add_figure(self, figure: StepFigure, where: str) -> None:
        title = f"Figure {figure.number}" + (f" — {figure.title}" if figure.title else "")
        self._add_label(f"<b>{_escape(title)}</b> <small>(drawn at {where})</small>")
        image = QLabel()
        image.setObjectName("figure_image")
        pixmap = QPixmap()
        if figure.png and pixmap.loadFromData(figure.png_bytes()):
            image.setPixmap(pixmap)
            image.setToolTip(figure_note(figure))
        else:
            image.setText(figure.omitted or "the figure could not be read")
            image.setWordWrap(True)
        self._layout.addWidget(image)

    def _add_label(self, text: str) -> None:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText if "<b>" in text else Qt.TextFormat.PlainText)
        self._layout.addWidget(label)

    def _clear(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
