"""reStructuredText notes as Markdown (scenario/rst.py): what sphinx-gallery tutorials write
reads as text in the notes panel, the page and the handout."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradstep.scenario.rst import Headings, docstring, has_title, math_text, to_markdown


def md(text: str, headings: Headings | None = None) -> str:
    return to_markdown(text, headings or Headings())


@pytest.mark.parametrize(
    ("rst", "markdown"),
    [
        ("Call ``x.backward()`` once.", "Call `x.backward()` once."),
        (
            "See `the docs <https://pytorch.org/docs>`_.",
            "See [the docs](https://pytorch.org/docs).",
        ),
        (
            "See `the docs <https://pytorch.org/docs>`__ too.",
            "See [the docs](https://pytorch.org/docs) too.",
        ),
        ("Go to `Tensors <tensors.html>`_ next.", "Go to Tensors next."),  # a page of the site
        ("A **bold** and *leaning* word.", "A **bold** and *leaning* word."),
        (
            "A :class:`torch.Tensor` and :func:`~torch.autograd.grad`.",
            "A `torch.Tensor` and `grad`.",
        ),
        ("Read :ref:`the guide <guide-label>` and :doc:`intro`.", "Read the guide and intro."),
        (
            "Slope :math:`\\frac{\\partial L}{\\partial x}` of :math:`\\vec{x}`.",
            "Slope `∂L/∂x` of `x⃗`.",
        ),
        (
            "Plain * star and _under_ and [brackets] and <tag>.",
            "Plain \\* star and \\_under\\_ and \\[brackets\\] and \\<tag>.",
        ),
        ("x_i and __init__", "x_i and \\_\\_init\\_\\_"),
        ("# not a heading", "\\# not a heading"),
        ("https://example.org/page", "<https://example.org/page>"),
    ],
)
def test_inline_markup(rst: str, markdown: str) -> None:
    assert md(rst) == markdown


def test_directives_lists_and_literal_blocks() -> None:
    text = """\
.. note::
   Gradients **accumulate**.

   Zero them.

.. warning:: Not in place.

.. code-block:: python

   loss.backward()

Example::

    y = x * 2

- one
- two with a
  second line

  and a paragraph

#. first
#. second

.. math::

   \\nabla_\\theta L
"""
    assert md(text) == (
        "> **Note:** Gradients **accumulate**.\n>\n> Zero them.\n\n"
        "> **Warning:** Not in place.\n\n"
        "```python\nloss.backward()\n```\n\n"
        "Example:\n\n```\ny = x * 2\n```\n\n"
        "- one\n- two with a second line\n\n  and a paragraph\n\n"
        "1. first\n2. second\n\n"
        "```\n∇_θ L\n```"
    )


def test_sphinx_directives_read_as_what_they_mean() -> None:
    text = """\
.. seealso:: :func:`torch.autograd.grad`

.. versionadded:: 2.0
   Works with ``vmap``.

.. mermaid::

   graph TD
   x --> y

.. toctree::
   other
"""
    assert md(text) == (
        "> **See also:** `torch.autograd.grad`\n\n"
        "*New in version 2.0.*\n\nWorks with `vmap`.\n\n"
        "*(mermaid: not shown here)*\n\n*(toctree: not shown here)*"
    )


def test_tables_and_figures() -> None:
    text = """\
.. list-table::
   :header-rows: 1

   * - tensor
     - ``grad``
   * - leaf
     - kept | stored

.. figure:: /_static/img/graph.png
   :alt: the graph

   The computational graph.
"""
    assert md(text) == (
        "| tensor | `grad` |\n|---|---|\n| leaf | kept \\| stored |\n\n"
        "*(figure: The computational graph.)*"
    )


def test_heading_levels_are_ranked_across_a_files_notes() -> None:
    headings = Headings()
    doc = docstring("Title\n=====\n\nSummary.\n\nPart\n----\n\nText.\n", headings)
    assert doc is not None and doc.title == "Title" and doc.summary == "Summary."
    assert doc.rest == "## Part\n\nText."
    # a later block that starts with a "-" section and then a "~" one: levels 2 and 3
    assert md("Next\n----\n\nSub\n~~~\n\nx\n", headings) == "## Next\n\n### Sub\n\nx"
    # alone, the same block would rank "-" first
    assert md("Next\n----\n\nSub\n~~~\n\nx\n") == "# Next\n\n## Sub\n\nx"


def test_overlined_titles_and_navigation_lines() -> None:
    doc = docstring(
        "`A <a.html>`_ || **B** || `C <c.html>`_\n\n=========\n The Title\n=========\n\nFirst.\n",
        Headings(),
    )
    assert doc is not None and (doc.title, doc.summary, doc.rest) == ("The Title", "First.", "")


def test_has_title() -> None:
    assert has_title("Autograd\n========\n")
    assert has_title("nav\n\n**Title**\n---------\n")
    assert not has_title("Autograd\n\nA plain docstring.")
    assert not has_title("Too long a title\n===\n")  # an underline shorter than its title
    assert not has_title("=====\n\n-----\n")


def test_files_are_never_read_and_raw_html_is_dropped(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    text = f"""\
.. include:: {secret}

.. raw:: html
   :file: {secret}

.. raw:: html

   <script>alert(1)</script>

.. csv-table::
   :file: {secret}

After.
"""
    out = md(text)
    assert "SECRET" not in out and "script" not in out
    assert out == "After."


@pytest.mark.parametrize(
    "text",
    [
        "Title\n=====\n\n  bad indent\n    worse\n\n.. unknown-thing:: x\n\n`unclosed",
        "*" * 500,
        "``" + "a" * 100,
        ".. |sub| replace:: text\n\nUse |sub| and |missing|.",
        "Term\n  definition\n\n:field: value\n\n[1]_\n\n.. [1] A footnote.",
        "Line one\n\n----------\n\nLine two",  # a transition is no rule: that marks a note's end
        "\n\n".join(" " * i + "x" for i in range(0, 400, 2)),  # quotes nested 200 deep
        "a long line " + "word " * 5000,  # past docutils' line length limit
    ],
)
def test_odd_rst_never_raises_and_keeps_its_words(text: str) -> None:
    out = md(text)
    assert isinstance(out, str) and "\n---\n" not in out
    for word in ("definition", "footnote", "Line two", "worse", "a long line"):
        if word in text:
            assert word in out


def test_math_text() -> None:
    assert math_text("\\mathbf{y} = \\mathbf{x} \\mathbf{W}^T") == "y = xW^T"
    assert math_text("R^N \\to R^M") == "R^N → R^M"
    chain = "\\frac{\\partial L}{\\partial y}\\frac{\\partial y}{\\partial x}"
    assert math_text(chain) == "∂L/∂y · ∂y/∂x"
    row = "\\left(\\begin{array}{cc}\\frac{a}{b} & \\frac{c}{d}\\end{array}\\right)"
    assert "·" not in math_text(row)
    assert math_text("\\frac{") == "\\frac{"  # what it cannot read stays as written


def test_a_file_of_thousands_of_texts_has_the_rest_shown_as_written() -> None:
    headings = Headings(texts_left=2)
    assert [md("``a``", headings) for _ in range(3)] == ["`a`", "`a`", "``a``"]
