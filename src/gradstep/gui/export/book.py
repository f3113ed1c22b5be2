"""The handout's PDF, painted page by page: Markdown text and figures, all as vector."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QMarginsF, QPoint, QPointF, QRect, QRectF, QSize
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QPageLayout,
    QPageSize,
    QPainter,
    QPalette,
    QPdfWriter,
    QPen,
    QPicture,
    QTextDocument,
)
from PySide6.QtWidgets import QGraphicsView

from gradstep.gui.export.figure import Figure, paint_figure
from gradstep.gui.export.files import HandoutError
from gradstep.gui.export.formats import screen_dpi
from gradstep.gui.theme import LIGHT

PAGE_MARGIN_MM = 15.0
GAP = 8.0  # between a page's parts, in the writer's pixels
GRAPH_MOST = 0.4  # of the page's height: two steps (heading, graph, chain rule) share a page
GRAPH_UPSCALE = 1.5  # a small graph is drawn larger than on screen, but not huge
PLOT_SIZES = {"tangent": (640, 380), "flow": (720, 420), "passes": (720, 560)}
PLOT_MOST = {"tangent": 0.28, "flow": 0.45, "passes": 0.45}  # of the page's height
KEEP = 0.75  # a figure is shrunk into the rest of a page only down to this share of its size


class Book:
    """The PDF, painted page by page: Markdown laid out by QTextDocument, figures as vector.

    Text is drawn through the document's layout and the figures through the
    scene's own render, both onto the PDF's painter, so the PDF holds paths
    and real text with its fonts embedded, not pictures. A step's section
    goes under the one before when it fits in the rest of the page, else on a new
    page (``section``); text too long for the rest of a page is
    cut between lines, never through one, and a heading is not left alone
    at the bottom of a page.
    """

    def __init__(self, path: Path, title: str) -> None:
        self.writer = QPdfWriter(str(path))
        # the figures' fonts are sized in points for the screen: draw them at its resolution
        self.writer.setResolution(screen_dpi())
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

    def section(self, need: float) -> None:
        """A step's section: on this page under a rule when ``need`` (its height) fits in the
        rest of it, else on a new page — so two or three small steps share a page and no
        step is split from its figure."""
        if self.blank:
            return
        if self.height - self.y - 2 * GAP < need:
            self.new_page()
            return
        pen = QPen(QColor(LIGHT.muted_text), 0.8)
        self.painter.setPen(pen)
        mid = self.y + GAP / 2
        self.painter.drawLine(QPointF(0, mid), QPointF(self.width, mid))
        self._advance(GAP)

    def graph_height(self, fig: Figure) -> float:
        """How tall the graph figure ``fig`` is drawn on a page."""
        return fig.height * self._scale(fig.width, fig.height, GRAPH_MOST, GRAPH_UPSCALE)

    def text_height(self, markdown: str) -> float:
        """How tall ``markdown`` is laid out across the page (as ``text`` draws it)."""
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setMarkdown(markdown)
        doc.setTextWidth(self.width)
        return float(doc.size().height()) + GAP

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
    def graph(self, fig: Figure) -> None:
        """A graph figure laid out by ``figure.layout_figure``, drawn by ``figure.paint_figure``."""
        self._figure(
            fig.width, fig.height, lambda p: paint_figure(p, fig), GRAPH_MOST, GRAPH_UPSCALE
        )

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
