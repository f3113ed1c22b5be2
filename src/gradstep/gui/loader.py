"""Running scenarios off the GUI thread, and reloading them when they change on disk."""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from gradstep.scenario.errors import ScenarioRefused
from gradstep.scenario.files import read_scenario_bytes
from gradstep.scenario.writeback import still_set
from gradstep.trace.errors import FATAL_KINDS
from gradstep.trace.model import Trace

DEBOUNCE_MS = 200


@dataclass
class LoadResult:
    """What one run of a scenario gave."""

    path: str
    trace: Trace
    seconds: float
    trusted: bool
    reload: bool  # started by a change on disk (keep the user's place)

    @property
    def ok(self) -> bool:
        """A trace worth showing: it ran (possibly into an exception, which is a step, or
        into a limit after steps worth stepping through: a long loop stopped in round
        1,485,898 keeps the rounds before)."""
        err = self.trace.error
        shown = err is None or err.kind not in FATAL_KINDS or err.kind == "limit"
        return err is None or (shown and len(self.trace.steps) > 1)

    @property
    def message(self) -> str:
        err = self.trace.error
        if err is None:
            return ""
        where = f"line {err.line}: " if err.line else ""
        return f"{Path(self.path).name}, {where}{err.type}: {err.message}"


class ScenarioLoader(QObject):
    """Runs ``WorkerPool.run`` in a thread; the newest request wins; watches the open file."""

    started = Signal(str)
    finished = Signal(object)  # LoadResult with a trace to show
    failed = Signal(object)  # LoadResult whose file could not run
    file_changed = Signal(str)
    _delivered = Signal(object, int)

    def __init__(self, parent: QObject | None = None, *, pool: Any = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._owns_pool = pool is None  # a pool handed in (tests share one) is its owner's to close
        self._requests: queue.Queue[tuple[int, str, bool, bool, dict[str, str]] | None] = (
            queue.Queue()
        )
        self._generation = 0
        self._busy = False
        self._thread = threading.Thread(target=self._serve, name="gradstep-loader", daemon=True)
        self._thread.start()
        self._delivered.connect(self._deliver)
        self.path: str | None = None
        #: what-if values (``{"x@18": "5.0"}``) every run of this file uses until it changes
        #: on disk or another file opens (the What-if panel sets them; the file is untouched)
        self.overrides: dict[str, str] = {}
        self._digest: bytes | None = None
        self._watcher = QFileSystemWatcher(self)
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._watcher.fileChanged.connect(self._debounce.start)
        self._watcher.directoryChanged.connect(self._debounce.start)
        self._debounce.timeout.connect(self._check_changed)

    @property
    def pool(self) -> Any:
        """The ``WorkerPool`` runs go to (None until the loader's thread has made it)."""
        return self._pool

    @property
    def busy(self) -> bool:
        return self._busy

    def load(self, path: str, *, trusted: bool = False, reload: bool = False) -> None:
        """Run ``path`` in the worker; ``finished`` or ``failed`` follows, never both."""
        path = str(Path(path).resolve())
        if path != self.path:
            self.overrides = {}
        self._generation += 1
        if self._busy and self._pool is not None:
            self._pool.cancel()  # the newest request wins
        self._busy = True
        self._watch(path)
        self._digest = _digest(path)  # what this run sees; a later save differs
        self.started.emit(path)
        self._requests.put((self._generation, path, trusted, reload, dict(self.overrides)))

    def close(self) -> None:
        self._requests.put(None)
        if self._pool is not None and self._owns_pool:
            self._pool.close()

    # ------------------------------------------------------------ thread
    def _serve(self) -> None:
        if self._pool is None:  # here, not in the GUI thread: a worker starts ahead of need
            from gradstep.worker.client import WorkerPool

            self._pool = WorkerPool()
        while True:
            request = self._requests.get()
            while request is not None and not self._requests.empty():
                request = self._requests.get()  # skip requests already superseded
            if request is None:
                return
            generation, path, trusted, reload, overrides = request
            result = self._pool.run(path, trusted=trusted, overrides=overrides or None)
            load = LoadResult(path, result.trace, result.seconds, trusted, reload)
            self._delivered.emit(load, generation)

    def _deliver(self, load: LoadResult, generation: int) -> None:
        if generation != self._generation:
            return  # a newer request is running
        self._busy = False
        (self.finished if load.ok else self.failed).emit(load)

    # ----------------------------------------------------------- watching
    def _watch(self, path: str) -> None:
        if path != self.path:
            for old in self._watcher.files() + self._watcher.directories():
                self._watcher.removePath(old)
            self.path = path
        self._rewatch()

    def _rewatch(self) -> None:
        if self.path is None:
            return
        if Path(self.path).exists() and self.path not in self._watcher.files():
            self._watcher.addPath(self.path)  # editors save by replacing the file
        parent = str(Path(self.path).parent)
        if parent not in self._watcher.directories():
            self._watcher.addPath(parent)

    def _check_changed(self) -> None:
        self._rewatch()
        if self.path is None or not Path(self.path).exists():
            return
        digest = _digest(self.path)
        if digest is not None and digest != self._digest:
            self._digest = digest
            if self.overrides:  # those the edit made moot (written, or the line gone) end
                self.overrides = still_set(self.path, self.overrides)
            self.file_changed.emit(self.path)


def _digest(path: str) -> bytes | None:
    try:  # never blocks on a named pipe, never reads a device without end
        return hashlib.sha1(read_scenario_bytes(path)).digest()
    except ScenarioRefused:
        return None
