"""Plots across the graph and across passes: gradient flow per parameter, a value per pass."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from gradstep.gui.panels.plots.base import ThemedLayout
from gradstep.gui.theme import Theme
from gradstep.plotting import gradient_flow, pass_series
from gradstep.plotting.flow import GradientFlow, PassSeries
from gradstep.trace.model import Trace


class GradientFlowPlot(ThemedLayout):
    """Mean and max |grad| per parameter in one pass, log scale: vanishing or exploding."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.setObjectName("gradient_flow_plot")
        self.trace: Trace | None = None
        self.flow: GradientFlow | None = None
        self.clear_plot()

    def clear_plot(self, text: str = "No backward pass yet") -> None:
        self.clear()
        self.flow = None
        self._message(text)

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        self._asked: tuple[int, int | None] | None = None
        self.set_pass(None)

    def set_pass(self, pass_index: int | None) -> None:
        """Show pass ``pass_index`` (None: the last one)."""
        if self.trace is None:
            return
        asked = (id(self.trace), pass_index)
        if asked == getattr(self, "_asked", None):
            return  # every step asks: reading a pass's gradients is not free on big graphs
        self._asked = asked
        flow = gradient_flow(self.trace, pass_index)
        if flow is None or not flow.params:
            self.clear_plot("No parameter received a gradient")
            return
        if self.flow is not None and flow.pass_index == self.flow.pass_index:
            return
        self.clear()
        self.flow = flow
        t = self.theme
        title = f"pass {flow.pass_index + 1}: mean and max |grad| per parameter"
        item = self._plot(title + (f" — {flow.verdict}" if flow.verdict else ""))
        mean = np.array([p.mean_abs for p in flow.params], dtype=float)
        top = np.array([p.max_abs for p in flow.params], dtype=float)
        finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (mean, top)])
        floor = math.floor(math.log10(finite.min())) - 1 if finite.size else -8
        logm, logx = (
            np.where(np.isfinite(v) & (v > 0), np.log10(np.maximum(v, 1e-300)), floor)
            for v in (mean, top)
        )
        x = np.arange(len(flow.params))
        self.max_bars = pg.BarGraphItem(
            x=x,
            y0=floor,
            height=logx - floor,
            width=0.8,
            brush=QColor(t.received_fill),
            pen=pg.mkPen(t.received),
            name="max |grad|",
        )
        self.mean_bars = pg.BarGraphItem(
            x=x,
            y0=floor,
            height=logm - floor,
            width=0.5,
            brush=QColor(t.done),
            pen=pg.mkPen(t.done),
            name="mean |grad|",
        )
        item.addItem(self.max_bars)
        item.addItem(self.mean_bars)
        legend = self._legend(row=0, col=1)
        legend.addItem(self.max_bars, "max |grad|")
        legend.addItem(self.mean_bars, "mean |grad|")
        bad = [i for i, p in enumerate(flow.params) if p.nonfinite]
        if bad:
            item.plot(
                x[bad],
                np.full(len(bad), floor + 0.5),
                pen=None,
                symbol="x",
                symbolSize=16,
                symbolPen=pg.mkPen("#d00000", width=3),
            )
        item.getAxis("left").setLogMode(True)
        item.setLabel("left", "|grad|", color=t.muted_text)
        item.getAxis("bottom").setTicks([[(i, _short(n)) for i, n in enumerate(flow.names)]])
        item.setYRange(floor, max(float(logx.max()), floor + 1) + 0.3, padding=0)


def _short(name: str, n: int = 18) -> str:
    return name if len(name) <= n else "…" + name[-(n - 1) :]


class PassSeriesPlot(ThemedLayout):
    """The loss and each leaf's ``.grad`` across backward passes (a training loop, accumulation)."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.setObjectName("pass_series_plot")
        self.series: PassSeries | None = None
        self._markers: list[pg.InfiniteLine] = []
        self.clear_plot()

    def clear_plot(self, text: str = "Several backward passes show here") -> None:
        self.clear()
        self.series, self._markers = None, []
        self._message(text)

    def set_trace(self, trace: Trace) -> None:
        series = pass_series(trace)
        if len(series.passes) < 2:
            self.clear_plot(
                "One backward pass: nothing to compare across passes"
                if series.passes
                else "No backward pass yet"
            )
            return
        if self._same_shape(series):  # a what-if run: new numbers, the same plots
            self._update(series)
            return
        self.clear()
        self.series, self._markers = series, []
        self.loss_item: pg.PlotDataItem | None = None
        self.grad_items: dict[str, pg.PlotDataItem] = {}
        t = self.theme
        x = np.arange(1, len(series.passes) + 1)
        ticks = [[(int(i), str(int(i))) for i in x]] if len(x) <= 20 else None
        row = 0
        if series.has_loss:
            loss = self._plot(f"{series.loss_name or 'loss'} per pass", row=row)
            self.loss_item = loss.plot(
                x,
                series.loss,
                pen=pg.mkPen(t.current, width=2),
                symbol="o",
                symbolBrush=t.current,
                symbolSize=7,
            )
            self._markers.append(self._marker(loss))
            if ticks:
                loss.getAxis("bottom").setTicks(ticks)
            row += 1
        grads = self._plot("leaf .grad after each pass (scalar value, or norm)", row=row)
        grads.setLabel("bottom", "backward pass", color=t.muted_text)
        legend = self._legend(row=row, col=1)
        for i, (name, values) in enumerate(series.grad.items()):
            colour = pg.intColor(i, hues=max(len(series.grad), 6), values=1, maxValue=200)
            how = "" if series.reduction.get(name) == "value" else " (norm)"
            line = grads.plot(
                x,
                values,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolBrush=colour,
                symbolSize=6,
                connect="finite",
            )
            legend.addItem(line, _short(name, 28) + how)
            self.grad_items[name] = line
        self._markers.append(self._marker(grads))
        if ticks:
            grads.getAxis("bottom").setTicks(ticks)

    def _same_shape(self, series: PassSeries) -> bool:
        """The plots on screen can take ``series`` as new data (building them costs ~0.1 s)."""
        old = self.series
        return (
            old is not None
            and old.passes == series.passes
            and old.loss_name == series.loss_name
            and old.has_loss == series.has_loss
            and old.reduction == series.reduction
            and list(old.grad) == list(series.grad)
        )

    def _update(self, series: PassSeries) -> None:
        x = np.arange(1, len(series.passes) + 1)
        self.series = series
        if self.loss_item is not None:
            self.loss_item.setData(x, series.loss)
        for name, values in series.grad.items():
            self.grad_items[name].setData(x, values)

    def _marker(self, item: pg.PlotItem) -> pg.InfiniteLine:
        line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(self.theme.current, style=Qt.PenStyle.DashLine)
        )
        line.setVisible(False)
        item.addItem(line, ignoreBounds=True)
        return line

    def set_pass(self, pass_index: int | None) -> None:
        """Mark the pass the cursor is in (None hides the mark)."""
        for line in self._markers:
            line.setVisible(pass_index is not None)
            if pass_index is not None:
                line.setPos(pass_index + 1)
