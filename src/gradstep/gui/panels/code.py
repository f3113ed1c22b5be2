"""The code panel: the scenario's source, the current step's line, the error's line."""

from __future__ import annotations

import keyword
import re
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.theme import Theme
from gradstep.session import Session

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


class _Gutter(QWidget):
    def __init__(self, view: CodeView) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self.view.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        self.view.paint_gutter(event)


class CodeView(QPlainTextEdit, FollowsSession):
    """Read-only source with line numbers; a click on a line asks to go to its first step."""

    line_clicked = Signal(int)

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("code_view")
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session: Session | None = None
        self.current_line: int | None = None
        self.error_line: int | None = None
        self.error_text = ""
        self._source: str | None = None
        self._gutter = _Gutter(self)
        self._highlighter = PythonHighlighter(self.document(), theme)
        self.set_theme(theme)
        self.blockCountChanged.connect(lambda _n: self._update_margins())
        self.updateRequest.connect(self._scroll_gutter)

    # -------------------------------------------------------------- model
    def _on_trace(self) -> None:
        assert self.session is not None
        self.set_source(self.session.trace.scenario.source)
        err = self.session.trace.error
        self.set_error(err.line if err else None, f"{err.type}: {err.message}" if err else "")
        self.current_line = None  # a new trace: show its current line again
        self.show_step(self.session.index)

    def set_source(self, source: str) -> None:
        if source != self._source:
            scroll = self.verticalScrollBar().value()
            self._source = source
            self.setPlainText(source)  # drops the highlights and the scroll position
            self.verticalScrollBar().setValue(scroll)
            self._decorate()

    def set_error(self, line: int | None, text: str = "") -> None:
        """Mark ``line`` as where the scenario failed (None clears it)."""
        self.error_line, self.error_text = line, text
        self._decorate()
        if line:
            self._scroll_to(line)

    def show_step(self, k: int) -> None:
        if self.session is None:
            return
        line = self.session.state(k).line
        if line != self.current_line:
            self.current_line = line
            self._decorate()
            if line:
                self._scroll_to(line)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.mono_font())
        self._highlighter.set_theme(theme)
        self._update_margins()
        self._decorate()

    # --------------------------------------------------------- decoration
    def _decorate(self) -> None:
        selections = []
        for line, colour in (
            (self.current_line, self.theme.current_line),
            (self.error_line, self.theme.error_line),
        ):
            if not line or line > self.blockCount():
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor(colour))
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
            selections.append(sel)
        self.setExtraSelections(selections)
        self.viewport().update()
        self._gutter.update()

    def _scroll_to(self, line: int) -> None:
        block = self.document().findBlockByNumber(line - 1)
        if not block.isValid():
            return
        first, visible = self.firstVisibleBlock().blockNumber(), self._visible_lines()
        if not first + 1 <= line - 1 < first + visible - 2:
            self.verticalScrollBar().setValue(max(0, line - 1 - visible // 3))

    def _visible_lines(self) -> int:
        height = self.fontMetrics().lineSpacing() or 1
        return max(1, self.viewport().height() // height)

    # -------------------------------------------------------------- gutter
    def gutter_width(self) -> int:
        digits = max(3, len(str(self.blockCount())))
        return 14 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        cr = self.contentsRect()
        self._gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        painter = QPainter(self._gutter)
        painter.fillRect(event.rect(), QColor(self.theme.panel))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            number = block.blockNumber() + 1
            colour = self.theme.error_text if number == self.error_line else self.theme.muted_text
            painter.setPen(QColor(colour))
            font = QFont(self.font())
            font.setBold(number in (self.current_line, self.error_line))
            painter.setFont(font)
            painter.drawText(
                0, top, self._gutter.width() - 6, height, Qt.AlignmentFlag.AlignRight, str(number)
            )
            top += round(self.blockBoundingRect(block).height())
            block = block.next()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self.error_line or not self.error_text:
            return
        block = self.document().findBlockByNumber(self.error_line - 1)
        if not block.isValid() or not block.isVisible():
            return
        geom = self.blockBoundingGeometry(block).translated(self.contentOffset())
        x = (
            self.fontMetrics().horizontalAdvance(block.text())
            + 30
            - self.horizontalScrollBar().value()
        )
        painter = QPainter(self.viewport())
        painter.setPen(QColor(self.theme.error_text))
        font = QFont(self.font())
        font.setItalic(True)
        painter.setFont(font)
        painter.drawText(
            x,
            int(geom.top()),
            4000,
            int(geom.height()),
            Qt.AlignmentFlag.AlignVCenter,
            "◀ " + self.error_text,
        )

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            self.line_clicked.emit(
                self.cursorForPosition(event.position().toPoint()).blockNumber() + 1
            )
