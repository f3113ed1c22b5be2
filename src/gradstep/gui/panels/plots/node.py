"""The current node's plot: its op's curve and tangent for scalars, its tensors as bars or
heatmaps otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from gradstep.graph.model import short_op
from gradstep.gui.panels.plots.base import MAX_BARS, MAX_PANELS, ThemedLayout, fmt
from gradstep.gui.theme import Theme
from gradstep.plotting import product_text, tangent_plot, to_array
from gradstep.plotting.functions import TangentPlot
from gradstep.plotting.values import Array
from gradstep.trace.model import NodeRecord, Trace, VariableState


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
            f"x₀ = {fmt(x0)},  f(x₀) = {fmt(y0)}",
            f"slope = local derivative = {fmt(slope)}",
        ]
        if p.incoming is not None:
            lines.append(f"incoming ∂L/∂y = {fmt(p.incoming[0])}")
        if p.outgoing is not None and p.incoming is not None:
            lines.append(f"outgoing ∂L/∂x = {product_text(p.incoming[0], slope, p.outgoing[0])}")
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
            item.image = image
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
