"""A handout: a folder with a Markdown walk-through of a scenario and its images (and a PDF).

The document follows the scenario file: its notes, each code cell, and after
the cell the steps it ran — one graph image per step (``per="step"``) or per
backward node (``per="node"``), each with its chain-rule line; the tangent
plot of scalar ops; gradient flow and the passes at the end. The folder is
built next to the target under a temporary name and renamed into place, so
a failure or Ctrl+C leaves the previous handout (or nothing), never half.
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

from PySide6.QtCore import QCoreApplication, QMarginsF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QImage,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextImageFormat,
)
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from gradstep.gui.export import (
    ExportError,
    _mode,
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
    doc.add(f"### Step {number}{where}: {step.text}", "")
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


def _render_images(
    trace: Trace, doc: _Doc, folder: Path, theme: Theme, scale: float, progress: Progress | None
) -> None:
    from gradstep.gui.plots import GradientFlowPlot, NodePlot, PassSeriesPlot

    view = graph_view_for(trace, 0, theme=theme)
    node_plot: NodePlot | None = None
    total = len(doc.images)
    try:
        for done, img in enumerate(doc.images):
            path = folder / img.name
            if img.kind == "graph":
                view.session.go_to(img.step)
                data = _png_bytes(
                    graph_image(view, scale=scale, caption=True, legend=False, frame=True)
                )
            elif img.kind == "tangent":
                if node_plot is None:
                    node_plot = NodePlot(theme)
                    _offscreen(node_plot, 640, 380)
                node_plot.show_record(trace, trace.record_for(trace.steps[img.step]))
                QCoreApplication.processEvents()
                data = _png_bytes(widget_image(node_plot, scale=scale))
            else:
                plot = GradientFlowPlot(theme) if img.kind == "flow" else PassSeriesPlot(theme)
                _offscreen(plot, 720, 420 if img.kind == "flow" else 560)
                plot.set_trace(trace)
                QCoreApplication.processEvents()
                data = _png_bytes(widget_image(plot, scale=scale))
                plot.close()
                plot.deleteLater()
            path.write_bytes(data)  # inside the temporary folder: atomic as a whole
            if progress is not None:
                progress(done + 1, total)
    finally:
        if node_plot is not None:
            node_plot.close()
            node_plot.deleteLater()
        view.deleteLater()


def _write_pdf(folder: Path, markdown: str, title: str) -> None:
    doc = QTextDocument()
    doc.setBaseUrl(QUrl.fromLocalFile(str(folder) + os.sep))
    doc.setMetaInformation(QTextDocument.MetaInformation.DocumentTitle, title)
    doc.setMarkdown(markdown)
    writer = QPdfWriter(str(folder / PDF))
    writer.setResolution(96)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    writer.setTitle(title)
    writer.setCreator("gradstep")
    page = writer.pageLayout().paintRectPixels(writer.resolution())
    doc.setPageSize(QSizeF(page.width(), page.height()))
    _fit_images(doc, page.width(), 0.55 * page.height())
    _step_per_page(doc)
    doc.print_(writer)


def _step_per_page(doc: QTextDocument) -> None:
    """Each step's section (a level-3 heading) starts a page: its image and text stay together."""
    cursor = QTextCursor(doc)
    block = doc.begin()
    while block.isValid():
        if block.blockFormat().headingLevel() == 3:
            fmt = block.blockFormat()
            fmt.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
            cursor.setPosition(block.position())
            cursor.setBlockFormat(fmt)
        block = block.next()


def _fit_images(doc: QTextDocument, width: float, height: float) -> None:
    """Images at their size on screen (they are 2× for sharpness), within the page.

    At most ``height`` tall, so that a heading and its image share a page.
    """
    found: list[tuple[int, int, QTextImageFormat]] = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.charFormat().isImageFormat():
                found.append((frag.position(), frag.length(), frag.charFormat().toImageFormat()))
            it += 1
        block = block.next()
    cursor = QTextCursor(doc)
    for position, length, img in found:  # changed after the walk: edits would break it
        natural = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(img.name()))
        if not isinstance(natural, QImage):
            natural = QImage(doc.baseUrl().resolved(QUrl(img.name())).toLocalFile())
        if natural.isNull():
            continue
        w, h = natural.width() / 2, natural.height() / 2
        # a step's page holds its graph and its slope plot
        limit = 0.45 * height if img.name().endswith("_slope.png") else height
        k = min(1.0, width / w, limit / h)
        new = QTextImageFormat(img)
        new.setWidth(w * k)
        new.setHeight(h * k)
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(new)


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
        _render_images(trace, doc, tmp / IMAGES, theme, scale, progress)
        markdown = "\n".join(doc.lines).rstrip() + "\n"
        (tmp / MARKDOWN).write_text(markdown, encoding="utf-8")
        if pdf:
            title = trace.scenario.title or Path(trace.scenario.path).stem
            _write_pdf(tmp, markdown, title)
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
