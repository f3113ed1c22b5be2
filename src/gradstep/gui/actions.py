"""The window's commands as named QActions, with their keys (stable object names for tests)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QWidget

from gradstep.gui.quiz import QUIZ_SPECS

Key = QKeySequence.StandardKey

# object name, text, shortcuts, checkable, tip
_SPECS: list[tuple[str, str, tuple[str | Key, ...], bool, str]] = [
    ("action_open", "&Open…", (Key.Open,), False, "Open a scenario (.py or .ipynb)"),
    ("action_reload", "&Reload", ("Ctrl+R",), False, "Run the file again"),
    (
        "action_trust_file",
        "&Trust This File",
        (),
        True,
        "Run this file as ordinary Python (still in the worker, with its limits)",
    ),
    (
        "action_export_graph",
        "&Export Graph…",
        ("Ctrl+E",),
        False,
        "The graph at this step as PNG (2×), SVG or PDF, in the light theme (Ctrl+E)",
    ),
    (
        "action_export_screenshot",
        "Export Window &Screenshot…",
        (),
        False,
        "The whole window as it looks now, as PNG",
    ),
    (
        "action_copy_graph",
        "&Copy Graph",
        ("Ctrl+Shift+C",),
        False,
        "The graph at this step to the clipboard, as an image and SVG (Ctrl+Shift+C)",
    ),
    (
        "action_export_handout",
        "Export &Handout…",
        (),
        False,
        "A folder with the notes, every step's figure and a PDF",
    ),
    (
        "action_export_page",
        "Export Interactive &Page…",
        (),
        False,
        "The lesson as one HTML page that steps through in any browser, opening at this step",
    ),
    (
        "action_export_animation",
        "Export &Animation…",
        (),
        False,
        "A backward pass as an animated GIF or APNG, gradients flowing node by node",
    ),
    ("action_quit", "&Quit", (Key.Quit,), False, ""),
    (
        "action_step_forward",
        "Step &Forward",
        ("Right", "F10", "PgDown"),
        False,
        "Next step (→, F10)",
    ),
    (
        "action_step_back",
        "Step &Back",
        ("Left", "Shift+F10", "PgUp"),
        False,
        "Previous step (←, Shift+F10)",
    ),
    (
        "action_step_by_node",
        "Step by &Node",
        ("N",),
        True,
        "→ and ← move one node at a time: its receive, hooks and compute in one step (N)",
    ),
    ("action_first_step", "F&irst Step", ("Home",), False, "First step (Home)"),
    ("action_last_step", "&Last Step", ("End",), False, "Last step (End)"),
    (
        "action_next_pass",
        "&Next Backward Pass",
        ("Ctrl+Right", "]"),
        False,
        "Next backward pass (Ctrl+→)",
    ),
    (
        "action_previous_pass",
        "&Previous Backward Pass",
        ("Ctrl+Left", "["),
        False,
        "Previous backward pass (Ctrl+←)",
    ),
    ("action_play", "&Play", ("Space",), True, "Play / pause (Space)"),
    (
        "action_run_to_breakpoint",
        "&Run to Breakpoint",
        ("F5",),
        False,
        "Go to the next step at a breakpoint (F5)",
    ),
    (
        "action_toggle_breakpoint",
        "Toggle &Breakpoint",
        ("F9",),
        False,
        "Breakpoint on the selected node, or the current one (F9)",
    ),
    ("action_zoom_in", "Zoom &In", (Key.ZoomIn, "+", "="), False, ""),
    ("action_zoom_out", "Zoom &Out", (Key.ZoomOut, "-"), False, ""),
    (
        "action_fit",
        "&Fit Graph",
        ("Ctrl+0", "F"),
        False,
        "The whole graph; a big one: the region around the current node (F; again: the whole)",
    ),
    (
        "action_find",
        "&Find Node…",
        (Key.Find,),
        False,
        "Find a node by variable name, op or module (Ctrl+F; Enter: next match)",
    ),
    ("action_find_next", "Find &Next", ("F3",), False, "Next match (F3)"),
    ("action_find_previous", "Find Pre&vious", ("Shift+F3",), False, "Previous match"),
    (
        "action_collapse_all",
        "&Collapse All Modules",
        ("Ctrl+Shift+-",),
        False,
        "Every outermost nn.Module as one box (double-click a box to open it)",
    ),
    (
        "action_expand_all",
        "E&xpand All Modules",
        ("Ctrl+Shift+=", "Ctrl+Shift++"),
        False,
        "Every node of the graph drawn",
    ),
    ("action_minimap", "&Overview Map", ("M",), True, "A small map of the whole graph (M)"),
    (
        "action_node_values",
        "&Values in Nodes",
        ("V",),
        True,
        "Write each tensor's value and gradient in its node, data | grad (V)",
    ),
    ("action_follow", "Follow &Current Node", ("C",), True, "Keep the current node in view"),
    (
        "action_direction_lr",
        "Graph &Left to Right",
        ("Ctrl+L",),
        True,
        "Forward direction left→right (else top→bottom)",
    ),
    (
        "action_presentation_mode",
        "&Presentation Mode",
        ("F11",),
        True,
        "Full screen, large and high-contrast: graph, inspector, the step (F11, Esc leaves)",
    ),
    (
        "action_reset_layout",
        "&Reset Layout",
        (),
        False,
        "Every panel back in the default layout for this window's size",
    ),
    (
        "action_presentation_plot",
        "Plot in Presentation &Mode",
        ("P",),
        True,
        "The node's plot as a third pane in presentation mode (P)",
    ),
    ("action_escape", "Leave Presentation / Unpin", ("Esc",), False, ""),
    *QUIZ_SPECS,  # predict, then reveal (gui/quiz.py)
    ("action_theme_system", "&System", (), True, ""),
    ("action_theme_light", "&Light", (), True, ""),
    ("action_theme_dark", "&Dark", (), True, ""),
]


_ICON_TEXT = {
    "first_step": "|◀",
    "previous_pass": "◀◀",
    "step_back": "◀",
    "play": "Play",
    "step_forward": "▶",
    "next_pass": "▶▶",
    "last_step": "▶|",
    "run_to_breakpoint": "▶●",
}


class Actions:
    """Every command of the window; ``actions.step_forward`` is ``action_step_forward``."""

    def __init__(self, window: QWidget) -> None:
        self.all: list[QAction] = []
        for name, text, keys, checkable, tip in _SPECS:
            action = QAction(text, window)
            action.setObjectName(name)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setCheckable(checkable)
            if tip:
                action.setToolTip(tip)
                action.setStatusTip(tip)
            setattr(self, name.removeprefix("action_"), action)
            self.all.append(action)
        for name, short in _ICON_TEXT.items():  # what the timeline's small buttons show
            getattr(self, name).setIconText(short)
        self.follow.setChecked(True)
        self.minimap.setChecked(True)
        self.themes = QActionGroup(window)
        for action in (self.theme_system, self.theme_light, self.theme_dark):
            self.themes.addAction(action)
        self.theme_system.setChecked(True)
        window.addActions(self.all)  # shortcuts work with menus and toolbars hidden

    def timeline_controls(self) -> list[QAction | None]:
        """The buttons above the timeline, in order (None: a gap)."""
        return [
            self.first_step,
            self.previous_pass,
            self.step_back,
            self.play,
            self.step_forward,
            self.next_pass,
            self.last_step,
            None,
            self.run_to_breakpoint,
        ]

    def __getattr__(self, name: str) -> QAction:  # for type checkers: attributes set above
        raise AttributeError(name)
