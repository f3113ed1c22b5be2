"""Where the panels go: one dock each, in a default layout chosen for the screen (the user
rearranges them; the window remembers; View ▸ Reset Layout puts the default back)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar, QWidget

from gradstep.gui.panels.message_bar import MessageBar

TITLES = {
    "graph_view": "Graph",
    "notes": "Notes",
    "code_view": "Code",
    "inspector": "Inspector",
    "variables": "Variables",
    "timeline": "Timeline",
    "plots": "Plots",
    "whatif": "What If",
    "figures": "Figures",
}

#: the smallest a panel gets, in the UI font's line heights (width, height): enough for its
#: dock title, its table's first columns, a few lines of text — never a panel that is only a
#: title ("Va…"), an inspector that is only its header, a plot 40 px tall
MIN_LINES = {
    "graph_view": (16, 9),
    "notes": (14, 5),
    "code_view": (14, 5),
    "inspector": (16, 8),
    "variables": (11, 4),
    "timeline": (16, 5),
    "plots": (14, 9),
    "whatif": (12, 5),
    "figures": (14, 9),
}

#: the default layouts, by the room the screen gives (logical pixels, so 2× scaling counts):
#: "wide" has every panel apart, "medium" (1366×768, a 1280×720 projector) puts the notes
#: beside the variables, "compact" (2× on 1920×1080: 960×540) shares panes in tabs
WIDE = QSize(1600, 950)
MEDIUM = QSize(1200, 650)


def layout_kind(room: QSize) -> str:
    """Which default layout suits a window of ``room`` (at most the screen's free area)."""
    if room.width() >= WIDE.width() and room.height() >= WIDE.height():
        return "wide"
    if room.width() >= MEDIUM.width() and room.height() >= MEDIUM.height():
        return "medium"
    return "compact"


def add_docks(
    window: QMainWindow, panels: list[QWidget], kind: str = "wide"
) -> dict[str, QDockWidget]:
    """Put each panel in a dock named ``dock_<panel>``, arranged in the ``kind`` layout."""
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
    set_minimum_sizes(d, window.font())
    arrange(window, d, kind)
    return d


def set_minimum_sizes(d: dict[str, QDockWidget], font: QFont) -> None:
    """Each panel's smallest size in lines of ``font`` (again when the font changes)."""
    line = QFontMetrics(font).height()
    for name, dock in d.items():
        cols, rows = MIN_LINES.get(name, (10, 4))
        dock.widget().setMinimumSize(cols * line, rows * line)


def arrange(window: QMainWindow, d: dict[str, QDockWidget], kind: str) -> None:
    """Put every dock where the ``kind`` layout has it, docked and shown; then its sizes
    (now, and once more when the window has its size: Qt keeps pixel sizes only for the
    size they were set at)."""
    for dock in d.values():
        dock.setFloating(False)
        window.removeDockWidget(dock)
    v, h = Qt.Orientation.Vertical, Qt.Orientation.Horizontal
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    window.addDockWidget(left, d["graph_view"])
    window.splitDockWidget(d["graph_view"], d["timeline"], v)
    if kind == "wide":  # down the right: notes, code, inspector, plots
        window.addDockWidget(right, d["notes"])
        window.splitDockWidget(d["notes"], d["code_view"], v)
    else:
        window.addDockWidget(right, d["code_view"])
    window.splitDockWidget(d["code_view"], d["inspector"], v)
    if kind == "wide":
        window.splitDockWidget(d["inspector"], d["plots"], v)
        window.splitDockWidget(d["timeline"], d["variables"], h)
    elif kind == "medium":  # the notes under the graph, the variables a tab beside them
        window.splitDockWidget(d["inspector"], d["plots"], v)
        window.splitDockWidget(d["timeline"], d["notes"], h)
        window.tabifyDockWidget(d["notes"], d["variables"])
    else:  # compact: the inspector and its plot share a pane, so do code and notes
        window.tabifyDockWidget(d["inspector"], d["plots"])
        window.tabifyDockWidget(d["code_view"], d["notes"])
        window.tabifyDockWidget(d["timeline"], d["variables"])
    if "whatif" in d:  # a tab beside the variables: the values they come from
        window.tabifyDockWidget(d["variables"], d["whatif"])
    if "figures" in d:  # what the scenario drew with matplotlib: a tab behind the plots
        window.tabifyDockWidget(d["plots"], d["figures"])
        d["plots"].raise_()
    for dock in d.values():
        dock.show()
    for name in ("variables", "notes", "inspector", "code_view", "timeline"):  # tabs in front
        d[name].raise_()
    window.setProperty("layout_kind", kind)
    default_sizes(window, d)
    QTimer.singleShot(0, window, lambda: default_sizes(window, d))


def default_sizes(window: QMainWindow, d: dict[str, QDockWidget]) -> None:
    """The proportions of the layout ``arrange`` made, at the window's present size."""
    kind = str(window.property("layout_kind") or "wide")
    v, h = Qt.Orientation.Vertical, Qt.Orientation.Horizontal
    width, height = window.width(), window.height()
    left = int(width * (0.6 if kind == "wide" else 0.58))
    window.resizeDocks([d["graph_view"], d["code_view"]], [left, width - left], h)
    graph = 0.68 if kind != "compact" else 0.66
    window.resizeDocks(
        [d["graph_view"], d["timeline"]], [int(height * graph), int(height * (0.96 - graph))], v
    )
    if kind == "wide":
        window.resizeDocks([d["timeline"], d["variables"]], [left // 2, left - left // 2], h)
        right, shares = ["notes", "code_view", "inspector", "plots"], [0.16, 0.24, 0.32, 0.28]
    elif kind == "medium":
        window.resizeDocks([d["timeline"], d["notes"]], [left // 2, left - left // 2], h)
        right, shares = ["code_view", "inspector", "plots"], [0.28, 0.40, 0.32]
    else:
        right, shares = ["code_view", "inspector"], [0.38, 0.62]
    window.resizeDocks([d[n] for n in right], [int(height * s) for s in shares], v)


def add_message_bar(window: QMainWindow, bar: MessageBar) -> QToolBar:
    """A full-width row above the docks for ``bar``, shown only while it has a message."""
    host = QToolBar("Messages", window)
    host.setObjectName("toolbar_messages")
    host.setMovable(False)
    bar.setVisible(True)  # inside a toolbar only the toolbar's visibility counts
    host.addWidget(bar)
    window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, host)
    bar.host = host
    host.setVisible(False)
    return host


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize to ``width``×``height``, or less where the screen is smaller."""
    room = free_area(window)
    if room is not None:
        width, height = min(width, int(room.width() * 0.92)), min(height, int(room.height() * 0.92))
    window.resize(width, height)


def free_area(window: QWidget) -> QRect | None:
    """The part of ``window``'s screen a window may take (without panels and docks)."""
    screen = window.screen()
    return screen.availableGeometry() if screen is not None else None


def keep_on_screen(window: QWidget) -> None:
    """Never taller or wider than the screen, nor off it (a geometry kept from a larger
    screen, or from before a change of scaling)."""
    room = free_area(window)
    if room is None or room.isEmpty():
        return
    frame = window.frameGeometry()
    extra_w, extra_h = frame.width() - window.width(), frame.height() - window.height()
    width = min(window.width(), room.width() - extra_w)
    height = min(window.height(), room.height() - extra_h)
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    x = min(max(window.x(), room.left()), room.right() - width - extra_w + 1)
    y = min(max(window.y(), room.top()), room.bottom() - height - extra_h + 1)
    if (x, y) != (window.x(), window.y()):
        window.move(x, y)
