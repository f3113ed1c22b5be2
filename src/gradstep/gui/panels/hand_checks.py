"""Hand-computed vs autograd in the Variables panel: a derivative the scenario computed by
hand carries ✓ and what it equals (or ✗ and the engine's value) in its value cell.

The verdicts are :mod:`gradstep.trace.matches`'; this only puts them on screen, on the
rows whose value is the one judged (a variable rebound later in a loop is not marked
at its other values).
"""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidgetItem

from gradstep.gui.theme import Theme
from gradstep.trace.matches import Match, find_matches
from gradstep.trace.model import Trace, VariableState


class HandChecks:
    def __init__(self) -> None:
        self.matches: dict[str, Match] = {}

    def set_trace(self, trace: Trace) -> None:
        self.matches = {m.name: m for m in find_matches(trace)}

    def mark(
        self, item: QTableWidgetItem | None, name: str, var: VariableState, theme: Theme
    ) -> None:
        """Add the verdict to ``item`` (the value cell of ``name``'s row) when it applies."""
        match = self.matches.get(name)
        if item is None or match is None or var.value != match.hand:
            return
        short = match.engine.label().partition(" ")[0].partition(",")[0]  # "∂loss/∂w"
        if match.ok:
            item.setText(f"{item.text()}  ✓ = {short}")
            item.setForeground(QColor(theme.done))
        else:
            item.setText(f"{item.text()}  ✗ ≠ {short}")
            item.setForeground(QColor(theme.nonfinite))
        item.setToolTip(match.text())
