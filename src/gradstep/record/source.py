"""The scenario's source text, split once per run: a line, a statement's segment."""

from __future__ import annotations

import ast
import re


class SourceText:
    """The lines of a scenario's source, split where the parser counts lines."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._lines: list[str] | None = None  # split on first use
        self._calls: dict[int, list[ast.Call]] | None = None  # line -> calls, parsed on first use

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = source_lines(self._source)
        return self._lines

    def line(self, line: int) -> str:
        """Line ``line`` (1-based), stripped; "" past the end."""
        lines = self.lines
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def segment(self, stmt: ast.stmt | ast.expr) -> str:
        """``ast.get_source_segment(source, stmt) or ""`` with the source split once per
        run: that function splits the whole source on every call (quadratic in a long
        scenario)."""
        lines = self.lines
        first, last = stmt.lineno - 1, (stmt.end_lineno or 0) - 1
        col, end_col = stmt.col_offset, stmt.end_col_offset
        if stmt.end_lineno is None or end_col is None or not 0 <= first <= last < len(lines):
            return ""
        # the offsets count UTF-8 bytes
        if first == last:
            return lines[first].encode()[col:end_col].decode()
        head = lines[first].encode()[col:].decode()
        tail = lines[last].encode()[:end_col].decode()
        return "".join([head, *lines[first + 1 : last], tail])

    def call_at(self, line: int | None, names: tuple[str, ...]) -> str | None:
        """The text of the call on ``line`` of a function named one of ``names``, as
        written (``y.backward(gradient=torch.ones(3))``, ``z.sum().backward()``); None
        when there is none or more than one."""
        if line is None:
            return None
        if self._calls is None:
            self._calls = {}
            try:
                tree = ast.parse(self._source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = ast.Module(body=[], type_ignores=[])
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    self._calls.setdefault(node.lineno, []).append(node)
        found = [c for c in self._calls.get(line, []) if _called_name(c) in names]
        if len(found) != 1:
            return None
        return " ".join(self.segment(found[0]).split()) or None


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def source_lines(source: str) -> list[str]:
    """The source's lines with their ends, split where the parser counts lines (what
    ``ast.get_source_segment`` does, character by character)."""
    parts = re.split(r"(\r\n|\r|\n)", source)
    lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
