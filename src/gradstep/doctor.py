"""``gradstep doctor``: what a student pastes into a forum post when something is wrong.

Versions, where gradstep is installed, whether a window can open here (and if
not, why), which sandbox walls the worker can put up, and the settings and
cache folders. torch is not imported (1.5 s, and the question is only which
one is installed); the window check runs Qt in a child process, because a
platform plugin that cannot load aborts the process that tried.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from gradstep import __version__
from gradstep.display import display_problem
from gradstep.resources import resources_dir

Row = tuple[str, str]

_MISSING_LIBRARY = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[Row]:
    rows = [
        ("gradstep", __version__),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("system", platform.platform()),
        ("torch", _dist_version("torch")),
    ]
    try:
        import PySide6
        from PySide6.QtCore import qVersion

        rows.append(("PySide6", f"{PySide6.__version__} (Qt {qVersion()})"))
    except ImportError as e:
        rows.append(("PySide6", f"cannot be imported: {e}"))
    rows += [(name, _dist_version(name)) for name in ("pyqtgraph", "numpy", "networkx")]
    return rows


def installation() -> list[Row]:
    package = Path(__file__).resolve().parent
    if getattr(sys, "frozen", False):
        kind = f"desktop bundle at {Path(sys.executable).parent}"
    elif (package.parent.parent / "pyproject.toml").is_file():
        kind = f"from a checkout at {package.parent.parent}"
    else:
        kind = f"installed at {package}"
    lessons = resources_dir() / "scenarios"
    count = len([p for p in lessons.glob("*") if p.suffix in (".py", ".ipynb")])
    return [("gradstep is", kind), ("lessons", f"{count} in {lessons}")]


def _platform_plugins() -> str:
    try:
        from PySide6.QtCore import QLibraryInfo

        folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    except ImportError:
        return "?"
    names = sorted(
        p.name.split(".")[0].removeprefix("libq").removeprefix("q") for p in folder.glob("*q*")
    )
    return ", ".join(names) or f"none found in {folder}"


def _window_check() -> str:
    """Start Qt's platform plugin in a child and report what it said (or how it died)."""
    env = dict(os.environ, QT_DEBUG_PLUGINS="1")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gradstep.qt_probe"],
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "FAILED: Qt did not start within 30 s"
    if done.returncode == 0:
        return "ok, " + done.stdout.strip()
    how = f"exit status {done.returncode}"
    if done.returncode < 0:
        try:
            how = f"killed by {signal.Signals(-done.returncode).name}"
        except ValueError:
            how = f"killed by signal {-done.returncode}"
    # Qt's own message always blames libxcb-cursor0; the plugin loader's debug lines
    # name the library that is really missing
    missing = sorted(set(_MISSING_LIBRARY.findall(done.stderr)))
    if missing:
        return f"FAILED ({how}): missing system libraries {', '.join(missing)}"
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    said = [ln for ln in lines if "could not" in ln.lower()] or lines[-1:]
    return f"FAILED ({how}): {'; '.join(said[:2]) or 'no message'}"


def display_rows() -> list[Row]:
    problem = display_problem()
    env = os.environ
    shown = ", ".join(
        f"{k}={env[k]}" for k in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE") if env.get(k)
    )
    rows = [
        ("display", shown or ("none" if sys.platform.startswith("linux") else "the system's")),
        (
            "Qt platform",
            f"{env.get('QT_QPA_PLATFORM') or 'default'} (QT_QPA_PLATFORM"
            f"{' set' if env.get('QT_QPA_PLATFORM') else ' unset'}); "
            f"plugins: {_platform_plugins()}",
        ),
    ]
    if problem:
        rows.append(("window", problem))
    else:
        rows.append(("window", _window_check()))
    return rows


def walls() -> list[Row]:
    try:
        from gradstep.worker.walls import probe
    except ImportError:
        return [("sandbox walls", "not available in this version")]
    try:
        found = probe()
    except Exception as e:  # a report must not die of what it reports on
        return [("sandbox walls", f"could not be probed: {type(e).__name__}: {e}")]
    return [(f"wall {name}", _describe(value)) for name, value in found.items()]


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def folders() -> list[Row]:
    try:
        from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths
    except ImportError:
        return [("settings", "? (PySide6 cannot be imported)")]
    QCoreApplication.setOrganizationName("gradstep")  # as the app does, so paths agree
    QCoreApplication.setApplicationName("gradstep")
    settings = Path(QSettings("gradstep", "gradstep").fileName())
    cache = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation))
    return [
        ("settings", f"{settings}{'' if settings.exists() else ' (not written yet)'}"),
        ("cache", f"{cache}{'' if cache.exists() else ' (not used)'}"),
    ]


SECTIONS: tuple[Callable[[], list[Row]], ...] = (
    versions,
    installation,
    display_rows,
    walls,
    folders,
)


def report() -> str:
    rows: list[Row] = []
    for section in SECTIONS:
        try:
            rows += section()
        except Exception as e:  # one broken section still leaves the others to read
            rows.append((section.__name__, f"could not be checked: {type(e).__name__}: {e}"))
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k + ':':<{width + 1}} {v}\n" for k, v in rows)


def doctor_command() -> int:
    sys.stdout.write(report())
    return 0
