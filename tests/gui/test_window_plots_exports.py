"""The plots dock, the export commands and the NaN/Inf badges in the real window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import open_and_wait
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication, QImage, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget, QMenu

from gradstep.gui.export import dialogs
from gradstep.gui.theme import DARK, LIGHT

NAN_SCENARIO = '''"""0 × ∞ in a square root's backward"""
import torch

x = torch.tensor([0.0, 4.0], requires_grad=True)
r = torch.sqrt(x)
loss = (r * 0.0).sum()
loss.backward()
'''


def action(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    return found


def node_named(window, op: str) -> str:
    return next(n for n, node in window.trace.nodes.items() if node.op == op)


def _share_near(image: QImage, colour: str, tol: int = 8) -> float:
    img = image.convertToFormat(QImage.Format.Format_RGB32)
    raw = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes())
    rgb = raw.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width(), 2::-1]
    c = QColor(colour)
    near = np.abs(rgb.astype(int) - [c.red(), c.green(), c.blue()]).max(axis=-1) <= tol
    return float(near.mean())


def test_export_commands_are_in_the_file_menu_with_their_keys(window) -> None:
    file_menu = window.menuBar().findChildren(QMenu)[0]
    names = [a.objectName() for a in file_menu.actions()]
    for name in (
        "action_export_graph",
        "action_export_screenshot",
        "action_copy_graph",
        "action_export_handout",
    ):
        assert name in names
    assert action(window, "action_export_graph").shortcut() == QKeySequence("Ctrl+E")
    assert action(window, "action_copy_graph").shortcut() == QKeySequence("Ctrl+Shift+C")


def test_plots_dock_shows_the_tangent_of_a_selected_pow_node(qtbot, window, scenario) -> None:
    assert window.findChild(QDockWidget, "dock_plots") is not None
    window.docks["plots"].raise_()
    open_and_wait(qtbot, window, scenario)
    action(window, "action_last_step").trigger()
    pow_node = node_named(window, "PowBackward0")
    graph = window.graph
    item = graph.node_item(pow_node)
    graph.centerOn(item)
    QTest.mouseClick(
        graph.viewport(), Qt.MouseButton.LeftButton, pos=graph.mapFromScene(item.scenePos())
    )
    plot = window.plots.node_plot
    assert window.plots.currentWidget() is plot
    assert plot.tangent is not None and plot.tangent.op == "PowBackward0"
    # y**2 at y: the tangent's slope is 2y
    y = np.asarray(plot.tangent.x0, dtype=float)
    np.testing.assert_allclose(np.asarray(plot.tangent.slope, dtype=float), 2 * y, rtol=1e-5)
    # the selected node's plot follows time: nothing before its pass, its own after it
    # (the plots are redrawn once stepping pauses: a plot takes longer than a frame)
    action(window, "action_first_step").trigger()
    qtbot.waitUntil(lambda: plot.tangent is None)
    action(window, "action_last_step").trigger()
    qtbot.waitUntil(lambda: plot.tangent is not None and plot.tangent.op == "PowBackward0")
    window._select(None)
    sin = next(s.index for s in window.trace.steps if s.kind == "compute" and "Sin" in s.text)
    window.session.go_to(sin)
    assert plot.tangent.op == "PowBackward0"  # not yet
    qtbot.waitUntil(lambda: plot.tangent is not None and plot.tangent.op == "SinBackward0")


def test_export_graph_writes_a_light_figure_in_the_dark_theme(
    qtbot, window, scenario, tmp_path, monkeypatch
) -> None:
    open_and_wait(qtbot, window, scenario)
    window.apply_theme("dark")
    assert window.graph.theme.name == "dark"
    target = tmp_path / "figure.png"
    monkeypatch.setattr(
        dialogs.QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(target), dialogs.GRAPH_FILTERS["png"])),
    )
    action(window, "action_export_graph").trigger()
    assert target.exists()
    image = QImage(str(target))
    assert image.width() > 200
    assert _share_near(image, LIGHT.background) > 0.4  # slides and paper: the light theme
    assert _share_near(image, DARK.background) < 0.01
    assert window.graph.theme.name == "dark"  # the screen is left as it was
    assert str(target) in window.status.text()


def test_screenshot_is_the_window_as_on_screen(
    qtbot, window, scenario, tmp_path, monkeypatch
) -> None:
    open_and_wait(qtbot, window, scenario)
    window.apply_theme("dark")
    target = tmp_path / "shot.png"
    monkeypatch.setattr(
        dialogs.QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(target), dialogs.GRAPH_FILTERS["png"])),
    )
    action(window, "action_export_screenshot").trigger()
    image = QImage(str(target))
    assert (image.width(), image.height()) == (window.width(), window.height())
    assert _share_near(image, DARK.background) > 0.1


def test_copy_graph_puts_an_image_on_the_clipboard(qtbot, window, scenario) -> None:
    open_and_wait(qtbot, window, scenario)
    QGuiApplication.clipboard().clear()
    action(window, "action_copy_graph").trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasImage() and "image/svg+xml" in mime.formats()


def test_export_handout_writes_a_folder(qtbot, window, scenario, tmp_path, monkeypatch) -> None:
    open_and_wait(qtbot, window, scenario)
    monkeypatch.setattr(
        dialogs.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path))
    )
    monkeypatch.setattr(dialogs, "write_handout", _fake_handout := _RecordingHandout())
    action(window, "action_export_handout").trigger()
    assert _fake_handout.calls == [(window.trace, tmp_path / "sine-handout")]
    assert (tmp_path / "sine-handout" / "handout.md").exists()


class _RecordingHandout:
    """``write_handout`` without the images (the handout itself is tested in test_export)."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, Path]] = []

    def __call__(self, trace, target: Path, **_: object) -> Path:
        self.calls.append((trace, target))
        target.mkdir(parents=True)
        (target / "handout.md").write_text("# handout\n")
        return target


def test_nan_badge_marks_where_the_nan_first_appears_from_that_step_on(
    qtbot, window, tmp_path
) -> None:
    path = tmp_path / "nan.py"
    path.write_text(NAN_SCENARIO, encoding="utf-8")
    open_and_wait(qtbot, window, path)
    sqrt = node_named(window, "SqrtBackward0")
    computes = next(s.index for s in window.trace.steps if s.kind == "compute" and s.node == sqrt)
    assert window.graph.marks == {sqrt: (computes, "NaN")}
    window.session.go_to(computes - 1)
    assert window.graph.node_item(sqrt).badge == ""
    window.session.go_to(computes)
    assert window.graph.node_item(sqrt).badge == "NaN"
    window.session.last()
    badges = {n: window.graph.node_item(n).badge for n in window.trace.nodes}
    assert {n: b for n, b in badges.items() if b} == {sqrt: "NaN"}
    # and it shows: red pixels around the node
    item = window.graph.node_item(sqrt)
    window.graph.centerOn(item)
    shot = window.graph.viewport().grab().toImage()
    assert _share_near(shot, window.theme.nonfinite, tol=30) > 0.0005
