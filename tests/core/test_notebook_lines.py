"""A notebook's errors and steps name the cell and the line in it, as Jupyter users read
them (``cell 3, line 2``), not the line of the converted file."""

from __future__ import annotations

from pathlib import Path

from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario
from gradstep.trace.text import error_line, step_table
from notebooks import write_notebook


def test_an_error_in_a_notebook_names_its_cell_and_line(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "lesson.ipynb",
        [
            ("markdown", "# A lesson\nWith notes."),
            ("code", "import torch\nx = torch.ones(2, requires_grad=True)"),
            ("code", "y = (x * 3).sum()\ny.backward()\nraise ValueError('on purpose')"),
        ],
    )
    scenario = load_scenario(path)
    trace = record_scenario(scenario)
    info = trace.scenario
    assert trace.error is not None and trace.error.type == "ValueError"
    assert info.where(trace.error.line) == "cell 3, line 3"
    assert error_line(trace).startswith("error at cell 3, line 3: ValueError: on purpose")
    table = step_table(trace)
    header = table.splitlines()[2]
    assert header.split()[:2] == ["step", "cell:line"]
    rows = {line.split()[2]: line.split()[1] for line in table.splitlines()[3:] if line.strip()}
    assert rows["pass_start"] == "3:2"  # y.backward() is cell 3's second line
    assert info.where(info.notebook_cells[1] + 2) == "cell 2, line 2"


def test_a_refused_notebook_lists_each_refusal_by_cell(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "lesson.ipynb",
        [
            ("code", "import torch\nimport socket"),
            ("markdown", "Saving:"),
            ("code", "m = torch.nn.Linear(1, 1)\ntorch.save(m, '../m.pth')"),
        ],
    )
    trace = record_scenario(load_scenario(path))
    assert trace.error is not None and trace.error.kind == "refused"
    assert trace.scenario.where(trace.error.line) == "cell 1, line 2"
    assert "\ncell 3, line 2: torch.save('../m.pth'): a restricted scenario may use only" in (
        trace.error.message
    )


def test_a_python_file_keeps_plain_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "lesson.py"
    path.write_text("# %%\nimport torch\n# %%\nraise ValueError('x')\n")
    trace = record_scenario(load_scenario(path))
    assert trace.scenario.notebook_cells == []
    assert trace.scenario.where(4) == "line 4"
    assert error_line(trace).startswith("error at line 4: ValueError")
    assert step_table(trace).splitlines()[2].split()[:2] == ["step", "line"]
