"""Errors raised when a scenario file is refused before it runs.

A refusal is not a crash: the GUI shows it as a message at the offending line
and keeps the previous trace on screen, so each error carries the file name,
the line, the column and a sentence that says what is allowed instead.
"""

from __future__ import annotations

from collections.abc import Callable

#: How to run a file that needs what stays refused: said with every refusal.
TRUST_HINT = "if you trust the file, open it with --trust to run it as ordinary Python"

#: further refusals listed by ``ScenarioRefused.details`` before "... and N more"
MORE_SHOWN = 12


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
        #: the file's further refused constructs, in source order: the check reports them all
        #: at once, so that a file with three problems does not take three round trips
        self.more: tuple[ScenarioRefused, ...] = ()

    def __str__(self) -> str:
        return f"{self.filename}, line {self.line}: {self.message}"

    def details(self, where: Callable[[int], str] | None = None) -> str:
        """The message, then each further refused construct on a line of its own, with its
        line (the same reason on several lines is said once: ``lines 4, 9: ...``).
        ``where``: how to say a line (a notebook's ``cell 4, line 2``)."""
        if not self.more:
            return self.message
        lines: dict[str, list[int]] = {}
        for p in self.more:
            lines.setdefault(p.message, []).append(p.line)
        if where is None:
            rows = [
                f"line{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}: {message}"
                for message, at in lines.items()
            ]
        else:
            rows = [f"{'; '.join(map(where, at))}: {message}" for message, at in lines.items()]
        if len(rows) > MORE_SHOWN:
            rows[MORE_SHOWN:] = [f"... and {len(rows) - MORE_SHOWN} more"]
        n = len(self.more)
        head = f"{n} more refused construct{'s' if n > 1 else ''}:"
        return "\n".join([self.message, head, *rows])


class ScenarioSyntaxError(ScenarioRefused):
    """The scenario is not valid Python; carries the line where parsing failed."""
