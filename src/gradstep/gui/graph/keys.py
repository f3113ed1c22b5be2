"""Moving between the graph's nodes with the keyboard: Tab, Shift+Tab and Enter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

if TYPE_CHECKING:
    from gradstep.gui.graph.host import GraphHost


class NodeKeys:
    """The keyboard commands of a ``GraphView``.

    Tab and Shift+Tab select the next and previous node in reading order —
    layer by layer from the inputs, each layer as drawn — starting from the
    selection, else the current node. Enter goes to the selected node's step,
    or opens a selected box. (Left and Right stay the window's stepping keys.)
    """

    def __init__(self, view: GraphHost) -> None:
        self._view = view

    def reading_order(self) -> list[str]:
        """The drawn nodes and boxes, layer by layer from the inputs, each layer as drawn."""
        drawing = self._view.drawing
        layout = drawing.layout if drawing is not None else None
        if layout is None:
            return []
        nodes = self._view.node_items
        return [n for layer in layout.order for n in layer if n in nodes and nodes[n].isVisible()]

    def select_next(self, step: int = 1) -> str | None:
        """Select the node ``step`` places after the selection (or the current node)."""
        view = self._view
        order = self.reading_order()
        if not order or view.drawing is None:
            return None
        here = view.drawing.drawn(view.selected)
        shown = view.shown
        if here is None and shown is not None:
            here = view.drawing.drawn(shown.current_node)
        if here in order:
            node = order[(order.index(here) + step) % len(order)]
        else:
            node = order[0] if step > 0 else order[-1]
        view.choose(node)
        return node

    def press(self, event: QKeyEvent) -> bool:
        """Handle a key the graph answers to (True), else leave it to the view."""
        view = self._view
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and view.selected is not None:
            view.activate(view.selected)
            event.accept()
            return True
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and (
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):  # Tab walks the nodes; Ctrl+Tab leaves the graph, as in a text editor
            forward = event.key() == Qt.Key.Key_Tab and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
            view.focus_next_widget(forward)
            event.accept()
            return True
        return False
