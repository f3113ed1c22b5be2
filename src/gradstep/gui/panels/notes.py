"""The notes panel: the scenario's title, summary and markdown cells; the current one marked."""

from __future__ import annotations

from PySide6.QtGui import QColor, QTextBlock, QTextCursor, QTextFormat
from PySide6.QtWidgets import QTextBrowser, QTextEdit, QWidget

from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.theme import Theme
from gradstep.session import Session
from gradstep.trace.text import loop_sentence


class NotesView(QTextBrowser, FollowsSession):
    """Renders the lecture notes; the note that precedes the current line is tinted and
    scrolled to."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notes")
        self.setOpenExternalLinks(False)
        self.session: Session | None = None
        self._notes: list[tuple[int, str]] = []  # (line, first words)
        self._starts: list[int | None] = []  # where each note starts in the document
        self._current: int | None = None  # the note tinted
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.ui_font(1.05))
        if self.session is not None:  # the tint in the new colours
            self._current = None
            self.show_step(self.session.index)

    def _on_trace(self) -> None:
        assert self.session is not None
        info = self.session.trace.scenario
        parts = [f"# {info.title}" if info.title else ""]
        if info.summary:
            parts.append(info.summary)
        trace = self.session.trace
        for loop in trace.loops:  # a long loop's later rounds are summarised: say which are not
            parts.append(f"*{loop_sentence(trace, loop, markdown=True)}*")
        self._notes = []
        for cell in info.cells:
            if cell.get("kind") == "markdown" and cell.get("text", "").strip():
                parts.append("---")
                parts.append(cell["text"])
                self._notes.append((int(cell.get("line", 0)), _first_words(cell["text"])))
        if len(parts) <= 1 and not info.summary:
            parts.append(
                "*This scenario has no notes. Markdown cells (`# %% [markdown]`) and the "
                "module docstring appear here.*"
            )
        self.setExtraSelections([])  # they would tint whatever lands at their places
        self.setMarkdown("\n\n".join(p for p in parts if p))
        self._starts = self._find_notes([words for _, words in self._notes])
        self._current = None
        self.show_step(self.session.index)

    def _find_notes(self, first_words: list[str]) -> list[int | None]:
        """Where each note starts in the document: a block right after a rule (``---``), the
        first one that begins with the note's first words — or, if the words were changed by
        the rendering (a link, an image), the next such block."""
        after_rule, block, rule = [], self.document().begin(), False
        while block.isValid():
            if rule and not _is_rule(block):
                after_rule.append(block)
            rule = _is_rule(block)
            block = block.next()
        starts: list[int | None] = []
        at = 0
        for words in first_words:
            rest = after_rule[at:]
            hit = next((i for i, b in enumerate(rest) if b.text().startswith(words)), 0)
            starts.append(rest[hit].position() if rest else None)
            at += hit + 1
        return starts

    def show_step(self, k: int) -> None:
        if self.session is None or not self._notes:
            return
        line = self.session.state(k).line or 0
        before = [i for i, n in enumerate(self._notes) if n[0] <= line]
        if not before:  # the code before the first note
            if self._current is not None:
                self._current = None
                self.setExtraSelections([])
            return
        if before[-1] == self._current:
            return
        self._current = before[-1]
        start = self._starts[before[-1]]
        if start is None:
            self.setExtraSelections([])
            return
        block = self.document().findBlock(start)
        self.setExtraSelections(self._tint(block))
        self.setTextCursor(QTextCursor(block))
        top = self.document().documentLayout().blockBoundingRect(block).top()
        self.verticalScrollBar().setValue(int(top))  # the note from its first line

    def _tint(self, block: QTextBlock) -> list[QTextEdit.ExtraSelection]:
        """The note from ``block`` to the rule before the next one, on a tinted background."""
        colour = QColor(self.theme.current)
        colour.setAlphaF(0.16)
        out = []
        while block.isValid() and not _is_rule(block):
            tint = QTextEdit.ExtraSelection()
            whole = QTextCursor(block)  # the whole block: every line it wraps to
            whole.movePosition(
                QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor
            )
            tint.cursor = whole
            tint.format.setBackground(colour)
            tint.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            out.append(tint)
            block = block.next()
        return out

    def current_note(self) -> str:
        """The text of the tinted note ("" when none is)."""
        return "\n".join(sel.cursor.block().text() for sel in self.extraSelections())


def _is_rule(block: QTextBlock) -> bool:
    """The horizontal rule (``---``) that separates two notes."""
    return block.blockFormat().hasProperty(QTextFormat.Property.BlockTrailingHorizontalRulerWidth)


def _first_words(markdown: str) -> str:
    """Plain words from the note's first line, to find it in the rendered document."""
    line = next((ln for ln in markdown.splitlines() if ln.strip()), "")
    words = [w.strip("#*_`>[]()") for w in line.split()]
    return " ".join(w for w in words if w)[:40]
