"""Plots of the current node, of gradients across parameters and across passes (pyqtgraph).

The numbers come from ``gradstep.plotting`` (no Qt); these widgets only draw
them. ``PlotsPanel`` is the ready-made dock content: ``set_trace(trace)`` once
per trace, ``show_step(state)`` (a ``StepState``) or ``show_record(trace,
record)`` as the cursor or the selection moves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QTabWidget, QWidget

from gradstep.graph.model import short_op
from gradstep.gui.theme import LIGHT, Theme
from gradstep.plotting import gradient_flow, pass_series, tangent_plot, to_array
from gradstep.plotting.functions import TangentPlot
from gradstep.plotting.values import Array
from gradstep.session import StepState
from gradstep.trace.model import NodeRecord, Trace, VariableState
from gradstep.trace.text import format_number

__all__ = ["GradientFlowPlot", "NodePlot", "PassSeriesPlot", "PlotsPanel", "tensor_panels"]

MAX_PANELS = 4
MAX_BARS = 64  # longer vectors are drawn as a line


def _fmt(x: float) -> str:
    return format_number(float(x))


class _ThemedLayout(pg.GraphicsLayoutWidget):
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
        item.setTitle(title, color=self.theme.text, size="10pt")
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(self.theme.muted_text))
            axis.setTextPen(pg.mkPen(self.theme.text))
            axis.enableAutoSIPrefix(False)  # "×0.001" on an axis confuses a lecture
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        return item

    def _message(self, text: str) -> None:
        label = self.addLabel(text, color=self.theme.muted_text, size="11pt")
        label.item.setTextWidth(360)


class NodePlot(_ThemedLayout):
    """The plot for one node: the tangent picture for a scalar op, else values and gradients."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.setObjectName("node_plot")
        # what is drawn, for tests and exports
        self.tangent: TangentPlot | None = None
        self.tangent_items: list[pg.PlotDataItem] = []
        self.point_item: pg.PlotDataItem | None = None
        self.annotation = ""
        self.panels: list[tuple[str, Array]] = []
        self.items: list[pg.PlotItem] = []
        self.clear_plot()

    def clear_plot(self, text: str = "Select a node or step into the backward pass") -> None:
        self._reset()
        self._message(text)

    def _reset(self) -> None:
        self.clear()
        self.tangent, self.tangent_items, self.point_item = None, [], None
        self.annotation, self.panels, self.items = "", [], []

    def show_record(
        self,
        trace: Trace,
        record: NodeRecord | None,
        variables: dict[str, VariableState] | None = None,
    ) -> None:
        """Draw what ``record`` did: the function and its tangent, or its tensors."""
        if record is None:
            self.clear_plot()
            return
        self._reset()
        plot = tangent_plot(trace, record)
        if plot is not None:
            self._draw_tangent(plot, record)
            return
        panels = tensor_panels(trace, record, variables)
        if not panels:
            self._message(f"{record.op}: no values to plot")
            return
        self._draw_panels(panels)

    def show_variable(self, name: str, state: VariableState) -> None:
        """A tensor's value and gradient side by side."""
        self._reset()
        panels = [(f"{name}", state.value), (f"{name}.grad", state.grad)]
        arrays = [(t, a) for t, v in panels if (a := to_array(v)) is not None]
        if not arrays:
            self._message(f"{name}: nothing to plot")
            return
        self._draw_panels(arrays)

    # -------------------------------------------------------------- tangent
    def _draw_tangent(self, p: TangentPlot, record: NodeRecord) -> None:
        self.tangent = p
        t = self.theme
        item = self._plot(record.formula or p.label)
        item.setLabel("bottom", "x (input)", color=t.muted_text)
        item.setLabel("left", p.label, color=t.muted_text)
        item.plot(
            p.xs, p.ys, pen=pg.mkPen(t.op_border, width=2.5), connect="finite", antialias=True
        )
        for i in range(p.x0.size):
            tx, ty = p.tangent(i)
            line = item.plot(tx, ty, pen=pg.mkPen(t.current, width=2.5), antialias=True)
            self.tangent_items.append(line)
        self.point_item = item.plot(
            p.x0,
            p.y0,
            pen=None,
            symbol="o",
            symbolSize=11,
            symbolBrush=pg.mkBrush(t.current_fill),
            symbolPen=pg.mkPen(t.current, width=2),
        )
        item.setXRange(float(p.xs[0]), float(p.xs[-1]), padding=0)
        item.setYRange(*p.y_range, padding=0)
        if p.is_scalar:
            self._annotate(item, p)
        for note in p.notes:
            self.nextRow()
            self._message(note)

    def _annotate(self, item: pg.PlotItem, p: TangentPlot) -> None:
        t = self.theme
        x0, y0, slope = float(p.x0[0]), float(p.y0[0]), float(p.slope[0])
        lines = [
            f"x₀ = {_fmt(x0)},  f(x₀) = {_fmt(y0)}",
            f"slope = local derivative = {_fmt(slope)}",
        ]
        if p.incoming is not None:
            lines.append(f"incoming ∂L/∂y = {_fmt(p.incoming[0])}")
        if p.outgoing is not None and p.incoming is not None:
            lines.append(
                f"outgoing ∂L/∂x = {_fmt(p.incoming[0])} × {_fmt(slope)} = {_fmt(p.outgoing[0])}"
            )
        corner = _free_corner(p)
        text = pg.TextItem(
            "\n".join(lines),
            color=t.text,
            anchor=(corner[0], 1 - corner[1]),
            border=pg.mkPen(t.current),
            fill=pg.mkBrush(QColor(t.label_fill)),
        )
        font = QFont(text.textItem.font())
        font.setPointSizeF(10)
        text.setFont(font)
        lo, hi = p.y_range
        text.setPos(float(p.xs[0] if corner[0] == 0 else p.xs[-1]), lo if corner[1] == 0 else hi)
        item.addItem(text, ignoreBounds=True)
        self.annotation = "\n".join(lines)

    # -------------------------------------------------------------- tensors
    def _draw_panels(self, panels: list[tuple[str, Array]]) -> None:
        self.panels = panels[:MAX_PANELS]
        for col, (title, array) in enumerate(self.panels):
            self._draw_array(title, array, col)

    def _draw_array(self, title: str, a: Array, col: int) -> None:
        t = self.theme
        shape = "×".join(map(str, a.shape)) or "scalar"
        gradient = "grad" in title or "∂" in title
        suffix = f" [{shape}, first {a.data.size}]" if a.partial else f" [{shape}]"
        item = self._plot(title + suffix, row=0, col=2 * col)
        self.items.append(item)
        data = a.data
        if data.ndim >= 2 and sum(d > 1 for d in data.shape) <= 1:
            data = data.reshape(-1)  # a 5×1 column is five numbers: bars read better
        if data.ndim >= 2 and not a.partial:
            matrix = data.reshape(-1, data.shape[-1])
            finite = matrix[np.isfinite(matrix)]
            top = float(np.max(np.abs(finite))) if finite.size else 1.0
            top = top or 1.0
            if gradient or (finite.size and finite.min() < 0):
                cmap, levels = pg.colormap.get("CET-D1"), (-top, top)
            else:
                cmap = pg.colormap.get("viridis")
                levels = (
                    (float(finite.min()), float(finite.max()) or 1.0) if finite.size else (0, 1)
                )
                if levels[0] == levels[1]:
                    levels = (levels[0] - 0.5, levels[1] + 0.5)
            image = pg.ImageItem(matrix, axisOrder="row-major")
            rows, cols = matrix.shape
            image.setRect(QRectF(-0.5, -0.5, cols, rows))  # cell (i, j) centred on (j, i)
            image.setLevels(levels)
            image.setLookupTable(cmap.getLookupTable(nPts=256))
            item.addItem(image)
            item.invertY(True)
            item.setAspectLocked(False)
            bar = pg.ColorBarItem(values=levels, colorMap=cmap, interactive=False, width=14)
            bar.setImageItem(image, insert_in=item)
            item.image = image  # type: ignore[attr-defined]
            return
        flat = data.reshape(-1)
        finite = np.where(np.isfinite(flat), flat, 0.0)
        x = np.arange(flat.size)
        colour = t.current if gradient else t.op_border
        if flat.size <= MAX_BARS:
            bars = pg.BarGraphItem(
                x=x, height=finite, width=0.7, brush=colour, pen=pg.mkPen(colour)
            )
            item.addItem(bars)
            item.bars = bars  # type: ignore[attr-defined]
            if flat.size <= 8:
                for i, v in enumerate(flat):
                    label = pg.TextItem(_fmt(v), color=t.text, anchor=(0.5, 1 if v >= 0 else 0))
                    label.setPos(float(i), float(finite[i]))
                    item.addItem(label)
            item.setXRange(-0.8, flat.size - 0.2, padding=0)
            lo, hi = min(0.0, float(finite.min())), max(0.0, float(finite.max()))
            pad = 0.15 * (hi - lo or 1.0)  # room for the value labels
            item.setYRange(lo - (pad if lo < 0 else 0), hi + (pad if hi > 0 else 0), padding=0)
            if flat.size <= 16:
                item.getAxis("bottom").setTicks([[(i, str(i)) for i in range(flat.size)]])
        else:
            item.plot(x, finite, pen=pg.mkPen(colour, width=1.5))
        bad = ~np.isfinite(flat)
        if bad.any():
            item.plot(
                x[bad],
                np.zeros(int(bad.sum())),
                pen=None,
                symbol="x",
                symbolSize=14,
                symbolPen=pg.mkPen("#d00000", width=2),
                name="NaN/Inf",
            )
        item.getAxis("bottom").setLabel("index", color=t.muted_text)


def _free_corner(p: TangentPlot) -> tuple[int, int]:
    """The corner (x: 0 left, 1 right; y: 0 bottom, 1 top) that the curve and tangent cross least."""
    lo, hi = p.y_range
    x0, x1 = float(p.xs[0]), float(p.xs[-1])
    tx, ty = p.tangent(0)
    xs = np.concatenate([p.xs, np.linspace(tx[0], tx[1], 100), p.x0])
    ys = np.concatenate([p.ys, np.linspace(ty[0], ty[1], 100), p.y0])
    u = (xs - x0) / ((x1 - x0) or 1.0)
    v = (ys - lo) / ((hi - lo) or 1.0)
    ok = np.isfinite(u) & np.isfinite(v) & (v >= 0) & (v <= 1)
    u, v = u[ok], v[ok]

    def crowd(cx: int, cy: int) -> int:
        inside_x = u < 0.55 if cx == 0 else u > 0.45
        inside_y = v < 0.4 if cy == 0 else v > 0.6
        return int(np.sum(inside_x & inside_y))

    corners = [(0, 1), (1, 0), (0, 0), (1, 1)]  # upper left first: where the eye starts
    return min(corners, key=lambda c: crowd(*c))


def _variable_for(trace: Trace, node: str, step: int | None) -> VariableState | None:
    last = len(trace.steps) - 1 if step is None else step
    for s in reversed(trace.steps[: last + 1]):
        for state in s.variables.values():
            if state is not None and state.node == node:
                return state
    return None


def tensor_panels(
    trace: Trace, record: NodeRecord, variables: dict[str, VariableState] | None = None
) -> list[tuple[str, Array]]:
    """What to show side by side for a node that is not a scalar function.

    Its value (when a scenario variable holds it), the gradient it received,
    and the gradient(s) it sends to its inputs; for a leaf, ``.grad`` before
    and after.
    """
    state = None
    if variables is not None:
        state = next((v for v in variables.values() if v.node == record.node), None)
    if state is None:
        state = _variable_for(trace, record.node, record.compute_step)
    name = record.name or short_op(record.op)
    out: list[tuple[str, Any]] = []
    if state is not None:
        out.append((f"{name} (value)", state.value))
    if record.op == "AccumulateGrad":
        out.append(
            (f"incoming ∂L/∂{name}", record.grad_outputs[0] if record.grad_outputs else None)
        )
        out.append((f"{name}.grad before", record.grad_before))
        out.append((f"{name}.grad after", record.grad_after))
    else:
        out.append(
            (f"incoming ∂L/∂{name}", record.grad_outputs[0] if record.grad_outputs else None)
        )
        node = trace.nodes.get(record.node)
        for slot, g in enumerate(record.grad_inputs):
            src = node.inputs[slot][0] if node and slot < len(node.inputs) else None
            producer = trace.nodes.get(src) if src is not None else None
            src_name = (producer.name or short_op(producer.op)) if producer else f"input {slot}"
            out.append((f"outgoing ∂L/∂{src_name}", g))
    return [(title, a) for title, v in out if (a := to_array(v)) is not None]


class GradientFlowPlot(_ThemedLayout):
    """Mean and max |grad| per parameter in one pass, log scale: vanishing or exploding."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.setObjectName("gradient_flow_plot")
        self.trace: Trace | None = None
        self.flow = None
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
        item.addLegend(offset=(-10, 10), labelTextColor=t.text)
        item.addItem(self.max_bars)  # named: the legend lists them
        item.addItem(self.mean_bars)
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
        item.setYRange(
            floor, max(float(logx.max()), floor + 1) + 1.0, padding=0
        )  # room for the legend


def _short(name: str, n: int = 18) -> str:
    return name if len(name) <= n else "…" + name[-(n - 1) :]


class PassSeriesPlot(_ThemedLayout):
    """The loss and each leaf's ``.grad`` across backward passes (a training loop, accumulation)."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.setObjectName("pass_series_plot")
        self.series = None
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
        legend = grads.addLegend(offset=(-10, 10), labelTextColor=t.text)
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


class PlotsPanel(QTabWidget):
    """The plots dock: the current node, gradient flow, and the passes."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plots")
        self.trace: Trace | None = None
        self._shown: NodeRecord | None = None
        self.node_plot = NodePlot(theme)
        self.flow_plot = GradientFlowPlot(theme)
        self.pass_plot = PassSeriesPlot(theme)
        self.addTab(self.node_plot, "Node")
        self.addTab(self.flow_plot, "Gradient flow")
        self.addTab(self.pass_plot, "Passes")
        font = QFont(self.font())
        self.setFont(font)

    def set_theme(self, theme: Theme) -> None:
        for w in (self.node_plot, self.flow_plot, self.pass_plot):
            w.set_theme(theme)
        if self.trace is not None:
            shown = self._shown
            self.set_trace(self.trace)
            self._show_node(shown, None)

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        self._shown = None
        self.node_plot.clear_plot()
        self.flow_plot.flow = None
        self.flow_plot.set_trace(trace)
        self.pass_plot.set_trace(trace)

    def show_step(self, state: StepState, *, node: bool = True) -> None:
        """Follow the cursor: the current node's plot (unless ``node`` is False: a node is
        pinned), the current pass's gradient flow."""
        if self.trace is None:
            return
        if node and state.current_record is not None:
            self._show_node(state.current_record, state.variables)
        if state.pass_index is not None:
            self.flow_plot.set_pass(state.pass_index)
        self.pass_plot.set_pass(state.pass_index)

    def show_record(self, trace: Trace, record: NodeRecord | None, raise_tab: bool = True) -> None:
        """A selected node, whatever the cursor: its plot in the Node tab (brought to front)."""
        self.trace = self.trace or trace
        self._show_node(record, None)
        if raise_tab:
            self.setCurrentWidget(self.node_plot)

    def _show_node(self, record: NodeRecord | None, variables: dict[str, VariableState] | None):
        if record is self._shown and record is not None:
            return  # drawing a plot costs milliseconds: not again for the same record
        self._shown = record
        self.node_plot.show_record(self.trace, record, variables)  # type: ignore[arg-type]
