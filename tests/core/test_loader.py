"""Loading scenarios: percent-format cells, notes, title and summary, notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from gradstep.record.run import record_scenario
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.loader import load_scenario, scenario_from_source, split_cells

PERCENT = '''\
"""Squares and sines

A short lesson: two cells of code,
and notes between them.
"""

# %% [markdown]
# ## First
#
# The *leaf* `x`.

# %%
import torch

x = torch.tensor(3.0, requires_grad=True)

# %% Second step [markdown]
# Squaring.

# %% squaring
y = x**2
y.backward()
'''


def lines_of(source: str) -> list[str]:
    return source.split("\n")


def test_percent_cells_in_order_with_kinds_and_first_lines():
    s = scenario_from_source(PERCENT, "lesson.py")
    assert [c.kind for c in s.cells] == ["markdown", "code", "markdown", "code"]
    src = lines_of(PERCENT)
    # a cell's line is its first line of text, in the file as written
    for cell in s.cells:
        first = cell.text.split("\n")[0]
        if cell.kind == "code":
            assert src[cell.line - 1] == first
        else:
            assert src[cell.line - 1] == f"# {first}"
    assert s.cells[1].text == "import torch\n\nx = torch.tensor(3.0, requires_grad=True)"
    assert s.cells[3].text == "y = x**2\ny.backward()"


def test_markdown_cells_are_notes_without_comment_markers():
    s = scenario_from_source(PERCENT, "lesson.py")
    assert [n.text for n in s.notes] == ["## First\n\nThe *leaf* `x`.", "Squaring."]


def test_docstring_gives_title_and_summary_and_is_no_cell():
    s = scenario_from_source(PERCENT, "lesson.py")
    assert s.title == "Squares and sines"
    assert s.summary == "A short lesson: two cells of code,\nand notes between them."
    assert all('"""' not in c.text for c in s.cells)


def test_a_file_without_markers_is_one_code_cell():
    s = scenario_from_source("import torch\nx = torch.ones(2)\n", "plain_file.py")
    assert [(c.kind, c.line) for c in s.cells] == [("code", 1)]
    assert s.title == "plain file"  # no docstring, no notes: the file name
    assert s.summary == ""


def test_title_from_the_first_note_when_there_is_no_docstring():
    s = scenario_from_source("# %% [markdown]\n# # The title\n# and more\n# %%\nx = 1\n", "t.py")
    assert s.title == "The title"
    assert s.summary == "and more"


def test_a_note_cell_written_as_a_string_literal():
    src = '# %% [markdown]\n"""\nA note\nin a string.\n"""\n# %%\nx = 1\n'
    cells = split_cells(src)
    assert cells[0].kind == "markdown"
    assert cells[0].text == "A note\nin a string."
    assert lines_of(src)[cells[0].line - 1] == "A note"


def test_a_syntax_error_still_loads_with_its_cells():
    s = scenario_from_source("# %%\nx = (\n", "bad.py")
    assert s.cells[0].text == "x = ("
    trace = record_scenario(s, trusted=True)
    assert trace.error is not None and trace.error.kind == "syntax" and trace.error.line == 2


def test_missing_and_unreadable_files_are_refused(tmp_path: Path):
    with pytest.raises(ScenarioRefused, match="no such file"):
        load_scenario(tmp_path / "nope.py")
    bad = tmp_path / "latin.py"
    bad.write_bytes(b"x = '\xe9'\n")
    with pytest.raises(ScenarioRefused, match="cannot read"):
        load_scenario(bad)


def test_byte_order_mark_and_crlf_are_normalised(tmp_path: Path):
    f = tmp_path / "win.py"
    f.write_bytes(b'\xef\xbb\xbf"""Title"""\r\nx = 1\r\n')
    s = load_scenario(f)
    assert s.source == '"""Title"""\nx = 1\n'
    assert s.title == "Title"


# ------------------------------------------------------------------ notebooks
def write_notebook(path: Path, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nbformat.write(nb, path)
    return path


def test_notebook_becomes_percent_source_with_lines_pointing_at_the_code(tmp_path: Path):
    f = write_notebook(
        tmp_path / "lesson.ipynb",
        [
            new_markdown_cell("# Chain rule\n\nThe summary line."),
            new_code_cell("import torch\nx = torch.tensor(4.0, requires_grad=True)"),
            new_raw_cell("raw text is neither code nor a note"),
            new_markdown_cell("Now square it."),
            new_code_cell("y = x**2\ny.backward()\nprint(x.grad)"),
        ],
    )
    s = load_scenario(f)
    assert s.title == "Chain rule"
    assert s.summary == "The summary line."
    assert [c.kind for c in s.cells] == ["markdown", "code", "markdown", "code"]
    assert "raw text" not in s.source
    src = lines_of(s.source)
    for cell in s.cells:
        if cell.kind == "code":
            assert src[cell.line - 1] == cell.text.split("\n")[0]
    # steps and errors refer to lines of this source
    trace = record_scenario(s, trusted=True)
    assert trace.error is None
    backward_line = src.index("y.backward()") + 1
    assert trace.passes[0].line == backward_line
    assert src[trace.nodes[trace.passes[0].roots[0]].line - 1] == "y = x**2"


def test_notebook_error_line_is_the_line_in_the_converted_source(tmp_path: Path):
    f = write_notebook(
        tmp_path / "err.ipynb",
        [new_code_cell("import torch"), new_code_cell("x = torch.ones(2)\nx.backward()")],
    )
    s = load_scenario(f)
    trace = record_scenario(s, trusted=True)
    assert trace.error is not None
    assert lines_of(s.source)[trace.error.line - 1] == "x.backward()"


def test_ipython_magics_are_commented_out(tmp_path: Path):
    f = write_notebook(
        tmp_path / "magic.ipynb",
        [
            new_code_cell(
                "%matplotlib inline\nimport torch\n!pip install torch\nx = 1\ntorch.ones?"
            ),
            new_code_cell("%%time\ny = x + 1"),
            new_code_cell("%%bash\necho hello\nls -la"),
            new_code_cell("    %timeit y + 1"),
        ],
    )
    s = load_scenario(f)
    src = s.source
    for magic in ("%matplotlib inline", "!pip install torch", "torch.ones?", "%%time", "%timeit"):
        line = next(ln for ln in lines_of(src) if magic in ln)
        assert line.lstrip().startswith("#"), line
    # a %%bash cell is not Python at all: every line of it is commented
    assert "# (IPython magic, not run) echo hello" in src
    # a %%time cell's body still runs
    assert "\ny = x + 1\n" in src
    trace = record_scenario(s, trusted=True)
    assert trace.error is None, trace.error


def test_an_unreadable_notebook_is_refused(tmp_path: Path):
    f = tmp_path / "broken.ipynb"
    f.write_text("{not json")
    with pytest.raises(ScenarioRefused, match="not a readable notebook"):
        load_scenario(f)
