"""File ▸ Export Interactive Page… and Export Animation…, with the file dialog answered by
the test: what they write is what ``gradstep export --format html`` and ``--animate`` write."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import open_and_wait
from PIL import Image
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu

from gradstep.resources import bundled_scenarios

LESSON_05 = next(p for p in bundled_scenarios() if p.name.startswith("05_"))


@pytest.fixture
def answered(monkeypatch, tmp_path: Path):
    """The save dialog answers a path without a suffix; the question it was asked is kept."""
    asked: list[tuple[str, str]] = []
    (tmp_path / "exports").mkdir()

    def fake(parent, title, suggested, filters):  # noqa: ANN001
        asked.append((title, suggested))
        return str(tmp_path / "exports" / "out"), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return asked


def file_menu_texts(window) -> list[str]:
    (file_menu,) = [m for m in window.menuBar().findChildren(QMenu) if m.title() == "&File"]
    return [a.text() for a in file_menu.actions()]


def test_export_interactive_page_writes_the_page_at_this_step(qtbot, window, answered, tmp_path):
    assert "Export Interactive &Page…" in file_menu_texts(window)
    open_and_wait(qtbot, window, LESSON_05)
    window.session.go_to(19)
    window.actions_.export_page.trigger()
    ((title, suggested),) = answered
    assert title == "Export interactive page" and suggested.endswith(
        "05_logistic_regression_bce.html"
    )
    page = tmp_path / "exports" / "out.html"
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and '"start":19' in text.replace(" ", "")
    assert [p.name for p in page.parent.iterdir()] == ["out.html"]  # written whole, nothing left
    assert "Interactive page saved" in window.status.text()


def test_export_animation_writes_the_chosen_pass(qtbot, window, answered, tmp_path, monkeypatch):
    from gradstep.gui.export import animate
    from gradstep.gui.export.lesson_exports import AnimationDialog

    assert "Export &Animation…" in file_menu_texts(window)
    open_and_wait(qtbot, window, LESSON_05)

    def choose(dialog: AnimationDialog) -> int:
        assert dialog.pass_box.maximum() == len(window.trace.passes)
        dialog.format_box.setCurrentIndex(dialog.format_box.findData("apng"))
        dialog.size_box.setCurrentText("960x540")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(AnimationDialog, "exec", choose)
    window.actions_.export_animation.trigger()
    out = tmp_path / "exports" / "out.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.is_animated and im.size == (960, 540)
        steps = animate.pass_steps(window.trace, 1)
        assert im.n_frames == animate.frame_count(window.trace, steps)
    assert "Animation saved" in window.status.text()


def test_a_cancelled_animation_writes_nothing(qtbot, window, answered, tmp_path, monkeypatch):
    from gradstep.gui.export.lesson_exports import AnimationDialog

    open_and_wait(qtbot, window, LESSON_05)
    monkeypatch.setattr(AnimationDialog, "exec", lambda d: QDialog.DialogCode.Rejected)
    window.actions_.export_animation.trigger()
    assert answered == [] and not any((tmp_path / "exports").iterdir())
