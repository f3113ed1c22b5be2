"""Whether a window can open here, asked before Qt is imported.

Qt aborts the whole process (SIGABRT, "could not load the Qt platform plugin
xcb") when it finds no display; this check turns that into one line that
points to the commands that need none.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

HEADLESS_COMMANDS = (
    "gradstep trace FILE, gradstep export FILE -o out.png and gradstep handout FILE -o DIR"
)

# the platform plugins that need a display server, and the variable that names it
_NEEDS = {"xcb": "DISPLAY", "wayland": "WAYLAND_DISPLAY", "wayland-egl": "WAYLAND_DISPLAY"}


def display_problem(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why the window cannot open here, in one line; None when it can (as far as
    the environment tells: a display server that refuses us is Qt's to report)."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None  # macOS and Windows always have their window system
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        # "wayland;xcb" is a list of fallbacks; "xcb:option" carries options
        names = [part.split(":")[0].strip() for part in requested.split(";") if part.strip()]
        if any(_NEEDS.get(n) is None or env.get(_NEEDS[n]) for n in names):
            return None
        missing = " and ".join(sorted({_NEEDS[n] for n in names}))
        return (
            f"QT_QPA_PLATFORM={requested} needs a display, but {missing} is not set; "
            f"without a display use {HEADLESS_COMMANDS}"
        )
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display here (DISPLAY and WAYLAND_DISPLAY are not set), so the window cannot "
        f"open; without a display use {HEADLESS_COMMANDS}"
    )
