"""File ▸ Export Interactive Page… and Export Animation…: what ``gradstep export --format html``
and ``--animate`` write, from the window, for the trace on screen.

The page opens at the step the window shows. The animation asks which pass, in
which format, at what rate and size (a small dialog), then where; MP4 is offered
when its encoder is installed, and the dialog says what to install when it is
not. Both are written completely or not at all, and never replace a file
without asking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from gradstep.gui.export.animate import (
    MOST_FRAMES,
    MP4_INSTALL,
    AnimationError,
    encode,
    frame_count,
    mp4_available,
    parse_size,
    pass_frames,
    pass_steps,
    theme_colours,
)
from gradstep.gui.export.dialogs import confirm_replace
from gradstep.gui.export.files import ExportError, atomic_write_bytes
from gradstep.trace.model import Trace

SIZES = ("1280x720", "1920x1080", "960x540")  # 16:9 slides
ANIMATION_FILTERS = {
    "gif": "Animated GIF (*.gif)",
    "apng": "Animated PNG (*.png *.apng)",
    "mp4": "MP4 video (*.mp4)",
}
#: each format's file name suffixes, the first one added to a name without any
SUFFIXES = {
    "gif": (".gif",),
    "apng": (".png", ".apng"),
    "mp4": (".mp4",),
    "html": (".html", ".htm"),
}


def _ask_save(
    parent: QWidget | None, title: str, suggested: Path, filters: dict[str, str]
) -> tuple[Path, str] | None:
    """A path and its format; the format's suffix added when the name has none of them."""
    names = list(filters.values())
    chosen, selected = QFileDialog.getSaveFileName(parent, title, str(suggested), ";;".join(names))
    if not chosen:
        return None
    path = Path(chosen)
    fmt = next((f for f, name in filters.items() if name == selected), next(iter(filters)))
    if path.suffix.lower() not in SUFFIXES[fmt]:
        by_suffix = [f for f in filters if path.suffix.lower() in SUFFIXES[f]]
        if by_suffix:
            fmt = by_suffix[0]
        else:
            path = path.with_name(path.name + SUFFIXES[fmt][0])
            if not confirm_replace(parent, path):  # the dialog asked about the name as typed
                return None
    return path, fmt


def save_page_dialog(
    parent: QWidget | None, trace: Trace, step: int, *, directory: str | os.PathLike[str]
) -> Path | None:
    """Export Interactive Page…: one self-contained HTML file, opening at ``step``."""
    from gradstep.page import write_page

    stem = Path(trace.scenario.path).stem or "lesson"
    answer = _ask_save(
        parent,
        "Export interactive page",
        Path(directory) / f"{stem}.html",
        {"html": "Interactive page, opens in any browser (*.html)"},
    )
    if answer is None:
        return None
    path, _ = answer
    try:
        return write_page(trace, path, start=step)
    except (OSError, ValueError) as e:
        QMessageBox.warning(parent, "Export failed", f"Could not write {path.name}:\n{e}")
        return None


@dataclass
class AnimationOptions:
    pass_number: int = 1  # from 1
    fmt: str = "gif"
    fps: float = 8.0
    size: str = SIZES[0]


class AnimationDialog(QDialog):
    """Which pass, format, frame rate and size; ``mp4``: whether MP4 can be written here
    (else it is listed greyed out, with what to install)."""

    def __init__(
        self, parent: QWidget | None, passes: int, current: int = 1, *, mp4: bool = True
    ) -> None:
        super().__init__(parent)
        self.setObjectName("animation_dialog")
        self.setWindowTitle("Export animation")
        form = QFormLayout(self)
        self.pass_box = QSpinBox()
        self.pass_box.setRange(1, max(1, passes))
        self.pass_box.setValue(min(max(1, current), max(1, passes)))
        self.pass_box.setSuffix(f" of {passes}")
        self.format_box = QComboBox()
        for fmt, name in ANIMATION_FILTERS.items():
            self.format_box.addItem(name.partition(" (")[0], fmt)
        self.mp4_note = QLabel(f"MP4 needs its encoder: <code>{MP4_INSTALL}</code>")
        self.mp4_note.setObjectName("mp4_note")
        self.mp4_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if not mp4:
            model = self.format_box.model()
            assert isinstance(model, QStandardItemModel)  # a QComboBox's own model
            item = model.item(self.format_box.findData("mp4"))
            item.setEnabled(False)
            item.setText("MP4 video (not installed)")
            item.setToolTip(f"MP4 needs imageio-ffmpeg: {MP4_INSTALL}")
        self.fps_box = QDoubleSpinBox()
        self.fps_box.setRange(0.5, 60.0)
        self.fps_box.setValue(AnimationOptions.fps)
        self.fps_box.setSuffix(" frames/s")
        self.size_box = QComboBox()
        self.size_box.addItems(list(SIZES))
        form.addRow("Backward pass", self.pass_box)
        form.addRow("Format", self.format_box)
        form.addRow("", self.mp4_note)
        form.setRowVisible(self.mp4_note, not mp4)  # said only when MP4 cannot be written
        form.addRow("Frame rate", self.fps_box)
        form.addRow("Size", self.size_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> AnimationOptions:
        return AnimationOptions(
            self.pass_box.value(),
            str(self.format_box.currentData()),
            self.fps_box.value(),
            self.size_box.currentText(),
        )


def save_animation_dialog(
    parent: QWidget | None, trace: Trace, current_pass: int, *, directory: str | os.PathLike[str]
) -> Path | None:
    """Export Animation…: a backward pass as an animated GIF or APNG, or an MP4 video, as
    ``--animate``."""
    if not trace.passes:
        QMessageBox.information(parent, "Nothing to animate", "This scenario has no backward pass.")
        return None
    dialog = AnimationDialog(parent, len(trace.passes), current_pass, mp4=mp4_available())
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    options = dialog.options()
    stem = Path(trace.scenario.path).stem or "lesson"
    suggested = Path(directory) / f"{stem}-pass{options.pass_number}{SUFFIXES[options.fmt][0]}"
    answer = _ask_save(
        parent, "Export animation", suggested, {options.fmt: ANIMATION_FILTERS[options.fmt]}
    )
    if answer is None:
        return None
    path, fmt = answer
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        steps = pass_steps(trace, options.pass_number)
        if frame_count(trace, steps) > MOST_FRAMES:
            raise AnimationError(f"more than {MOST_FRAMES:,} frames: animate a smaller graph")
        frames = pass_frames(trace, steps, parse_size(options.size), options.fps)
        return atomic_write_bytes(path, encode(frames, fmt, theme_colours()))
    except (AnimationError, ExportError, OSError) as e:
        QMessageBox.warning(parent, "Export failed", f"Could not write {path.name}:\n{e}")
        return None
    finally:
        QGuiApplication.restoreOverrideCursor()
