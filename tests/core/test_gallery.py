"""sphinx-gallery files (how PyTorch's tutorials are written): text blocks become notes,
the code between them cells, the rst docstring a title, a summary and a first note."""

from __future__ import annotations

import textwrap

from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source

BAR = "#" * 70

GALLERY = textwrap.dedent(
    f'''\
    """
    `Intro <intro.html>`_ ||
    **Autograd** ||
    `Models <models.html>`_

    Sines and their slopes
    ======================

    **Author:** `Ada <https://example.org/ada>`__

    We plot ``sin`` and its derivative.

    More about the lesson, with :math:`\\\\frac{{\\\\partial y}}{{\\\\partial x}}`.

    What we need
    ------------
    """

    {BAR}
    # First a tensor that tracks its history:
    #
    # .. note::
    #    ``requires_grad=True`` is what makes ``a`` a leaf.

    import torch
    import matplotlib.pyplot as plt

    a = torch.linspace(0.0, 3.0, 7, requires_grad=True)

    {BAR}
    # Plotting
    # --------
    #
    # The sine of ``a``:

    b = torch.sin(a)
    plt.plot(a.detach(), b.detach())

    {BAR}
    # Its derivative, from ``backward()``:

    b.sum().backward()
    plt.plot(a.detach(), a.grad)

    {BAR}
    # The end.
    c = 2 * b
    '''
)


def _lines(source: str) -> list[str]:
    return source.split("\n")


def test_text_blocks_are_notes_and_the_code_between_them_cells() -> None:
    s = scenario_from_source(GALLERY, "tutorial.py")
    kinds = [(c.kind, c.text.split("\n")[0]) for c in s.cells]
    assert kinds == [
        ("markdown", "More about the lesson, with `∂y/∂x`."),
        ("markdown", "First a tensor that tracks its history:"),
        ("code", "import torch"),
        ("markdown", "## Plotting"),
        ("code", "b = torch.sin(a)"),
        ("markdown", "Its derivative, from `backward()`:"),
        ("code", "b.sum().backward()"),
        ("markdown", "The end."),
        ("code", "c = 2 * b"),
    ]
    src = _lines(GALLERY)
    for cell in s.cells[1:]:  # each cell's line is its first line in the file as written
        first = cell.text.split("\n")[0]
        if cell.kind == "code":
            assert src[cell.line - 1] == first
        else:
            assert src[cell.line - 2] == BAR or src[cell.line - 2].startswith("#")
    assert src[s.cells[2].line - 1] == "import torch"
    assert s.cells[2].text.endswith("a = torch.linspace(0.0, 3.0, 7, requires_grad=True)")
    # the note directive is a quote, the rst literals Markdown code
    assert s.cells[1].text.endswith("> **Note:** `requires_grad=True` is what makes `a` a leaf.")


def test_the_rst_docstring_gives_title_summary_and_a_first_note() -> None:
    s = scenario_from_source(GALLERY, "tutorial.py")
    assert s.title == "Sines and their slopes"  # not the navigation line above it
    assert s.summary == (
        "**Author:** [Ada](https://example.org/ada)\n\nWe plot `sin` and its derivative."
    )
    rest = s.cells[0]
    # what follows the summary, at its line in the docstring; "----" ranks under "===="
    assert _lines(GALLERY)[rest.line - 1].startswith("More about the lesson")
    assert rest.text.endswith("## What we need")
    assert "=====" not in s.summary + rest.text and "`_" not in s.summary


def test_figures_are_captured_at_the_block_that_drew_them() -> None:
    trace = record_scenario(scenario_from_source(GALLERY, "tutorial.py"), trusted=True)
    assert trace.error is None, trace.error
    drawn = [(s.line, s.text.split("  ·")[0]) for s in trace.steps if s.figures]
    src = _lines(GALLERY)
    # each plot at the last statement of its own block, not both at the file's end
    assert [text for _, text in drawn] == [
        "plt.plot(a.detach(), b.detach())",
        "plt.plot(a.detach(), a.grad)",
    ]
    assert [src[line - 1] for line, _ in drawn] == [text for _, text in drawn]
    assert all(len(s.figures) == 1 for s in trace.steps if s.figures)


def test_a_banner_inside_a_statement_stays_code() -> None:
    source = textwrap.dedent(
        f"""\
        import torch
        def f(x):
            y = x * 2
        {BAR}
        # not a note: f goes on below
            return y
        w = [
        {BAR}
        # nor inside brackets
            1,
        ]
        """
    )
    s = scenario_from_source(source, "plain.py")
    assert [c.kind for c in s.cells] == ["code"]
    assert s.cells[0].text == source.rstrip("\n")
    trace = record_scenario(s, trusted=True)
    assert trace.error is None


def test_a_top_level_banner_in_a_plain_script_is_a_note_between_cells() -> None:
    source = f"import torch\nx = torch.ones(2)\n{BAR}\n# Model\n{BAR}\ny = x * 2\n"
    s = scenario_from_source(source, "plain.py")
    assert [(c.kind, c.text, c.line) for c in s.cells] == [
        ("code", "import torch\nx = torch.ones(2)", 1),
        ("markdown", "Model", 4),
        ("code", "y = x * 2", 6),
    ]
    assert s.title == "Model"  # no docstring: the first note's first line, as for # %% files


def test_a_header_followed_by_code_only_splits_the_code() -> None:
    source = f"a = 1\n{BAR}\nb = 2\n"
    s = scenario_from_source(source, "split.py")
    assert [(c.kind, c.text, c.line) for c in s.cells] == [
        ("code", "a = 1", 1),
        ("code", "b = 2", 3),
    ]


def test_short_hash_lines_and_indented_headers_are_comments() -> None:
    source = "a = 1\n" + "#" * 19 + "\n# not a note\nb = 2\n  " + BAR + "\n# nor this\n"
    s = scenario_from_source(source, "short.py")
    assert [c.kind for c in s.cells] == ["code"]


def test_percent_files_are_read_as_before_even_with_hash_banners() -> None:
    source = f"# %%\na = 1\n{BAR}\n# a comment in a code cell\n# %% [markdown]\n# A note\n"
    s = scenario_from_source(source, "percent.py")
    assert [(c.kind, c.text) for c in s.cells] == [
        ("code", f"a = 1\n{BAR}\n# a comment in a code cell"),
        ("markdown", "A note"),
    ]


def test_a_plain_docstring_keeps_its_first_line_as_title() -> None:
    s = scenario_from_source('"""Squares\n\nA ``short`` lesson.\n"""\nx = 1\n', "sq.py")
    assert (s.title, s.summary) == ("Squares", "A ``short`` lesson.")


def test_an_rst_title_underline_is_no_part_of_the_summary() -> None:
    s = scenario_from_source('"""\nAutograd\n========\n\nText\n"""\nx = 1\n', "a.py")
    assert (s.title, s.summary) == ("Autograd", "Text")
    assert [c.kind for c in s.cells] == ["code"]


def test_the_lesson_page_shows_the_notes_as_text_and_tables() -> None:
    from gradstep.page import page_data, page_html
    from gradstep.page.render import notes_html

    source = textwrap.dedent(
        f'''\
        """
        Leaves
        ======

        Which tensors keep ``.grad``.
        """

        {BAR}
        # .. list-table::
        #    :header-rows: 1
        #
        #    * - tensor
        #      - ``.grad``
        #    * - leaf
        #      - kept

        import torch
        x = torch.ones(2, requires_grad=True)
        x.sum().backward()
        '''
    )
    trace = record_scenario(scenario_from_source(source, "leaves.py"), trusted=True)
    notes, _ = notes_html(page_data(trace))
    assert "<th><code>.grad</code></th>" in notes and "<td>kept</td>" in notes
    assert "list-table" not in notes and "``" not in notes
    assert "Which tensors keep <code>.grad</code>." in page_html(trace)  # the summary
