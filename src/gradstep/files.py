"""Files written completely or not at all, for every writer in the package (no Qt, no torch).

The bytes go to a temporary file in the target's folder, are flushed to disk and moved
into place with ``os.replace``: an error or Ctrl+C leaves the previous file, never half
of one. The new file gets the old one's permissions, else those a new file gets here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class FolderMissing(FileNotFoundError):
    """The folder a file was to be written in does not exist."""


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` completely or not at all."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FolderMissing(f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        os.chmod(tmp, file_mode(path, 0o666))  # mkstemp makes it private
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


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """``text`` as UTF-8, completely or not at all."""
    return atomic_write(path, text.encode("utf-8"))


def file_mode(path: Path, default: int) -> int:
    """The permissions a new file (or folder) would get: the old one's, else per the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return default & ~umask
