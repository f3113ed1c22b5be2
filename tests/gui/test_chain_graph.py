"""The graph as a lecturer projects it: values in the nodes, edge labels that do not collide,
slide-ready figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import open_and_wait
from PySide6.QtGui import QAction

from gradstep.gui.export.figure import graph_view_for
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario
from gradstep.trace.model import Trace

SCENARIOS = Path(__file__).parents[2] / "resources" / "scenarios"


@pytest.fixture(scope="module")
def logistic() -> Trace:
    return record_scenario(
        load_scenario(SCENARIOS / "04_logistic_regression_manual.py"), trusted=True
    )


@pytest.fixture(scope="module")
def mlp() -> Trace:
    return record_scenario(load_scenario(SCENARIOS / "14_mlp_training.py"), trusted=True)


def item_by_title(view, title: str):
    return next(i for i in view.node_items.values() if i.title == title)


def test_values_in_nodes_follow_the_steps(qapp, logistic) -> None:
    bpass = logistic.passes[0]
    plain = graph_view_for(logistic, bpass.last_step)
    view = graph_view_for(logistic, bpass.first_step, values=True)
    z, w = item_by_title(view, "z"), item_by_title(view, "w")
    assert z.values_row and z.values.startswith("data 6.7 | grad …")
    assert w.values == "data 1 | grad None"
    # the row makes the node taller, not the layout wrong: every node keeps its own box
    assert z.rect.height() > item_by_title(plain, "z").rect.height()
    view.session.go_to(bpass.last_step)
    assert z.values == "data 6.7 | grad 0.9988"
    assert w.values == "data 1 | grad 6.692"
    assert not item_by_title(view, "x = 6.7").values_row  # a constant is its value already


def test_the_view_menu_writes_values_in_the_nodes(qtbot, window) -> None:
    open_and_wait(qtbot, window, SCENARIOS / "01_square.py")
    action = window.findChild(QAction, "action_node_values")
    assert action is not None and action.isCheckable() and not action.isChecked()
    assert not any(i.values_row for i in window.graph.node_items.values())
    action.trigger()
    qtbot.waitUntil(lambda: any(i.values_row for i in window.graph.node_items.values()))
    window.session.last()
    x = item_by_title(window.graph, "x")
    assert x.values == "data 3 | grad 6"


def _area(r) -> float:
    return max(0.0, r.width()) * max(0.0, r.height())


@pytest.mark.parametrize("projector", [False, True])
def test_edge_labels_cover_no_label_node_or_arrowhead_on_the_mlp(qapp, mlp, projector) -> None:
    """Every step of lesson 14 (a 2 → 3 → 1 MLP on a batch of 4, trained twice), in the
    window's theme and in presentation mode's larger one."""
    from PySide6.QtGui import QPolygonF

    from gradstep.gui.theme import LIGHT, presentation

    view = graph_view_for(mlp, 0, theme=presentation(LIGHT) if projector else LIGHT)
    overlap = {"label": 0.0, "node": 0.0, "arrowhead": 0.0}
    shown = 0
    for k in range(len(mlp.steps)):
        view.session.go_to(k)
        labels = [lab.sceneBoundingRect() for lab in view.labels.visible()]
        nodes = [
            i.sceneBoundingRect().adjusted(6, 6, -6, -6)  # the box, not its badge margin
            for i in view.node_items.values()
            if i.isVisible()
        ]
        arrows = [
            QPolygonF(e.arrow).boundingRect() for e in view.edge_items.values() if e.isVisible()
        ]
        shown += len(labels)
        for i, a in enumerate(labels):
            overlap["label"] += sum(_area(a.intersected(b)) for b in labels[i + 1 :])
            overlap["node"] += sum(_area(a.intersected(b)) for b in nodes)
            overlap["arrowhead"] += sum(_area(a.intersected(b)) for b in arrows)
    assert shown > 100  # labels were there to collide
    assert overlap == {"label": 0.0, "node": 0.0, "arrowhead": 0.0}


def test_a_big_tensor_is_labelled_by_its_shape_and_norm(qapp, mlp) -> None:
    import math

    tanh = next(r for r in mlp.passes[0].nodes if r.op == "TanhBackward0")
    view = graph_view_for(mlp, tanh.compute_step)
    texts = [lab.text for lab in view.labels.visible()]
    norm = math.sqrt(sum(v * v for row in tanh.grad_outputs[0] for v in row))
    assert any(t.startswith("4×3 ‖") for t in texts), texts
    shown = next(t for t in texts if t.startswith("4×3 ‖"))
    assert float(shown.split("‖")[1]) == pytest.approx(norm, rel=5e-4) or any(
        float(t.split("‖")[1]) == pytest.approx(norm, rel=5e-4) for t in texts if "‖" in t
    )
    assert all(len(t) <= 32 for t in texts)
