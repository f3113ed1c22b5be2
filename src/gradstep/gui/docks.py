"""Where the panels go: one dock each (the user rearranges them; the window remembers)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar, QWidget

TITLES = {
    "graph_view": "Graph",
    "notes": "Notes",
    "code_view": "Code",
    "inspector": "Inspector",
    "variables": "Variables",
    "timeline": "Timeline",
    "plots": "Plots",
    "whatif": "What If",
}


def add_docks(window: QMainWindow, panels: list[QWidget]) -> dict[str, QDockWidget]:
    """Put each panel in a dock named ``dock_<panel>``; graph left, code and inspector right."""
    placeholder = QWidget()
    placeholder.setMaximumSize(0, 0)
    window.setCentralWidget(placeholder)  # every panel is a dock the user can move
    window.setDockNestingEnabled(True)
    panels_menu = window.findChild(QMenu, "menu_panels")
    d: dict[str, QDockWidget] = {}
    for widget in panels:
        name = widget.objectName()
        dock = QDockWidget(TITLES.get(name, name), window)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        d[name] = dock
        if panels_menu is not None:
            panels_menu.addAction(dock.toggleViewAction())
    v, h = Qt.Orientation.Vertical, Qt.Orientation.Horizontal
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["graph_view"])
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d["notes"])
    window.splitDockWidget(d["notes"], d["code_view"], v)
    window.splitDockWidget(d["code_view"], d["inspector"], v)
    window.splitDockWidget(d["graph_view"], d["timeline"], v)
    window.splitDockWidget(d["timeline"], d["variables"], h)
    if "plots" in d:  # under the inspector: the node's numbers, then its picture
        window.splitDockWidget(d["inspector"], d["plots"], v)
    if "whatif" in d:  # a tab beside the variables: the values they come from
        window.tabifyDockWidget(d["variables"], d["whatif"])
        d["variables"].raise_()
    default_sizes(window, d)
    return d


def default_sizes(window: QMainWindow, d: dict[str, QDockWidget]) -> None:
    """The default layout's proportions at the window's present size: the graph 60 % of
    the width over the timeline and the variables side by side, the notes, code,
    inspector and plots down the right. Given in pixels, Qt keeps them only for the
    size they were set at: call again once the window has its size."""
    v, h = Qt.Orientation.Vertical, Qt.Orientation.Horizontal
    width, height = window.width(), window.height()
    left = int(width * 0.6)
    window.resizeDocks([d["graph_view"], d["notes"]], [left, width - left], h)
    window.resizeDocks(
        [d["graph_view"], d["timeline"]], [int(height * 0.68), int(height * 0.28)], v
    )
    window.resizeDocks([d["timeline"], d["variables"]], [left // 2, left - left // 2], h)
    right = [d[n] for n in ("notes", "code_view", "inspector", "plots") if n in d]
    shares = [0.12, 0.28, 0.3, 0.3][: len(right)]
    window.resizeDocks(right, [int(height * s) for s in shares], v)


def add_message_bar(window: QMainWindow, bar: QWidget) -> QToolBar:
    """A full-width row above the docks for ``bar``, shown only while it has a message."""
    host = QToolBar("Messages", window)
    host.setObjectName("toolbar_messages")
    host.setMovable(False)
    bar.setVisible(True)  # inside a toolbar only the toolbar's visibility counts
    host.addWidget(bar)
    window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, host)
    bar.host = host  # type: ignore[attr-defined]
    host.setVisible(False)
    return host


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize to ``width``×``height``, or less where the screen is smaller."""
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        width, height = min(width, int(room.width() * 0.92)), min(height, int(room.height() * 0.92))
    window.resize(width, height)
