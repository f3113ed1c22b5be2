"""Laying a big graph out off the GUI thread: the window keeps answering meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class LayoutJob(QObject):
    """Runs a layout function in a thread; only the newest request's result is delivered.

    The layout is pure Python and networkx: it holds the GIL in slices, and the
    event loop, idle most of the time, lets it run between events.
    """

    finished = Signal(object)  # what the function returned (or the exception it raised)
    _done = Signal(object, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._running = 0
        self._done.connect(self._deliver)

    @property
    def busy(self) -> bool:
        return self._running > 0

    def start(self, layout: Callable[[], Any]) -> None:
        self._generation += 1
        self._running += 1
        threading.Thread(
            target=self._run, args=(layout, self._generation), name="gradstep-layout", daemon=True
        ).start()

    def cancel(self) -> None:
        """Forget the requests running: their results will not be delivered."""
        self._generation += 1

    def _run(self, layout: Callable[[], Any], generation: int) -> None:
        try:
            result = layout()
        except Exception as e:  # delivered to the GUI thread, which reports it
            result = e
        try:
            self._done.emit(result, generation)
        except RuntimeError:  # the window closed meanwhile
            pass

    def _deliver(self, result: Any, generation: int) -> None:
        self._running -= 1
        if generation == self._generation:
            self.finished.emit(result)
