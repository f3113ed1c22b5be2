"""Files written completely or not at all, and the errors an export reports.

A file's bytes are made in memory and written by ``gradstep.files`` (a temporary
file in the same folder moved into place); a folder (a handout) is built under a
temporary name and renamed into place. A failure or Ctrl+C leaves the previous
file or folder, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gradstep.files import FolderMissing, atomic_write

FORMATS = ("png", "svg", "pdf")


class ExportError(Exception):
    """An export that could not be written; the message says why, for the user."""


class HandoutError(ExportError):
    """A handout that could not be written (the folder is left as it was)."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` completely or not at all (``gradstep.files``)."""
    try:
        return atomic_write(path, data)
    except FolderMissing as e:
        raise ExportError(str(e)) from None


def format_of(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format asked for, or the one the file name says."""
    if format:
        return format.lower()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ExportError(
            f"cannot tell the format of {Path(path).name}: name it .png, .svg or .pdf"
        )
    return suffix


def replace_folder(new: Path, target: Path) -> None:
    if not target.exists():
        os.replace(new, target)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    backup.rmdir()
    os.replace(target, backup)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(backup, target)  # put the old handout back
        raise
    shutil.rmtree(backup, ignore_errors=True)
