"""The notes panel: the scenario's title, summary and markdown cells, near the current line."""

from __future__ import annotations

from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QTextBrowser, QWidget

from gradstep.gui.panel import FollowsSession
from gradstep.gui.stepping import state_of
from gradstep.gui.theme import Theme
from gradstep.session import Session


class NotesView(QTextBrowser, FollowsSession):
    """Renders the lecture notes; scrolls to the note that precedes the current line."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notes")
        self.setOpenExternalLinks(False)
        self.session: Session | None = None
        self._notes: list[tuple[int, str]] = []  # (line, first words)
        self._current: int | None = None
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.ui_font(1.05))

    def _on_trace(self) -> None:
        assert self.session is not None
        info = self.session.trace.scenario
        parts = [f"# {info.title}" if info.title else ""]
        if info.summary:
            parts.append(info.summary)
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
        self.setMarkdown("\n\n".join(p for p in parts if p))
        self._current = None
        self.show_step(self.session.index)

    def show_step(self, k: int) -> None:
        if self.session is None or not self._notes:
            return
        line = state_of(self.session, k).line or 0
        before = [n for n in self._notes if n[0] <= line]
        note = before[-1] if before else None
        if note is None or note[0] == self._current:
            return
        self._current = note[0]
        found = self.document().find(note[1], 0, QTextDocument.FindFlag(0))
        if not found.isNull():
            cursor = QTextCursor(found)
            cursor.clearSelection()
            self.setTextCursor(cursor)
            self.ensureCursorVisible()


def _first_words(markdown: str) -> str:
    """Plain words from the note's first line, to find it in the rendered document."""
    line = next((ln for ln in markdown.splitlines() if ln.strip()), "")
    words = [w.strip("#*_`>[]()") for w in line.split()]
    return " ".join(w for w in words if w)[:40]
