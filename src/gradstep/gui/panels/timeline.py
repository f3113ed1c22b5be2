"""The timeline panel: every step as a list, a slider, and the stepping controls."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gradstep.gui.panels.panel import FollowsSession
from gradstep.gui.theme import Theme
from gradstep.session import Session
from gradstep.trace.model import Trace
from gradstep.trace.text import step_detail, step_number, step_what

_INDENT = {
    "receive": 2,
    "compute": 2,
    "accumulate": 2,
    "tensor_hook": 2,
    "pass_end": 1,
    "pass_start": 0,
}
Index = QModelIndex | QPersistentModelIndex


class StepListModel(QAbstractListModel):
    """The trace's steps as rows; backward events indented under their pass."""

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.trace: Trace | None = None
        self.theme = theme

    def set_trace(self, trace: Trace) -> None:
        self.beginResetModel()
        self.trace = trace
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        return 0 if self.trace is None or parent.isValid() else len(self.trace.steps)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.trace is None or not index.isValid():
            return None
        step = self.trace.steps[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            what = step_what(self.trace, step, where=False)  # its node titled as in the graph
            return f"{step_number(step.index):>4}   {'   ' * _INDENT.get(step.kind, 0)}{what}"
        if role == Qt.ItemDataRole.ForegroundRole:
            if step.kind == "error":
                return QColor(self.theme.error_text)
            if step.kind in ("receive", "tensor_hook", "pass_end"):
                return QColor(self.theme.muted_text)
            return None
        if role == Qt.ItemDataRole.FontRole and step.kind in ("pass_start", "error"):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            detail = step_detail(self.trace, step) or step.output.strip()
            line = f"line {step.line}: " if step.line else ""
            what = step_what(self.trace, step, where=False)
            return f"{line}{what}" + (f"\n{detail}" if detail else "")
        return None


class Timeline(QWidget, FollowsSession):
    """Steps list + slider + controls; the list and the slider move the session."""

    speed_changed = Signal(float)

    def __init__(
        self, theme: Theme, actions: list[QAction | None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.session: Session | None = None
        self.model = StepListModel(theme)
        self.list = QListView()
        self.list.setObjectName("timeline_list")
        self.list.setModel(self.model)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timeline_slider")
        self.position = QLabel("—")
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.5, 60.0)
        self.speed.setValue(4.0)
        self.speed.setSuffix(" steps/s")
        self.speed.setToolTip("Play speed")
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        for action in actions:
            if action is None:
                controls.addSpacing(8)
                continue
            button = QToolButton()
            button.setDefaultAction(action)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            controls.addWidget(button)
        controls.addStretch(1)
        controls.addWidget(self.position)
        controls.addWidget(self.speed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.slider)
        layout.addWidget(self.list, 1)
        self.set_theme(theme)
        self.slider.valueChanged.connect(self._go)
        self.list.clicked.connect(lambda index: self._go(index.row()))
        self.list.activated.connect(lambda index: self._go(index.row()))
        self.speed.valueChanged.connect(self.speed_changed)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self._syncing = False

    def set_theme(self, theme: Theme) -> None:
        self.model.theme = theme
        self.list.setFont(theme.mono_font())
        self.position.setFont(theme.ui_font())
        self.position.setMinimumWidth(
            self.position.fontMetrics().horizontalAdvance(" 00000 / 00000 ")
        )

    def _on_trace(self) -> None:
        assert self.session is not None
        self._syncing = True
        self.model.set_trace(self.session.trace)
        self._syncing = False
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self.session.step_count - 1))
        self.slider.blockSignals(False)
        self.show_step(self.session.index)

    def show_step(self, k: int) -> None:
        if self.session is None:
            return
        self.slider.blockSignals(True)
        self.slider.setValue(k)
        self.slider.blockSignals(False)
        self.position.setText(f"{k + 1} / {self.session.step_count}")
        index = self.model.index(k, 0)
        if self.list.currentIndex() != index:
            self._syncing = True
            self.list.setCurrentIndex(index)
            self._syncing = False
            if not self.list.viewport().rect().contains(self.list.visualRect(index)):
                self.list.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._syncing and current.isValid():  # Up/Down in the list
            self._go(current.row())

    def _go(self, k: int) -> None:
        if self.session is not None:
            self.session.go_to(k)
