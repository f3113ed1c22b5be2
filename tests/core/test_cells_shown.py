"""What a file's cells show as their author's own tools do: the value of a cell's last
expression (as Jupyter, and VS Code or Spyder on ``# %%`` cells), nothing for a script's
expression statements; and a notebook's title from its first heading, not its HTML.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gradstep.record.output import echo, shown_expressions
from gradstep.record.run import record_scenario
from gradstep.scenario.loader import load_scenario, scenario_from_source
from notebooks import write_notebook


def _outputs(path: Path) -> list[tuple[str, str]]:
    """(statement text, output) of each step that printed, from a restricted run."""
    trace = record_scenario(load_scenario(path))
    assert trace.error is None, trace.error
    return [(s.text, s.output) for s in trace.steps if s.output]


CELLS = [
    ("markdown", "# Values"),
    ("code", "import torch\nx = torch.tensor([1.0, 2.0])\nx * 2\nx.sum()"),  # last: shown
    ("code", "y = x + 1\ny.tolist();"),  # silenced with ';'
    ("code", "print('printed')"),  # None: its print only
    ("code", "z = x.max()\nz.item()  # the maximum"),
    ("code", "n = 3"),  # no expression at all
    ("code", "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])"),  # an address: not shown
    ("code", "x.tolist(); x.sum().item()"),
]


def test_a_notebook_shows_each_cells_last_expression_as_jupyter(tmp_path: Path) -> None:
    shown = _outputs(write_notebook(tmp_path / "lesson.ipynb", CELLS))
    assert shown == [
        ("x.sum()", "tensor(3.)\n"),
        ("print('printed')", "printed\n"),
        ("z.item()", "2.0\n"),
        ("x.sum().item()", "3.0\n"),
    ]


def test_a_percent_file_shows_each_cells_last_expression_too(tmp_path: Path) -> None:
    text = "\n".join(
        ("# %% [markdown]\n# " + src) if kind == "markdown" else f"# %%\n{src}"
        for kind, src in CELLS
    )
    path = tmp_path / "lesson.py"
    path.write_text(text + "\n")
    assert _outputs(path) == [
        ("x.sum()", "tensor(3.)\n"),
        ("print('printed')", "printed\n"),
        ("z.item()", "2.0\n"),
        ("x.sum().item()", "3.0\n"),
    ]


def test_a_script_shows_no_expression_statements(tmp_path: Path) -> None:
    """Run as a script, ``x.sum()`` on a line of its own prints nothing; prints do."""
    path = tmp_path / "lesson.py"
    path.write_text("import torch\nx = torch.ones(2)\nx * 2\nprint('p')\nx.sum()\n")
    assert _outputs(path) == [("print('p')", "p\n")]


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("# %%\na = 1\na", {(3, 0)}),
        ("# %%\na = 1\na\n# %%\nb = 2\nb;  # silent\n", {(3, 0)}),
        ("# %%\na = 1; a\n", {(2, 7)}),
        ("# %%\n(1 +\n 2)\n# %% [markdown]\n# text\n# %%\n", {(2, 0)}),
        ("# %%\nif True:\n    a = 1\n", set()),
        ("a = 1\na\n", set()),  # no cells: a script
        ("# %%\ns = 'é'; s ; \n", set()),  # byte offsets past non-ASCII text
    ],
)
def test_shown_expressions(source: str, shown: set[tuple[int, int]]) -> None:
    assert shown_expressions(source) == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (3, "3"),
        ([1, 2], "[1, 2]"),
        (object(), "<object object>"),  # Jupyter's repr, its address left out
        ([object()], "[<object object>]"),
        ("<b> at 0x</b>", "'<b> at 0x</b>'"),
    ],
)
def test_echo(value: object, text: str | None) -> None:
    assert echo(value) == text


def test_echo_shows_a_grad_fn_without_its_address() -> None:
    """NYU's autograd notebook, cells 10 and 11: y.grad_fn as a cell's last expression."""
    import torch

    x = torch.ones(2, requires_grad=True)
    y = x - 2
    assert repr(y.grad_fn).startswith("<SubBackward0 object at 0x")
    assert echo(y.grad_fn) == "<SubBackward0 object>"
    assert echo(y.grad_fn.next_functions[0][0]) == "<AccumulateGrad object>"
    assert echo(y.grad_fn.next_functions) == "((<AccumulateGrad object>, 0), (None, 0))"


def test_echo_leaves_out_what_matplotlib_returns() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert echo(ax.plot([1, 2], [3, 4])) is None  # [<matplotlib.lines.Line2D at 0x…>]
        assert echo(ax) is None and echo(fig) is None
        assert echo(ax.get_xlim()) is not None  # plain numbers from matplotlib: shown
    finally:
        plt.close(fig)


def test_a_notebook_cell_shows_its_grad_fn(tmp_path) -> None:
    path = write_notebook(
        tmp_path / "nb.ipynb",
        [
            ("code", "import torch\nx = torch.ones(2, requires_grad=True)\ny = x - 2"),
            ("code", "y.grad_fn"),
            ("code", "y.grad_fn.next_functions[0][0]"),
        ],
    )
    assert _outputs(path) == [
        ("y.grad_fn", "<SubBackward0 object>\n"),
        ("y.grad_fn.next_functions[0][0]", "<AccumulateGrad object>\n"),
    ]


# ----------------------------------------------------------------------------- titles


def test_a_notebook_opening_with_an_html_banner_takes_its_heading_as_title(tmp_path) -> None:
    path = write_notebook(
        tmp_path / "lesson.ipynb",
        [
            (
                "markdown",
                '<table style="width:100%">\n<tr><td>Supplementary code</td></tr>\n</table>',
            ),
            ("markdown", "# Appendix A: Introduction to PyTorch (Part 1)\nThe basics."),
            ("code", "import torch"),
            ("markdown", "## A.1 What is PyTorch"),
        ],
    )
    scenario = load_scenario(path)
    assert scenario.title == "Appendix A: Introduction to PyTorch (Part 1)"
    assert scenario.summary == "The basics."


@pytest.mark.parametrize(
    ("notes", "title", "summary"),
    [
        (["# Title\nsummary"], "Title", "summary"),
        (["### Part 2 ###"], "Part 2", ""),
        (["Plain words first\nthen more"], "Plain words first", "then more"),
        (['<p align="center"><b>Bold &amp; plain</b></p>\nnext'], "Bold & plain", "next"),
        (["<img src='x.png'>", "intro text"], "intro text", ""),
        (["<div></div>"], "lesson", ""),  # nothing but tags: the file's name
        (["#hashtag is no heading", "# Heading"], "Heading", ""),
    ],
)
def test_the_title_is_the_opening_notes_first_heading_or_text(
    notes: list[str], title: str, summary: str
) -> None:
    source = "".join(
        "# %% [markdown]\n" + "".join(f"# {line}\n" for line in n.split("\n")) for n in notes
    )
    scenario = scenario_from_source(
        source + "# %%\nx = 1\n# %% [markdown]\n# ## Later\n", "lesson.py"
    )
    assert (scenario.title, scenario.summary) == (title, summary)


def test_a_heading_after_the_first_code_cell_is_no_title() -> None:
    source = "# %%\nx = 1\n# %% [markdown]\n# Words\n# %% [markdown]\n# # Later heading\n"
    assert scenario_from_source(source, "my_lesson.py").title == "Words"
