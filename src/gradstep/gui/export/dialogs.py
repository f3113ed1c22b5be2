"""The export dialogs: where to save a figure, a screenshot or a handout; never replace silently."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from gradstep.gui.export.figure import Caption
from gradstep.gui.export.files import FORMATS, ExportError
from gradstep.gui.export.formats import export_graph, export_widget_png
from gradstep.gui.export.handout import Per, is_handout_folder, write_handout
from gradstep.trace.model import Trace
from gradstep.trace.text import step_number

GRAPH_FILTERS = {
    "png": "PNG image, 2× for slides (*.png)",
    "svg": "SVG vector drawing (*.svg)",
    "pdf": "PDF document, vector (*.pdf)",
}


def confirm_replace(parent: QWidget | None, path: Path) -> bool:
    """Ask before replacing an existing file (True: go ahead)."""
    if not path.exists():
        return True
    return _yes(
        parent, "Replace file?", f"{path.name} already exists in {path.parent}.\nReplace it?"
    )


def _yes(parent: QWidget | None, title: str, question: str) -> bool:
    """Yes or Cancel, Cancel the default: True for Yes."""
    answer = QMessageBox.question(
        parent,
        title,
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


def _ask_path(
    parent: QWidget | None, title: str, suggested: Path, formats: Sequence[str]
) -> tuple[Path, str] | None:
    filters = [GRAPH_FILTERS[f] for f in formats]
    chosen, selected = QFileDialog.getSaveFileName(
        parent, title, str(suggested), ";;".join(filters)
    )
    if not chosen:
        return None
    path = Path(chosen)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        fmt = formats[filters.index(selected)] if selected in filters else formats[0]
        path = path.with_name(path.name + "." + fmt)
        # the dialog asked about the name as typed, not with the suffix added
        if not confirm_replace(parent, path):
            return None
        return path, fmt
    return path, suffix


def save_graph_dialog(
    parent: QWidget | None,
    view: Any,
    *,
    directory: str | os.PathLike[str] | None = None,
    caption: Caption = True,
    legend: bool = True,
    scale: float = 2.0,
) -> Path | None:
    """File ▸ Export graph…: ask where (PNG, SVG or PDF), never replace a file silently."""
    session = getattr(view, "session", None)
    stem, step = "graph", 0
    if session is not None:
        stem, step = Path(session.trace.scenario.path).stem or "graph", step_number(session.index)
    folder = Path(directory) if directory else Path.home()
    answer = _ask_path(parent, "Export graph", folder / f"{stem}-step{step}.png", FORMATS)
    if answer is None:
        return None
    path, fmt = answer
    return _written(
        parent,
        "Export failed",
        path,
        lambda: export_graph(view, path, fmt, scale=scale, caption=caption, legend=legend),
    )


def save_screenshot_dialog(
    parent: QWidget | None,
    widget: QWidget,
    *,
    directory: str | os.PathLike[str] | None = None,
    scale: float = 1.0,
) -> Path | None:
    """File ▸ Save window screenshot…: the whole window (or any widget) as PNG."""
    folder = Path(directory) if directory else Path.home()
    answer = _ask_path(parent, "Save screenshot", folder / "gradstep-window.png", ("png",))
    if answer is None:
        return None
    path, _ = answer
    return _written(
        parent, "Screenshot failed", path, lambda: export_widget_png(widget, path, scale=scale)
    )


def save_handout_dialog(
    parent: QWidget | None,
    trace: Trace,
    *,
    directory: str | os.PathLike[str] | None = None,
    per: Per = "node",
    pdf: bool = True,
) -> Path | None:
    """File ▸ Export handout…: pick a folder; ``<scenario>-handout`` is written inside it.

    A previous handout there is replaced only after asking; any other
    non-empty folder of that name is left alone.
    """
    start = str(directory) if directory else str(Path.home())
    chosen = QFileDialog.getExistingDirectory(parent, "Export handout into folder", start)
    if not chosen:
        return None
    stem = Path(trace.scenario.path).stem or "scenario"
    target = Path(chosen) / f"{stem}-handout"
    if target.exists() and any(target.iterdir()):
        if not is_handout_folder(target):
            QMessageBox.warning(
                parent,
                "Folder in use",
                f"{target} exists and is not a gradstep handout.\nChoose another folder.",
            )
            return None
        if not _yes(parent, "Replace handout?", f"Replace the handout in {target}?"):
            return None
    progress = QProgressDialog("Writing the handout…", "", 0, 0, parent)
    progress.setCancelButton(None)
    progress.setMinimumDuration(300)
    progress.setWindowModality(Qt.WindowModality.WindowModal)

    def step(done: int, total: int) -> None:
        progress.setMaximum(total)
        progress.setValue(done)

    try:
        return _written(
            parent,
            "Handout failed",
            target,
            lambda: write_handout(trace, target, per=per, pdf=pdf, progress=step),
        )
    finally:
        progress.close()


def _written(
    parent: QWidget | None, title: str, path: Path, write: Callable[[], Path]
) -> Path | None:
    """What ``write()`` wrote; None once a message has told the user why it could not."""
    try:
        return write()
    except (ExportError, OSError) as e:
        QMessageBox.warning(parent, title, f"Could not write {path.name}:\n{e}")
        return None
