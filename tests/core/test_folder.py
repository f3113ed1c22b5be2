"""A restricted scenario's folder: data files read beside it, and a scratch folder in memory
for what it writes (``gradstep.scenario.folder``, ``gradstep.scenario.savers``).

Each rule is run the way a lesson runs it, through ``record_scenario`` in this process
(the static check, restricted globals, the reversible audit guard), with files made by
the test in a folder of its own; what the disk holds afterwards is compared with what it
held before.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gradstep.record.run import record_scenario
from gradstep.scenario import folder as folder_module
from gradstep.scenario.folder import ScenarioFolder, too_broad
from gradstep.scenario.loader import load_scenario, scenario_from_source
from gradstep.trace.model import Trace
from gradstep.trace.text import step_table


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def lesson(tmp_path: Path) -> Path:
    """A course folder with data beside the lesson, and a secret next to the folder."""
    course = tmp_path / "course"
    (course / "data").mkdir(parents=True)
    (course / "names.txt").write_text("emma\nolivia\nava\n", encoding="utf-8")
    (course / "data" / "numbers.csv").write_text("1,2\n3,4\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("the secret", encoding="utf-8")
    return course / "lesson.py"


def run(path: Path, source: str) -> Trace:
    path.write_text(source, encoding="utf-8")
    return record_scenario(load_scenario(path))


def outputs(trace: Trace) -> str:
    return "".join(s.output for s in trace.steps)


def grad(trace: Trace, name: str) -> list[float]:
    value = trace.variables[name].value
    return value if isinstance(value, list) else [value]


# ----------------------------------------------------------------------------- reading


def test_a_data_file_beside_the_scenario_is_read(lesson: Path) -> None:
    trace = run(
        lesson,
        "import torch\n"
        "words = open('names.txt', 'r').read().splitlines()\n"
        "print(len(words), words[0])\n"
        "with open('data/numbers.csv', encoding='utf-8') as f:\n"
        "    rows = [line.strip().split(',') for line in f]\n"
        "x = torch.tensor([float(v) for row in rows for v in row])\n"
        "raw = open('names.txt', 'rb').read()\n"
        "print(len(raw), len(open('names.txt', 'rt').readlines()))\n",
    )
    assert trace.error is None, trace.error
    assert outputs(trace) == "3 emma\n16 3\n"
    assert grad(trace, "x") == [1.0, 2.0, 3.0, 4.0]


def test_paths_resolve_against_the_scenarios_folder_not_the_working_folder(
    lesson: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "names.txt").write_text("wrong\n")
    monkeypatch.chdir(elsewhere)
    trace = run(lesson, "print(open('names.txt').readline().strip())\n")
    assert trace.error is None, trace.error
    assert outputs(trace) == "emma\n"


def test_an_absolute_path_inside_the_folder_is_read(lesson: Path) -> None:
    names = os.path.realpath(lesson.parent / "names.txt")
    trace = run(lesson, f"print(open({names!r}).read().split()[-1])\n")
    assert trace.error is None, trace.error
    assert outputs(trace) == "ava\n"


@pytest.mark.parametrize(
    "path", ["../secret.txt", "data/../../secret.txt", "/etc/passwd"], ids=["..", "a/../..", "abs"]
)
def test_a_path_leaving_the_folder_is_refused_at_its_line_naming_the_folder(
    lesson: Path, path: str
) -> None:
    # built at run time: the static check cannot see it, the folder's open refuses it
    half = len(path) // 2
    trace = run(
        lesson, f"x = 1\nname = {path[:half]!r} + {path[half:]!r}\ndata = open(name).read()\n"
    )
    error = trace.error
    assert error is not None and error.type == "PermissionError" and error.line == 3
    folder = os.path.realpath(lesson.parent)
    assert f"open({path!r}): a restricted scenario may use only the files in its own folder, " in (
        error.message
    )
    assert folder in error.message and "outside it" in error.message and "--trust" in error.message
    assert "the secret" not in outputs(trace)


def test_a_literal_path_leaving_the_folder_is_refused_before_the_run(lesson: Path) -> None:
    trace = run(lesson, "import torch\nx = torch.ones(1)\nsecret = open('../secret.txt').read()\n")
    error = trace.error
    assert error is not None and error.kind == "refused" and error.line == 3
    assert error.message.startswith("open('../secret.txt'): a restricted scenario may use only")
    assert len(trace.steps) == 1  # nothing ran


def test_a_symlink_out_of_the_folder_is_refused(lesson: Path, tmp_path: Path) -> None:
    (lesson.parent / "link.txt").symlink_to(tmp_path / "secret.txt")
    trace = run(lesson, "data = open('link.txt').read()\n")  # seen before the run
    assert trace.error is not None and trace.error.kind == "refused" and trace.error.line == 1
    trace = run(lesson, "name = 'link' + '.txt'\ndata = open(name).read()\n")  # at run time
    error = trace.error
    assert error is not None and error.type == "PermissionError" and error.line == 2
    assert os.path.realpath(tmp_path / "secret.txt") in error.message
    assert "the secret" not in outputs(trace)


def test_a_symlink_inside_the_folder_is_followed(lesson: Path) -> None:
    (lesson.parent / "alias.txt").symlink_to(lesson.parent / "names.txt")
    trace = run(lesson, "print(open('alias.txt').readline().strip())\n")
    assert trace.error is None, trace.error
    assert outputs(trace) == "emma\n"


def test_a_missing_file_says_where_it_was_looked_for(lesson: Path) -> None:
    trace = run(lesson, "data = open('nope.txt').read()\n")
    error = trace.error
    assert error is not None and error.type == "FileNotFoundError" and error.line == 1
    assert os.path.realpath(lesson.parent) in error.message and "nope.txt" in error.message


def test_descriptors_and_openers_are_refused(lesson: Path) -> None:
    trace = run(lesson, "f = open(3)\n")
    assert trace.error is not None and trace.error.type == "PermissionError"
    assert "by name, not by descriptor" in trace.error.message
    trace = run(lesson, "f = open('names.txt', opener=print)\n")
    assert trace.error is not None and trace.error.type == "PermissionError"


def test_a_scenario_given_as_text_has_no_folder() -> None:
    scenario = scenario_from_source("data = open('names.txt').read()\n", "<scenario>")
    trace = record_scenario(scenario)
    error = trace.error
    assert error is not None and error.type == "PermissionError"
    assert "has no folder of its own" in error.message


def test_a_scenario_in_a_folder_with_the_users_other_files_reads_nothing_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Directly in a home folder the walls grant the scenario file alone: reading is
    refused with what to do; the scratch still works."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "names.txt").write_text("emma\n")
    lesson = tmp_path / "lesson.py"
    assert too_broad(str(tmp_path))
    assert ScenarioFolder(str(lesson)).readable() == ()
    trace = run(lesson, "open('notes.txt', 'w').write('mine')\nprint(open('notes.txt').read())\n")
    assert trace.error is None, trace.error
    assert outputs(trace) == "mine\n"  # write()'s return value: a script shows no expression value
    trace = run(lesson, "data = open('names.txt').read()\n")
    error = trace.error
    assert error is not None and error.type == "PermissionError"
    assert "a folder that holds your other files too" in error.message
    assert "put the scenario and its data in a folder of their own" in error.message


# ----------------------------------------------------------------------------- scratch


def test_writes_go_to_the_scratch_and_are_read_back_the_disk_unchanged(lesson: Path) -> None:
    before = snapshot(lesson.parent)
    trace = run(
        lesson,
        "with open('log.txt', 'w') as f:\n"
        "    f.write('one\\n')\n"
        "    print('two', file=f)\n"
        "open('log.txt', 'a').write('three\\n')\n"
        "print(open('log.txt').read().split())\n"
        "open('names.txt', 'w').write('overwritten\\n')\n"
        "print(open('names.txt').read().strip())\n"
        "f = open('bin.dat', 'wb')\n"
        "f.write(bytes([1, 2, 3]))\n"
        "f.close()\n"
        "g = open('bin.dat', 'r+b')\n"
        "g.write(bytes([9]))\n"
        "g.close()\n"
        "print(list(open('bin.dat', 'rb').read()))\n",
    )
    assert trace.error is None, trace.error
    # (a script's expression statements, the write() counts, show nothing)
    assert outputs(trace) == "['one', 'two', 'three']\noverwritten\n[9, 2, 3]\n"
    assert snapshot(lesson.parent) == before | {"lesson.py": lesson.read_bytes()}
    assert trace.stats["scratch"] == {"log.txt": 14, "names.txt": 12, "bin.dat": 3}
    note = "log.txt (14 bytes), names.txt (12 bytes), bin.dat (3 bytes) were written to the run's"
    assert trace.stats["notes"] == [note + " scratch in memory, not to disk"]
    table = step_table(trace)
    assert table.count(note) == 1
    assert trace.stats["scratch"] and not (lesson.parent / "log.txt").exists()


def test_exclusive_creation_sees_the_disk_and_the_scratch(lesson: Path) -> None:
    trace = run(lesson, "f = open('names.txt', 'x')\n")
    assert trace.error is not None and trace.error.type == "FileExistsError"
    trace = run(lesson, "open('new.txt', 'x').write('a')\ng = open('new.txt', 'x')\n")
    assert trace.error is not None and trace.error.type == "FileExistsError"
    assert trace.error.line == 2


def test_the_scratch_is_bounded(lesson: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folder_module, "SCRATCH_BYTES", 1000)
    trace = run(
        lesson,
        "open('a.txt', 'w').write('x' * 600)\nb = open('b.txt', 'w')\nb.write('y' * 300)\n"
        "b.write('y' * 300)\n",
    )
    error = trace.error
    assert error is not None and error.type == "OSError" and error.line == 4
    assert "the run's scratch folder is full" in error.message
    assert "at most 1000 bytes in all" in error.message and "b.txt" in error.message


def test_a_scratch_file_left_open_is_kept_when_it_is_released(lesson: Path) -> None:
    trace = run(lesson, "open('t.txt', 'w').write('kept')\nprint(open('t.txt').read())\n")
    assert trace.error is None, trace.error
    assert outputs(trace) == "kept\n"


# ---------------------------------------------------------------- torch.save, torch.load


SAVE_AND_LOAD = """
import torch
torch.manual_seed(0)
model = torch.nn.Linear(3, 2)
torch.save(model.state_dict(), "model.pth")
other = torch.nn.Linear(3, 2)
print(other.load_state_dict(torch.load("model.pth", weights_only=True)))
with open("again.pth", "wb") as f:
    torch.save({"w": model.weight.detach()}, f)
w = torch.load("again.pth")["w"]
x = torch.ones(1, 3)
loss = other(x).sum() + (w * 2).sum()
loss.backward()
g = other.weight.grad
"""


def test_torch_save_and_load_round_trip_through_the_scratch(lesson: Path) -> None:
    before = snapshot(lesson.parent)
    trace = run(lesson, SAVE_AND_LOAD)
    assert trace.error is None, trace.error
    assert "<All keys matched successfully>" in outputs(trace)
    assert set(trace.stats["scratch"]) == {"model.pth", "again.pth"}
    assert snapshot(lesson.parent) == before | {"lesson.py": lesson.read_bytes()}
    # PyTorch as the oracle: the same computation plainly
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    other = torch.nn.Linear(3, 2)
    other.load_state_dict(model.state_dict())
    other(torch.ones(1, 3)).sum().backward()
    assert trace.variables["g"].value == other.weight.grad.tolist()
    assert trace.variables["w"].value == model.weight.detach().tolist()


def test_torch_load_reads_a_file_beside_the_scenario(lesson: Path) -> None:
    torch.save({"t": torch.arange(3.0)}, lesson.parent / "weights.pt")
    trace = run(lesson, "import torch\nt = torch.load('weights.pt')['t']\n")
    assert trace.error is None, trace.error
    assert trace.variables["t"].value == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("call", "said"),
    [
        ("torch.load('m.pth', weights_only=False)", "weights_only=False) is not available"),
        ("torch.load('m.pth', mmap=True)", "mmap=True) is not available"),
        ("torch.load('m.pth', map_location=print)", "map_location=<a function>) is not"),
    ],
    ids=["weights_only=False", "mmap", "map_location function"],
)
def test_torch_load_stays_weights_only(lesson: Path, call: str, said: str) -> None:
    trace = run(lesson, f"import torch\ntorch.save(torch.ones(2), 'm.pth')\nx = {call}\n")
    error = trace.error
    assert error is not None and error.type == "PermissionError" and error.line == 3
    assert said in error.message and "--trust" in error.message


def test_torch_load_refuses_a_pickled_object(lesson: Path) -> None:
    """weights_only=True is torch's own unpickler: an arbitrary class is refused."""
    import fractions

    torch.save(fractions.Fraction(1, 3), lesson.parent / "third.pt")  # a pickled class instance
    trace = run(lesson, "import torch\nx = torch.load('third.pt')\n")
    assert trace.error is not None and trace.error.line == 2
    assert "Weights only load failed" in trace.error.message


# ------------------------------------------------------------------------------- numpy


def test_numpys_files_go_through_the_folder_and_the_scratch(lesson: Path) -> None:
    np.savetxt(lesson.parent / "given.txt", np.array([[1.0, 2.0], [3.0, 4.0]]))
    before = snapshot(lesson.parent)
    trace = run(
        lesson,
        "import numpy as np\nimport torch\n"
        "np.save('a', np.arange(4.0))\n"
        "a = np.load('a.npy')\n"
        "np.savetxt('b.txt', a * 2)\n"
        "b = np.loadtxt('b.txt')\n"
        "c = np.genfromtxt('given.txt')\n"
        "t = torch.from_numpy(np.concatenate([a, b, c.ravel()]))\n",
    )
    assert trace.error is None, trace.error
    assert trace.variables["t"].value == [0, 1, 2, 3, 0, 2, 4, 6, 1, 2, 3, 4]
    assert set(trace.stats["scratch"]) == {"a.npy", "b.txt"}
    assert snapshot(lesson.parent) == before | {"lesson.py": lesson.read_bytes()}


def test_numpy_load_stays_without_pickles(lesson: Path) -> None:
    trace = run(
        lesson,
        "import numpy as np\nnp.save('a.npy', np.ones(2))\nx = np.load('a.npy', allow_pickle=True)\n",
    )
    assert trace.error is not None and trace.error.type == "PermissionError"
    assert "allow_pickle=True) is not available" in trace.error.message


def test_the_other_doors_stay_shut(lesson: Path) -> None:
    trace = run(lesson, "import numpy as np\nnp.savez('z.npz', a=np.ones(1))\n")
    assert trace.error is not None and trace.error.kind == "refused"
    assert "'.savez' is not allowed" in trace.error.message
    trace = run(lesson, "import torch\nt = torch\nt.save(torch.ones(1), 'm.pth')\n")
    assert trace.error is not None and trace.error.kind == "refused" and trace.error.line == 3
