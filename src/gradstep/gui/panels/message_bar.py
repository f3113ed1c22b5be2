"""A strip above the panels that says what went wrong (or what the scenario raised)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from gradstep.gui.theme import Theme


class MessageBar(QWidget):
    """Hidden until there is something to say; offers to trust a refused file."""

    trust_requested = Signal()

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message_bar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(self.label.textFormat().PlainText)
        self.trust = QPushButton("Trust this file and run it")
        self.trust.setToolTip("Run it as ordinary Python — only for files whose author you trust")
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 6, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.trust)
        layout.addWidget(close)
        self.setAttribute(
            Qt.WidgetAttribute.WA_StyledBackground, True
        )  # the stylesheet's background
        self.host: QWidget = self  # what to show and hide: a toolbar holding the bar
        self.shown = False
        self.set_theme(theme)
        self.setVisible(False)
        self.trust.clicked.connect(self.trust_requested)
        close.clicked.connect(self.clear)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.label.setFont(theme.ui_font(1.05))
        self._restyle()

    def show_message(self, text: str, *, error: bool = True, offer_trust: bool = False) -> None:
        self.error = error
        self.label.setText(text)
        self.trust.setVisible(offer_trust)
        self._restyle()
        self._set_shown(True)

    def clear(self) -> None:
        self.label.clear()
        self._set_shown(False)

    @property
    def text(self) -> str:
        return self.label.text() if self.shown else ""

    def _set_shown(self, on: bool) -> None:
        # Inside a toolbar only the toolbar's visibility counts (QToolBar.addWidget).
        self.shown = on
        self.host.setVisible(on)

    def _restyle(self) -> None:
        t = self.theme
        bg = t.error_line if getattr(self, "error", True) else t.current_line
        fg = t.error_text if getattr(self, "error", True) else t.text
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            f"#message_bar {{ background: {bg}; }} #message_bar QLabel {{ color: {fg}; }}"
        )
