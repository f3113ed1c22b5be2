"""The plot widgets draw the right numbers (torch is the oracle for derivatives)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gradstep.gui.panels.plots import GradientFlowPlot, NodePlot, PassSeriesPlot, PlotsPanel
from gradstep.session import Session
from gradstep.trace.chainrule.numbers import show_number
from gradstep.trace.model import (
    BackwardPass,
    GraphNode,
    NodeRecord,
    ScenarioInfo,
    Step,
    Trace,
    VariableState,
)
from gradstep.trace.text import format_number

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def sin_of_square() -> Trace:
    """z = sin(x²) at x = 4, recorded once and kept as data (no recorder in these tests)."""
    return Trace.from_dict(json.loads((GOLDEN / "sin_of_square.trace.json").read_text()))


def _record(trace: Trace, op: str) -> NodeRecord:
    return next(r for r in trace.passes[0].nodes if r.op == op)


def _line_slopes(plot: NodePlot) -> list[float]:
    out = []
    for item in plot.tangent_items:
        x, y = item.getData()
        out.append(float((y[1] - y[0]) / (x[1] - x[0])))
    return out


@pytest.mark.parametrize(
    ("op", "fn", "x0"), [("SinBackward0", torch.sin, 16.0), ("PowBackward0", lambda t: t**2, 4.0)]
)
def test_tangent_slope_is_the_local_derivative(qtbot, sin_of_square, op, fn, x0) -> None:
    plot = NodePlot()
    qtbot.addWidget(plot)
    plot.show_record(sin_of_square, _record(sin_of_square, op))
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    y = fn(x)
    (slope,) = torch.autograd.grad(y, x)
    assert plot.tangent is not None
    [drawn] = _line_slopes(plot)
    assert drawn == pytest.approx(float(slope), rel=1e-5)
    px, py = plot.point_item.getData()
    assert px[0] == pytest.approx(x0) and py[0] == pytest.approx(float(y.detach()), rel=1e-5)
    # the incoming and outgoing gradients are written on the plot
    rec = _record(sin_of_square, op)
    incoming, outgoing = rec.grad_outputs[0], rec.grad_inputs[0]
    assert f"incoming ∂L/∂y = {show_number(incoming)}" in plot.annotation
    # incoming × slope = outgoing, with figures that multiply out on a calculator
    product = plot.annotation.split("outgoing ∂L/∂x = ")[1].splitlines()[0]
    a, rest = product.split(" × ")
    b, c = rest.split(" = ")
    assert float(b) == pytest.approx(float(slope), rel=5e-4)
    assert float(c) == pytest.approx(outgoing, rel=5e-4)
    decimals = len(c.split(".")[1]) if "." in c else 0
    assert abs(float(a) * float(b) - float(c)) <= 0.5 * 10.0**-decimals + 1e-12, product
    # significant figures, not fixed decimals: the slope reads as it does in the product
    assert f"slope = local derivative = {show_number(float(slope))}" in plot.annotation
    assert f"× {show_number(float(slope))} =" in plot.annotation


def _hand_trace() -> Trace:
    """Two passes over W (2×3) and b (3,): values, gradients and a loss, written by hand."""
    nodes = {
        "w": GraphNode("w", "AccumulateGrad", "leaf", [], name="W", step=0),
        "b": GraphNode("b", "AccumulateGrad", "leaf", [], name="b", step=0),
        "mm": GraphNode("mm", "MmBackward0", "op", [("w", 0), ("b", 0)], name="h", step=1),
    }
    gw = [[1e-6, -2e-6, 3e-6], [4e-6, 5e-6, -6e-6]]
    gb = [0.5, -1.5, 2.5]
    passes, steps = (
        [],
        [
            Step(
                0,
                "statement",
                1,
                "W = …",
                variables={
                    "W": VariableState(
                        [2, 3], "float32", True, True, None, [[1, 2, 3], [4, 5, 6]], None, "w"
                    ),
                    "b": VariableState(
                        [3], "float32", True, True, None, [0.1, 0.2, 0.3], None, "b"
                    ),
                },
            ),
            Step(
                1,
                "statement",
                2,
                "h = …",
                variables={
                    "loss": VariableState(
                        [], "float32", True, False, "MmBackward0", 3.0, None, "mm"
                    ),
                },
            ),
        ],
    )
    for k, loss in enumerate((3.0, 2.0)):
        first = len(steps)
        recs = [
            NodeRecord(
                "mm",
                "MmBackward0",
                "h",
                [[1.0, 1.0, 1.0]],
                [gw, gb],
                [None, None],
                receive_step=first + 1,
                compute_step=first + 2,
            ),
            NodeRecord(
                "w",
                "AccumulateGrad",
                "W",
                [gw],
                [],
                [],
                grad_before=None if k == 0 else gw,
                grad_after=gw if k == 0 else [[2 * v for v in r] for r in gw],
                receive_step=first + 3,
                compute_step=first + 4,
            ),
            NodeRecord(
                "b",
                "AccumulateGrad",
                "b",
                [gb],
                [],
                [],
                grad_before=None,
                grad_after=gb,
                receive_step=first + 5,
                compute_step=first + 6,
            ),
        ]
        steps.append(Step(first, "pass_start", 3, f"pass {k + 1}", pass_index=k))
        for i, (kind, rec) in enumerate(
            [
                ("receive", 0),
                ("compute", 0),
                ("receive", 1),
                ("accumulate", 1),
                ("receive", 2),
                ("accumulate", 2),
            ]
        ):
            steps.append(
                Step(first + 1 + i, kind, 3, kind, pass_index=k, node=recs[rec].node, record=rec)
            )
        end = {"loss": VariableState([], "float32", True, False, "MmBackward0", loss, None, "mm")}
        steps.append(Step(first + 7, "pass_end", 3, "done", pass_index=k, variables=end))
        passes.append(
            BackwardPass(k, 3, "backward", ["mm"], recs, first, first + 7, root_name="loss")
        )
    return Trace(ScenarioInfo("hand.py", "by hand", "", ""), nodes, steps, passes)


def test_vectors_are_bars_and_matrices_heatmaps(qtbot) -> None:
    trace = _hand_trace()
    plot = NodePlot()
    qtbot.addWidget(plot)
    leaf_w, leaf_b = trace.passes[0].nodes[1], trace.passes[0].nodes[2]
    plot.show_record(trace, leaf_b)
    titles = [t for t, _ in plot.panels]
    assert titles[0].startswith("b (value)") and "incoming ∂L/∂b" in titles[1]
    bars = plot.items[1].bars
    np.testing.assert_allclose(bars.opts["height"], [0.5, -1.5, 2.5])
    plot.show_record(trace, leaf_w)
    image = plot.items[0].image
    np.testing.assert_allclose(image.image, [[1, 2, 3], [4, 5, 6]])
    gradient = plot.items[1].image
    np.testing.assert_allclose(gradient.image, trace.passes[0].nodes[1].grad_outputs[0])
    lo, hi = gradient.getLevels()
    assert lo == pytest.approx(-hi)  # gradients: a diverging map centred on zero


def test_gradient_flow_bars_are_log_magnitudes(qtbot) -> None:
    trace = _hand_trace()
    plot = GradientFlowPlot()
    qtbot.addWidget(plot)
    plot.set_trace(trace)
    assert plot.flow.names == ["W", "b"]
    mean = np.array([3.5e-6, 1.5])
    top = np.array([6e-6, 2.5])
    floor = plot.mean_bars.opts["y0"]
    np.testing.assert_allclose(plot.mean_bars.opts["height"] + floor, np.log10(mean))
    np.testing.assert_allclose(plot.max_bars.opts["height"] + floor, np.log10(top))
    assert plot.flow.verdict.startswith("vanishing: W")


def test_pass_series_shows_loss_and_grads_per_pass(qtbot) -> None:
    trace = _hand_trace()
    plot = PassSeriesPlot()
    qtbot.addWidget(plot)
    plot.set_trace(trace)
    x, loss = plot.loss_item.getData()
    np.testing.assert_allclose(x, [1, 2])
    np.testing.assert_allclose(loss, [3.0, 2.0])
    norm_w = math.sqrt(sum(v * v for r in trace.passes[0].nodes[1].grad_after for v in r))
    _, w = plot.grad_items["W"].getData()
    np.testing.assert_allclose(w, [norm_w, 2 * norm_w])
    plot.set_pass(1)
    assert all(m.isVisible() and m.value() == 2 for m in plot._markers)


def test_panel_follows_the_session(qtbot, sin_of_square) -> None:
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    session = Session(sin_of_square)
    panel.set_trace(sin_of_square)
    session.go_to(10)  # SinBackward0 computes
    panel.show_step(session.state())
    assert panel.node_plot.tangent is not None and panel.node_plot.tangent.op == "SinBackward0"
    assert panel.pass_plot.series is not None  # two passes in this scenario
    session.go_to(4)  # a forward statement: the node plot keeps what it showed
    panel.show_step(session.state())
    assert panel.node_plot.tangent.op == "SinBackward0"


def test_scalars_are_numbers_and_small_heatmaps_are_numbered_cells(qtbot) -> None:
    import pyqtgraph as pg

    trace = _hand_trace()
    plot = NodePlot()
    qtbot.addWidget(plot)
    mm, leaf_w = trace.passes[0].nodes[0], trace.passes[0].nodes[1]
    plot.show_record(trace, mm)
    assert plot.panels[0][0] == "h (value)"
    assert plot.items[0].number == format_number(3.0)  # a number, not a one-bar chart
    outgoing_w = plot.items[2]
    ticks = {name: outgoing_w.getAxis(name)._tickLevels[0] for name in ("bottom", "left")}
    assert ticks == {"bottom": [(0, "0"), (1, "1"), (2, "2")], "left": [(0, "0"), (1, "1")]}
    cells = {
        (round(t.pos().y()), round(t.pos().x())): t.textItem.toPlainText()
        for t in outgoing_w.items
        if isinstance(t, pg.TextItem)
    }
    gw = leaf_w.grad_outputs[0]
    assert cells == {(i, j): format_number(gw[i][j]) for i in range(2) for j in range(3)}


def test_the_node_plot_shows_only_what_is_known_at_the_step(qtbot, sin_of_square) -> None:
    trace = _hand_trace()
    plot = NodePlot()
    qtbot.addWidget(plot)
    leaf_b = trace.passes[0].nodes[2]
    plot.show_record(trace, leaf_b, step=leaf_b.receive_step)  # received, not accumulated
    known = dict(plot.panels)
    assert known["incoming ∂L/∂b"] is not None and known["b.grad after"] is None
    assert plot.items[list(known).index("b.grad after")].number == "…"
    plot.show_record(trace, leaf_b, step=leaf_b.compute_step)
    np.testing.assert_allclose(dict(plot.panels)["b.grad after"].data, [0.5, -1.5, 2.5])
    sin = _record(sin_of_square, "SinBackward0")
    plot.show_record(sin_of_square, sin, step=sin.receive_step)
    assert "outgoing ∂L/∂x = …" in plot.annotation
    assert "incoming ∂L/∂y = …" not in plot.annotation
    plot.show_record(sin_of_square, sin, step=sin.receive_step - 1)
    assert "incoming ∂L/∂y = …" in plot.annotation


def test_legends_and_notes_are_outside_the_data(qtbot, sin_of_square) -> None:
    plots = [GradientFlowPlot(), NodePlot()]
    for p in plots:
        qtbot.addWidget(p)
        p.resize(700, 420)
        p.show()
    flow, node = plots
    flow.set_trace(_hand_trace())
    node.show_record(sin_of_square, _record(sin_of_square, "SinBackward0"))
    qtbot.wait(50)
    import pyqtgraph as pg

    for p in plots:
        boxes = [i.sceneBoundingRect() for i in p.scene().items() if isinstance(i, pg.ViewBox)]
        notes = [
            i.sceneBoundingRect()
            for i in p.scene().items()
            if isinstance(i, (pg.LegendItem, pg.LabelItem))
            and i.isVisible()
            and not isinstance(i.parentItem(), pg.PlotItem)  # not a plot's title
        ]
        assert boxes and notes, p.objectName()
        assert not any(n.intersects(b) for n in notes for b in boxes), p.objectName()
    assert not [i for i in node.scene().items() if isinstance(i, pg.TextItem)]  # not on the curve
    assert "slope = local derivative" in node.annotation


def test_a_plot_after_wide_panels_fits_the_pane_again(qtbot, sin_of_square) -> None:
    plot = NodePlot()
    qtbot.addWidget(plot)
    plot.resize(460, 200)
    plot.show()
    trace = _hand_trace()
    plot.show_record(trace, trace.passes[0].nodes[0])  # four panels: wider than the pane
    qtbot.wait(20)
    assert plot.ci.size().width() > plot.viewport().width()
    plot.show_record(sin_of_square, _record(sin_of_square, "SinBackward0"))
    qtbot.wait(20)
    assert plot.ci.size().width() == plot.viewport().width()  # not cut off on the right
