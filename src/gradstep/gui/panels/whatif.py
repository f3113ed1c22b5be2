"""The What-if panel: a field and a slider per top-level literal of the scenario.

Changing one (releasing the slider, or Enter in the field) runs the scenario
again in the warm worker with that value (``ScenarioLoader.overrides``, see
:mod:`gradstep.scenario.overrides`) through the window's reload, which keeps
the layout, the step and the selection, so every number on screen updates.
The file is not touched until "Write" (:mod:`gradstep.scenario.writeback`); the
code panel shows the file's text with the literals that run otherwise marked
(``changed``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gradstep.gui.panels.code import ChangedLiteral
from gradstep.gui.theme import Theme
from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.overrides import Literal, Number, find_literals, parse_value
from gradstep.scenario.writeback import write_literal
from gradstep.session import Session

SLIDER_POSITIONS = 100  # about: the step is rounded to 1, 2 or 5 × 10ⁿ
KEY_DELAY_MS = 250  # arrow keys on a slider: one run once they pause, not one per press
HINT = (
    "No top-level literal to vary. A name assigned a number (lr = 0.1) or a scalar "
    "tensor made from one (x = torch.tensor(3.0, requires_grad=True)) at the top level "
    "gets a field and a slider here."
)


@dataclass
class _Range:
    """The slider's span: around the file's value, twice its size each way (±1 around 0),
    in round steps (0.1, 0.2, 0.5, ...), so that a slider gives values a class can read."""

    lo: float
    step: float
    positions: int
    integer: bool

    @classmethod
    def around(cls, value: Number) -> _Range:
        integer = isinstance(value, int)
        span = 2 * abs(value) if value else 1.0
        step = _round_step(2 * span / SLIDER_POSITIONS)
        if integer:
            step = max(1.0, step)
        low = math.floor((value - span) / step + 1e-9)  # in steps; 1e-9: 0.3/0.1 is 2.9999…
        high = math.ceil((value + span) / step - 1e-9)
        return cls(low * step, step, high - low, integer)

    @property
    def hi(self) -> float:
        return self.value(self.positions)

    def value(self, position: int) -> Number:
        v = self.lo + self.step * position
        if self.integer:
            return round(v)
        return round(v, max(0, 1 - math.floor(math.log10(self.step))))

    def position(self, value: float) -> int:
        if not math.isfinite(value):
            return 0
        return max(0, min(self.positions, round((value - self.lo) / self.step)))


def _round_step(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return float(nice * 10**exponent)


def _text(value: Number) -> str:
    """An int as it is; a float with its point (``2.0``: it stays a float when it runs)."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6g}"
    return text if any(c in text for c in ".eni") else f"{text}.0"


class _Row:
    """One literal's label, field, slider and Write button."""

    def __init__(self, panel: WhatIfPanel, literal: Literal, base: Number) -> None:
        self.key = literal.key
        self.base = base  # the value in the file
        self.range = _Range.around(base)
        self.label = QLabel(literal.name)
        self.label.setToolTip(
            f"{literal.name}, line {literal.line}"
            + (" (a scalar tensor)" if literal.tensor else "")
            + f"; in the file: {_text(base)}"
        )
        self.field = QLineEdit()
        self.field.setObjectName(f"whatif_field_{literal.name}_{literal.line}")
        self.field.setMaximumWidth(110)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(f"whatif_slider_{literal.name}_{literal.line}")
        self.slider.setRange(0, self.range.positions)
        self.slider.setMinimumWidth(120)
        self.slider.setToolTip(f"{_text(self.range.lo)} … {_text(self.range.hi)}")
        self.write = QToolButton()
        self.write.setObjectName(f"whatif_write_{literal.name}_{literal.line}")
        self.write.setText("Write")
        self.write.setToolTip(f"Write this value into the file, line {literal.line}")
        self._keys = QTimer(panel, singleShot=True, interval=KEY_DELAY_MS)
        self._keys.timeout.connect(lambda: panel.set_value(self.key, self._slider_value()))
        self.field.editingFinished.connect(lambda: panel.commit_text(self.key, self.field.text()))
        self.slider.sliderMoved.connect(lambda p: self.field.setText(_text(self.range.value(p))))
        self.slider.sliderReleased.connect(lambda: panel.set_value(self.key, self._slider_value()))
        self.slider.valueChanged.connect(self._keyed)
        self.write.clicked.connect(lambda: panel.write(self.key))
        self.show(literal.value)

    def _slider_value(self) -> Number:
        return self.range.value(self.slider.value())

    def _keyed(self, position: int) -> None:
        if not self.slider.isSliderDown() and not self._quiet:
            self.field.setText(_text(self.range.value(position)))
            self._keys.start()

    _quiet = False

    def show(self, value: Number) -> None:
        """``value`` (what ran) in the field and on the slider, without running again."""
        if not self.field.hasFocus():
            self.field.setText(_text(value))
        self._quiet = True
        try:
            self.slider.setValue(self.range.position(float(value)))
        finally:
            self._quiet = False
        changed = value != self.base
        font = self.label.font()
        font.setBold(changed)
        self.label.setFont(font)
        self.write.setEnabled(changed)


class WhatIfPanel(QWidget):
    """The scenario's settable literals; ``loader`` is the window's ``ScenarioLoader``
    (its ``overrides`` are what the next run uses) and ``rerun`` runs the file again
    keeping the place (the window's ``reload``)."""

    #: after each run: the literals that ran with what-if values ([ChangedLiteral])
    changed = Signal(list)

    def __init__(
        self, theme: Theme, loader: Any, rerun: Callable[[], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("whatif")
        self.loader = loader
        self.rerun = rerun
        self.session: Session | None = None
        self._rows: dict[str, _Row] = {}
        self._literals: dict[str, Literal] = {}
        self._bases: dict[str, Number] = {}  # the file's values, by key
        self._base_texts: dict[str, str] = {}  # and how the file writes them
        self._path: str | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        outer.addWidget(self.hint)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._grid_host = QWidget()
        self.grid = QGridLayout(self._grid_host)
        self.grid.setColumnStretch(2, 1)
        scroll.setWidget(self._grid_host)
        outer.addWidget(scroll, 1)
        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("whatif_status")
        self.status.setWordWrap(True)
        self.reset = QPushButton("Reset all")
        self.reset.setObjectName("whatif_reset")
        self.reset.setToolTip("Run the file with its own values again")
        self.reset.clicked.connect(self.reset_all)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.reset)
        outer.addLayout(bottom)
        self.set_theme(theme)

    # ------------------------------------------------------------ panel
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setFont(theme.ui_font())

    def set_session(self, session: Session) -> None:
        self.session = session
        session.trace_changed.connect(self._on_trace)
        self._on_trace()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """The panel closed: back to one spare worker (the second is for changes in a row)."""
        pool = getattr(self.loader, "pool", None)
        if pool is not None and hasattr(pool, "keep_spares"):
            pool.keep_spares(1)
        super().hideEvent(event)

    def _on_trace(self) -> None:
        """A run arrived: the literals as they ran (the file's, or what-if values)."""
        if self.session is None:
            return
        trace = self.session.trace
        overrides: dict[str, str] = getattr(self.loader, "overrides", {})
        literals = {lit.key: lit for lit in find_literals(trace.scenario.source)}
        if trace.scenario.path != self._path or set(literals) != set(self._literals):
            if trace.scenario.path != self._path:
                self._bases, self._base_texts = {}, {}
            self._path = trace.scenario.path
            for key, lit in literals.items():
                if key not in overrides:
                    self._bases[key], self._base_texts[key] = lit.value, lit.text
            self._rebuild(literals)
        else:
            for key, lit in literals.items():
                if key not in overrides:
                    self._bases[key], self._base_texts[key] = lit.value, lit.text
                row = self._rows.get(key)
                if row is not None:
                    row.base = self._bases.get(key, lit.value)
                    row.show(lit.value)
        self._literals = literals
        self._say_what_runs(overrides)
        self.changed.emit(self.changes())

    def changes(self) -> list[ChangedLiteral]:
        """The literals of the run on screen whose value is a what-if one, not the file's."""
        overrides: dict[str, str] = getattr(self.loader, "overrides", {})
        return [
            ChangedLiteral(lit, self._base_texts[key])
            for key, lit in self._literals.items()
            if key in overrides and key in self._base_texts and lit.text != self._base_texts[key]
        ]

    def _rebuild(self, literals: dict[str, Literal]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._rows = {}
        for i, (key, lit) in enumerate(literals.items()):
            row = _Row(self, lit, self._bases.get(key, lit.value))
            self._rows[key] = row
            for col, w in enumerate((row.label, row.field, row.slider, row.write)):
                self.grid.addWidget(w, i, col)
        self.grid.setRowStretch(len(literals), 1)
        self.hint.setVisible(not literals)
        self.reset.setVisible(bool(literals))

    def _say_what_runs(self, overrides: dict[str, str]) -> None:
        if not overrides:
            self.status.setText("The file's values." if self._rows else "")
            return
        shown = ", ".join(f"{k.partition('@')[0]} = {v}" for k, v in overrides.items())
        self.status.setText(f"Running with {shown} (the file is unchanged).")

    # --------------------------------------------------------- commands
    def commit_text(self, key: str, text: str) -> None:
        """A value typed in a field (Enter, or leaving it)."""
        row = self._rows.get(key)
        if row is None:
            return
        try:
            value = parse_value(text)
        except ValueError as e:
            self.status.setText(f"{key.partition('@')[0]}: {e}")
            return
        current = self._literals.get(key)
        if current is not None and value == current.value:
            return  # leaving the field unchanged is no new run
        self.set_value(key, value)

    def set_value(self, key: str, value: Number) -> None:
        """Run the scenario with ``key`` set to ``value`` (the file's value: no override)."""
        overrides: dict[str, str] = self.loader.overrides
        if key not in self._rows:
            return
        if value == self._bases.get(key):
            overrides.pop(key, None)
        else:
            overrides[key] = repr(value)
        self.status.setText(f"Running with {key.partition('@')[0]} = {_text(value)}…")
        pool = getattr(self.loader, "pool", None)
        if pool is not None and hasattr(pool, "keep_spares"):
            pool.keep_spares(2)  # the next change may come right after this one
        self.rerun()

    def reset_all(self) -> None:
        if self.loader.overrides:
            self.loader.overrides.clear()
            self.status.setText("Running with the file's values…")
            self.rerun()

    def write(self, key: str) -> None:
        """Write the value that ran into the file; the file watcher then reloads it."""
        literal = self._literals.get(key)
        path = self.loader.path
        if literal is None or path is None:
            return
        try:
            write_literal(path, key, literal.value)
        except (ScenarioRefused, OSError, ValueError) as e:
            message = e.message if isinstance(e, ScenarioRefused) else str(e)
            self.status.setText(f"Not written: {message}")
            return
        self._bases[key], self._base_texts[key] = literal.value, literal.text
        self.loader.overrides.pop(key, None)
        self.changed.emit(self.changes())  # the file now says what runs
        row = self._rows.get(key)
        if row is not None:
            row.base = literal.value
            row.show(literal.value)
        self.status.setText(
            f"Wrote {literal.name} = {_text(literal.value)} to line {literal.line}."
        )

    # ------------------------------------------------------------ tests
    def row(self, name: str) -> _Row:
        """The row of ``name`` (its first literal)."""
        return next(r for k, r in self._rows.items() if k.partition("@")[0] == name)
