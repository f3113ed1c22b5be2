"""An interactive lesson page: one self-contained HTML file that steps through a trace.

``write_page(trace, path)`` writes it (no Qt, no torch; the browser needs no network):
the scenario's title, notes and code, the graph laid out as in the app, the
chain-rule text of each step, stepping with the keyboard, a slider or a click on
a node, and ``#step=N`` in the address.
"""

from __future__ import annotations

import os
from pathlib import Path

from gradstep.page.build import PageData, page_data, step_lines
from gradstep.trace.model import Trace

__all__ = ["PageData", "page_data", "page_html", "step_lines", "write_page"]


def page_html(trace: Trace, *, start: int | None = None) -> str:
    """The page of ``trace`` as one HTML document; it opens at step ``start`` (0-based;
    default the first) unless its address says ``#step=N``."""
    from gradstep.page.render import page_html as render

    return render(page_data(trace), start=start or 0)


def write_page(trace: Trace, path: str | os.PathLike[str], *, start: int | None = None) -> Path:
    """Write the page, completely or not at all (a temporary file moved into place)."""
    from gradstep.files import atomic_write_text

    return atomic_write_text(Path(path), page_html(trace, start=start))
