"""A handout: a folder with a Markdown walk-through of a scenario and its images (and a PDF).

The document follows the scenario file: its notes, each code cell, and after
the cell the steps it ran — one graph image per step (``per="step"``) or per
backward node (``per="node"``), each with its chain-rule line; the tangent
plot of scalar ops; gradient flow and the passes at the end. The folder is
built next to the target under a temporary name and renamed into place, so
a failure or Ctrl+C leaves the previous handout (or nothing), never half.

The PDF is painted page by page in the same pass as the images: the text
laid out by QTextDocument, the graphs by the figure code of ``figure`` and
the plots from their scenes, all as vector (``book``). The folder dialog is
in ``dialogs``.
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

from PySide6.QtCore import QCoreApplication, QPointF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (
    QWidget,
)

from gradstep.files import file_mode
from gradstep.gui.export.book import PLOT_SIZES, Book
from gradstep.gui.export.figure import graph_view_for, layout_figure
from gradstep.gui.export.files import HandoutError, replace_folder
from gradstep.gui.export.formats import graph_image, png_bytes, widget_image
from gradstep.gui.theme import LIGHT, Theme
from gradstep.plotting import gradient_flow, pass_series, tangent_plot
from gradstep.plotting.labels import chain_lines
from gradstep.trace.model import Step, Trace
from gradstep.trace.quiz import NONE, answers, exercise_blanks
from gradstep.trace.text import figure_note, step_number

__all__ = [
    "HandoutError",
    "build_markdown",
    "is_handout_folder",
    "write_handout",
]

MARKDOWN = "handout.md"
PDF = "handout.pdf"
IMAGES = "images"
Per = Literal["step", "node"]
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class _Image:
    name: str  # file name under images/
    alt: str
    step: int | None = None  # a graph image of this step
    kind: Literal["graph", "tangent", "flow", "passes", "figure"] = "graph"
    figure: int = 0  # which of the step's matplotlib figures (kind "figure")
    size: tuple[int, int] = (0, 0)  # a figure's pixels


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


def _figures(doc: _Doc, step: Step) -> None:
    """What the step drew with matplotlib, as the notebook showed it (record.figures)."""
    number = step_number(step.index)
    for j, figure in enumerate(step.figures):
        if figure.png:
            name = f"step_{number:03d}_figure_{j + 1}.png"
            doc.image(
                _Image(
                    name,
                    figure.title or f"figure {figure.number}",
                    step.index,
                    "figure",
                    j,
                    (figure.width, figure.height),
                )
            )
        else:
            doc.add(f"*{figure_note(figure)}*", "")


def _step_section(doc: _Doc, trace: Trace, step: Step, per: Per, exercise: bool = False) -> None:
    where = f" (line {step.line})" if step.line is not None else ""
    number = step_number(step.index)  # numbered as in the window, from 1
    printed = step.output.strip() if not exercise else ""  # an exercise's print: an answer
    if not _wanted(step, per):
        detail = f" → `{printed.splitlines()[0]}`" if printed else ""
        doc.bullet(f"- step {number}{where}: {step.text}{detail}")
        _figures(doc, step)
        return
    doc.section(f"### Step {number}{where}: {step.text}")
    doc.image(_Image(f"step_{number:03d}.png", f"graph at step {number}", step.index))
    rec = trace.record_for(step)
    if rec is not None and step.kind in ("compute", "accumulate"):
        blanks = exercise_blanks(trace, step.index) if exercise else NONE
        for line in chain_lines(trace, step, blanks=blanks):
            doc.add(f"Chain rule: `{line}`", "")
        if rec.formula and step.kind == "compute":
            doc.add(f"Local derivative: {rec.formula}", "")
        if step.kind == "compute" and not exercise and tangent_plot(trace, rec) is not None:
            doc.image(
                _Image(f"step_{number:03d}_slope.png", "derivative = slope", step.index, "tangent")
            )
    if printed:
        doc.add("```text", step.output.rstrip(), "```", "")
    _figures(doc, step)


def build_markdown(trace: Trace, per: Per = "node", exercise: bool = False) -> _Doc:
    """The handout's Markdown and the images it refers to (not rendered yet); ``exercise``:
    the gradients a quiz hides are "?" on every page, with an answer page at the end."""
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
    for loop in trace.loops:  # a long loop's later rounds are summarised: say which are not
        doc.add(
            f"*The loop `{loop.text}` ({trace.scenario.where(loop.line)}): {loop.detail_text()}.*",
            "",
        )
    if exercise:
        doc.add(
            "*Exercise: predict each `?` (the gradients each node sends back, and each "
            "leaf's new `.grad`); the answers are on the last page.*",
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
            _step_section(doc, trace, step, per, exercise)
    for step in by_cell.get(-1, []):
        _step_section(doc, trace, step, per, exercise)
    if trace.error is not None:
        e = trace.error
        at = f" at line {e.line}" if e.line is not None else ""
        doc.add(f"> **The scenario stopped{at}:** {e.type}: {e.message}", "")
    if exercise:  # the plots across passes would give the answers away
        _answer_page(doc, trace)
        return doc
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


def _answer_page(doc: _Doc, trace: Trace) -> None:
    """Each blank's value, as the app shows it, in step order."""
    doc.section("## Answers")
    rows = answers(trace)
    if not rows:
        doc.add("No backward step: nothing to predict.", "")
    for a in rows:
        doc.bullet(f"- step {a.step}: {a.node} → {a.target}: `{a.value}`")
    doc.add("")


# ---------------------------------------------------------------- rendering
def _section_height(book: Book, view: Any, rest: list[tuple[str, Any]]) -> float:
    """The height of the section ahead (up to the next one): its graph, a tangent plot,
    its words; a section of another kind (notes, plots of the passes) takes a page."""
    images, words = [], 0.0
    for kind, part in rest:
        if kind == "page":
            break
        if kind == "image":
            images.append(part)
        elif kind == "text":
            words += book.text_height(part)
    if not images or images[0].kind != "graph":
        return book.height
    view.session.go_to(images[0].step)
    need = book.graph_height(layout_figure(view, caption=False, legend=False))
    return need + sum(_image_height(book, i) for i in images[1:]) + words


def _image_height(book: Book, img: _Image) -> float:
    """How tall an image below a step's graph is on the page: a plot, or a matplotlib
    figure drawn as :func:`_bitmap` places it."""
    if img.kind != "figure":
        return book.plot_height(img.kind)
    width, height = img.size
    return height * min(
        1.0, book.width / max(width, 1), _FIGURE_MOST * book.height / max(height, 1)
    )


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
    book: Book | None = None,
    exercise: bool = False,
) -> None:
    """Each image as a PNG under ``folder``; with a ``book``, the PDF too, in the same pass.

    The PDF gets the same figures drawn as vector (the graph through the
    figure code of ``figure``, the plots through their scenes) and the text
    between them, so each step is visited once.
    """
    from gradstep.gui.panels.plots import GradientFlowPlot, NodePlot, PassSeriesPlot

    view = graph_view_for(trace, 0, theme=theme)
    if exercise:  # the edge labels and captions a quiz hides are "?" on every page
        view.labels.blanks = lambda st: exercise_blanks(trace, st.index)
    node_plot: NodePlot | None = None
    total, done = len(doc.images), 0
    parts = doc.parts() if book is not None else [("image", i) for i in doc.images]
    try:
        for n, (kind, part) in enumerate(parts):
            if book is not None and kind == "page":
                book.section(_section_height(book, view, list(parts[n + 1 :])))
            elif book is not None and kind == "text":
                after = parts[n + 1][1] if n + 1 < len(parts) else None
                # the words that introduce a plot below them go with it to the next page
                plot = after.kind if isinstance(after, _Image) else None
                keep = plot in ("flow", "passes")
                book.text(part, keep=book.plot_height(plot) if plot and keep else 0.0)
            if kind != "image":
                continue
            img: _Image = part
            if img.kind == "graph":
                view.session.go_to(img.step)
                data = png_bytes(
                    graph_image(view, scale=scale, caption=True, legend=False, frame=True)
                )
                if book is not None:
                    # the step's heading and chain-rule line are text right around it
                    book.graph(layout_figure(view, caption=False, legend=False))
            elif img.kind == "tangent":
                if node_plot is None:
                    node_plot = NodePlot(theme)
                    _offscreen(node_plot, *PLOT_SIZES["tangent"])
                assert img.step is not None  # a tangent plot is of a step's node
                node_plot.show_record(trace, trace.record_for(trace.steps[img.step]))
                QCoreApplication.processEvents()
                data = png_bytes(widget_image(node_plot, scale=scale))
                if book is not None:
                    book.plot(node_plot, "tangent")
            elif img.kind == "figure":
                assert img.step is not None  # a figure is drawn by a step
                data = trace.steps[img.step].figures[img.figure].png_bytes()
                if book is not None:
                    _bitmap(book, QImage.fromData(data))
            else:
                plot = GradientFlowPlot(theme) if img.kind == "flow" else PassSeriesPlot(theme)
                _offscreen(plot, *PLOT_SIZES[img.kind])
                plot.set_trace(trace)
                QCoreApplication.processEvents()
                data = png_bytes(widget_image(plot, scale=scale))
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


def _bitmap(book: Book, picture: QImage) -> None:
    """A matplotlib figure's PNG on the PDF page, placed as the book places its plots."""

    def paint(painter: QPainter) -> None:
        painter.drawImage(QPointF(0, 0), picture)

    book._figure(picture.width(), picture.height(), paint, _FIGURE_MOST, 1.0)  # noqa: SLF001


#: a matplotlib figure takes at most this share of a PDF page's height
_FIGURE_MOST = 0.6


# ------------------------------------------------------------------ writing
def write_handout(
    trace: Trace,
    out_dir: str | os.PathLike[str],
    *,
    per: Per = "node",
    pdf: bool = False,
    theme: Theme | None = None,
    scale: float = 2.0,
    progress: Progress | None = None,
    exercise: bool = False,
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
    doc = build_markdown(trace, per, exercise)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        os.chmod(tmp, file_mode(target, 0o777))  # mkdtemp makes it private; a handout is not
        (tmp / IMAGES).mkdir()
        book = None
        if pdf:
            title = trace.scenario.title or Path(trace.scenario.path).stem
            book = Book(tmp / PDF, title)
        try:
            _render(trace, doc, tmp / IMAGES, theme, scale, progress, book, exercise)
        finally:
            if book is not None:
                book.close()
        markdown = "\n".join(doc.lines).rstrip() + "\n"
        (tmp / MARKDOWN).write_text(markdown, encoding="utf-8")
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
