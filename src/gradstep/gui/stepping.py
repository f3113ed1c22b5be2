"""Moving through the steps: breakpoints (kept per file) and play."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from gradstep.session import Session, node_keys
from gradstep.trace.model import Trace


class Breakpoints(QObject):
    """Nodes the player and "run to breakpoint" stop at."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.nodes: set[str] = set()

    def toggle(self, node: str) -> None:
        self.nodes.symmetric_difference_update({node})
        self.changed.emit()

    def clear(self) -> None:
        if self.nodes:
            self.nodes.clear()
            self.changed.emit()

    def next_hit(self, session: Session) -> int | None:
        hits = [i for n in self.nodes if (i := session.next_at_node(n)) is not None]
        return min(hits) if hits else None

    def keys(self, trace: Trace, kept: Sequence[str] = ()) -> list[str]:
        """The breakpoints as node keys (see ``node_keys``), to find them again; with those
        of ``kept`` that are on nodes ``trace`` does not have (past an error: for the next
        run)."""
        keys = node_keys(trace)
        here = set(keys.values())
        return sorted(keys[n] for n in self.nodes if n in keys) + [k for k in kept if k not in here]

    def restore(self, trace: Trace, keys: list[str]) -> None:
        """Breakpoints on the nodes of ``trace`` with these keys (others are dropped)."""
        by_key = {key: nid for nid, key in node_keys(trace).items()}
        nodes = {by_key[k] for k in keys if k in by_key}
        if nodes != self.nodes:
            self.nodes = nodes
            self.changed.emit()


class Player(QObject):
    """Steps forward on a timer until the end or a breakpoint; a step is one node's
    (``Session.next_node``) while ``by_node`` is set."""

    playing_changed = Signal(bool)

    def __init__(self, breakpoints: Breakpoints) -> None:
        super().__init__()
        self.session: Session | None = None
        self.breakpoints = breakpoints
        self.by_node = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self.set_speed(4.0)

    def forward(self, session: Session) -> None:
        session.next_node() if self.by_node else session.step_forward()

    def back(self, session: Session) -> None:
        session.previous_node() if self.by_node else session.step_back()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_speed(self, steps_per_second: float) -> None:
        self._timer.setInterval(max(10, int(1000 / max(steps_per_second, 0.1))))

    def toggle(self) -> None:
        self.stop() if self.playing else self.play()

    def play(self) -> None:
        s = self.session
        if s is None or s.step_count == 0:
            return
        if s.index >= s.step_count - 1:
            s.first()
        self._timer.start()
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def _tick(self) -> None:
        s = self.session
        if s is None or s.index >= s.step_count - 1:
            self.stop()
            return
        self.forward(s)
        if s.index >= s.step_count - 1 or s.trace.steps[s.index].node in self.breakpoints.nodes:
            self.stop()

    def run_to_breakpoint(self) -> bool:
        """Jump to the next step at a breakpoint node; False if there is none ahead."""
        if self.session is None:
            return False
        hit = self.breakpoints.next_hit(self.session)
        if hit is None:
            return False
        self.session.go_to(hit)
        return True
