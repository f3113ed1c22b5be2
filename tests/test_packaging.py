"""Desktop integration: the files validate with the tools desktops use, agree with each
other, install for one user and come out again; the committed icons are the SVG's."""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gradstep.resources import APP_ID, desktop_dir, icons_dir

DESKTOP = desktop_dir() / f"{APP_ID}.desktop"
METAINFO = desktop_dir() / f"{APP_ID}.metainfo.xml"
MIME = desktop_dir() / "gradstep-scenarios.xml"
INSTALL = desktop_dir() / "install-desktop.sh"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _tool(name: str) -> str:
    """The validator, or a skip on a developer machine without it (CI installs it: a fail there)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_desktop_file_validates():
    done = subprocess.run(
        [_tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "error" not in done.stdout, done.stdout


def test_the_appstream_metainfo_validates():
    done = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_desktop_file_metainfo_and_file_types_agree():
    entry = _entry(DESKTOP)
    assert entry["Icon"] == APP_ID
    assert entry["Exec"] == "gradstep %f"
    offered = set(filter(None, entry["MimeType"].split(";")))
    assert {"text/x-python3", "application/x-ipynb+json"} <= offered
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    declared = {t.get("type"): t for t in ET.parse(MIME).getroot().findall("m:mime-type", ns)}
    assert set(declared) <= offered
    globs = {g.get("pattern") for t in declared.values() for g in t.findall("m:glob", ns)}
    assert globs == {"*.py", "*.ipynb"}
    meta = ET.parse(METAINFO).getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.findtext("launchable") == DESKTOP.name
    assert {m.text for m in meta.iter("mediatype")} <= offered


def test_the_release_in_the_metainfo_is_this_version():
    import gradstep

    releases = [r.get("version") for r in ET.parse(METAINFO).getroot().iter("release")]
    assert releases and releases[0] == gradstep.__version__


def test_the_changelog_has_an_entry_for_this_version():
    import gradstep

    changelog = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
    assert f"## [{gradstep.__version__}] - " in changelog.read_text(encoding="utf-8")


def test_the_committed_icons_are_the_svg_rendered_at_each_size(qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(icons_dir() / "gradstep.svg"))
    assert renderer.isValid()
    for size in SIZES:
        committed = QImage(
            str(icons_dir() / "hicolor" / f"{size}x{size}" / "apps" / "gradstep.png")
        )
        assert (committed.width(), committed.height()) == (size, size)
        fresh = QImage(size, size, QImage.Format.Format_ARGB32)
        fresh.fill(Qt.GlobalColor.transparent)
        painter = QPainter(fresh)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        committed = committed.convertToFormat(QImage.Format.Format_ARGB32)
        a = bytes(committed.constBits())
        b = bytes(fresh.constBits())
        mean_diff = sum(abs(x - y) for x, y in zip(a, b)) / len(a)
        assert mean_diff < 2.0, f"{size}px differs from the SVG: run packaging/render-icons.py"
        opaque = sum(1 for i in range(3, len(a), 4) if a[i] > 200) / (size * size)
        assert 0.6 < opaque < 0.95  # a rounded square: not blank, not a full square


def _fake_gradstep(tmp_path: Path) -> Path:
    exe = tmp_path / "bin dir" / "gradstep"  # a space, as in a home folder named so
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_install_for_one_user_offers_gradstep_for_py_and_ipynb_and_uninstalls(tmp_path):
    exe = _fake_gradstep(tmp_path)
    data = tmp_path / "share"
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    done = subprocess.run(
        ["sh", str(INSTALL), "--exec", str(exe)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    installed = data / "applications" / DESKTOP.name
    entry = _entry(installed)
    assert entry["Exec"] == f'"{exe}" %f'
    assert entry["TryExec"] == str(exe)
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (data / "metainfo" / METAINFO.name).is_file()
    assert (data / "mime" / "packages" / MIME.name).is_file()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(installed)], capture_output=True)
        assert check.returncode == 0, check.stdout
    if shutil.which("update-desktop-database"):  # what a file manager's "Open With" reads
        cache = (data / "applications" / "mimeinfo.cache").read_text()
        for mime in ("text/x-python3", "application/x-ipynb+json"):
            assert f"{mime}={DESKTOP.name};" in cache
    if shutil.which("update-mime-database"):
        globs = (data / "mime" / "globs2").read_text()
        assert "application/x-ipynb+json:*.ipynb" in globs

    done = subprocess.run(
        ["sh", str(INSTALL), "--uninstall"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert not installed.exists()
    assert not list(data.glob(f"icons/hicolor/*/apps/{APP_ID}.*"))
    assert not (data / "mime" / "packages" / MIME.name).exists()


def test_install_refuses_a_command_that_is_not_there(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "share"))
    done = subprocess.run(
        ["sh", str(INSTALL), "--exec", str(tmp_path / "nothere")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    assert "is not an executable" in done.stderr
    assert not (tmp_path / "share" / "applications").exists()
