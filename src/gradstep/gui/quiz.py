"""Quiz mode in the window (View ▸ Quiz Mode, Q; Reveal, R): predict, then reveal.

The rule of what is hidden at a step is Qt-free (:mod:`gradstep.trace.quiz`);
this connects it to the two actions and gives the graph's edge labels, its
values in nodes, the inspector, the variables' table and exported figures the
same ``blanks``; the
node plot, whose note has the answer, says "press R" instead.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from gradstep.session import StepState
from gradstep.trace.quiz import NONE, Blanks, Quiz

#: the two actions, as ``gui.actions`` lists them (object name, text, keys, checkable, tip)
QUIZ_SPECS: list[tuple[str, str, tuple[str, ...], bool, str]] = [
    (
        "action_quiz_mode",
        "&Quiz Mode",
        ("Q",),
        True,
        "Predict, then reveal: each step's new gradients show as ? until R (Q)",
    ),
    ("action_quiz_reveal", "&Reveal", ("R",), False, "Show this step's hidden gradients (R)"),
]


class QuizControl(QObject):
    """The window's quiz: ``action_quiz_mode`` switches it, ``action_quiz_reveal`` shows
    the current step's answers."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.quiz = Quiz()
        a = window.actions_
        self.mode, self.reveal_action = a.quiz_mode, a.quiz_reveal
        self.reveal_action.setEnabled(False)
        self.mode.toggled.connect(self.set_on)
        self.reveal_action.triggered.connect(self.reveal)
        window.graph.labels.blanks = self.blanks
        window.inspector.blanks = self.blanks
        window.variables.blanks = self.blanks
        window.plots.hidden = self._hides_plot
        window.trace_ready.connect(self._new_trace)

    def blanks(self, st: StepState) -> Blanks:
        session = self.window.session
        if session is None:
            return NONE
        return self.quiz.blanks(session.trace, st.index)

    def _hides_plot(self, record: Any) -> bool:
        """The node plot of the node whose answers are hidden: its note has them."""
        session = self.window.session
        return session is not None and self.blanks(session.state()).node == record.node

    def set_on(self, on: bool) -> None:
        self.quiz.on = on
        self.quiz.reset()
        self.reveal_action.setEnabled(on)
        self._refresh()
        if on:
            self.window.status.setText("Quiz: predict each “?”, then press R to reveal it.")

    def reveal(self) -> None:
        session = self.window.session
        if not self.quiz.on or session is None:
            return
        self.quiz.reveal(session.index)
        self._refresh()

    def _new_trace(self) -> None:
        """Another file or a what-if run: its answers are new ones to predict."""
        if self.quiz.on and self.quiz.revealed:
            self.quiz.reset()
            self._refresh()

    def _refresh(self) -> None:
        w = self.window
        if w.session is None:
            return
        w.graph.styles.restyle_all()
        w.inspector.show_step(w.session.index)
        w.variables.set_theme(w.variables.theme)  # forgets the rows shown: all written again
        w.variables.show_step(w.session.index)
        w.plots.set_trace(w.session.trace)  # forgets the plot shown: drawn again, or hidden
        w._update_plots()
