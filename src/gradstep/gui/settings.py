"""What the window keeps between sessions in QSettings, besides its layout: recent files,
files trusted to run unrestricted, and each file's breakpoints (as node keys)."""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings

RECENT_KEY = "files/recent"
TRUSTED_KEY = "files/trusted"  # files the user chose to run unrestricted
MAX_RECENT = 10


def saved_bytes(settings: QSettings, key: str) -> QByteArray:
    """A saved window geometry or dock state: the QByteArray it was stored as (empty when
    there is none, or when a settings file holds something else there)."""
    value = settings.value(key, QByteArray())
    return value if isinstance(value, QByteArray) else QByteArray()


def recent_files(settings: QSettings) -> list[str]:
    return _paths(settings, RECENT_KEY)


def remember_recent(settings: QSettings, path: str) -> None:
    items = [p for p in recent_files(settings) if p != path]
    settings.setValue(RECENT_KEY, [path, *items][:MAX_RECENT])


def _paths(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [p for p in items if p]


def is_trusted(settings: QSettings, path: str) -> bool:
    return path in _paths(settings, TRUSTED_KEY)


def set_trusted(settings: QSettings, path: str, on: bool) -> None:
    others = [p for p in _paths(settings, TRUSTED_KEY) if p != path]
    settings.setValue(TRUSTED_KEY, [*others, path] if on else others)


BREAKPOINTS_KEY = "breakpoints/by_file"


def saved_breakpoints(settings: QSettings, path: str) -> list[str]:
    """The breakpoints kept for the scenario at ``path``, as node keys."""
    try:
        saved = json.loads(str(settings.value(BREAKPOINTS_KEY, "{}")))
    except ValueError:
        return []
    keys = saved.get(path, []) if isinstance(saved, dict) else []
    return [k for k in keys if isinstance(k, str)]


def save_breakpoints(settings: QSettings, path: str, keys: list[str]) -> None:
    try:
        saved = json.loads(str(settings.value(BREAKPOINTS_KEY, "{}")))
    except ValueError:
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    if keys:
        saved[path] = keys
    else:
        saved.pop(path, None)
    settings.setValue(BREAKPOINTS_KEY, json.dumps(saved))
