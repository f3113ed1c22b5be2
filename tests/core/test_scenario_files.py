"""A scenario path is not trusted: only a regular file of bounded size is read, promptly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.files import MAX_SCENARIO_BYTES, read_scenario_bytes
from gradstep.scenario.loader import load_scenario


def _fifo(tmp_path: Path) -> Path:
    p = tmp_path / "lesson.py"
    os.mkfifo(p)
    return p


def _dev_zero(tmp_path: Path) -> Path:
    p = tmp_path / "lesson.py"
    p.symlink_to("/dev/zero")
    return p


def _huge(tmp_path: Path) -> Path:
    p = tmp_path / "lesson.py"
    with open(p, "wb") as f:
        f.truncate(20 * 1024 * 1024)  # 20 MB of zeros, sparse on disk
    return p


def _folder(tmp_path: Path) -> Path:
    p = tmp_path / "lesson.py"
    p.mkdir()
    return p


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "lesson.py"


CASES = {
    "named pipe": (_fifo, "is not a regular file (a named pipe)"),
    "symlink to /dev/zero": (_dev_zero, "is not a regular file (a device)"),
    "20 MB file": (_huge, "lesson.py is 20.0 MB; a scenario file may be at most 10 MB"),
    "folder": (_folder, "is a folder, not a scenario file"),
    "missing": (_missing, "no such file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_what_is_not_a_scenario_file_is_refused_with_its_name(tmp_path, case):
    make, message = CASES[case]
    path = make(tmp_path)
    with pytest.raises(ScenarioRefused) as caught:
        read_scenario_bytes(path)
    assert message in caught.value.message and "lesson.py" in caught.value.message
    with pytest.raises(ScenarioRefused, match="lesson.py"):
        load_scenario(path)


@pytest.mark.parametrize("case", list(CASES))
def test_gradstep_trace_answers_promptly_with_a_clear_message(tmp_path, case):
    make, message = CASES[case]
    path = make(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "gradstep", "trace", str(path)],
        capture_output=True,
        text=True,
        timeout=120,  # a hang is a failure, not a stuck test run
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "line 0" not in out.stderr and "line None" not in out.stderr
    assert str(path) in out.stderr  # the file is named


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    real = tmp_path / "real.py"
    real.write_text("import torch\n")
    link = tmp_path / "lesson.py"
    link.symlink_to(real)
    assert read_scenario_bytes(link) == b"import torch\n"


def test_a_file_of_exactly_the_limit_is_read(tmp_path):
    p = tmp_path / "lesson.py"
    p.write_bytes(b"#" * MAX_SCENARIO_BYTES)
    assert len(read_scenario_bytes(p)) == MAX_SCENARIO_BYTES


def test_the_loader_reads_text_as_text_mode_did(tmp_path):
    p = tmp_path / "lesson.py"
    p.write_bytes(b"\xef\xbb\xbfx = 1\r\ny = 2\rz = 3\n")
    assert load_scenario(p).source == "x = 1\ny = 2\nz = 3\n"
    p.write_bytes(b"x = '\xff'\n")
    with pytest.raises(ScenarioRefused, match="not UTF-8 text"):
        load_scenario(p)
