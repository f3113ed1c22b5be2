"""``gradstep doctor`` and the bundle's entry point that starts gradstep's own children."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import gradstep
from gradstep import doctor
from gradstep.frozen import child_module


def _rows(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, **extra}


def _doctor(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradstep", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(**env),
    )


def test_doctor_reports_versions_without_importing_torch():
    code = "import sys; from gradstep.doctor import report; r = report(); print('torch' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env()
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("False")
    rows = _rows(doctor.report())
    assert rows["gradstep"] == gradstep.__version__
    assert rows["torch"] == metadata.version("torch")
    assert rows["Python"].startswith(".".join(map(str, sys.version_info[:3])))
    assert rows["PySide6"].startswith(metadata.version("PySide6-Essentials"))


def test_doctor_says_the_window_opens_offscreen_and_which_walls_and_folders():
    done = _doctor(QT_QPA_PLATFORM="offscreen")
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert rows["window"] == "ok, platform offscreen, screen 800x800"
    assert rows["Qt platform"].startswith("offscreen (QT_QPA_PLATFORM set)")
    assert "offscreen" in rows["Qt platform"].split("plugins:")[1]
    assert rows["lessons"].startswith("16 in ") or int(rows["lessons"].split()[0]) >= 16
    walls = {k: v for k, v in rows.items() if "wall" in k}
    assert walls, done.stdout
    settings = Path(rows["settings"].split(" (")[0])
    assert settings.name == "gradstep.conf"
    assert settings.parent == Path(os.environ["XDG_CONFIG_HOME"]) / "gradstep"  # the tests' own


def test_doctor_without_a_display_says_so_instead_of_trying():
    env = _env()
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(
        [sys.executable, "-m", "gradstep", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert rows["display"] == "none"
    assert rows["window"].startswith("no display here")


def test_doctor_names_why_qt_could_not_start():
    # a platform plugin that does not exist: Qt aborts the child, the report goes on
    done = _doctor(QT_QPA_PLATFORM="nosuchplatform")
    assert done.returncode == 0, done.stderr
    window = _rows(done.stdout)["window"]
    assert window.startswith("FAILED (killed by SIGABRT)"), window
    assert "nosuchplatform" in window


def _fake_bundle(tmp_path: Path) -> Path:
    """An executable that behaves as the bundle does: sys.executable is the app itself."""
    app = tmp_path / "gradstep-app"
    app.write_text(
        "#!/bin/sh\n"
        f'exec "{sys.executable}" -c "import sys, os; sys.executable = os.environ[\'FAKE_APP\']; '
        'sys.frozen = True; from gradstep.frozen import main; sys.exit(main())" "$@"\n'
    )
    app.chmod(app.stat().st_mode | stat.S_IXUSR)
    return app


def test_the_bundle_entry_point_starts_its_own_worker_and_window_check(tmp_path):
    app = _fake_bundle(tmp_path)
    env = _env(FAKE_APP=str(app), QT_QPA_PLATFORM="offscreen")
    # trace: the worker is started as `app -m gradstep.worker`, which must run the worker
    done = subprocess.run(
        [str(app), "trace", "01"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # d(x²)/dx at 3: the accumulate row ends with x.grad's new value
    accumulate = next(r for r in done.stdout.splitlines() if "x.grad accumulates" in r)
    assert accumulate.endswith("= 6")
    done = subprocess.run(
        [str(app), "doctor"], capture_output=True, text=True, timeout=120, env=env
    )
    rows = _rows(done.stdout)
    assert rows["gradstep is"].startswith("desktop bundle at ")
    assert rows["window"] == "ok, platform offscreen, screen 800x800"
    # the walls are probed in children too (the network namespace): the same answers as
    # from Python, not "could not try"
    plain = _rows(_doctor(QT_QPA_PLATFORM="offscreen").stdout)
    walls = {k: v for k, v in rows.items() if k.startswith("wall")}
    assert walls and not any("could not try" in v for v in walls.values()), walls
    assert walls == {k: v for k, v in plain.items() if k.startswith("wall")}


def test_the_bundle_entry_point_runs_only_gradstep_s_own_children(tmp_path):
    app = _fake_bundle(tmp_path)
    env = _env(FAKE_APP=str(app), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [str(app), "-m", "http.server"], capture_output=True, text=True, timeout=60, env=env
    )
    # taken as the window's FILE, which is neither a file nor a lesson
    assert done.returncode == 2
    assert "Serving HTTP" not in done.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["-m", "gradstep.worker", "--on-demand"], ("gradstep.worker", ["--on-demand"])),
        (["-I", "-m", "gradstep.qt_probe"], ("gradstep.qt_probe", [])),
        (["-m", "gradstep", "trace", "05"], ("gradstep", ["trace", "05"])),
        (["-m", "http.server"], None),
        (["-m", "gradstepx.evil"], None),
        (["-c", "print(1)"], None),
        (["-I", "-c", "print(1)"], None),
        (["trace", "-m", "gradstep.worker"], None),
        (["-m"], None),
    ],
)
def test_the_bundle_runs_as_a_child_only_a_module_of_gradstep(args, expected):
    assert child_module(args) == expected


def test_a_restricted_scenario_in_a_bundle_may_read_the_bundle_s_own_archive(monkeypatch, tmp_path):
    # a PyInstaller bundle imports the standard library and torch's lazy modules from the
    # archive inside its executable, which lies outside sys.prefix (_internal/)
    from gradstep.scenario import audit

    app = tmp_path / "bundle" / "gradstep"
    app.parent.mkdir()
    app.write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "executable", str(app))
    assert str(app) not in audit.read_roots()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert str(app) in audit.read_roots()


def test_the_walls_let_a_bundle_read_its_own_archive(monkeypatch, tmp_path):
    from gradstep.worker import walls

    app = tmp_path / "bundle" / "gradstep"
    app.parent.mkdir()
    app.write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "executable", str(app))
    assert str(app) not in walls.readable_paths(None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert str(app) in walls.readable_paths(None)


# --- the same, in the test process (what coverage sees) -----------------------------------


def test_the_report_in_process_says_the_window_opens_offscreen(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    rows = _rows(doctor.report())
    assert rows["window"] == "ok, platform offscreen, screen 800x800"
    assert rows["gradstep is"].startswith("from a checkout at ")  # the tests run from one
    assert rows["lessons"].split()[0] == "16" or int(rows["lessons"].split()[0]) > 16


def test_the_report_in_process_names_a_platform_qt_could_not_load(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "nosuchplatform")
    window = _rows(doctor.report())["window"]
    assert window.startswith("FAILED (killed by SIGABRT)") and "nosuchplatform" in window


def _answer(returncode: int, stderr: str):
    def run(command, **kwargs):
        assert command[1:] == ["-m", "gradstep.qt_probe"]
        return subprocess.CompletedProcess(command, returncode, "", stderr)

    return run


def test_the_window_check_names_the_missing_library_not_the_one_qt_blames(monkeypatch):
    stderr = (
        'qt.core.library: "/x/plugins/platforms/libqxcb.so" cannot load: Cannot load library '
        "/x/plugins/platforms/libqxcb.so: libxcb-icccm.so.4: cannot open shared object file: "
        "No such file or directory\n"
        "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin.\n"
        'qt.qpa.plugin: Could not load the Qt platform plugin "xcb" in "" even though it was found.\n'
    )
    monkeypatch.setattr(doctor.subprocess, "run", _answer(-6, stderr))
    assert doctor._window_check() == (
        "FAILED (killed by SIGABRT): missing system libraries libxcb-icccm.so.4"
    )
    monkeypatch.setattr(doctor.subprocess, "run", _answer(1, stderr.split("\n", 1)[1]))
    assert doctor._window_check() == (
        'FAILED (exit status 1): qt.qpa.plugin: Could not load the Qt platform plugin "xcb" '
        'in "" even though it was found.'
    )
    monkeypatch.setattr(doctor.subprocess, "run", _answer(-99, ""))
    assert doctor._window_check() == "FAILED (killed by signal 99): no message"


def test_the_window_check_gives_up_after_30_s(monkeypatch):
    def hang(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(doctor.subprocess, "run", hang)
    assert doctor._window_check() == "FAILED: Qt did not start within 30 s"


def test_a_broken_section_leaves_the_others_to_read(monkeypatch):
    from gradstep.worker import walls

    def broken():
        raise OSError("no /proc here")

    def display_rows():
        return [("display", str(1 / 0))]

    monkeypatch.setattr(walls, "probe", broken)
    monkeypatch.setattr(doctor, "SECTIONS", (doctor.versions, display_rows, doctor.walls))
    rows = _rows(doctor.report())
    assert rows["sandbox walls"] == "could not be probed: OSError: no /proc here"
    assert rows["display_rows"] == "could not be checked: ZeroDivisionError: division by zero"
    assert rows["gradstep"] == gradstep.__version__


def test_a_bundle_says_so_in_process(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "gradstep"))
    assert dict(doctor.installation())["gradstep is"] == f"desktop bundle at {tmp_path}"


def test_the_bundle_entry_runs_the_window_check_and_the_command_line(qapp, capsys, monkeypatch):
    from gradstep import frozen

    monkeypatch.setattr(sys, "argv", ["gradstep"])
    with pytest.raises(SystemExit) as done:  # as python -m would end
        frozen.main(["-I", "-m", "gradstep.qt_probe"])
    assert done.value.code == 0
    assert capsys.readouterr().out == "platform offscreen, screen 800x800\n"
    assert frozen.main(["lessons"]) == 0
    assert "05_logistic_regression_bce.py" in capsys.readouterr().out
