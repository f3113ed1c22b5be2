"""A handout's images as PNG files, and with a ``Book`` its PDF, in one pass over the steps.

The PDF is painted page by page in the same pass as the images: the text
laid out by QTextDocument, the graphs by the figure code of ``figure`` and
the plots from their scenes, all as vector (``book``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QPointF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget

from gradstep.gui.export.book import PLOT_SIZES, Book
from gradstep.gui.export.figure import graph_view_for, layout_figure
from gradstep.gui.export.formats import graph_image, png_bytes, widget_image
from gradstep.gui.export.handout_text import Document, Image, Progress
from gradstep.gui.theme import Theme
from gradstep.trace.model import Trace
from gradstep.trace.quiz import exercise_blanks

#: a matplotlib figure takes at most this share of a PDF page's height
_FIGURE_MOST = 0.6


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


def _image_height(book: Book, img: Image) -> float:
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


def render(
    trace: Trace,
    doc: Document,
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
                plot = after.kind if isinstance(after, Image) else None
                keep = plot in ("flow", "passes")
                book.text(part, keep=book.plot_height(plot) if plot and keep else 0.0)
            if kind != "image":
                continue
            img: Image = part
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
