"""``run_app``: the application object, the theme, the window, the first scenario."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication


def run_app(path: str | None = None, *, presentation: bool = False, trusted: bool = False) -> int:
    """Open the window on ``path`` and run the event loop; returns the exit status."""
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    QCoreApplication.setOrganizationName("gradstep")
    QCoreApplication.setApplicationName("gradstep")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")  # follows our palettes the same way on every desktop
    from gradstep.gui.main_window import MainWindow  # after the app: fonts and palette exist

    window = MainWindow()
    window.show()
    if presentation:
        window.actions_.presentation_mode.setChecked(True)
    if path:
        if not Path(path).exists():
            window.message.show_message(f"No such file: {path}")
        else:
            window.open_scenario(path, trusted=True if trusted else None)
    return app.exec()
