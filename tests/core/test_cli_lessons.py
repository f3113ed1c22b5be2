"""Bundled lessons by number and name, and what a missing FILE says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradstep.cli import main
from gradstep.lessons import NoSuchScenario, find_lesson, lesson_table, lessons, resolve_scenario
from gradstep.resources import bundled_scenarios, scenarios_dir

BCE = "05_logistic_regression_bce.py"


def test_every_bundled_lesson_has_its_own_number_and_a_title():
    found = lessons()
    assert len(found) == len(bundled_scenarios()) >= 16
    numbers = [le.number for le in found]
    assert None not in numbers
    assert len(set(numbers)) == len(numbers)
    for le in found:
        assert le.title().strip(), le.path.name


@pytest.mark.parametrize(
    "key",
    [
        "05",
        "5",
        "005",
        "05_logistic_regression_bce",
        BCE,
        "logistic_regression_bce",
        " 05_Logistic_Regression_BCE ",
    ],
)
def test_a_lesson_is_found_by_number_or_name(key):
    lesson = find_lesson(key)
    assert lesson is not None and lesson.path == scenarios_dir() / BCE


@pytest.mark.parametrize(
    "key", ["99", "0", "", "logistic", "05_logistic", ".py", "06_logistic_regression_bce"]
)
def test_what_names_no_lesson_finds_none(key):
    assert find_lesson(key) is None


def test_a_notebook_lesson_is_found_by_number():
    lesson = find_lesson("15")
    assert lesson is not None and lesson.path.suffix == ".ipynb"


def test_an_existing_file_wins_over_a_lesson_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("05").write_text("import torch\n")
    assert resolve_scenario("05") == "05"
    assert resolve_scenario("06") == str(scenarios_dir() / "06_mean_of_squares.py")


def test_neither_file_nor_lesson_is_said_without_a_line_number_and_suggests_close_names():
    with pytest.raises(NoSuchScenario) as e:
        resolve_scenario("05_logistic_regresion_bce")
    message = str(e.value)
    assert "line" not in message
    assert "05_logistic_regresion_bce" in message and "05_logistic_regression_bce" in message
    assert "gradstep lessons" in message


def test_the_lesson_table_lists_number_file_and_title(capsys):
    assert main(["lessons"]) == 0
    out = capsys.readouterr().out
    assert out == lesson_table()
    row = next(line for line in out.splitlines() if BCE in line)
    assert row.split()[0] == "05"
    assert row.endswith(find_lesson("05").title())
    assert sum(1 for line in out.splitlines() if line[:3].strip().isdigit()) == len(lessons())


@pytest.mark.parametrize("command", ["trace", "export", "handout", "open"])
def test_every_command_refuses_a_missing_file_with_status_2_and_one_line(command, capsys, tmp_path):
    missing = str(tmp_path / "nothere.py")
    extra = ["-o", str(tmp_path / "out")] if command == "handout" else []
    assert main([command, missing, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("gradstep: no such file or bundled lesson: ") and missing in err
    assert "line" not in err


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradstep", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, **env),
    )


def test_trace_runs_a_lesson_named_by_its_number():
    done = _run("trace", "01")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(find_lesson("01").title())
    # d(x²)/dx at 3: the accumulate row ends with x.grad's new value
    accumulate = next(r for r in done.stdout.splitlines() if "x.grad accumulates" in r)
    assert accumulate.endswith("= 6")


def test_an_error_without_a_line_is_said_without_one(monkeypatch, capsys):
    # a crashed worker or a hard limit may not know the line: no "line None" then
    from gradstep import cli
    from gradstep.trace.errors import error_trace
    from gradstep.trace.model import ScenarioInfo

    def crashed(args):
        info = ScenarioInfo(path=args.file, title="t", summary="", source="")
        return error_trace(info, "WorkerCrash", "the worker process was killed", "crash")

    monkeypatch.setattr(cli, "record", crashed)
    assert main(["trace", "01"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.endswith(": WorkerCrash: the worker process was killed")
    assert "line" not in err
    assert err.startswith(str(scenarios_dir() / "01_square.py"))
