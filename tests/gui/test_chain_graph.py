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


def _export(monkeypatch, tmp_path, trace: Trace, *args: str) -> Path:
    from gradstep.cli import build_parser
    from gradstep.gui.export import headless as export_cli

    monkeypatch.setattr(export_cli, "record", lambda a: trace)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / f"fig{len(list(tmp_path.iterdir()))}.svg"
    parsed = build_parser().parse_args(["export", "lesson.py", *args, "-o", str(out)])
    assert export_cli.export_command(parsed) == 0
    return out


def _view_box(svg: str) -> tuple[float, float]:
    import re

    w, h = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups()
    return float(w), float(h)


def test_exported_figures_are_slides_with_bold_edges_and_a_compact_legend(
    qapp, logistic, tmp_path, monkeypatch
) -> None:
    """Lesson 04 is tall: a 16:9 slide by default, its graph in the middle, thick dark edges,
    five legend entries (and the constants'); --no-legend and --no-caption take it away."""
    import re

    step = str(logistic.passes[0].nodes[5].compute_step + 1)
    slide = _export(monkeypatch, tmp_path, logistic, "--step", step, "--format", "svg")
    text = slide.read_text()
    w, h = _view_box(text)
    assert w / h == pytest.approx(16 / 9, rel=0.01)
    for entry in ("leaf tensor", "operation (grad_fn)", "constant", "current node"):
        assert f">{entry}<" in text, entry
    assert "waiting in this pass" not in text and "gradient computed" not in text
    widths = [float(x) for x in re.findall(r'stroke-width="([\d.]+)"', text)]
    assert sum(1 for x in widths if x >= 2.5) >= logistic.passes[0].nodes.__len__()  # the edges

    fit = _export(
        monkeypatch, tmp_path, logistic, "--step", step, "--format", "svg", "--aspect", "fit"
    )
    fw, fh = _view_box(fit.read_text())
    assert fw / fh < 1  # the graph's own (tall) shape
    four = _export(
        monkeypatch, tmp_path, logistic, "--step", step, "--format", "svg", "--aspect", "4:3"
    )
    assert _view_box(four.read_text())[0] / _view_box(four.read_text())[1] == pytest.approx(
        4 / 3, rel=0.01
    )

    bare = _export(
        monkeypatch, tmp_path, logistic, "--step", step, "--format", "svg", "--no-legend"
    )
    assert ">leaf tensor<" not in bare.read_text() and "Logistic regression" in bare.read_text()
    nothing = _export(
        monkeypatch, tmp_path, logistic, "--step", step, "--format", "svg", "--no-caption"
    )
    assert ">leaf tensor<" not in nothing.read_text()
    assert "Logistic regression" not in nothing.read_text()


def test_leaves_tensors_and_ops_keep_their_colours_at_the_end_of_a_pass(qapp, logistic) -> None:
    from PySide6.QtGui import QColor, QImage, QPainter

    from gradstep.gui.theme import LIGHT

    view = graph_view_for(logistic, logistic.passes[0].last_step)
    fills = {}
    for title in ("w", "z", "w * x"):
        item = item_by_title(view, title)
        assert item.state == "done", (title, item.state)
        image = QImage(40, 20, QImage.Format.Format_RGB32)
        image.fill(QColor("#000000"))
        painter = QPainter(image)
        painter.translate(20 - item.rect.center().x(), 10 - item.rect.center().y())
        item.paint(painter, _Option(), None)
        painter.end()
        fills[title] = image.pixelColor(8, 10).name()  # inside the box, left of its text
    assert fills["w"] == QColor(LIGHT.leaf_fill).name()
    assert fills["z"] == QColor(LIGHT.named_fill).name()
    assert fills["w * x"] == QColor(LIGHT.done_fill).name()
    assert len(set(fills.values())) == 3


class _Option:
    """What NodeItem.paint reads of its option: the level of detail."""

    def levelOfDetailFromTransform(self, transform) -> float:  # noqa: N802 - Qt's name
        return 1.0


@pytest.mark.parametrize("lesson", ["03_two_x_squared_plus_five.py", "14_mlp_training.py"])
def test_edge_labels_keep_apart_on_edges_side_by_side(qapp, lesson) -> None:
    """``x * x``'s two edges run side by side, and so do the MLP's: their labels are not
    drawn touching (two chips that touch read as one label: "100×10 ‖0.0435‖" over "10")."""
    trace = record_scenario(load_scenario(SCENARIOS / lesson), trusted=True)
    view = graph_view_for(trace, 0)
    touching = []
    for k in range(len(trace.steps)):
        view.session.go_to(k)
        labels = view.labels.visible()
        rects = [lab.sceneBoundingRect().adjusted(-1, -1, 1, 1) for lab in labels]
        for i, a in enumerate(rects):
            for j in range(i + 1, len(rects)):
                if _area(a.intersected(rects[j])) > 0:
                    touching.append((k, labels[i].text, labels[j].text))
    assert touching == []
