"""A handout: a folder with a Markdown walk-through of a scenario and its images (and a PDF).

The document follows the scenario file: its notes, each code cell, and after
the cell the steps it ran — one graph image per step (``per="step"``) or per
backward node (``per="node"``), each with its chain-rule line; the tangent
plot of scalar ops; gradient flow and the passes at the end. The folder is
built next to the target under a temporary name and renamed into place, so
a failure or Ctrl+C leaves the previous handout (or nothing), never half.

The PDF is painted page by page in the same pass as the images: the text
laid out by QTextDocument, the graphs by the figure code of ``export`` and
the plots from their scenes, all as vector — paths and real text with the
fonts embedded, sharp when zoomed in or printed. Each step's section starts
a page.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QCoreApplication, QMarginsF, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QPageLayout,
    QPageSize,
    QPainter,
    QPalette,
    QPdfWriter,
    QPicture,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsView,
    QMessageBox,
    QProgressDialog,
    QWidget,
)

from gradstep.gui.export import (
    ExportError,
    _dpi,
    _layout,
    _mode,
    _paint,
    _png_bytes,
    graph_image,
    graph_view_for,
    widget_image,
)
from gradstep.gui.theme import LIGHT, Theme
from gradstep.plotting import gradient_flow, pass_series, tangent_plot
from gradstep.plotting.labels import compact_chain_line
from gradstep.trace.model import Step, Trace
from gradstep.trace.text import step_number

__all__ = [
    "HandoutError",
    "build_markdown",
    "is_handout_folder",
    "save_handout_dialog",
    "write_handout",
]

MARKDOWN = "handout.md"
PDF = "handout.pdf"
IMAGES = "images"
Per = Literal["step", "node"]
Progress = Callable[[int, int], None]  # (done, total)


class HandoutError(ExportError):
    """A handout that could not be written (the folder is left as it was)."""


@dataclass
class _Image:
    name: str  # file name under images/
    alt: str
    step: int | None = None  # a graph image of this step
    kind: Literal["graph", "tangent", "flow", "passes"] = "graph"


@dataclass
class _Doc:
    lines: list[str] = field(default_factory=list)
    images: list[_Image] = field(default_factory=list)
    at: dict[int, _Image] = field(default_factory=dict)  # the line that shows each image
    sections: set[int] = field(default_factory=set)  # lines that start a PDF page (step headings)

    def add(self, *lines: str) -> None:
        if (
            self.lines
            and self.lines[-1].startswith("- ")
            and lines
            and not lines[0].startswith("- ")
        ):
            self.lines.append("")  # a paragraph after a list
        self.lines.extend(lines)

    def bullet(self, line: str) -> None:
        self.lines.append(line)  # consecutive bullets: one tight list

    def image(self, img: _Image) -> None:
        self.images.append(img)
        self.add(f"![{img.alt}]({IMAGES}/{img.name})", "")
        self.at[len(self.lines) - 2] = img

    def section(self, heading: str) -> None:
        """A step's heading: in the PDF, its section starts a page."""
        self.add(heading, "")
        self.sections.add(len(self.lines) - 2)

    def parts(self) -> list[tuple[Literal["page", "text", "image"], Any]]:
        """The document in order: page breaks, Markdown between the images, the images."""
        out: list[tuple[Literal["page", "text", "image"], Any]] = []
        chunk: list[str] = []

        def flush() -> None:
            text = "\n".join(chunk).strip("\n")
            if text:
                out.append(("text", text))
            chunk.clear()

        for i, line in enumerate(self.lines):
            if i in self.sections:
                flush()
                out.append(("page", None))
            if i in self.at:
                flush()
                out.append(("image", self.at[i]))
            else:
                chunk.append(line)
        flush()
        return out


def is_handout_folder(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MARKDOWN).is_file()


# ------------------------------------------------------------------ content
def _cells(trace: Trace) -> list[dict[str, Any]]:
    cells = [c for c in trace.scenario.cells if c.get("text", "").strip()]
    if cells:
        return cells
    return (
        [{"kind": "code", "text": trace.scenario.source, "line": 1}]
        if trace.scenario.source
        else []
    )


def _only_docstring(code: str) -> bool:
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    return (
        len(body) == 1
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
    )


def _steps_by_cell(trace: Trace, cells: list[dict[str, Any]]) -> dict[int, list[Step]]:
    """Each step under the cell that holds its line (a step without a line follows the one before)."""
    starts = [(c.get("line") or 1, i) for i, c in enumerate(cells) if c.get("kind") == "code"]
    out: dict[int, list[Step]] = {}
    current = starts[0][1] if starts else -1
    for step in trace.steps:
        if step.line is not None:
            owners = [i for start, i in starts if start <= step.line]
            current = owners[-1] if owners else current
        out.setdefault(current, []).append(step)
    return out


def _wanted(step: Step, per: Per) -> bool:
    if per == "step":
        return True
    return step.kind in ("pass_start", "compute", "accumulate", "error")


def _step_section(doc: _Doc, trace: Trace, step: Step, per: Per) -> None:
    where = f" (line {step.line})" if step.line is not None else ""
    number = step_number(step.index)  # numbered as in the window, from 1
    if not _wanted(step, per):
        detail = f" → `{step.output.strip().splitlines()[0]}`" if step.output.strip() else ""
        doc.bullet(f"- step {number}{where}: {step.text}{detail}")
        return
    doc.section(f"### Step {number}{where}: {step.text}")
    doc.image(_Image(f"step_{number:03d}.png", f"graph at step {number}", step.index))
    rec = trace.record_for(step)
    if rec is not None and step.kind in ("compute", "accumulate"):
        doc.add(f"Chain rule: `{compact_chain_line(rec)}`", "")
        if rec.formula and step.kind == "compute":
            doc.add(f"Local derivative: {rec.formula}", "")
        if step.kind == "compute" and tangent_plot(trace, rec) is not None:
            doc.image(
                _Image(f"step_{number:03d}_slope.png", "derivative = slope", step.index, "tangent")
            )
    if step.output.strip():
        doc.add("```text", step.output.rstrip(), "```", "")


def build_markdown(trace: Trace, per: Per = "node") -> _Doc:
    """The handout's Markdown and the images it refers to (not rendered yet)."""
    doc = _Doc()
    info = trace.scenario
    title = info.title or Path(info.path).stem or "gradstep scenario"
    doc.add(f"# {title}", "")
    if info.summary:
        doc.add(info.summary.strip(), "")
    name = Path(info.path).name
    doc.add(
        f"*A walk through `{name}` with gradstep: {len(trace.steps)} steps, "
        f"{len(trace.passes)} backward pass{'es' if len(trace.passes) != 1 else ''}.*",
        "",
    )
    cells = _cells(trace)
    by_cell = _steps_by_cell(trace, cells)
    for i, cell in enumerate(cells):
        text = cell["text"].rstrip()
        if cell.get("kind") == "markdown":
            doc.add(text, "")
            continue
        if not _only_docstring(text):
            doc.add("```python", text, "```", "")
        for step in by_cell.get(i, []):
            _step_section(doc, trace, step, per)
    for step in by_cell.get(-1, []):
        _step_section(doc, trace, step, per)
    if trace.error is not None:
        e = trace.error
        at = f" at line {e.line}" if e.line is not None else ""
        doc.add(f"> **The scenario stopped{at}:** {e.type}: {e.message}", "")
    flow = gradient_flow(trace)
    series = pass_series(trace)
    if (flow is not None and len(flow.params) >= 2) or len(series.passes) >= 2:
        doc.add("## Across parameters and passes", "")
    if flow is not None and len(flow.params) >= 2:
        doc.add(
            f"Gradient magnitude per parameter in pass {flow.pass_index + 1}"
            + (f" — {flow.verdict}." if flow.verdict else "."),
            "",
        )
        doc.image(_Image("gradient_flow.png", "gradient flow", kind="flow"))
    if len(series.passes) >= 2:
        doc.add("The loss and each leaf's `.grad` after every backward pass.", "")
        doc.image(_Image("passes.png", "across passes", kind="passes"))
    return doc


# ---------------------------------------------------------------- rendering
def _offscreen(widget: QWidget, width: int, height: int) -> None:
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    widget.resize(width, height)
    widget.show()
    QCoreApplication.processEvents()


def _render(
    trace: Trace,
    doc: _Doc,
    folder: Path,
    theme: Theme,
    scale: float,
    progress: Progress | None,
    book: _Book | None = None,
) -> None:
    """Each image as a PNG under ``folder``; with a ``book``, the PDF too, in the same pass.

    The PDF gets the same figures drawn as vector (the graph through the
    figure code of ``export``, the plots through their scenes) and the text
    between them, so each step is visited once.
    """
    from gradstep.gui.panels.plots import GradientFlowPlot, NodePlot, PassSeriesPlot

    view = graph_view_for(trace, 0, theme=theme)
    node_plot: NodePlot | None = None
    total, done = len(doc.images), 0
    parts = doc.parts() if book is not None else [("image", i) for i in doc.images]
    try:
        for n, (kind, part) in enumerate(parts):
            if book is not None and kind == "page":
                book.new_page()
            elif book is not None and kind == "text":
                after = parts[n + 1][1] if n + 1 < len(parts) else None
                # the words that introduce a plot below them go with it to the next page
                keep = isinstance(after, _Image) and after.kind in ("flow", "passes")
                book.text(part, keep=book.plot_height(after.kind) if keep else 0.0)
            if kind != "image":
                continue
            img: _Image = part
            if img.kind == "graph":
                view.session.go_to(img.step)
                data = _png_bytes(
                    graph_image(view, scale=scale, caption=True, legend=False, frame=True)
                )
                if book is not None:
                    # the step's heading and chain-rule line are text right around it
                    book.graph(_layout(view, caption=False, legend=False))
            elif img.kind == "tangent":
                if node_plot is None:
                    node_plot = NodePlot(theme)
                    _offscreen(node_plot, *PLOT_SIZES["tangent"])
                node_plot.show_record(trace, trace.record_for(trace.steps[img.step]))
                QCoreApplication.processEvents()
                data = _png_bytes(widget_image(node_plot, scale=scale))
                if book is not None:
                    book.plot(node_plot, "tangent")
            else:
                plot = GradientFlowPlot(theme) if img.kind == "flow" else PassSeriesPlot(theme)
                _offscreen(plot, *PLOT_SIZES[img.kind])
                plot.set_trace(trace)
                QCoreApplication.processEvents()
                data = _png_bytes(widget_image(plot, scale=scale))
                if book is not None:
                    book.plot(plot, img.kind)
                plot.close()
                plot.deleteLater()
            (folder / img.name).write_bytes(data)  # inside the temporary folder: atomic as a whole
            done += 1
            if progress is not None:
                progress(done, total)
    finally:
        if node_plot is not None:
            node_plot.close()
            node_plot.deleteLater()
        view.deleteLater()


# ---------------------------------------------------------------------- PDF
PAGE_MARGIN_MM = 15.0
GAP = 8.0  # between a page's parts, in the writer's pixels
GRAPH_MOST = 0.55  # of the page's height: a step's heading, graph, chain rule and slope share it
GRAPH_UPSCALE = 1.5  # a small graph is drawn larger than on screen, but not huge
PLOT_SIZES = {"tangent": (640, 380), "flow": (720, 420), "passes": (720, 560)}
PLOT_MOST = {"tangent": 0.28, "flow": 0.45, "passes": 0.45}  # of the page's height
KEEP = 0.75  # a figure is shrunk into the rest of a page only down to this share of its size


class _Book:
    """The PDF, painted page by page: Markdown laid out by QTextDocument, figures as vector.

    Text is drawn through the document's layout and the figures through the
    scene's own render, both onto the PDF's painter, so the PDF holds paths
    and real text with its fonts embedded, not pictures. A step's section
    starts a page (``new_page``); text too long for the rest of a page is
    cut between lines, never through one, and a heading is not left alone
    at the bottom of a page.
    """

    def __init__(self, path: Path, title: str) -> None:
        self.writer = QPdfWriter(str(path))
        # the figures' fonts are sized in points for the screen: draw them at its resolution
        self.writer.setResolution(_dpi())
        self.writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Portrait,
                QMarginsF(PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM),
                QPageLayout.Unit.Millimeter,
            )
        )
        self.writer.setTitle(title)
        self.writer.setCreator("gradstep")
        page = self.writer.pageLayout().paintRectPixels(self.writer.resolution())
        self.width, self.height = float(page.width()), float(page.height())
        self.painter = QPainter()
        if not self.painter.begin(self.writer):
            raise HandoutError(f"cannot write {path.name}")
        self.painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        self.y = 0.0  # where the next part goes on the current page
        self.pages = 1
        self.blank = True  # nothing drawn on the current page yet

    def close(self) -> None:
        if self.painter.isActive():
            self.painter.end()

    def new_page(self) -> None:
        if self.blank:
            return
        self.writer.newPage()
        self.pages += 1
        self.y, self.blank = 0.0, True

    def _advance(self, height: float) -> None:
        self.y += height + GAP
        self.blank = False

    # ------------------------------------------------------------ text
    def text(self, markdown: str, keep: float = 0.0) -> None:
        """Markdown, from the current place on; ``keep``: the height of a figure it introduces.

        A short text that would leave no room for most of that figure starts a page.
        """
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setMarkdown(markdown)
        doc.setTextWidth(self.width)
        total = doc.size().height()
        if keep and total < self.height / 4 and self.y + total + GAP + KEEP * keep > self.height:
            self.new_page()
        lines = _lines(doc)
        top = 0.0
        while total - top > 0.5:
            room = self.height - self.y
            if total - top <= room:
                self._draw_text(doc, top, total)
                self._advance(total - top)
                return
            cut = _cut(lines, top, top + room)
            if cut - top < 0.5:  # not even a line fits on the rest of this page
                if not self.blank:
                    self.new_page()
                    continue
                cut = top + room  # a line taller than a page: cut through it
            self._draw_text(doc, top, cut)
            self.blank = False
            self.new_page()
            top = cut

    def _draw_text(self, doc: QTextDocument, top: float, bottom: float) -> None:
        ctx = QAbstractTextDocumentLayout.PaintContext()
        # a line that only touches the clip is drawn too (hidden by the painter's clip, but
        # still in the PDF's text, twice): the context's clip stays clear of the cut's lines
        ctx.clip = QRectF(0, top + 0.5, self.width, max(0.0, bottom - top - 1.0))
        # paper is white, whatever the figures' theme
        ctx.palette.setColor(QPalette.ColorRole.Text, QColor(LIGHT.text))
        p = self.painter
        p.save()
        try:
            p.translate(0, self.y - top)
            p.setClipRect(QRectF(0, top, self.width, bottom - top))
            doc.documentLayout().draw(p, ctx)
        finally:
            p.restore()

    # --------------------------------------------------------- figures
    def graph(self, fig: Any) -> None:
        """A graph figure laid out by ``export._layout``, drawn by ``export._paint``."""
        self._figure(fig.width, fig.height, lambda p: _paint(p, fig), GRAPH_MOST, GRAPH_UPSCALE)

    def plot_height(self, kind: str) -> float:
        """How tall a plot of ``kind`` is drawn on a page."""
        w, h = PLOT_SIZES[kind]
        return h * self._scale(w, h, PLOT_MOST[kind], 1.0)

    def plot(self, plot: QGraphicsView, kind: str) -> None:
        """A pyqtgraph plot, laid out again at the size it gets on the page.

        Its text keeps its point size (a plot scaled down would shrink it), and
        it is recorded first and replayed: the legend ignores the painter's
        scale, so a plot drawn straight at a scale would lose its legend's end.
        Symbols are drawn as paths, not from pyqtgraph's pixmap cache.
        """
        w, h = PLOT_SIZES[kind]
        k = self._scale(w, h, PLOT_MOST[kind], 1.0)
        size = QSize(max(1, round(w * k)), max(1, round(h * k)))
        natural = plot.size()
        plot.resize(size)
        QCoreApplication.processEvents()
        items = [i for i in plot.scene().items() if hasattr(i, "setExportMode")]
        picture = QPicture()
        recorder = QPainter(picture)
        try:
            for item in items:
                item.setExportMode(True, {"antialias": True})
            plot.render(recorder, QRectF(0, 0, size.width(), size.height()), QRect(QPoint(), size))
        finally:
            recorder.end()
            for item in items:
                item.setExportMode(False)
            plot.resize(natural)
            QCoreApplication.processEvents()
        self._figure(
            size.width(),
            size.height(),
            lambda p: p.drawPicture(0, 0, picture),
            PLOT_MOST[kind],
            1.0,
        )

    def _scale(self, width: float, height: float, most: float, upscale: float) -> float:
        return min(upscale, self.width / width, most * self.height / height)

    def _figure(
        self,
        width: float,
        height: float,
        paint: Callable[[QPainter], None],
        most: float,
        upscale: float,
    ) -> None:
        k = self._scale(width, height, most, upscale)
        room = self.height - self.y
        if height * k > room:
            if room >= KEEP * height * k:
                k = room / height
            else:
                self.new_page()
        p = self.painter
        p.save()
        try:
            p.translate((self.width - width * k) / 2, self.y)
            p.scale(k, k)
            p.setClipRect(QRectF(0, 0, width, height))
            paint(p)
        finally:
            p.restore()
        self._advance(height * k)


def _lines(doc: QTextDocument) -> list[tuple[float, float, bool]]:
    """Every laid-out line of ``doc``: its top, its bottom, whether it is a heading's."""
    layout = doc.documentLayout()
    out: list[tuple[float, float, bool]] = []
    block = doc.begin()
    while block.isValid():
        text_layout = block.layout()
        # a block's lines are placed relative to its layout, the layout within its frame
        origin = layout.blockBoundingRect(block).top() - text_layout.boundingRect().top()
        heading = block.blockFormat().headingLevel() > 0
        for i in range(text_layout.lineCount()):
            line = text_layout.lineAt(i)
            out.append((origin + line.y(), origin + line.y() + line.height(), heading))
        block = block.next()
    out.sort()
    return out


def _cut(lines: list[tuple[float, float, bool]], top: float, limit: float) -> float:
    """Where to end the part of the text from ``top`` that fits above ``limit``: between lines."""
    below = [t for t, b, _ in lines if t >= top and b > limit]
    cut = min(below, default=limit)
    moved = True
    while moved:  # a line beside the cut (a table's other column) would be cut through
        moved = False
        for t, b, _ in lines:
            if top <= t < cut < b:
                cut, moved = t, True
    start = cut  # never a heading last on a page: it goes over with its text
    for t, _, heading in reversed([line for line in lines if top <= line[0] < cut]):
        if not heading:
            break
        start = t
    return start if start > top else cut


# ------------------------------------------------------------------ writing
def _replace_folder(new: Path, target: Path) -> None:
    if not target.exists():
        os.replace(new, target)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    backup.rmdir()
    os.replace(target, backup)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(backup, target)  # put the old handout back
        raise
    shutil.rmtree(backup, ignore_errors=True)


def write_handout(
    trace: Trace,
    out_dir: str | os.PathLike[str],
    *,
    per: Per = "node",
    pdf: bool = False,
    theme: Theme | None = None,
    scale: float = 2.0,
    progress: Progress | None = None,
) -> Path:
    """Write the handout folder (``handout.md``, ``images/``, optionally ``handout.pdf``).

    An existing folder is replaced only if it is empty or a previous handout;
    ask the user first in the GUI (``is_handout_folder`` tells which).
    """
    target = Path(out_dir).resolve()
    if target.exists():
        if not target.is_dir():
            raise HandoutError(f"{target} exists and is not a folder")
        if any(target.iterdir()) and not is_handout_folder(target):
            raise HandoutError(
                f"{target} is not empty and is not a gradstep handout: choose a new folder"
            )
    if not target.parent.is_dir():
        raise HandoutError(f"folder {target.parent} does not exist")
    theme = theme or LIGHT
    doc = build_markdown(trace, per)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        os.chmod(tmp, _mode(target, 0o777))  # mkdtemp makes it private; a handout is not
        (tmp / IMAGES).mkdir()
        book = None
        if pdf:
            title = trace.scenario.title or Path(trace.scenario.path).stem
            book = _Book(tmp / PDF, title)
        try:
            _render(trace, doc, tmp / IMAGES, theme, scale, progress, book)
        finally:
            if book is not None:
                book.close()
        markdown = "\n".join(doc.lines).rstrip() + "\n"
        (tmp / MARKDOWN).write_text(markdown, encoding="utf-8")
        _replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def save_handout_dialog(
    parent: QWidget | None,
    trace: Trace,
    *,
    directory: str | os.PathLike[str] | None = None,
    per: Per = "node",
    pdf: bool = True,
) -> Path | None:
    """File ▸ Export handout…: pick a folder; ``<scenario>-handout`` is written inside it.

    A previous handout there is replaced only after asking; any other
    non-empty folder of that name is left alone.
    """
    start = str(directory) if directory else str(Path.home())
    chosen = QFileDialog.getExistingDirectory(parent, "Export handout into folder", start)
    if not chosen:
        return None
    stem = Path(trace.scenario.path).stem or "scenario"
    target = Path(chosen) / f"{stem}-handout"
    if target.exists() and any(target.iterdir()):
        if not is_handout_folder(target):
            QMessageBox.warning(
                parent,
                "Folder in use",
                f"{target} exists and is not a gradstep handout.\nChoose another folder.",
            )
            return None
        answer = QMessageBox.question(
            parent,
            "Replace handout?",
            f"Replace the handout in {target}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
    progress = QProgressDialog("Writing the handout…", "", 0, 0, parent)
    progress.setCancelButton(None)
    progress.setMinimumDuration(300)
    progress.setWindowModality(Qt.WindowModality.WindowModal)

    def step(done: int, total: int) -> None:
        progress.setMaximum(total)
        progress.setValue(done)

    try:
        return write_handout(trace, target, per=per, pdf=pdf, progress=step)
    except (ExportError, OSError) as e:
        QMessageBox.warning(parent, "Handout failed", f"Could not write {target.name}:\n{e}")
        return None
    finally:
        progress.close()
