"""Plots of the current node, of gradients across parameters and across passes (pyqtgraph).

The numbers come from ``gradstep.plotting`` (no Qt); these widgets only draw
them. ``PlotsPanel`` is the ready-made dock content: ``set_trace(trace)`` once
per trace, ``show_step(state)`` (a ``StepState``) or ``show_record(trace,
record)`` as the cursor or the selection moves.
"""

from gradstep.gui.panels.plots.node import NodePlot, tensor_panels
from gradstep.gui.panels.plots.panel import PlotsPanel
from gradstep.gui.panels.plots.passes import GradientFlowPlot, PassSeriesPlot

__all__ = ["GradientFlowPlot", "NodePlot", "PassSeriesPlot", "PlotsPanel", "tensor_panels"]
