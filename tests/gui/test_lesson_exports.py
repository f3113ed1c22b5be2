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


def test_export_animation_as_mp4_when_its_encoder_is_installed(
    qtbot, window, answered, tmp_path, monkeypatch
):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    from gradstep.gui.export.lesson_exports import AnimationDialog

    open_and_wait(qtbot, window, LESSON_05)

    def choose(dialog: AnimationDialog) -> int:
        mp4 = dialog.format_box.findData("mp4")
        assert dialog.format_box.model().item(mp4).isEnabled()
        assert dialog.mp4_note.isHidden()  # nothing to install
        dialog.format_box.setCurrentIndex(mp4)
        dialog.size_box.setCurrentText("960x540")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(AnimationDialog, "exec", choose)
    window.actions_.export_animation.trigger()
    ((_, suggested),) = answered
    assert suggested.endswith("05_logistic_regression_bce-pass1.mp4")
    out = tmp_path / "exports" / "out.mp4"  # the format's suffix added to the name typed
    assert out.read_bytes()[4:8] == b"ftyp"  # an MP4 container
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert tuple(meta["size"]) == (960, 540) and meta["codec"].startswith("h264")
    assert "Animation saved" in window.status.text()


def test_without_the_encoder_the_dialog_says_what_to_install(
    qtbot, window, answered, tmp_path, monkeypatch
):
    import sys

    from gradstep.gui.export.lesson_exports import AnimationDialog

    open_and_wait(qtbot, window, LESSON_05)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if not installed
    seen = []

    def look(dialog: AnimationDialog) -> int:
        item = dialog.format_box.model().item(dialog.format_box.findData("mp4"))
        seen.append((item.isEnabled(), item.text(), dialog.mp4_note))
        assert not dialog.mp4_note.isHidden()
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(AnimationDialog, "exec", look)
    window.actions_.export_animation.trigger()
    ((enabled, text, note),) = seen
    assert not enabled and text == "MP4 video (not installed)"
    assert "pip install 'gradstep[mp4]'" in note.text()
    assert answered == [] and not any((tmp_path / "exports").iterdir())


def test_a_cancelled_animation_writes_nothing(qtbot, window, answered, tmp_path, monkeypatch):
    from gradstep.gui.export.lesson_exports import AnimationDialog

    open_and_wait(qtbot, window, LESSON_05)
    monkeypatch.setattr(AnimationDialog, "exec", lambda d: QDialog.DialogCode.Rejected)
    window.actions_.export_animation.trigger()
    assert answered == [] and not any((tmp_path / "exports").iterdir())
