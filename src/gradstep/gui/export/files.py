"""Files written completely or not at all, and the errors an export reports.

A file's bytes are made in memory, written to a temporary file in the same
folder and moved into place with ``os.replace``; a folder (a handout) is
built under a temporary name and renamed into place. A failure or Ctrl+C
leaves the previous file or folder, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

FORMATS = ("png", "svg", "pdf")


class ExportError(Exception):
    """An export that could not be written; the message says why, for the user."""


class HandoutError(ExportError):
    """A handout that could not be written (the folder is left as it was)."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` completely or not at all."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        os.chmod(tmp, file_mode(path, 0o666))  # mkstemp makes it private; a figure is not
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # an error or Ctrl+C: leave no half-written file behind
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def file_mode(path: Path, default: int) -> int:
    """The permissions a new file (or folder) would get: the old one's, else per the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return default & ~umask


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
