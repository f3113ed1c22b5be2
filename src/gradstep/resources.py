"""Where the bundled files are: next to the package when installed, the repo's resources/ in a checkout."""

from __future__ import annotations

from pathlib import Path

DEFAULT_SCENARIO = "01_square.py"


def resources_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "resources"
    if installed.is_dir():
        return installed
    return here.parent.parent / "resources"


def scenarios_dir() -> Path:
    return resources_dir() / "scenarios"


def bundled_scenarios() -> list[Path]:
    d = scenarios_dir()
    return sorted(p for p in d.iterdir() if p.suffix in (".py", ".ipynb")) if d.is_dir() else []


def default_scenario() -> Path:
    return scenarios_dir() / DEFAULT_SCENARIO


#: the desktop's name for gradstep: the .desktop file, the icon and the AppStream id
APP_ID = "io.github.gradstep.Gradstep"


def icons_dir() -> Path:
    return resources_dir() / "icons"


def desktop_dir() -> Path:
    """The desktop entry, AppStream data, file types and their install script: inside the
    installed package (the wheel puts packaging/linux there), or packaging/linux in a checkout."""
    installed = resources_dir() / "linux"
    if installed.is_dir():
        return installed
    return resources_dir().parent / "packaging" / "linux"
