"""A restricted scenario imports the modules in its own folder through the restricted
pipeline (``gradstep.scenario.siblings``): checked up front with the scenario, each
refusal naming the sibling's file and line, run with restricted globals, never trusted.
PyTorch is the oracle of the gradients that cross a sibling's functions.
"""

from __future__ import annotations

import builtins
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gradstep.record.run import record_scenario
from gradstep.scenario import sandbox
from gradstep.scenario.audit import SCENARIO_MARK
from gradstep.scenario.check import check_source
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.folder import ScenarioFolder
from gradstep.scenario.loader import load_scenario
from gradstep.scenario.siblings import SiblingModules
from gradstep.trace.model import Trace


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def run(root: Path, source: str, files: dict[str, str] | None = None) -> Trace:
    write(root, files or {})
    lesson = root / "lesson.py"
    lesson.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return record_scenario(load_scenario(lesson))


HELPERS = {
    "helpers.py": """
        import torch

        SCALE = 3.0

        def square(x):
            return x ** 2 * SCALE
        """,
    "pkg/__init__.py": """
        from pkg.ops import cube
        """,
    "pkg/ops.py": """
        import math

        def cube(x):
            return x ** 3 + math.pi
        """,
    "space/tools.py": """
        def double(x):
            return 2 * x
        """,
}


def test_a_sibling_module_and_a_package_run_with_pytorchs_gradients(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        """
        import torch
        from helpers import square
        import helpers
        import pkg.ops
        from pkg import ops, cube
        from space.tools import double
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        y = (square(x) + helpers.square(x) + pkg.ops.cube(x) + ops.cube(x) + cube(x)).sum()
        z = double(y) * helpers.SCALE
        z.backward()
        """,
        HELPERS,
    )
    assert trace.error is None, trace.error
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (2 * x**2 * 3.0 + 3 * (x**3 + torch.pi)).sum()
    (2 * y * 3.0).backward()
    assert trace.variables["x"].grad == x.grad.tolist()
    assert len(trace.passes) == 1
    assert "helpers" not in sys.modules and "pkg" not in sys.modules


def test_a_siblings_refusals_come_with_the_scenarios_all_at_once(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        """
        import torch
        import socket
        from helpers import square
        """,
        {
            "helpers.py": """
            import torch
            import os

            def square(x):
                return x.__class__

            def cube(x):
                return x.__class__
            """
        },
    )
    error = trace.error
    assert error is not None and error.kind == "refused" and error.line == 2
    rows = error.message.split("\n")
    assert rows[0].startswith("importing 'socket' is not allowed")
    assert rows[1] == "2 more refused constructs:"
    assert rows[2].startswith("line 3: helpers.py, line 2: importing 'os' is not allowed")
    assert rows[3].startswith("line 3: helpers.py, lines 5, 8: '.__class__' is not allowed")
    assert len(trace.steps) == 1  # nothing ran


def test_a_refusal_deep_in_a_package_names_its_file(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        "from course.model import net\n",
        {
            "course/__init__.py": "",
            "course/model.py": "from course.layers import dense\nnet = dense\n",
            "course/layers.py": "import subprocess\ndense = 1\n",
        },
    )
    error = trace.error
    assert error is not None and error.kind == "refused" and error.line == 1
    assert error.message.startswith("course/layers.py, line 1: importing 'subprocess'")


def test_relative_imports_in_a_sibling_stay_refused(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        "import pkg2\n",
        {"pkg2/__init__.py": "from . import part\n", "pkg2/part.py": "x = 1\n"},
    )
    assert trace.error is not None and trace.error.kind == "refused"
    assert trace.error.message.startswith("pkg2/__init__.py, line 1: relative imports are not")


def test_a_library_or_standard_module_name_never_means_a_sibling(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        "import random\nimport torch\nr = random.random()\nimport os\n",
        {"random.py": "x = 1\n", "torch.py": "x = 1\n", "os.py": "x = 1\n"},
    )
    error = trace.error
    assert error is not None and error.kind == "refused" and error.line == 4
    assert error.message.startswith("importing 'os' is not allowed")


def test_a_symlink_out_of_the_folder_is_no_sibling(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, {"evil.py": "x = 1\n"})
    course = tmp_path / "course"
    course.mkdir()
    (course / "evil.py").symlink_to(outside / "evil.py")
    trace = run(course, "import evil\n")
    assert trace.error is not None and trace.error.kind == "refused"
    assert trace.error.message.startswith("importing 'evil' is not allowed")


def test_an_error_in_a_sibling_is_reported_at_the_scenarios_line(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        "from helpers import fail\nx = 1\ny = fail()\n",
        {"helpers.py": "def fail():\n    raise ValueError('from the helper')\n"},
    )
    error = trace.error
    assert error is not None and error.type == "ValueError" and error.line == 3
    assert error.message == "from the helper"


def test_a_sibling_runs_with_restricted_globals(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "helpers.py": """
            def its_open():
                return open
            """
        },
    )
    lesson = tmp_path / "lesson.py"
    lesson.write_text("")
    namespace = sandbox.restricted_globals(str(lesson))
    with sandbox.guarded(ScenarioFolder(str(lesson)).readable()):
        exec("from helpers import its_open\no = its_open()\nimport helpers\n", namespace)
    assert namespace["o"] is not builtins.open
    assert namespace["o"].__name__ == "open"  # the scenario folder's
    own = vars(namespace["helpers"])["__builtins__"]
    assert isinstance(own, dict) and own is not namespace["__builtins__"]
    assert own.get(SCENARIO_MARK) is True  # the audit hook knows its frames as the scenario's
    assert set(own) == set(namespace["__builtins__"])  # the same curated built-ins
    assert "eval" not in own and own["open"] is not builtins.open


def test_the_run_time_refuses_what_a_sibling_imports_even_if_the_check_missed_it(
    tmp_path: Path,
) -> None:
    """Defence in depth: with the static check of sibling files switched off, the
    sibling's own imports still go through the allow-list."""
    write(tmp_path, {"helpers.py": "import os\nsystem = os.system\n"})
    lesson = tmp_path / "lesson.py"
    lesson.write_text("")
    scenario_folder = ScenarioFolder(str(lesson))
    unchecked = SiblingModules(scenario_folder, lambda source, path, siblings: [])
    namespace = sandbox.restricted_globals(str(lesson), scenario_folder, unchecked)
    readable = scenario_folder.readable()
    with (
        sandbox.guarded(readable),
        pytest.raises(ImportError, match="importing 'os' is not allowed"),
    ):
        exec("import helpers\n", namespace)
    checked = SiblingModules(scenario_folder, sandbox.check_file)
    namespace = sandbox.restricted_globals(str(lesson), scenario_folder, checked)
    with (
        sandbox.guarded(readable),
        pytest.raises(ImportError, match=r"^helpers.py, line 1: importing 'os' is not allowed"),
    ):
        exec("import helpers\n", namespace)


def test_a_sibling_runs_once_per_run(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        "import counted\nimport counted\nfrom counted import n\nprint(n)\n",
        {"counted.py": "print('loading')\nn = 1\n"},
    )
    assert trace.error is None, trace.error
    assert "".join(s.output for s in trace.steps) == "loading\n1\n"


def test_a_scenario_in_a_broad_folder_has_no_siblings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    trace = run(tmp_path, "import helpers\n", {"helpers.py": "x = 1\n"})
    assert trace.error is not None and trace.error.kind == "refused"


def test_the_check_alone_knows_no_siblings(tmp_path: Path) -> None:
    write(tmp_path, {"helpers.py": "x = 1\n"})
    with pytest.raises(ScenarioRefused, match="importing 'helpers' is not allowed"):
        check_source("import helpers\n", str(tmp_path / "lesson.py"))


def test_a_siblings_internals_stay_out_of_reach(tmp_path: Path) -> None:
    trace = run(
        tmp_path,
        "import helpers\nb = helpers.__builtins__\nd = helpers.__dict__\ns = helpers._secret\n",
        {"helpers.py": "_secret = 1\n"},
    )
    error = trace.error
    assert error is not None and error.kind == "refused" and error.line == 2
    assert [p.line for p in error_more(error.message)] == [3, 4]


def error_more(message: str) -> list[ScenarioRefused]:
    """The further refusals listed in a refusal's message, as (line) rows."""
    rows = message.split("\n")[2:]
    return [ScenarioRefused(r, int(r.split(":")[0].split()[-1])) for r in rows]
