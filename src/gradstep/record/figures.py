"""matplotlib figures as part of the lesson: captured where Jupyter would show them.

A scenario that plots (a loss curve, the function being fitted) draws on
matplotlib's Agg canvas in the worker (there is no display there). Figures are
captured as PNG at the step that made them, with Jupyter's rules, which is what a
lecturer's notebook was written for:

- ``plt.show()`` captures every open figure and closes it; the figures belong to
  the step of the statement that called it (inside a loop: that round's step);
- figures still open when a cell ends (a ``# %%`` cell of a ``.py`` file, a
  notebook cell; a file without cells is one cell) are captured then, at the
  step of the cell's last statement, and closed, so the next cell starts afresh.

Each PNG is kept under :data:`MAX_FIGURE_BYTES` (drawn again at a lower
resolution if needed) and all of a trace's figures under
:data:`MAX_TOTAL_BYTES`; a figure over either is kept as a note that says so.
matplotlib is imported only if the scenario uses it.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import importlib
import io
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from gradstep.trace.figure_bounds import MAX_FIGURE_PIXELS  # the cap a loaded trace is held to
from gradstep.trace.model import StepFigure

#: A figure's PNG at most (a 6.4×4.8 inch plot at 100 dpi is 20–60 KB).
MAX_FIGURE_BYTES = 300_000
#: All figures of one trace at most.
MAX_TOTAL_BYTES = 3_000_000
#: Resolutions tried in turn until a figure fits.
_DPIS = (100, 72, 50)
#: Below this resolution a figure is left out rather than drawn as a smudge.
_MIN_DPI = 10


class FigureCapture:
    """Patches ``plt.show`` while active; the recorder asks it for the figures of a step.

    ``cell_starts``: the first line of each cell (sorted), to close figures where a
    cell ends as Jupyter does.
    """

    def __init__(self, cell_starts: Sequence[int] = ()) -> None:
        self.cell_starts = sorted(cell_starts)
        self.statements: list[int] = []  # the top-level statements' lines, set by the recorder
        self.pending: list[StepFigure] = []
        self._foreign: set[int] = set()
        self.total = 0
        self.count = 0
        self.omitted = 0

    # ------------------------------------------------------------- the hooks
    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """``plt.show`` captures while the scenario runs (if pyplot is loaded, or loads)."""
        if "matplotlib.pyplot" not in sys.modules:
            yield
            return
        # a spare worker's prewarm thread may still be importing it: this waits for it
        pyplot: Any = importlib.import_module("matplotlib.pyplot")
        real_show = pyplot.show
        # figures open before the run are someone else's (a test, an in-process caller)
        self._foreign = {id(f) for _, f in _open_figures()}

        def show(*args: Any, **kwargs: Any) -> None:
            self.capture_open(pyplot)

        show.__doc__ = real_show.__doc__
        pyplot.show = show
        try:
            yield
        finally:
            pyplot.show = real_show

    def take(self) -> list[StepFigure]:
        """The figures captured since the last step was made (they belong to the next)."""
        figures, self.pending = self.pending, []
        return figures

    def statement_ran(self, line: int) -> None:
        """After the top-level statement at ``line``: if it ends its cell, what is still
        open is captured (for the statement's last step) and closed."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None or not self._ours(pyplot):
            return
        at = bisect.bisect_right(self.statements, line)
        following = self.statements[at] if at < len(self.statements) else None
        if following is not None and self._cell(following) == self._cell(line):
            return
        self.capture_open(pyplot)

    # ------------------------------------------------------------- capture
    def _cell(self, line: int) -> int:
        return bisect.bisect_right(self.cell_starts, line)

    def _ours(self, pyplot: Any) -> list[tuple[int, Any]]:
        """The open figures the scenario made, with their numbers."""
        return [(n, f) for n, f in _open_figures() if id(f) not in self._foreign]

    def capture_open(self, pyplot: Any) -> None:
        """Every open figure of the scenario's into ``pending``, then closed (as
        ``plt.show()`` in Jupyter)."""
        for number, figure in self._ours(pyplot):
            self.pending.append(self.capture(figure, number))
            pyplot.close(figure)

    def capture(self, figure: Any, number: int) -> StepFigure:
        title = _title(figure)
        width, height = (int(v) for v in figure.get_size_inches() * figure.dpi)
        self.count += 1
        if self.total >= MAX_TOTAL_BYTES:
            return self._omit(
                number,
                title,
                width,
                height,
                f"the trace already holds {MAX_TOTAL_BYTES // 1000:,} KB of figures",
            )
        inches = figure.get_size_inches()
        most = (MAX_FIGURE_PIXELS / max(float(inches[0] * inches[1]), 1e-9)) ** 0.5
        if most < _MIN_DPI:
            return self._omit(
                number,
                title,
                width,
                height,
                f"at {inches[0]:g}×{inches[1]:g} inches it would take over "
                f"{MAX_FIGURE_PIXELS // 1_000_000} million pixels even at {_MIN_DPI} dpi",
            )
        png = b""
        for dpi in sorted({min(d, most) for d in _DPIS}, reverse=True):
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=dpi)
            png = buffer.getvalue()
            if len(png) <= MAX_FIGURE_BYTES:
                width, height = (int(v) for v in figure.get_size_inches() * dpi)
                break
        else:
            return self._omit(
                number,
                title,
                width,
                height,
                f"its PNG is {len(png) // 1000} KB, "
                f"over the {MAX_FIGURE_BYTES // 1000} KB a figure may take",
            )
        if self.total + len(png) > MAX_TOTAL_BYTES:
            return self._omit(
                number,
                title,
                width,
                height,
                f"it would take the trace's figures past {MAX_TOTAL_BYTES // 1000:,} KB",
            )
        self.total += len(png)
        return StepFigure(number, title, width, height, png=base64.b64encode(png).decode("ascii"))

    def _omit(self, number: int, title: str, width: int, height: int, why: str) -> StepFigure:
        self.omitted += 1
        return StepFigure(number, title, width, height, omitted=f"figure not kept: {why}")

    def stats(self) -> dict[str, int]:
        return {"figures": self.count, "figure_bytes": self.total, "figures_omitted": self.omitted}


def _open_figures() -> list[tuple[int, Any]]:
    """pyplot's open figures by number, without making any of them the current one
    (``plt.figure(n)`` would: the scenario's next ``plt.plot`` would draw there)."""
    from matplotlib._pylab_helpers import Gcf

    return [(int(m.num), m.canvas.figure) for m in Gcf.get_all_fig_managers()]


def _title(figure: Any) -> str:
    suptitle = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    if suptitle:
        return str(suptitle)
    for axes in figure.axes:
        if axes.get_title():
            return str(axes.get_title())
    return ""
