"""Keeping what the user looked at in place while one drawing replaces another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF

if TYPE_CHECKING:
    from gradstep.gui.graph.host import GraphHost


class ViewAnchor:
    """A node and where it was in the viewport, put back there once the new drawing is up."""

    def __init__(self, view: GraphHost) -> None:
        self._view = view
        self._anchor: tuple[str, QPointF] | None = None

    def take(self, node: str | None) -> None:
        """Note where ``node`` is (default: the node nearest the middle of the view)."""
        self._anchor = self._where(node)

    def clear(self) -> None:
        self._anchor = None

    def restore(self) -> None:
        """Put the noted node back where it was on screen (into sight if it was out of it)."""
        view = self._view
        anchor, self._anchor = self._anchor, None
        item = view.node_item(anchor[0]) if anchor else None
        if anchor is None or item is None:
            return
        if not view.viewport().rect().contains(anchor[1].toPoint()):
            view.centerOn(item)  # it was out of sight (opened from a menu or a search)
            return
        scale = view.transform().m11() or 1.0
        offset = anchor[1] - QPointF(view.viewport().rect().center())
        view.centerOn(item.pos() - QPointF(offset.x() / scale, offset.y() / scale))

    def _where(self, node: str | None) -> tuple[str, QPointF] | None:
        view = self._view
        drawing, items = view.drawing, view.node_items
        if drawing is None or not items:
            return None
        if node is None:
            middle = view.centre()
            nearest = min(items.values(), key=lambda i: (i.pos() - middle).manhattanLength())
            node = nearest.node_id
        item = view.node_item(node)
        if item is None:
            return None
        members = drawing.view.members.get(node)
        return (members[0] if members else node), view.mapFromScene(item.pos()).toPointF()
