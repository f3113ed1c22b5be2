"""WCAG contrast of the text a widget shows, read from what Qt paints it with: palettes,
item roles, text documents (their formats, highlighter ranges and tinted lines)."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QAbstractListModel, Qt
from PySide6.QtGui import QBrush, QColor, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

Role = QPalette.ColorRole


def luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def over(fg: QColor, bg: QColor) -> QColor:
    """``fg`` (maybe translucent) painted on the opaque ``bg``."""
    a = fg.alphaF()
    return QColor.fromRgbF(
        fg.redF() * a + bg.redF() * (1 - a),
        fg.greenF() * a + bg.greenF() * (1 - a),
        fg.blueF() * a + bg.blueF() * (1 - a),
    )


def ratio(fg: QColor, bg: QColor) -> float:
    a, b = luminance(over(fg, bg)), luminance(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def _brush(value: object) -> QColor | None:
    if isinstance(value, QBrush) and value.style() != Qt.BrushStyle.NoBrush:
        return value.color()
    if isinstance(value, QColor) and value.isValid():
        return value
    return None


def pairs(widget: QWidget) -> Iterator[tuple[str, QColor, QColor]]:
    """(what, text colour, background colour) for every text ``widget`` and its children show."""
    for w in [widget, *widget.findChildren(QWidget)]:
        pal = w.palette()
        name = f"{widget.objectName()}/{type(w).__name__}:{w.objectName()}"
        if isinstance(w, QLabel) or (isinstance(w, QAbstractButton) and w.text()):
            yield name, pal.color(w.foregroundRole()), pal.color(w.backgroundRole())
        if isinstance(w, (QLineEdit, QAbstractSpinBox)):
            yield name, pal.color(Role.Text), pal.color(Role.Base)
        if isinstance(w, QHeaderView):  # its sections, not the model's cells
            yield name, pal.color(Role.ButtonText), pal.color(Role.Button)
        elif isinstance(w, QAbstractItemView) and w.model() is not None:
            yield from _items(name, w)
        if isinstance(w, (QTextEdit, QPlainTextEdit)):
            yield from _document(name, w, w.document(), pal)


def _items(name: str, view: QAbstractItemView) -> Iterator[tuple[str, QColor, QColor]]:
    model, pal = view.model(), view.palette()
    current = view.currentIndex()
    for row in range(min(model.rowCount(), 60)):
        columns = 1 if isinstance(model, QAbstractListModel) else model.columnCount()
        for col in range(columns):
            index = model.index(row, col)
            if not model.data(index, Qt.ItemDataRole.DisplayRole):
                continue
            fg = _brush(model.data(index, Qt.ItemDataRole.ForegroundRole)) or pal.color(Role.Text)
            alternate = view.alternatingRowColors() and row % 2
            bg = _brush(model.data(index, Qt.ItemDataRole.BackgroundRole)) or pal.color(
                Role.AlternateBase if alternate else Role.Base
            )
            yield f"{name} row {row} col {col}", fg, bg
            if index == current or view.selectionModel().isSelected(index):
                yield (
                    f"{name} selected row {row}",
                    pal.color(Role.HighlightedText),
                    pal.color(Role.Highlight),
                )


def _document(
    name: str, editor: QTextEdit | QPlainTextEdit, doc: QTextDocument, pal: QPalette
) -> Iterator[tuple[str, QColor, QColor]]:
    base = pal.color(Role.Base)
    tinted: dict[int, QColor] = {}  # block -> the background of a tinted line
    for sel in editor.extraSelections():
        colour = _brush(sel.format.background())
        if colour is not None:
            block = doc.findBlock(sel.cursor.selectionStart())
            while block.isValid() and block.position() <= max(
                sel.cursor.selectionEnd(), sel.cursor.position()
            ):
                tinted[block.blockNumber()] = over(colour, base)
                block = block.next()
    block = doc.begin()
    while block.isValid() and block.blockNumber() < 400:
        if block.text().strip():
            block_bg = _brush(block.blockFormat().background())
            bg = tinted.get(block.blockNumber()) or (over(block_bg, base) if block_bg else base)
            it = block.begin()
            while not it.atEnd():
                frag = it.fragment()
                if frag.isValid() and frag.text().strip():
                    fmt = frag.charFormat()
                    fg = _brush(fmt.foreground()) or pal.color(Role.Text)
                    char_bg = _brush(fmt.background())
                    yield (
                        f"{name} {frag.text()[:30]!r}",
                        fg,
                        over(char_bg, bg) if char_bg else bg,
                    )
                it += 1
            for r in block.layout().formats():  # a syntax highlighter's colours
                fg = _brush(r.format.foreground())
                if fg is not None:
                    text = block.text()[r.start : r.start + r.length]
                    yield f"{name} {text[:30]!r}", fg, bg
        block = block.next()
