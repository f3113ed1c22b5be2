"""Plots across the graph and across passes: gradient flow per parameter, a value per pass."""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from gradstep.gui.panels.plots.base import ThemedLayout
from gradstep.gui.theme import Theme
from gradstep.plotting import gradient_flow, pass_series
from gradstep.plotting.flow import GradientFlow, PassSeries, RoundLoss
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
        self._round_marker: pg.InfiniteLine | None = None
        self.round_items: tuple[pg.PlotDataItem, pg.PlotDataItem] | None = None
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
        self._round_marker, self.round_items = None, None
        self.loss_item: pg.PlotDataItem | None = None
        self.grad_items: dict[str, pg.PlotDataItem] = {}
        t = self.theme
        x = np.arange(1, len(series.passes) + 1)
        ticks = [[(int(i), str(int(i))) for i in x]] if len(x) <= 20 else None
        row = 0
        if series.over_rounds is not None:  # a long loop: the loss of every round
            self._plot_rounds(series.over_rounds, row)
            row += 1
        elif series.has_loss:
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

    def _plot_rounds(self, rounds: RoundLoss, row: int) -> None:
        """The loss of each round as a line, the rounds recorded in full as dots on it (their
        steps and passes can be stepped through), the loop's own words under it."""
        t = self.theme
        title = f"{rounds.name} per round of <code>{escape(rounds.text)}</code>"
        item = self._plot(title, row=row)
        x, y, full = _round_arrays(rounds)
        line = item.plot(x, y, pen=pg.mkPen(t.muted_text, width=1.5), connect="finite")
        dots = item.plot(
            x[full],
            y[full],
            pen=None,
            symbol="o",
            symbolBrush=t.current,
            symbolPen=pg.mkPen(t.background),
            symbolSize=7,
        )
        finite = y[np.isfinite(y)]
        if finite.size and finite.min() > 0 and finite.max() > 100 * finite.min():
            item.setLogMode(y=True)  # a training loss falls by decades
        item.setLabel("bottom", f"round — {rounds.detail}", color=t.muted_text)
        legend = self._legend(row=row, col=1)
        legend.addItem(line, "every round (summarised)")
        legend.addItem(dots, "recorded in full")
        self.round_items = (line, dots)
        self._round_marker = self._marker(item)

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
            and _round_shape(old.over_rounds) == _round_shape(series.over_rounds)
        )

    def _update(self, series: PassSeries) -> None:
        x = np.arange(1, len(series.passes) + 1)
        self.series = series
        if self.loss_item is not None:
            self.loss_item.setData(x, series.loss)
        if self.round_items is not None and series.over_rounds is not None:
            rx, ry, full = _round_arrays(series.over_rounds)
            self.round_items[0].setData(rx, ry)
            self.round_items[1].setData(rx[full], ry[full])
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
        """Mark the pass the cursor is in (None hides the mark); on the loss of every
        round, the round that pass belongs to."""
        for line in self._markers:
            line.setVisible(pass_index is not None)
            if pass_index is not None:
                line.setPos(pass_index + 1)
        rounds = self.series.over_rounds if self.series is not None else None
        if self._round_marker is not None and rounds is not None:
            at = rounds.pass_round.get(pass_index) if pass_index is not None else None
            self._round_marker.setVisible(at is not None)
            if at is not None:
                self._round_marker.setPos(at)


def _round_arrays(rounds: RoundLoss) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.asarray(rounds.rounds, dtype=float),
        np.asarray(rounds.loss, dtype=float),
        np.asarray(rounds.detailed, dtype=bool),
    )


def _round_shape(rounds: RoundLoss | None) -> tuple[object, ...] | None:
    if rounds is None:
        return None
    return (rounds.line, rounds.name, rounds.rounds, rounds.detailed)
