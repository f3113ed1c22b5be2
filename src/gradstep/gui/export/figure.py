"""Figures of the graph (PNG, SVG, PDF, clipboard) and screenshots of the window.

A figure is the whole graph scene at the step shown, drawn through the
window's own scene (so it looks like the screen), with an optional caption
above (title, step, chain-rule line) and a legend of the colours below. PNG
is rendered at ``scale``× (2 for slides); SVG and PDF are vector, and the
PDF embeds its fonts. Files are written through ``files.atomic_write_bytes``;
the handout's PDF book paints these same figures (``layout_figure``,
``paint_figure``) onto its pages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QMarginsF,
    QMimeData,
    QPoint,
    QPointF,
    QRectF,
    QSize,
    QSizeF,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontInfo,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from gradstep.gui.export.files import FORMATS, ExportError, atomic_write_bytes, format_of
from gradstep.gui.theme import LIGHT, LegendEntry, Theme
from gradstep.plotting.labels import step_caption

__all__ = [
    "Caption",
    "Figure",
    "copy_graph_to_clipboard",
    "default_caption",
    "export_graph",
    "export_widget_png",
    "figure_bytes",
    "graph_image",
    "graph_view_for",
    "layout_figure",
    "paint_figure",
    "png_bytes",
    "screen_dpi",
    "widget_image",
]

MARGIN = 18.0
MAX_PNG_SIDE = 16384  # larger figures are drawn at a smaller scale
SCENE_PAD = 20.0
FRAME_LINES = 4  # a series of frames keeps room for title, step, chain rule, formula


Caption = str | Sequence[str] | bool | None


# ------------------------------------------------------------------ sources
def graph_view_for(trace: Any, step: int | None = None, *, theme: Theme | None = None) -> Any:
    """A graph view of ``trace`` at ``step`` (default: the last), never shown: for headless export."""
    from gradstep.gui.graph.view import GraphView
    from gradstep.gui.stepping import Breakpoints
    from gradstep.session import Session

    breakpoints = Breakpoints()
    view = GraphView(theme or LIGHT, breakpoints, background_layout=False)
    view.follow = False
    view._export_breakpoints = breakpoints  # the view holds it weakly through a signal
    session = Session(trace)
    view.set_session(session)
    session.go_to(len(trace.steps) - 1 if step is None else step)
    return view


def _scene(source: Any) -> QGraphicsScene:
    if isinstance(source, QGraphicsScene):
        return source
    if isinstance(source, QGraphicsView):
        return source.scene()
    raise TypeError(f"cannot export {type(source).__name__}: give a graph view or a scene")


def _theme(source: Any) -> Theme:
    return getattr(source, "theme", None) or LIGHT


def default_caption(source: Any) -> list[str]:
    """Title, step (numbered from 1, as in the window) and chain-rule line of the step shown."""
    session = getattr(source, "session", None)
    if session is None or not session.trace.steps:
        return []
    return step_caption(session.trace, session.trace.steps[session.index])


# ------------------------------------------------------------------- layout
@dataclass
class Figure:
    scene: QGraphicsScene
    source: Any
    rect: QRectF  # the part of the scene drawn
    theme: Theme
    caption: list[str]
    legend: list[LegendEntry]
    width: float = 0.0
    height: float = 0.0
    caption_h: float = 0.0
    legend_rows: list[list[tuple[LegendEntry, float]]] | None = None
    lines: list[tuple[str, QFont, float]] | None = None  # caption: text, font, height

    def fonts(self) -> tuple[QFont, QFont, QFont]:
        title = self.theme.ui_font(1.35)
        title.setBold(True)
        return title, self.theme.ui_font(1.0), self.theme.mono_font(1.0)


def _caption_lines(source: Any, caption: Caption) -> list[str]:
    if caption is None or caption is False:
        return []
    if caption is True:
        return default_caption(source)
    if isinstance(caption, str):
        return caption.splitlines()
    return [str(c) for c in caption]


def layout_figure(source: Any, caption: Caption, legend: bool, frame: bool = False) -> Figure:
    """Sizes and places the parts; ``frame``: the same size at every step (for a series)."""
    scene = _scene(source)
    # one figure frames what is drawn at its step (not a loop's other iterations); a series
    # keeps one frame for all its steps
    drawn = getattr(source, "drawn_bounds", None)  # a GraphView; not a bare scene
    bounds = drawn() if drawn is not None and not frame else scene.itemsBoundingRect()
    rect = bounds.adjusted(-SCENE_PAD, -SCENE_PAD, SCENE_PAD, SCENE_PAD)
    if rect.isEmpty():
        rect = QRectF(0, 0, 320, 120)
    theme = _theme(source)
    fig = Figure(
        scene,
        source,
        rect,
        theme,
        _caption_lines(source, caption),
        theme.legend() if legend else [],
    )
    _, text_f, _ = fig.fonts()
    fonts = [_font_for(i, fig) for i in range(len(fig.caption))]
    if frame:  # the caption neither widens nor heightens the figure: lines are elided
        width = max(rect.width(), 480.0 if fig.caption else 0.0, 360.0 if fig.legend else 0.0)
        elided = [
            QFontMetricsF(f).elidedText(t, Qt.TextElideMode.ElideRight, width)
            for f, t in zip(fonts, fig.caption[:FRAME_LINES])
        ]
        fig.lines = [(t, f, QFontMetricsF(f).height()) for f, t in zip(fonts, elided)]
        slots = [QFontMetricsF(_font_for(i, fig)).height() for i in range(FRAME_LINES)]
        caption_h = sum(slots) + 2 * FRAME_LINES if fig.caption else 0.0
    else:
        widest = max(
            (QFontMetricsF(f).horizontalAdvance(t) for f, t in zip(fonts, fig.caption)), default=0.0
        )
        width = max(rect.width(), min(widest, 1100.0), 360.0 if fig.legend else 0.0)
        fig.lines = [(t, f, _text_height(f, t, width)) for f, t in zip(fonts, fig.caption)]
        caption_h = sum(h + 2 for _, _, h in fig.lines)
    fig.width = width + 2 * MARGIN
    fig.caption_h = caption_h + (8 if fig.caption else 0)
    legend_h = 0.0
    if fig.legend:
        fig.legend_rows = _legend_rows(fig.legend, text_f, width)
        legend_h = 10 + len(fig.legend_rows) * _legend_row_h(text_f)
    fig.height = MARGIN + fig.caption_h + rect.height() + legend_h + MARGIN
    return fig


def _font_for(i: int, fig: Figure) -> QFont:
    title, text, mono = fig.fonts()
    if i == 0:
        return title
    return mono if i == 2 else text  # line 3 is the chain-rule line: numbers line up in mono


def _text_height(font: QFont, text: str, width: float) -> float:
    flags = int(Qt.TextFlag.TextWordWrap)
    return QFontMetricsF(font).boundingRect(QRectF(0, 0, width, 1e6), flags, text).height()


SWATCH_W, SWATCH_H, GAP = 30.0, 16.0, 18.0


def _legend_row_h(font: QFont) -> float:
    return max(SWATCH_H, QFontMetricsF(font).height()) + 6


def _legend_rows(
    entries: list[LegendEntry], font: QFont, width: float
) -> list[list[tuple[LegendEntry, float]]]:
    fm = QFontMetricsF(font)
    rows: list[list[tuple[LegendEntry, float]]] = [[]]
    x = 0.0
    for e in entries:
        w = SWATCH_W + 6 + fm.horizontalAdvance(e.label)
        if rows[-1] and x + w > width:
            rows.append([])
            x = 0.0
        rows[-1].append((e, w))
        x += w + GAP
    return rows


# ------------------------------------------------------------------ drawing
def paint_figure(painter: QPainter, fig: Figure) -> None:
    theme = fig.theme
    painter.setRenderHints(
        QPainter.RenderHint.Antialiasing
        | QPainter.RenderHint.TextAntialiasing
        | QPainter.RenderHint.SmoothPixmapTransform
    )
    painter.fillRect(QRectF(0, 0, fig.width, fig.height), QColor(theme.background))
    inner = fig.width - 2 * MARGIN
    y = MARGIN
    for i, (text, font, h) in enumerate(fig.lines or []):
        painter.setFont(font)
        painter.setPen(QColor(theme.text if i != 1 else theme.muted_text))
        painter.drawText(QRectF(MARGIN, y, inner, h + 2), int(Qt.TextFlag.TextWordWrap), text)
        y += h + 2
    y = MARGIN + fig.caption_h
    target = QRectF(MARGIN + (inner - fig.rect.width()) / 2, y, fig.rect.width(), fig.rect.height())
    render = getattr(fig.source, "render_scene", None)
    if render is not None:
        render(painter, target, fig.rect)
    else:
        fig.scene.render(painter, target, fig.rect, Qt.AspectRatioMode.KeepAspectRatio)
    if fig.legend_rows:
        _paint_legend(painter, fig, y + fig.rect.height() + 10)


def _paint_legend(painter: QPainter, fig: Figure, top: float) -> None:
    theme = fig.theme
    _, font, _ = fig.fonts()
    row_h = _legend_row_h(font)
    painter.setFont(font)
    for r, row in enumerate(fig.legend_rows or []):
        x, y = MARGIN, top + r * row_h
        for entry, w in row:
            swatch = QRectF(x, y + (row_h - SWATCH_H) / 2 - 3, SWATCH_W, SWATCH_H)
            pen = QPen(QColor(entry.border), entry.width)
            painter.setPen(pen)
            if entry.shape == "edge":
                mid = swatch.center().y()
                painter.drawLine(QPointF(swatch.left(), mid), QPointF(swatch.right(), mid))
            else:
                painter.setBrush(QColor(entry.fill))
                radius = SWATCH_H / 2 if entry.shape == "leaf" else 4.0
                painter.drawRoundedRect(swatch, radius, radius)
            painter.setPen(QColor(theme.text))
            painter.drawText(
                QRectF(swatch.right() + 6, y - 3, w, row_h),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                entry.label,
            )
            x += w + GAP


def screen_dpi() -> int:
    screen = QGuiApplication.primaryScreen()
    return round(screen.logicalDotsPerInchX()) if screen is not None else 96


def graph_image(
    source: Any,
    *,
    scale: float = 2.0,
    caption: Caption = None,
    legend: bool = True,
    frame: bool = False,
) -> QImage:
    """The figure as an image, ``scale`` device pixels per scene unit (capped for huge graphs)."""
    fig = layout_figure(source, caption, legend, frame)
    scale = max(0.05, min(scale, MAX_PNG_SIDE / max(fig.width, fig.height)))
    size = QSize(max(1, round(fig.width * scale)), max(1, round(fig.height * scale)))
    image = QImage(size, QImage.Format.Format_RGB32)  # opaque: smaller files, faster PDFs
    image.setDevicePixelRatio(scale)  # fonts in points then come out at the screen's size × scale
    image.fill(QColor(fig.theme.background))
    painter = QPainter(image)
    try:
        paint_figure(painter, fig)
    finally:
        painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError("the PNG encoder failed")
    return bytes(buffer.data())


def _svg_bytes(fig: Figure, title: str) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buffer)
    w, h = round(fig.width), round(fig.height)
    gen.setSize(QSize(w, h))
    gen.setViewBox(QRectF(0, 0, fig.width, fig.height))
    gen.setResolution(screen_dpi())  # the scene's fonts are in points: keep the screen's scale
    gen.setTitle(title)
    gen.setDescription("autograd graph exported by gradstep")
    painter = QPainter(gen)
    try:
        paint_figure(painter, fig)
    finally:
        painter.end()
    return _portable_fonts(bytes(buffer.data()))


def _portable_fonts(svg: bytes) -> bytes:
    """Name the fonts Qt really used, with a generic fallback, for browsers and Inkscape.

    Qt writes its own alias ("Sans Serif", "Monospace"), which other programs
    do not know and replace with a serif default.
    """
    cache: dict[bytes, bytes] = {}

    def resolve(m: re.Match[bytes]) -> bytes:
        family = m.group(1)
        if family not in cache:
            info = QFontInfo(QFont(family.decode("utf-8", "replace")))
            real = info.family().replace("'", "")
            fixed = info.fixedPitch() or QFontDatabase.isFixedPitch(real) or "mono" in real.lower()
            generic = "monospace" if fixed else "sans-serif"
            cache[family] = f"font-family=\"'{real}', {generic}\"".encode()
        return cache[family]

    return re.sub(rb'font-family="([^"]*)"', resolve, svg)


def _pdf_bytes(fig: Figure, title: str) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    dpi = screen_dpi()
    writer.setResolution(dpi)
    points = QSizeF(fig.width * 72.0 / dpi, fig.height * 72.0 / dpi)
    writer.setPageSize(
        QPageSize(
            points, QPageSize.Unit.Point, "gradstep figure", QPageSize.SizeMatchPolicy.ExactMatch
        )
    )
    writer.setPageMargins(QMarginsF(0, 0, 0, 0))
    writer.setTitle(title)
    writer.setCreator("gradstep")
    painter = QPainter(writer)
    try:
        paint_figure(painter, fig)
    finally:
        painter.end()
    return bytes(buffer.data())


def figure_bytes(
    source: Any,
    format: str,
    *,
    scale: float = 2.0,
    caption: Caption = None,
    legend: bool = True,
    frame: bool = False,
) -> bytes:
    """The figure encoded as ``format`` ("png", "svg" or "pdf").

    ``frame``: one size whatever the step's caption says (frames of a series).
    """
    format = format.lower()
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    if format == "png":
        return png_bytes(
            graph_image(source, scale=scale, caption=caption, legend=legend, frame=frame)
        )
    fig = layout_figure(source, caption, legend, frame)
    title = fig.caption[0] if fig.caption else "gradstep graph"
    return _svg_bytes(fig, title) if format == "svg" else _pdf_bytes(fig, title)


def export_graph(
    scene_or_view: Any,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    scale: float = 2.0,
    caption: Caption = None,
    legend: bool = True,
) -> Path:
    """Write the graph as PNG/SVG/PDF (format from ``path`` when not given), atomically.

    ``caption``: None/False for none, True for the view's step caption, or
    your own text (a string or lines). Returns the path written.
    """
    data = figure_bytes(
        scene_or_view, format_of(path, format), scale=scale, caption=caption, legend=legend
    )
    return atomic_write_bytes(path, data)


def copy_graph_to_clipboard(
    scene_or_view: Any, *, scale: float = 2.0, caption: Caption = None, legend: bool = True
) -> QMimeData:
    """Put the figure on the clipboard as an image (and as SVG for apps that take it)."""
    mime = QMimeData()
    mime.setImageData(graph_image(scene_or_view, scale=scale, caption=caption, legend=legend))
    svg = figure_bytes(scene_or_view, "svg", caption=caption, legend=legend)
    mime.setData("image/svg+xml", QByteArray(svg))
    QGuiApplication.clipboard().setMimeData(mime)
    return mime


def widget_image(widget: QWidget, *, scale: float = 1.0) -> QImage:
    """What ``widget`` (the whole window, a dock, a plot) shows, at ``scale``×."""
    size = widget.size()
    image = QImage(
        QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale))),
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    image.setDevicePixelRatio(scale)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        # QWidget's own render: a QGraphicsView (every pyqtgraph plot) overrides ``render``
        # to draw its scene instead, which crops and enlarges the picture at scale 2
        QWidget.render(widget, painter, QPoint())
    finally:
        painter.end()
    return image


def export_widget_png(widget: QWidget, path: str | os.PathLike[str], *, scale: float = 1.0) -> Path:
    """A screenshot of ``widget`` as PNG, written atomically."""
    return atomic_write_bytes(path, png_bytes(widget_image(widget, scale=scale)))
