"""What the plots show, computed without Qt or torch (numpy only).

``gradstep.gui.panels.plots`` draws these with pyqtgraph; the tests check the numbers
here directly.
"""

from gradstep.plotting.flow import (
    GradientFlow,
    ParamFlow,
    PassSeries,
    RoundLoss,
    first_nonfinite,
    gradient_flow,
    pass_series,
)
from gradstep.plotting.functions import OPS, TangentPlot, tangent_plot
from gradstep.plotting.labels import (
    chain_lines,
    compact_chain_line,
    product_text,
    shape_of,
    step_caption,
)
from gradstep.plotting.values import Array, abs_stats, has_nonfinite, to_array

__all__ = [
    "OPS",
    "Array",
    "GradientFlow",
    "ParamFlow",
    "PassSeries",
    "RoundLoss",
    "TangentPlot",
    "abs_stats",
    "chain_lines",
    "compact_chain_line",
    "product_text",
    "first_nonfinite",
    "gradient_flow",
    "has_nonfinite",
    "pass_series",
    "shape_of",
    "step_caption",
    "tangent_plot",
    "to_array",
]
