"""Run as ``python -m gradstep.qt_probe``: can Qt open its platform plugin here?

In a child process, because a platform plugin that cannot load aborts the
process; ``gradstep doctor`` reads what this prints (or how it died).
"""

from __future__ import annotations

import sys


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()  # the tests call this in a process that has one
    if app is None:
        app = QGuiApplication(sys.argv[:1])  # kept in a name: it must live until the end
    screen = QGuiApplication.primaryScreen()
    size = screen.size() if screen is not None else None
    where = f", screen {size.width()}x{size.height()}" if size is not None else ", no screen"
    print(f"platform {QGuiApplication.platformName()}{where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
