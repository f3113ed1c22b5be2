"""The one writer of whole files: a trace, a lesson page, a figure, an animation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gradstep import files
from gradstep.files import FolderMissing, atomic_write, atomic_write_text


def test_a_file_is_written_whole_with_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "page.html", "é\nline\n")
    finally:
        os.umask(umask)
    assert path.read_bytes() == "é\nline\n".encode()
    assert path.stat().st_mode & 0o777 == 0o644  # not the temporary file's private 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")
    path.chmod(0o600)
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trace.json"
    path.write_text("old")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["trace.json"]


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FolderMissing, match="does not exist") as caught:
        atomic_write(tmp_path / "no" / "such.png", b"x")
    assert isinstance(caught.value, FileNotFoundError)  # what callers of the page expect
    assert str(tmp_path / "no") in str(caught.value)
