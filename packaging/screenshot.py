"""Save what an X display shows: python packaging/screenshot.py OUT.png (DISPLAY set).

Qt grabs the root window itself, so no screenshot tool needs installing next to Xvfb.
"""

from __future__ import annotations

import sys


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication(sys.argv[:1])
    screen = app.primaryScreen()
    if screen is None or not screen.grabWindow(0).save(sys.argv[1]):
        print(f"screenshot: could not grab the screen into {sys.argv[1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
