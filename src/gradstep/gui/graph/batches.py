"""Making a big scene a batch of items per turn of the event loop, with a note of progress."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from gradstep.collection import collection_paused
from gradstep.gui.graph.scene import SceneBuild
from gradstep.gui.theme import Theme

SLICE_SECONDS = 0.02  # a batch: the window answers between two within a frame or two
PROGRESS_DELAY_MS = 150  # what comes sooner than this shows no progress


class ProgressNote(QLabel):
    """ "Drawing 5,376 nodes… 40 %" in the corner of a view, once the work takes a while."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("graph_progress")
        self.hide()
        self._due = QTimer(self, singleShot=True)
        self._due.timeout.connect(self._place)

    def set_theme(self, t: Theme) -> None:
        self.setStyleSheet(
            f"background: {t.panel}; color: {t.text}; border: 1px solid {t.muted_text};"
            "border-radius: 4px; padding: 4px 8px;"
        )
        self.setFont(t.ui_font())

    def say(self, text: str) -> None:
        self.setText(text)
        if self.isVisible():
            self._place()
        elif not self._due.isActive():
            self._due.start(PROGRESS_DELAY_MS)

    def done(self) -> None:
        self._due.stop()
        self.hide()

    def _place(self) -> None:
        self.adjustSize()
        self.move(12, 12)
        self.show()
        self.raise_()


class SceneBatches(QObject):
    """Runs one ``SceneBuild`` a batch at a time; ``ready`` once its scene is whole.

    Between two batches the window handles what came meanwhile (a step, a
    click, a repaint) on the drawing still on screen.
    """

    ready = Signal(object)  # the finished SceneBuild

    def __init__(self, progress: ProgressNote) -> None:
        super().__init__(progress)
        self.progress = progress
        self.build: SceneBuild | None = None
        self._next = QTimer(self, singleShot=True, interval=0)
        self._next.timeout.connect(self._batch)

    @property
    def busy(self) -> bool:
        return self.build is not None

    def start(self, build: SceneBuild) -> None:
        self.cancel()
        self.build = build
        self._batch()

    def cancel(self) -> None:
        """Forget the scene being made (its items go with it)."""
        self._next.stop()
        if self.build is not None:
            self.build.scene.deleteLater()
            self.build = None

    def _batch(self) -> None:
        build = self.build
        if build is None:
            return
        started, before = time.perf_counter(), build.done
        with collection_paused():
            whole = build.run(SLICE_SECONDS)
        late = build.done > before and time.perf_counter() - started > SLICE_SECONDS / 4
        if not whole or late:  # done late in a batch: the scene goes up on the next turn
            nodes = len(build.drawing.view.graph)
            self.progress.say(f"Drawing {nodes:,} nodes… {100 * build.done // build.total} %")
            self._next.start()
            return
        self.build = None
        self.ready.emit(build)
