"""The current node's plot: its op's curve and tangent for scalars, its tensors as numbers,
bars or heatmaps otherwise — as they are at the step shown (a gradient not yet sent is "…")."""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSizeF
from PySide6.QtWidgets import QWidget

from gradstep.graph.model import short_op
from gradstep.gui.panels.plots.base import MAX_BARS, MAX_PANELS, ThemedLayout, fmt
from gradstep.gui.theme import Theme, readable_on
from gradstep.plotting import product_text, tangent_plot, to_array
from gradstep.plotting.functions import TangentPlot
from gradstep.plotting.values import Array
from gradstep.trace.chainrule.numbers import show_number
from gradstep.trace.model import NodeRecord, Trace, VariableState

MAX_CELL_VALUES = 36  # a heatmap of at most this many cells (6×6) has its values written in


class NodePlot(ThemedLayout):
    """The plot for one node: the tangent picture for a scalar op, else values and gradients."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(theme, parent)
        self.setObjectName("node_plot")
        # what is drawn, for tests and exports
        self.tangent: TangentPlot | None = None
        self.tangent_items: list[pg.PlotDataItem] = []
        self.point_item: pg.PlotDataItem | None = None
        self.annotation = ""
        self.panels: list[tuple[str, Array | None]] = []  # None: not known at this step
        self.items: list[Any] = []  # per panel: a PlotItem, or the LabelItem of a number
        self.clear_plot()

    def clear_plot(self, text: str = "Select a node or step into the backward pass") -> None:
        self._reset()
        self._message(text)

    def _reset(self) -> None:
        self.clear()
        # the layout grows to fit what it held (four heatmaps) and does not shrink back by
        # itself: the next plot would be drawn wider than the pane, its right side cut off
        self.ci.resize(QSizeF(self.viewport().size()))
        self.tangent, self.tangent_items, self.point_item = None, [], None
        self.annotation, self.panels, self.items = "", [], []

    def show_record(
        self,
        trace: Trace,
        record: NodeRecord | None,
        variables: dict[str, VariableState] | None = None,
        step: int | None = None,
    ) -> None:
        """Draw what ``record`` did — as far as step ``step`` has got (None: all of it): the
        function and its tangent, or its tensors."""
        if record is None:
            self.clear_plot()
            return
        self._reset()
        plot = tangent_plot(trace, record)
        if plot is not None:
            received, computed = known_at(record, step)
            plot.incoming = plot.incoming if received else None
            plot.outgoing = plot.outgoing if computed else None
            self._draw_tangent(plot, record)
            return
        panels = tensor_panels(trace, record, variables, step)
        if not panels:
            self._message(f"{record.op}: no values to plot")
            return
        self._draw_panels(panels)

    def show_variable(self, name: str, state: VariableState) -> None:
        """A tensor's value and gradient side by side."""
        self._reset()
        panels = [(f"{name}", state.value), (f"{name}.grad", state.grad)]
        arrays: list[tuple[str, Array | None]] = [
            (t, a) for t, v in panels if (a := to_array(v)) is not None
        ]
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
            self._annotate(p)
        for note in p.notes:
            self.nextRow()
            self._message(note)

    def _annotate(self, p: TangentPlot) -> None:
        """The point, the slope and the chain rule, beside the plot or under it (not over
        the curve)."""
        t = self.theme
        x0, y0, slope = float(p.x0[0]), float(p.y0[0]), float(p.slope[0])
        lines = [
            f"x₀ = {show_number(x0)},  f(x₀) = {show_number(y0)}",
            f"slope = local derivative = {show_number(slope)}",
            f"incoming ∂L/∂y = {show_number(p.incoming[0]) if p.incoming is not None else '…'}",
        ]
        if p.outgoing is not None and p.incoming is not None:
            lines.append(f"outgoing ∂L/∂x = {product_text(p.incoming[0], slope, p.outgoing[0])}")
        else:
            lines.append("outgoing ∂L/∂x = … (sent when the node computes)")
        size = self.pt(10)
        if self.width() >= max(2 * self.height(), 760):  # wide and low: beside the plot
            note = self.addLabel("<br>".join(lines), row=0, col=1, color=t.text, size=size)
            note.setMinimumWidth(note.item.boundingRect().width() + 8)  # whole lines
            self.ci.layout.setColumnStretchFactor(1, 0)
        else:  # under it, two lines to a row where they fit: the plot keeps the room
            rows = (
                lines
                if self.width() < 560
                else ["&nbsp;&nbsp;&nbsp; ".join(lines[i : i + 2]) for i in (0, 2)]
            )
            self.nextRow()
            self.addLabel("<br>".join(rows), color=t.text, size=size, justify="left")
            self.ci.layout.setRowStretchFactor(0, 4)
        self.annotation = "\n".join(lines)

    # -------------------------------------------------------------- tensors
    def _draw_panels(self, panels: list[tuple[str, Array | None]]) -> None:
        self.panels = panels[:MAX_PANELS]
        for col, (title, array) in enumerate(self.panels):
            if array is None or (array.data.size == 1 and not array.partial):
                self._draw_number(title, array, col)
            else:
                self._draw_array(title, array, col)

    def _draw_number(self, title: str, a: Array | None, col: int) -> None:
        """A scalar is a number to read, not a one-bar chart; "…" is not known yet."""
        t = self.theme
        value = "…" if a is None else fmt(float(a.data.reshape(-1)[0]))
        label = self.addLabel(
            f"<span style='font-size:{self.pt(10)}; color:{t.muted_text}'>{escape(title)}</span>"
            f"<br><span style='font-size:{self.pt(24)}; font-weight:bold'>{value}</span>",
            row=0,
            col=2 * col,
            color=t.text,
        )
        label.number = value  # what it says, for tests
        self.items.append(label)

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
            self._heatmap(item, data.reshape(-1, data.shape[-1]), gradient)
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
            item.bars = bars
            if flat.size <= 8:
                for i, v in enumerate(flat):
                    label = pg.TextItem(fmt(v), color=t.text, anchor=(0.5, 1 if v >= 0 else 0))
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

    def _heatmap(self, item: pg.PlotItem, matrix: np.ndarray, gradient: bool) -> None:
        """A matrix as coloured cells, rows and columns numbered by integers, and each
        cell's value written in it while there are few enough to read."""
        finite = matrix[np.isfinite(matrix)]
        top = float(np.max(np.abs(finite))) if finite.size else 1.0
        top = top or 1.0
        if gradient or (finite.size and finite.min() < 0):
            cmap, levels = pg.colormap.get("CET-D1"), (-top, top)
        else:
            cmap = pg.colormap.get("viridis")
            levels = (float(finite.min()), float(finite.max()) or 1.0) if finite.size else (0, 1)
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
        for axis, n in (("bottom", cols), ("left", rows)):  # whole rows and columns only
            step = max(1, int(np.ceil(n / 10)))
            item.getAxis(axis).setTicks([[(i, str(i)) for i in range(0, n, step)], []])
        item.setXRange(-0.5, cols - 0.5, padding=0)
        item.setYRange(-0.5, rows - 0.5, padding=0)
        if rows * cols <= MAX_CELL_VALUES:
            span = (levels[1] - levels[0]) or 1.0
            for (i, j), v in np.ndenumerate(matrix):
                shade = cmap.map((float(v) - levels[0]) / span if np.isfinite(v) else 0.5, "qcolor")
                label = pg.TextItem(fmt(v), color=readable_on(shade), anchor=(0.5, 0.5))
                label.setPos(float(j), float(i))
                item.addItem(label)
        bar = pg.ColorBarItem(values=levels, colorMap=cmap, interactive=False, width=14)
        bar.setImageItem(image, insert_in=item)
        bar.axis.setTextPen(pg.mkPen(self.theme.text))
        item.image = image


def _variable_for(trace: Trace, node: str, step: int | None) -> VariableState | None:
    last = len(trace.steps) - 1 if step is None else step
    for s in reversed(trace.steps[: last + 1]):
        for state in s.variables.values():
            if state is not None and state.node == node:
                return state
    return None


def known_at(record: NodeRecord, step: int | None) -> tuple[bool, bool]:
    """Whether, at step ``step`` (None: the end), ``record``'s node has received its incoming
    gradient, and whether it has computed what it sends on (a leaf: its new ``.grad``)."""
    if step is None:
        return True, True
    received = record.receive_step is None or step >= record.receive_step
    computed = record.compute_step is not None and step >= record.compute_step
    return received, computed


def tensor_panels(
    trace: Trace,
    record: NodeRecord,
    variables: dict[str, VariableState] | None = None,
    step: int | None = None,
) -> list[tuple[str, Array | None]]:
    """What to show side by side for a node that is not a scalar function.

    Its value (when a scenario variable holds it), the gradient it received,
    and the gradient(s) it sends to its inputs; for a leaf, ``.grad`` before
    and after. At step ``step`` a gradient not received or not computed yet is
    there as ``None`` ("…"), as the inspector shows it.
    """
    received, computed = known_at(record, step)
    state = None
    if variables is not None:
        state = next((v for v in variables.values() if v.node == record.node), None)
    if state is None:
        state = _variable_for(trace, record.node, record.compute_step)
    name = record.name or short_op(record.op)
    out: list[tuple[str, Any, bool]] = []  # (title, value, known at the step)
    if state is not None:
        out.append((f"{name} (value)", state.value, True))
    incoming = record.grad_outputs[0] if record.grad_outputs else None
    out.append((f"incoming ∂L/∂{name}", incoming, received))
    if record.op == "AccumulateGrad":
        out.append((f"{name}.grad before", record.grad_before, True))
        out.append((f"{name}.grad after", record.grad_after, computed))
    else:
        node = trace.nodes.get(record.node)
        for slot, g in enumerate(record.grad_inputs):
            src = node.inputs[slot][0] if node and slot < len(node.inputs) else None
            producer = trace.nodes.get(src) if src is not None else None
            src_name = (producer.name or short_op(producer.op)) if producer else f"input {slot}"
            out.append((f"outgoing ∂L/∂{src_name}", g, computed))
    panels: list[tuple[str, Array | None]] = []
    for title, value, known in out:
        a = to_array(value)
        if a is not None:
            panels.append((title, a if known else None))
    return panels
