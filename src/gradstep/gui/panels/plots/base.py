"""What every plot shares: a pyqtgraph layout in the window's colours, number format."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from gradstep.gui.theme import LIGHT, Theme
from gradstep.trace.text import format_number

MAX_PANELS = 4
MAX_BARS = 64  # longer vectors are drawn as a line


def fmt(x: float) -> str:
    return format_number(float(x))


class ThemedLayout(pg.GraphicsLayoutWidget):  # type: ignore[misc]  # pyqtgraph has no types
    """A pyqtgraph layout in the window's colours."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme or LIGHT
        self.setBackground(self.theme.background)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)

    def _plot(self, title: str, row: int = 0, col: int = 0) -> pg.PlotItem:
        item = self.addPlot(row=row, col=col)
        item.setTitle(title, color=self.theme.text, size=self.pt(10))
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(tickFont=self.theme.ui_font(0.9))
            axis.setPen(pg.mkPen(self.theme.muted_text))
            axis.setTextPen(pg.mkPen(self.theme.text))
            axis.enableAutoSIPrefix(False)  # "×0.001" on an axis confuses a lecture
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        return item

    def pt(self, size: float) -> str:
        """A font size in points, larger in presentation mode."""
        return f"{size * self.theme.font_scale:g}pt"

    def _legend(self, row: int, col: int) -> pg.LegendItem:
        """A legend in its own cell beside a plot: never over the data."""
        legend = pg.LegendItem(labelTextColor=self.theme.text)
        legend.setBrush(pg.mkBrush(None))
        legend.setPen(pg.mkPen(None))
        self.addItem(legend, row=row, col=col)
        return legend

    def _message(self, text: str) -> None:
        label = self.addLabel(text, color=self.theme.muted_text, size=self.pt(11))
        label.item.setTextWidth(360)
