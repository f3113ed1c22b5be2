"""A handout: a folder with a Markdown walk-through of a scenario and its images (and a PDF).

The words come from ``handout_text``, the images and the PDF from
``handout_render``. The folder is built next to the target under a temporary
name and renamed into place, so a failure or Ctrl+C leaves the previous
handout (or nothing), never half. The folder dialog is in ``dialogs``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gradstep.files import file_mode
from gradstep.gui.export.book import Book
from gradstep.gui.export.files import HandoutError, replace_folder
from gradstep.gui.export.handout_render import render
from gradstep.gui.export.handout_text import IMAGES, Per, Progress, build_markdown
from gradstep.gui.theme import LIGHT, Theme
from gradstep.trace.model import Trace

__all__ = [
    "HandoutError",
    "Per",
    "build_markdown",
    "is_handout_folder",
    "write_handout",
]

MARKDOWN = "handout.md"
PDF = "handout.pdf"


def is_handout_folder(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MARKDOWN).is_file()


def write_handout(
    trace: Trace,
    out_dir: str | os.PathLike[str],
    *,
    per: Per = "node",
    pdf: bool = False,
    theme: Theme | None = None,
    scale: float = 2.0,
    progress: Progress | None = None,
    exercise: bool = False,
) -> Path:
    """Write the handout folder (``handout.md``, ``images/``, optionally ``handout.pdf``).

    An existing folder is replaced only if it is empty or a previous handout;
    ask the user first in the GUI (``is_handout_folder`` tells which).
    """
    target = Path(out_dir).resolve()
    if target.exists():
        if not target.is_dir():
            raise HandoutError(f"{target} exists and is not a folder")
        if any(target.iterdir()) and not is_handout_folder(target):
            raise HandoutError(
                f"{target} is not empty and is not a gradstep handout: choose a new folder"
            )
    if not target.parent.is_dir():
        raise HandoutError(f"folder {target.parent} does not exist")
    theme = theme or LIGHT
    doc = build_markdown(trace, per, exercise)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        os.chmod(tmp, file_mode(target, 0o777))  # mkdtemp makes it private; a handout is not
        (tmp / IMAGES).mkdir()
        book = None
        if pdf:
            title = trace.scenario.title or Path(trace.scenario.path).stem
            book = Book(tmp / PDF, title)
        try:
            render(trace, doc, tmp / IMAGES, theme, scale, progress, book, exercise)
        finally:
            if book is not None:
                book.close()
        markdown = "\n".join(doc.lines).rstrip() + "\n"
        (tmp / MARKDOWN).write_text(markdown, encoding="utf-8")
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
