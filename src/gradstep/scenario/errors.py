"""Errors raised when a scenario file is refused before it runs.

A refusal is not a crash: the GUI shows it as a message at the offending line
and keeps the previous trace on screen, so each error carries the file name,
the line, the column and a sentence that says what is allowed instead.
"""

from __future__ import annotations


class ScenarioRefused(Exception):
    """A scenario construct that the restricted language does not allow.

    ``line`` is 1-based and ``col`` 0-based, as in Python's own syntax tree, so
    an editor can put the cursor on the construct.
    """

    def __init__(self, message: str, line: int, col: int = 0, filename: str = "<scenario>") -> None:
        super().__init__(message, line, col, filename)
        self.message = message
        self.line = line
        self.col = col
        self.filename = filename

    def __str__(self) -> str:
        return f"{self.filename}, line {self.line}: {self.message}"


class ScenarioSyntaxError(ScenarioRefused):
    """The scenario is not valid Python; carries the line where parsing failed."""
