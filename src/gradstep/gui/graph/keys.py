"""Moving between the graph's nodes with the keyboard: Tab, Shift+Tab and Enter."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from gradstep.graph import collapse as cl
from gradstep.graph.drawing import Drawing


class NodeKeys:
    """The keyboard commands of ``GraphView`` (a mixin: it uses the view's drawing and signals).

    Tab and Shift+Tab select the next and previous node in reading order —
    layer by layer from the inputs, each layer as drawn — starting from the
    selection, else the current node. Enter goes to the selected node's step,
    or opens a selected box. (Left and Right stay the window's stepping keys.)
    """

    drawing: Drawing | None
    selected: str | None
    _nodes: dict[str, Any]
    _shown: Any  # the StepState on screen

    def reading_order(self) -> list[str]:
        """The drawn nodes and boxes, layer by layer from the inputs, each layer as drawn."""
        layout = self.drawing.layout if self.drawing is not None else None
        if layout is None:
            return []
        nodes = self._nodes
        return [n for layer in layout.order for n in layer if n in nodes and nodes[n].isVisible()]

    def select_next(self, step: int = 1) -> str | None:
        """Select the node ``step`` places after the selection (or the current node)."""
        order = self.reading_order()
        if not order or self.drawing is None:
            return None
        here = self.drawing.drawn(self.selected)
        if here is None and self._shown is not None:
            here = self.drawing.drawn(self._shown.current_node)
        if here in order:
            node = order[(order.index(here) + step) % len(order)]
        else:
            node = order[0] if step > 0 else order[-1]
        self.choose(node)
        return node

    def choose(self, node: str) -> None:
        """What a click on ``node`` does: a node is selected everywhere; a box, which is no
        node of the trace, only here (and the status bar says what is in it)."""
        if cl.is_box(node):
            self.background_clicked.emit()  # type: ignore[attr-defined]
            self.select(node)  # type: ignore[attr-defined]
            self.module_clicked.emit(cl.module_of_box(node))  # type: ignore[attr-defined]
        else:
            self.node_clicked.emit(node)  # type: ignore[attr-defined]

    def activate(self, node: str) -> None:
        """What a double-click on ``node`` does: go to its step; open a box."""
        if cl.is_box(node):
            self.open_box(cl.module_of_box(node))  # type: ignore[attr-defined]
        else:
            self.node_activated.emit(node)  # type: ignore[attr-defined]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.selected is not None:
            self.activate(self.selected)
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and (
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):  # Tab walks the nodes; Ctrl+Tab leaves the graph, as in a text editor
            forward = event.key() == Qt.Key.Key_Tab and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
            super().focusNextPrevChild(forward)  # type: ignore[misc]
            event.accept()
            return
        super().keyPressEvent(event)  # type: ignore[misc]

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002 - Qt override
        """Tab and Shift+Tab (Qt asks this first): the next node, not the next widget, while
        there are nodes."""
        if self.select_next(1 if next else -1) is not None:
            return True
        return bool(super().focusNextPrevChild(next))  # type: ignore[misc]
