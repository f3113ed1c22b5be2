"""Helpers shared by the GUI tests."""

from __future__ import annotations

import os
from pathlib import Path


def write_replacing(path: Path, text: str) -> None:
    """Save the way editors do: write a new file, then rename it over the old one."""
    tmp = path.with_suffix(".tmp~")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def open_and_wait(qtbot, window, path: Path, *, trusted: bool = True) -> None:
    with qtbot.waitSignal(window.trace_ready, timeout=30_000):
        window.open_scenario(path, trusted=trusted)
