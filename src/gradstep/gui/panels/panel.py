"""What every panel that follows the session shares."""

from __future__ import annotations

from gradstep.session import Session


class FollowsSession:
    """A panel that redraws when the trace changes (``_on_trace``) and on each step (``show_step``).

    Mixed into a Qt widget class after the Qt base: ``class Inspector(QWidget, FollowsSession)``.
    """

    session: Session | None

    def set_session(self, session: Session) -> None:
        self.session = session
        session.trace_changed.connect(self._on_trace)
        session.step_changed.connect(self.show_step)
        self._on_trace()

    def _on_trace(self) -> None:
        raise NotImplementedError

    def show_step(self, k: int) -> None:
        raise NotImplementedError
