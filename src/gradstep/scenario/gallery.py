"""sphinx-gallery's text blocks: how every PyTorch tutorial writes its prose.

sphinx-gallery ("Structuring Python scripts for Sphinx-Gallery") splits a
script after its docstring at a line that begins with 20 or more ``#``
characters: the ``#`` comment lines right after it are a text block, in rst,
and the next line that is not such a comment starts code again::

    ###############################################################
    # Some **rst** text, with ``code`` and :math:`x^2`.
    #
    # More text.

    x = torch.ones(3, requires_grad=True)

The text is those lines without their first ``#``, dedented. A header line
followed directly by code is a bare split between two code blocks.

One difference from sphinx-gallery, on purpose: a block counts only between
top-level statements. A decorative ``#####`` banner inside a function body or
an open bracket stays a comment of that code, so a plain script's banner never
cuts a statement in two (sphinx-gallery runs each block on its own and would
fail there). Files with ``# %%`` markers are read in the percent format alone.
"""

from __future__ import annotations

import bisect
import re
import textwrap
from collections.abc import Sequence

#: a block's header line: 20 or more ``#`` at the line's start (what follows is ignored)
_HEADER = re.compile(r"#{20,}")


def text_blocks(
    lines: Sequence[str], statements: Sequence[tuple[int, int]], *, after: int = 0
) -> list[tuple[int, int]]:
    """The text blocks of a file's ``lines``: (header line, last text line), 1-based and
    inclusive; the last is the header's own line for a bare split.

    ``statements`` are the (first, last) lines of the top-level statements, in order: a
    header inside one is part of that code. Lines up to ``after`` (the docstring) are not
    looked at.
    """
    starts = [first for first, _ in statements]
    blocks: list[tuple[int, int]] = []
    n = after + 1
    while n <= len(lines):
        if _HEADER.match(lines[n - 1]) and not _inside(n, statements, starts):
            end = n
            while end < len(lines) and lines[end].startswith("#"):
                end += 1
            blocks.append((n, end))
            n = end + 1
        else:
            n += 1
    return blocks


def _inside(line: int, statements: Sequence[tuple[int, int]], starts: list[int]) -> bool:
    at = bisect.bisect_right(starts, line) - 1
    return at >= 0 and statements[at][0] <= line <= statements[at][1]


def block_text(lines: Sequence[str]) -> list[str]:
    """A text block's lines (without the header) as rst: each line's first ``#`` removed,
    then the common indentation, as sphinx-gallery does. A closing bar of ``#`` (a plain
    script's banner) is left out: it would keep the text above it indented."""
    lines = list(lines)
    while lines and _HEADER.fullmatch(lines[-1].rstrip()):
        lines.pop()
    return textwrap.dedent("\n".join(line[1:] for line in lines)).split("\n")
