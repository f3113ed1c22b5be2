"""The variables panel: every named tensor at the current step, like a debugger's locals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from gradstep.gui.panels.hand_checks import HandChecks
from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.theme import Theme
from gradstep.session import Selection, Session, StepState
from gradstep.trace.blocks import shape_text
from gradstep.trace.model import VariableState
from gradstep.trace.quiz import HIDDEN, NONE, Blanks
from gradstep.trace.text import format_value

MAX_COLUMN = 280  # px; the tooltip has the rest
MAX_NAME_COLUMN = 560  # px: a parameter's path (encoder.layers.0.self_attn.in_proj_weight) whole
#: rows measured to size the other columns of a big model's table (measuring all costs a frame)
SAMPLE_ROWS = 40
COLUMNS = ("name", "value", "grad", "shape", "requires_grad", "is_leaf", "grad_fn")


def cells(var: VariableState) -> tuple[str, ...]:
    grad = format_value(var.grad, max_items=4)
    return (
        format_value(var.value, max_items=4),
        grad,
        shape_text(var.shape),
        str(var.requires_grad),
        str(var.is_leaf),
        var.grad_fn or "",
    )


class VariablesView(QTableWidget, FollowsSession):
    """One row per name; values that changed at this step are shown in bold colour."""

    node_selected = Signal(str)

    def __init__(
        self, theme: Theme, selection: Selection | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("variables")
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a path's both ends tell most
        self.session: Session | None = None
        self._rows: dict[str, tuple[str, ...]] = {}  # name -> cells shown at the previous step
        self._names: list[str] = []
        self._nodes: dict[str, str | None] = {}
        self._shown: dict[str, VariableState] = {}  # name -> the state its row shows
        self._highlighted: set[str] = set()  # rows in bold colour: changed at the last step
        self.checks = HandChecks()  # dL_dw = ∂loss/∂w ✓: hand-computed derivatives judged
        self.blanks: Callable[[StepState], Blanks] = lambda st: NONE  # quiz mode's "?"
        self.set_theme(theme)
        self.selection = selection if selection is not None else Selection()
        self.selection.changed.connect(self.select_node)
        self.itemClicked.connect(self._clicked)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._shown = {}  # every row again, in the new colours: now, not at the next step
        self.setFont(theme.ui_font())
        self.verticalHeader().setDefaultSectionSize(int(self.fontMetrics().height() * 1.5))
        if self.session is not None:
            self.show_step(self.session.index)

    def _on_trace(self) -> None:
        self._rows, self._names, self._shown, self._highlighted = {}, [], {}, set()
        self.setRowCount(0)
        if self.session is not None:
            self.checks.set_trace(self.session.trace)
            self.resizeColumnsToContents()
            self.show_step(self.session.index)

    def show_step(self, k: int) -> None:
        """Rewrite only the rows whose variable changed (or was highlighted at the last step):
        a model's parameters are hundreds of rows, and most steps change one."""
        if self.session is None:
            return
        variables = self.session.state(k).variables
        hidden = self.blanks(self.session.state(k)).grads  # a leaf's new .grad, in a quiz
        names = list(variables)
        full = names != self._names
        if full:
            self._names = names
            self.setRowCount(len(names))
            self._shown = {}
        # the theme's colours, not the palette's: the palette may not have changed yet
        highlight, normal = QColor(self.theme.current), QColor(self.theme.text)
        bold = QFont(self.font())
        bold.setBold(True)
        was_highlighted, self._highlighted = self._highlighted, set()
        for row, name in enumerate(names):
            var = variables[name]
            if self._shown.get(name) is var and name not in was_highlighted:
                continue  # the same state as shown, in plain type: nothing to do
            values = (
                cells(var) if var.node not in hidden else (cells(var)[0], HIDDEN, *cells(var)[2:])
            )
            before = self._rows.get(name)
            self._nodes[name] = var.node
            self._shown[name] = var
            for col, text in enumerate((name, *values)):
                item = self.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(row, col, item)
                if item.text() != text:
                    item.setText(text)
                    item.setToolTip(_tip(name, var, col, text))
                changed = before is not None and col > 0 and before[col - 1] != text
                if changed:
                    self._highlighted.add(name)
                item.setFont(bold if changed or col == 0 else self.font())
                item.setForeground(highlight if changed else normal)
            self.checks.mark(self.item(row, 1), name, var, self.theme)
            self._rows[name] = values
        if len(names) <= 200:  # columns only grow while stepping, so they do not jump
            for col in range(len(COLUMNS) - 1):
                wanted = min(
                    MAX_NAME_COLUMN if col == 0 else MAX_COLUMN,
                    max(self.sizeHintForColumn(col), self.horizontalHeader().sectionSizeHint(col)),
                )
                if wanted > self.columnWidth(col):
                    self.setColumnWidth(col, wanted)
        elif names:  # a big model: measuring every cell costs a frame; the names still fit
            longest = max(names, key=len)
            wanted = min(MAX_NAME_COLUMN, QFontMetrics(bold).horizontalAdvance(longest) + 24)
            if wanted > self.columnWidth(0):
                self.setColumnWidth(0, wanted)
            metrics = QFontMetrics(self.font())
            # the others from a sample of rows, when the rows are new (a frame's worth of
            # measuring at every step of a 5,000-node pass otherwise)
            for col in range(1, len(COLUMNS) - 1) if full else ():
                texts = [self.item(r, col) for r in range(min(SAMPLE_ROWS, len(names)))]
                widest = max((metrics.horizontalAdvance(i.text()) for i in texts if i), default=0)
                wanted = min(
                    MAX_COLUMN, max(widest + 16, self.horizontalHeader().sectionSizeHint(col))
                )
                if wanted > self.columnWidth(col):
                    self.setColumnWidth(col, wanted)
        for name in set(self._rows) - set(names):
            self._rows.pop(name, None)

    def select_node(self, node: str | None) -> None:
        """Select the row of the variable bound to ``node``, if any."""
        for row, name in enumerate(self._names):
            if node is not None and self._nodes.get(name) == node:
                self.selectRow(row)
                return
        self.clearSelection()

    def _clicked(self, item: QTableWidgetItem) -> None:
        cell = self.item(item.row(), 0)
        if cell is None:
            return
        name = cell.text()
        node = self._nodes.get(name)
        if node:
            self.node_selected.emit(node)
            self.selection.set(node)


def _tip(name: str, var: VariableState, col: int, text: str) -> str:
    if col == 0:  # the whole name: the column may show it elided
        return f"{name}: graph node {var.node or '—'}"
    if col == 2 and var.grad is None and var.requires_grad and not var.is_leaf:
        return f"{name}.grad is None: not a leaf, and retain_grad() was not called"
    return text
