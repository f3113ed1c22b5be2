"""An outsider's attacks on the doors issue 11 opened for files (``scenario.folder``,
``scenario.savers``), each judged by its effect seen from outside the worker: the disk
holds afterwards exactly what it held before, and no secret beside the folder reaches
the trace. The scenarios run as a user's would, in a sealed worker inside its walls.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradstep.trace.io import dumps
from gradstep.worker import WorkerPool
from gradstep.worker.client import RunResult
from sealed import printed, run_restricted

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the worker's walls are Linux's"
)

SECRET = "gradstep-folder-secret-41c7"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(prestart=False) as p:
        yield p


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A lesson's folder with data, a secret beside it, and one in a sibling folder."""
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "names.txt").write_text("emma\nolivia\n")
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "key.txt").write_text(SECRET)
    return folder


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run(pool: WorkerPool, folder: Path, code: str) -> RunResult:
    return run_restricted(pool, folder, code, "attack.py")


outputs = printed


#: Every door to a file the restricted language has, each tried on a name in the folder,
#: on one that overwrites a file there, and on names outside it built at run time.
EVERY_DOOR = """
import torch
import numpy as np
up = "." + "."
names = ["new.txt", "names.txt", up + "/planted.txt", up + "/other/key.txt", "/tmp/planted-gs.txt"]
results = []
for name in names:
    for mode in ["w", "a", "x", "w+", "r+", "wb", "ab"]:
        try:
            f = open(name, mode)
            f.write("pwned" if "b" not in mode else b"pwned")
            f.close()
            results.append("scratch")
        except (OSError, ValueError) as e:
            results.append(type(e).__name__)
    try:
        print("pwned", file=open(name, "a"))
    except OSError as e:
        results.append(type(e).__name__)
    for save in [
        lambda: torch.save(torch.ones(2), name),
        lambda: np.save(name, np.ones(2)),
        lambda: np.savetxt(name, np.ones(2)),
    ]:
        try:
            save()
            results.append("scratch")
        except OSError as e:
            results.append(type(e).__name__)
print(results.count("scratch"), results.count("PermissionError"))
"""


def test_every_write_door_leaves_the_disk_unchanged(pool: WorkerPool, course: Path) -> None:
    (course / "attack.py").write_text("")
    before = snapshot(course.parent)
    result = run(pool, course, EVERY_DOOR)
    assert result.error is None, result.error
    # in the folder, 6 of the 7 modes ('x' finds the file on disk or in the scratch) and
    # the 3 saves went to the scratch, for each of the 2 names; the 3 names outside the
    # folder were refused at every door (7 modes, print's file, 3 saves)
    scratch, refused = map(int, outputs(result).split())
    assert (scratch, refused) == (2 * 9, 3 * 11)
    after = snapshot(course.parent)
    after.pop("course/attack.py")
    before.pop("course/attack.py")
    assert after == before
    assert not Path("/tmp/planted-gs.txt").exists()
    assert set(result.trace.stats["scratch"]) >= {"new.txt", "names.txt", "new.txt.npy"}
    assert "written to the run's scratch in memory, not to disk" in result.trace.stats["notes"][0]


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../secret.txt", "../other/key.txt", "/proc/self/environ"],
    ids=["passwd", "beside", "sibling folder", "proc"],
)
def test_reading_outside_the_folder_fails_with_a_clear_message(
    pool: WorkerPool, course: Path, path: str
) -> None:
    half = len(path) // 2
    code = f"name = {path[:half]!r} + {path[half:]!r}\ndata = open(name).read()\nprint(data)\n"
    result = run(pool, course, code)
    error = result.error
    assert error is not None and error.type == "PermissionError" and error.line == 2
    assert "a restricted scenario may use only the files in its own folder" in error.message
    assert str(course.resolve()) in error.message
    assert SECRET not in dumps(result.trace)


@pytest.mark.parametrize(
    "code",
    [
        "import torch\nname = '..' + '/secret.txt'\nx = torch.load(name)",
        "import numpy as np\nname = '..' + '/secret.txt'\nx = np.loadtxt(name, dtype=str)",
        "import numpy as np\nname = '..' + '/secret.txt'\nx = np.genfromtxt(name, dtype=str)",
        "import numpy as np\nname = '..' + '/secret.txt'\nx = np.load(name)",
    ],
    ids=["torch.load", "np.loadtxt", "np.genfromtxt", "np.load"],
)
def test_the_library_readers_keep_to_the_folder(pool: WorkerPool, course: Path, code: str) -> None:
    result = run(pool, course, code)
    error = result.error
    assert error is not None and error.type == "PermissionError" and error.line == 3
    assert SECRET not in dumps(result.trace)


def test_a_symlink_planted_in_the_folder_leads_nowhere(pool: WorkerPool, course: Path) -> None:
    (course / "data.txt").symlink_to(course.parent / "secret.txt")
    result = run(pool, course, "name = 'data' + '.txt'\nprint(open(name).read())\n")
    error = result.error
    assert error is not None and error.type == "PermissionError"
    assert SECRET not in dumps(result.trace)


def test_the_scratch_of_one_run_is_gone_in_the_next(pool: WorkerPool, course: Path) -> None:
    first = run(pool, course, "open('kept.txt', 'w').write('x')\n")
    assert first.error is None and first.trace.stats["scratch"] == {"kept.txt": 1}
    second = run(pool, course, "print(open('kept.txt').read())\n")
    assert second.error is not None and second.error.type == "FileNotFoundError"
