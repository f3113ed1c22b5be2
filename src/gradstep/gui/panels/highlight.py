"""Python's colours in the code panel: keywords, numbers, strings, comments, docstrings."""

from __future__ import annotations

import keyword
import re
from typing import Any

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat

from gradstep.gui.theme import Theme

_RULES = [
    (re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b"), "keyword"),
    (re.compile(r"\b(True|False|None|torch|nn|F|math)\b"), "builtin"),
    (re.compile(r"\b\d+(\.\d*)?([eE][-+]?\d+)?\b"), "number"),
    (re.compile(r"(\"[^\"\n]*\"|'[^'\n]*')"), "string"),
    (re.compile(r"#[^\n]*"), "comment"),
]


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, numbers, strings and comments; enough to read a scenario."""

    def __init__(self, document: Any, theme: Theme) -> None:
        super().__init__(document)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        colours = (
            {
                "keyword": "#ff9e64",
                "builtin": "#7dcfff",
                "number": "#e0af68",
                "string": "#9ece6a",
                "comment": "#8b93a1",
            }
            if theme.dark
            else {
                "keyword": "#a626a4",
                "builtin": "#0b61a4",
                "number": "#986801",
                "string": "#2b7a0b",
                "comment": "#6a737d",
            }
        )
        self.formats = {}
        for name, colour in colours.items():
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(colour))
            if name == "keyword":
                fmt.setFontWeight(QFont.Weight.Bold)
            if name == "comment":
                fmt.setFontItalic(True)
            self.formats[name] = fmt
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt override
        start = 0
        if self.previousBlockState() == 1:  # inside a triple-quoted string
            end = text.find('"""')
            if end < 0:
                self.setFormat(0, len(text), self.formats["string"])
                self.setCurrentBlockState(1)
                return
            self.setFormat(0, end + 3, self.formats["string"])
            start = end + 3
        self.setCurrentBlockState(0)
        rest = text[start:]
        opened = rest.find('"""')
        if opened >= 0 and rest.find('"""', opened + 3) < 0:  # a docstring opens here
            self._rules(rest[:opened], start)
            self.setFormat(start + opened, len(rest) - opened, self.formats["string"])
            self.setCurrentBlockState(1)
            return
        self._rules(rest, start)

    def _rules(self, text: str, offset: int) -> None:
        for pattern, name in _RULES:
            for m in pattern.finditer(text):
                self.setFormat(offset + m.start(), m.end() - m.start(), self.formats[name])
