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


# ------------------------------------------------------- notes never run, lines stay put

import ast  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gradstep.scenario.loader import notebook_to_percent, source_lines  # noqa: E402

#: every character, the line breaks Python knows and the ones it does not among them
_TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\ufeff\x1b"),
    ),
    max_size=60,
)
_CODE_LINE = st.sampled_from(["import os", "x = 1", "os.system('x')", "raise SystemExit"])
_BREAK = st.sampled_from(["\n", "\r", "\r\n"])


def _notebook(*cells: object) -> str:
    return nbformat.writes(new_notebook(cells=list(cells)))


def _statements(source: str) -> list[ast.stmt]:
    return ast.parse(source).body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT, _CODE_LINE, _BREAK)
def test_a_markdown_cell_never_runs_whatever_its_text(text: str, code: str, brk: str) -> None:
    for markdown in (text, f"{text}{brk}{code}", f"note\r{code}", f"{code}{brk}{text}"):
        source = notebook_to_percent(_notebook(new_markdown_cell(markdown)), "n.ipynb")
        assert _statements(source) == [], repr(markdown)
        assert "\r" not in source
        # one source line per line Python would see in the cell, after the marker
        assert len(source.rstrip("\n").split("\n")) == 1 + len(source_lines(markdown))


@settings(max_examples=200, deadline=None)
# (a magic line ending in a backslash goes on on the next line, as in IPython: not this test)
@given(
    _TEXT.filter(lambda t: not ({"\r", "\n"} & set(t)) and not t.rstrip().endswith("\\")),
    _CODE_LINE,
    _BREAK,
)
def test_a_magic_line_never_runs_the_rest_of_its_line(text: str, code: str, brk: str) -> None:
    cell = f"%matplotlib inline {text}\r{code}{brk}!pip install x \\{brk}{code}{brk}x = 2"
    source = notebook_to_percent(_notebook(new_code_cell(cell)), "n.ipynb")
    statements = _statements(source)
    # the magic's \r ends the magic line: code there is a line of its own, and runs as in
    # Jupyter; the line continued by the backslash is part of the magic and does not
    assert [ast.unparse(s) for s in statements] == [ast.unparse(ast.parse(code)), "x = 2"]
    lines = source.split("\n")
    assert lines[statements[0].lineno - 1] == code
    assert lines[statements[1].lineno - 1] == "x = 2"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 99), _BREAK), min_size=1, max_size=12))
def test_code_cells_keep_one_source_line_per_cell_line(rows: list[tuple[int, str]]) -> None:
    code = "".join(f"v{i} = {i}{brk}" for i, brk in rows)
    source = notebook_to_percent(
        _notebook(new_markdown_cell("a\rb"), new_code_cell(code)), "n.ipynb"
    )
    lines = source.split("\n")
    statements = _statements(source)
    assert [ast.unparse(s) for s in statements] == [f"v{i} = {i}" for i, _ in rows]
    for stmt in statements:
        assert lines[stmt.lineno - 1] == ast.unparse(stmt)
    assert statements[0].lineno == 6  # after "# %% [markdown]", "# a", "# b", "", "# %%"


def test_notes_keep_their_lines_with_nul_and_surrogates_shown() -> None:
    source = notebook_to_percent(
        _notebook(new_markdown_cell("one\rtwo\x00three\r\nfour \ud800"), new_code_cell("x = 1")),
        "n.ipynb",
    )
    s = scenario_from_source(source, "n.ipynb")
    assert s.notes[0].text == "one\ntwo\\0three\nfour \\ud800"
    assert _statements(source)[0].lineno == 7


def test_a_py_markdown_cell_that_holds_code_is_shown_as_code() -> None:
    s = scenario_from_source("# %% [markdown]\n# A note\nimport os\n# %%\nx = 1\n", "lesson.py")
    assert [c.kind for c in s.cells] == ["code", "code"]
    assert "import os" in s.cells[0].text


def test_a_lone_cr_in_a_py_file_counts_as_python_counts_it(tmp_path: Path) -> None:
    f = tmp_path / "lesson.py"
    f.write_bytes(b"# %% [markdown]\r# note\rimport os\r# %%\rx = 1\r")
    s = load_scenario(f)
    assert "\r" not in s.source
    assert [c.kind for c in s.cells] == ["code", "code"]  # the note's third line runs
    assert s.source.split("\n")[4] == "x = 1"
