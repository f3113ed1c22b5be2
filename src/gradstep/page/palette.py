"""The app's light theme as plain data, read from ``gui/theme.py`` without importing Qt.

The page must look like the app, and its colours must follow the theme when
the theme changes; but ``gradstep.gui.theme`` imports PySide6, which the page
(a core package) may not. So the ``LIGHT = Theme(...)`` literal and the
dataclass's defaults are read from the module's source with ``ast``: the
values the app uses, copied when a page is made. A test compares them with
the imported theme.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import gradstep


def _theme_source() -> Path:
    gui = Path(gradstep.__file__).parent / "gui"
    found = sorted(gui.rglob("theme.py"))
    if not found:
        raise FileNotFoundError(f"no theme.py under {gui}")
    return found[0]


@cache
def light_palette() -> dict[str, str | float]:
    """Every field of the app's ``LIGHT`` theme: its colours, faded opacity and widths."""
    tree = ast.parse(_theme_source().read_text(encoding="utf-8"))
    values: dict[str, str | float] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Theme":
            for item in node.body:  # the defaults (module_fill, nonfinite, widths, ...)
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and item.value is not None
                ):
                    values[item.target.id] = ast.literal_eval(item.value)
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "LIGHT" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for kw in node.value.keywords:
                if kw.arg is not None:
                    values[kw.arg] = ast.literal_eval(kw.value)
    if "background" not in values:
        raise ValueError(f"no LIGHT = Theme(...) in {_theme_source()}")
    return values
