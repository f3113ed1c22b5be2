"""``run_app``: the application object, the theme, the window, the first scenario."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def launch(path: str | None = None, *, presentation: bool = False, trusted: bool = False) -> Any:
    """Create the application and the shown window, and start opening ``path``.

    The worker process starts first of all: its ``import torch`` is the
    longest part of a cold start, and it runs while Qt and the window load.
    """
    from gradstep.worker.client import WorkerPool

    pool = WorkerPool()
    from PySide6.QtCore import QCoreApplication, Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    QCoreApplication.setOrganizationName("gradstep")
    QCoreApplication.setApplicationName("gradstep")
    instance = QApplication.instance()
    app = instance if isinstance(instance, QApplication) else QApplication(sys.argv[:1])
    app.setStyle("Fusion")  # follows our palettes the same way on every desktop
    from gradstep.gui.main_window import MainWindow  # after the app: fonts and palette exist

    window = MainWindow(pool=pool)
    app.aboutToQuit.connect(pool.close)
    # maximised the first time; then as the user left it
    window.showMaximized() if window.first_launch else window.show()
    if presentation:  # once the window is mapped: a window manager may ignore it before
        QTimer.singleShot(0, lambda: window.actions_.presentation_mode.setChecked(True))
    if path:
        if not Path(path).exists():
            window.message.show_message(f"No such file: {path}")
        else:
            window.open_scenario(path, trusted=True if trusted else None)
    return window


def run_app(path: str | None = None, *, presentation: bool = False, trusted: bool = False) -> int:
    """Open the window on ``path`` and run the event loop; returns the exit status."""
    from PySide6.QtWidgets import QApplication

    window = launch(path, presentation=presentation, trusted=trusted)
    status = QApplication.exec()
    del window
    return status
