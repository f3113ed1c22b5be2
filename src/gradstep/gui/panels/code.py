"""The code panel: the scenario's source, the current step's line, the error's line.

With what-if values (the What If panel) the scenario runs a rewritten source, but the
panel shows the file as it is: each literal that runs with another value keeps the
file's text, marked, with the value it runs with after its line and in a tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QToolTip, QWidget

from gradstep.gui.panels.highlight import PythonHighlighter
from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.theme import Theme
from gradstep.scenario.overrides import Literal
from gradstep.session import Session
from gradstep.trace.refusals import refusal_list


@dataclass(frozen=True)
class ChangedLiteral:
    """A literal that ran with a what-if value: where its text is in the source that ran
    (with the value it ran with), and how the file writes it."""

    literal: Literal
    file_text: str


@dataclass(frozen=True)
class _Mark:
    """A changed literal as the panel shows it: its line, columns of the file's text."""

    line: int
    start: int
    end: int
    name: str
    ran: str  # the value it runs with, as written in the source that ran
    file_text: str

    def tip(self) -> str:
        return (
            f"What if: {self.name} runs as {self.ran} (the file says {self.file_text}). "
            "Write in the What If panel puts it in the file; Reset all goes back."
        )


def file_view(source: str, changes: list[ChangedLiteral]) -> tuple[str, list[_Mark]]:
    """``source`` (what ran) with each changed literal's text put back as the file writes
    it, and where each one now is."""
    lines = source.split("\n")
    marks: list[_Mark] = []
    by_line: dict[int, list[ChangedLiteral]] = {}
    for c in changes:
        if 0 < c.literal.at <= len(lines):
            by_line.setdefault(c.literal.at, []).append(c)
    for at, here in by_line.items():
        raw, out, done = lines[at - 1].encode("utf-8"), "", 0
        for c in sorted(here, key=lambda c: c.literal.start):  # left to right: columns add up
            lit = c.literal
            out += raw[done : lit.start].decode("utf-8", errors="replace")
            marks.append(
                _Mark(at, len(out), len(out) + len(c.file_text), lit.name, lit.text, c.file_text)
            )
            out += c.file_text
            done = lit.end
        lines[at - 1] = out + raw[done:].decode("utf-8", errors="replace")
    return "\n".join(lines), sorted(marks, key=lambda m: (m.line, m.start))


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
        #: each refused line's own reason: the error's line, and the further refused
        #: constructs that the check reports with it
        self.refused: dict[int, str] = {}
        self._source: str | None = None
        self._ran: str | None = None  # the source that ran (what-if values in it)
        self.marks: list[_Mark] = []  # literals that run with a what-if value
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
        self.set_error(
            err.line if err else None,
            f"{err.type}: {err.message}" if err else "",
            self.session.trace.scenario.notebook_cells,
        )
        self.current_line = None  # a new trace: show its current line again
        self.show_step(self.session.index)

    def set_source(self, source: str) -> None:
        """Show ``source``, the source that ran (a run's what-if values are marked again
        by ``set_changes`` once the What If panel has seen the run)."""
        self._ran = source
        self.marks = []
        self._show_text(source)

    def set_changes(self, changes: list[ChangedLiteral]) -> None:
        """The literals of the source that ran with what-if values: shown as the file
        writes them, marked (none: the source as it ran, which is then the file's)."""
        if self._ran is None:
            return
        text, self.marks = file_view(self._ran, changes)
        self._show_text(text)
        self._decorate()

    def _show_text(self, source: str) -> None:
        if source != self._source:
            scroll = self.verticalScrollBar().value()
            self._source = source
            self.setPlainText(source)  # drops the highlights and the scroll position
            self.verticalScrollBar().setValue(scroll)
            self._decorate()

    def set_error(
        self, line: int | None, text: str = "", notebook_cells: list[int] | None = None
    ) -> None:
        """Mark ``line`` as where the scenario failed (None clears it). A refusal's text
        that lists further refused constructs marks each of their lines with its own
        reason (``notebook_cells``: to find a notebook's ``cell 4, line 2``)."""
        self.error_line, self.error_text = line, text
        self.refused = {}
        if line:
            listed = refusal_list(text, notebook_cells)
            self.refused[line] = listed.reason
            for row in listed.rows:
                for at in row.lines:
                    said = self.refused.get(at)
                    self.refused[at] = f"{said}; {row.reason}" if said else row.reason
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
            *((at, self.theme.error_line) for at in self.refused),
        ):
            if not line or line > self.blockCount():
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor(colour))
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
            selections.append(sel)
        for mark in self.marks:  # the file's text of a literal that runs with another value
            block = self.document().findBlockByNumber(mark.line - 1)
            if not block.isValid() or mark.end > len(block.text()):
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor(self.theme.current_fill))  # apart from the line
            sel.format.setForeground(QColor(self.theme.current_text))
            sel.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            sel.format.setUnderlineColor(QColor(self.theme.current))
            cursor = QTextCursor(block)
            cursor.setPosition(block.position() + mark.start)
            cursor.setPosition(block.position() + mark.end, QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
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
            colour = self.theme.error_text if number in self.refused else self.theme.muted_text
            painter.setPen(QColor(colour))
            font = QFont(self.font())
            font.setBold(number == self.current_line or number in self.refused)
            painter.setFont(font)
            painter.drawText(
                0, top, self._gutter.width() - 6, height, Qt.AlignmentFlag.AlignRight, str(number)
            )
            top += round(self.blockBoundingRect(block).height())
            block = block.next()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        notes: dict[int, tuple[str, str]] = {}  # line -> (text after it, colour)
        for mark in self.marks:
            said = notes.get(mark.line, ("◀ what if:", ""))[0]
            notes[mark.line] = (f"{said} {mark.name} = {mark.ran}", self.theme.current_text)
        for line, reason in self.refused.items():
            if reason:
                notes[line] = (self.note(line), self.theme.error_text)
        if notes:
            painter = QPainter(self.viewport())
            try:
                for line, (text, colour) in notes.items():
                    self._note_after(painter, line, text, colour)
            finally:
                painter.end()

    def note(self, line: int) -> str:
        """What the panel writes after a refused (or failed) line: ``◀`` and its own reason,
        on one line, elided to the room the panel has (the tooltip has it in full)."""
        text = "◀ " + " ".join(self.refused.get(line, "").split())
        block = self.document().findBlockByNumber(line - 1)
        room = self.viewport().width() - self._note_x(block.text()) - 8
        return self._note_metrics().elidedText(text, Qt.TextElideMode.ElideRight, max(room, 120))

    def _note_x(self, code: str) -> int:
        return self.fontMetrics().horizontalAdvance(code) + 30 - self.horizontalScrollBar().value()

    def _note_font(self) -> QFont:
        font = QFont(self.font())
        font.setItalic(True)
        return font

    def _note_metrics(self) -> QFontMetrics:
        return QFontMetrics(self._note_font())

    def _note_after(self, painter: QPainter, line: int, text: str, colour: str) -> None:
        """``text`` in italics after ``line``'s code (an error; a what-if value)."""
        block = self.document().findBlockByNumber(line - 1)
        if not block.isValid() or not block.isVisible():
            return
        geom = self.blockBoundingGeometry(block).translated(self.contentOffset())
        if geom.bottom() < 0 or geom.top() > self.viewport().height():
            return
        painter.setPen(QColor(colour))
        painter.setFont(self._note_font())
        painter.drawText(
            self._note_x(block.text()),
            int(geom.top()),
            4000,
            int(geom.height()),
            Qt.AlignmentFlag.AlignVCenter,
            text,
        )

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """A tooltip over a marked literal says what it runs with; over a refused line, its
        reason in full."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            cursor = self.cursorForPosition(event.pos())
            mark = self.mark_at(cursor)
            tip = mark.tip() if mark is not None else self.refused.get(cursor.blockNumber() + 1)
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.viewport())
                return True
            QToolTip.hideText()
        return super().viewportEvent(event)

    def mark_at(self, cursor: QTextCursor) -> _Mark | None:
        """The marked literal at ``cursor``'s place (its ends included), if any."""
        line, column = cursor.blockNumber() + 1, cursor.positionInBlock()
        return next((m for m in self.marks if m.line == line and m.start <= column <= m.end), None)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            self.line_clicked.emit(
                self.cursorForPosition(event.position().toPoint()).blockNumber() + 1
            )
