"""Finding a node in a big graph: a field for a name, an op or a module; Enter for the next match."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from gradstep.graph.drawing import search


class _Field(QLineEdit):
    """Enter: next match; Shift+Enter: previous; Esc: give the keys back to the graph."""

    step = Signal(int)
    leave = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            self.step.emit(-1 if shift else 1)
        elif event.key() == Qt.Key.Key_Escape:
            self.leave.emit()
        else:
            super().keyPressEvent(event)


class SearchBar(QWidget):
    """Find nodes by variable name, op or module path, cycling through the matches."""

    found = Signal(str)  # the node to show
    left = Signal()  # Esc in the field

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("search_bar")
        self.graph: Any = None  # the networkx graph of the trace
        self.matches: list[str] = []
        self.at = -1
        self.field = _Field(self)
        self.field.setObjectName("search_field")
        self.field.setPlaceholderText("Find node: name, op or module (Ctrl+F)")
        self.field.setClearButtonEnabled(True)
        self.field.setMinimumWidth(260)
        self.field.setMaximumWidth(380)
        self.count = QLabel(self)
        self.count.setMinimumWidth(70)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.addWidget(self.field)
        row.addWidget(self.count)
        row.addStretch(1)
        self.field.textChanged.connect(self._search)
        self.field.step.connect(self.next)
        self.field.leave.connect(self.left)

    def set_graph(self, graph: Any) -> None:
        """Search ``graph`` (a new trace's); the same graph drawn anew keeps one's place."""
        if graph is self.graph:
            return
        self.graph = graph
        self._search(self.field.text())

    def focus(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def next(self, direction: int = 1) -> None:
        """Go to the next (``direction`` 1) or previous (-1) match."""
        if not self.matches:
            self.count.setText("no match" if self.field.text().strip() else "")
            return
        self.at = (self.at + direction) % len(self.matches)
        self.count.setText(f"{self.at + 1} of {len(self.matches)}")
        self.found.emit(self.matches[self.at])

    def _search(self, text: str) -> None:
        self.matches = search(self.graph, text) if self.graph is not None else []
        self.at = -1
        if not text.strip():
            self.count.setText("")
        else:
            n = len(self.matches)
            self.count.setText(f"{n} found" if n else "no match")
