"""The plots dock: the current node, gradient flow and the passes, as tabs."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTabWidget, QWidget

from gradstep.gui.panels.plots.node import NodePlot, known_at
from gradstep.gui.panels.plots.passes import GradientFlowPlot, PassSeriesPlot
from gradstep.gui.theme import Theme
from gradstep.session import StepState
from gradstep.trace.model import NodeRecord, Trace, VariableState


class PlotsPanel(QTabWidget):
    """The plots dock: the current node, gradient flow, and the passes."""

    def __init__(self, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plots")
        self.trace: Trace | None = None
        # the record drawn, and what of it was known at the step (see ``known_at``)
        self._shown: tuple[NodeRecord | None, tuple[bool, bool] | None] = (None, None)
        self._step: int | None = None
        self.hidden: Callable[[NodeRecord], bool] = lambda rec: False  # quiz mode (gui/quiz)
        self.node_plot = NodePlot(theme)
        self.flow_plot = GradientFlowPlot(theme)
        self.pass_plot = PassSeriesPlot(theme)
        self.addTab(self.node_plot, "Node")
        self.addTab(self.flow_plot, "Gradient flow")
        self.addTab(self.pass_plot, "Passes")
        # the gradient flow is drawn when its tab is shown, not for every run behind it
        # (~0.07 s: a what-if change waits for its numbers)
        self._flow_due = False
        self._flow_pass: int | None = None
        self.currentChanged.connect(self._tab_shown)
        font = QFont(self.font())
        self.setFont(font)

    def set_theme(self, theme: Theme) -> None:
        for w in (self.node_plot, self.flow_plot, self.pass_plot):
            w.set_theme(theme)
        if self.trace is not None:
            record, step = self._shown[0], self._step
            self.set_trace(self.trace)
            self._show_node(record, None, step)
        if self._flow_due:  # drawn when its tab is shown; until then its note in these colours
            self.flow_plot.clear_plot()

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        self._shown = (None, None)
        self.node_plot.clear_plot()
        self.flow_plot.flow = None
        self._flow_due = self.isVisible() and self.currentWidget() is not self.flow_plot
        if not self._flow_due:
            self.flow_plot.set_trace(trace)
        self.pass_plot.set_trace(trace)

    def _tab_shown(self, index: int) -> None:
        if self._flow_due and self.widget(index) is self.flow_plot and self.trace is not None:
            self._flow_due = False
            self.flow_plot.set_trace(self.trace)
            if self._flow_pass is not None:
                self.flow_plot.set_pass(self._flow_pass)

    def show_step(self, state: StepState, *, node: bool = True) -> None:
        """Follow the cursor: the current node's plot (unless ``node`` is False: a node is
        pinned), the current pass's gradient flow."""
        if self.trace is None:
            return
        if node and state.current_record is not None:
            self._show_node(state.current_record, state.variables, state.index)
        if state.pass_index is not None:
            self._flow_pass = state.pass_index
            if not self._flow_due:
                self.flow_plot.set_pass(state.pass_index)
        self.pass_plot.set_pass(state.pass_index)

    def show_record(
        self,
        trace: Trace,
        record: NodeRecord | None,
        raise_tab: bool = True,
        step: int | None = None,
    ) -> None:
        """A selected node, whatever the cursor: its plot in the Node tab (brought to front),
        as it is at step ``step`` (None: at the end of its pass)."""
        self.trace = self.trace or trace
        self._show_node(record, None, step)
        if raise_tab:
            self.setCurrentWidget(self.node_plot)

    def _show_node(
        self,
        record: NodeRecord | None,
        variables: dict[str, VariableState] | None,
        step: int | None = None,
    ) -> None:
        if record is not None and self.hidden(record):  # its note would give the answer
            self._shown = (None, None)
            self.node_plot.clear_plot("Quiz: predict the “?”, then press R to reveal")
            return
        known = known_at(record, step) if record is not None else None
        if record is not None and self._shown[0] is record and self._shown[1] == known:
            return  # drawing a plot costs milliseconds: not again for the same picture
        self._shown, self._step = (record, known), step
        self.node_plot.show_record(self.trace, record, variables, step)  # type: ignore[arg-type]
