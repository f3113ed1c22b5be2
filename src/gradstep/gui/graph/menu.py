"""The graph's right-click menu: a node's commands, and opening or closing its modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu, QWidget

from gradstep.graph import collapse as cl

if TYPE_CHECKING:
    from gradstep.gui.graph.host import GraphHost


def context_menu(view: GraphHost, drawn: str, parent: QWidget) -> QMenu:
    """The menu for a drawn node of ``view``: a node or a module's box. ``parent``: the
    widget it opens over (the view itself)."""
    menu = QMenu(parent)
    if cl.is_box(drawn):
        path = cl.module_of_box(drawn)
        menu.addAction(f"Open {path}", lambda: view.boxes.open_box(path))
        menu.addAction("Open everything inside", lambda: view.boxes.open_inside(path))
        _close_menu(menu, view, cl.prefixes(path)[:-1])
        return menu
    menu.addAction("Toggle breakpoint", lambda: view.breakpoint_requested.emit(drawn))
    menu.addAction("Go to this node's step", lambda: view.node_activated.emit(drawn))
    menu.addAction("Show in inspector", lambda: view.node_clicked.emit(drawn))
    module = view.drawing.tree.module.get(drawn) if view.drawing else None
    if module:
        _close_menu(menu, view, cl.prefixes(module))
    return menu


def _close_menu(menu: QMenu, view: GraphHost, paths: list[str]) -> None:
    """ "Close module" for each module around the node, innermost first."""
    if view.drawing is None:
        return
    tree = view.drawing.tree
    paths = [p for p in reversed(paths) if tree.boxable(p)]
    if not paths:
        return
    menu.addSeparator()
    sub = QMenu("Close module", menu)  # parented: addMenu(title)'s menu can die with its wrapper
    menu.addMenu(sub)
    for p in paths:
        sub.addAction(
            f"{p}  ({len(tree.members[p])} nodes)", lambda p=p: view.boxes.close_module(p)
        )
