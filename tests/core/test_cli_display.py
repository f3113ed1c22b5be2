"""No display, no crash: the window is refused in one line before Qt is imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gradstep.display import display_problem


@pytest.mark.parametrize(
    "env",
    [
        {"DISPLAY": ":0"},
        {"WAYLAND_DISPLAY": "wayland-0"},
        {"QT_QPA_PLATFORM": "offscreen"},
        {"QT_QPA_PLATFORM": "vnc:size=800x600"},
        {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"},
        {"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"},
    ],
)
def test_a_display_or_a_platform_without_one_lets_the_window_open(env):
    assert display_problem(env, "linux") is None


@pytest.mark.parametrize(
    "env, named",
    [
        ({}, "DISPLAY and WAYLAND_DISPLAY"),
        ({"DISPLAY": ""}, "DISPLAY and WAYLAND_DISPLAY"),
        ({"QT_QPA_PLATFORM": "xcb"}, "DISPLAY"),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "DISPLAY and WAYLAND_DISPLAY"),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "DISPLAY"),
    ],
)
def test_no_display_is_one_line_naming_what_is_missing_and_the_headless_commands(env, named):
    problem = display_problem(env, "linux")
    assert problem is not None and "\n" not in problem
    assert f"{named} is not set" in problem or f"({named} are not set)" in problem
    for command in ("gradstep trace", "gradstep export", "gradstep handout"):
        assert command in problem


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_always_have_a_window_system(platform):
    assert display_problem({}, platform) is None


def _headless_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    return {**env, **extra}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux display check")
@pytest.mark.parametrize("args", [[], ["05"], ["open", "01"], ["--presentation"]])
@pytest.mark.parametrize("extra", [{}, {"QT_QPA_PLATFORM": "xcb"}])
def test_the_window_without_a_display_exits_2_with_one_line_instead_of_aborting(args, extra):
    done = subprocess.run(
        [sys.executable, "-m", "gradstep", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_headless_env(**extra),
    )
    assert done.returncode == 2, done.stderr  # Qt's abort is -6 (SIGABRT)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradstep: ")
    assert "gradstep trace FILE" in lines[0]
    assert done.stdout == ""


def test_the_window_without_a_display_is_refused_before_qt_is_imported(monkeypatch, capsys):
    from gradstep.cli import main

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["05"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradstep: no display here") and err.count("\n") == 1
