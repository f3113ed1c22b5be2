"""A refusal's message read back as the list it is (no Qt, no torch).

The static check reports all of a file's refused constructs at once
(``ScenarioRefused.details``): the first one's reason, then ``N more refused
constructs:`` and a row per further reason with the lines it stands for
(``line 4: …``, ``lines 4, 9: …``, in a notebook ``cell 2, line 3; cell 5, line 1: …``),
at most a dozen rows and then ``... and N more``. A trace keeps only that text, so
the code panel (a note on each refused line) and the inspector (a list, not one
paragraph) read it back here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD = re.compile(r"^\d+ more refused constructs?:$")
_PLAIN = re.compile(r"^lines? (\d+(?:, \d+)*): (.*)$", re.S)
_CELLS = re.compile(r"^(cell \d+, line \d+(?:; cell \d+, line \d+)*): (.*)$", re.S)
_CELL = re.compile(r"cell (\d+), line (\d+)")


@dataclass(frozen=True)
class RefusedRow:
    """One row of the list: where (as written), the file's lines it stands for, why."""

    where: str  # "line 4", "lines 4, 9", "cell 2, line 3" ("" for "... and N more")
    lines: tuple[int, ...]  # lines of the source that ran (a notebook's, counted through)
    reason: str


@dataclass(frozen=True)
class RefusalList:
    reason: str  # the first refused construct's (the error's own line)
    head: str  # "2 more refused constructs:" ("" when it is the only one)
    rows: tuple[RefusedRow, ...]


def refusal_list(message: str, notebook_cells: list[int] | None = None) -> RefusalList:
    """``message`` as its reason and its further refused constructs; a message that is no
    such list is all reason. ``notebook_cells``: the line of each notebook cell's marker
    (``ScenarioInfo.notebook_cells``), to turn ``cell 4, line 2`` back into a line."""
    lines = message.split("\n")
    at = next((i for i, text in enumerate(lines) if _HEAD.match(text)), None)
    if at is None:
        return RefusalList(message, "", ())
    rows = tuple(_row(text, notebook_cells or []) for text in lines[at + 1 :] if text.strip())
    return RefusalList("\n".join(lines[:at]), lines[at], rows)


def _row(text: str, cells: list[int]) -> RefusedRow:
    if m := _PLAIN.match(text):
        return RefusedRow(f"line{'s' if ', ' in m[1] else ''} {m[1]}", _numbers(m[1]), m[2])
    if m := _CELLS.match(text):
        found = (_cell_line(int(c), int(n), cells) for c, n in _CELL.findall(m[1]))
        return RefusedRow(m[1], tuple(n for n in found if n is not None), m[2])
    return RefusedRow("", (), text)  # "... and 3 more"


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split(", "))


def _cell_line(cell: int, line: int, cells: list[int]) -> int | None:
    """The inverse of ``ScenarioInfo.where``: cell ``cell``'s line ``line`` in the source."""
    if not 1 <= cell <= len(cells):
        return None
    return cells[cell - 1] + line
