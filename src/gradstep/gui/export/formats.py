"""A figure as PNG, SVG or PDF bytes, a file (written atomically), the clipboard; screenshots.

PNG is rendered at ``scale``× (2 for slides, capped for huge graphs); SVG and
PDF are vector, drawn at the screen's resolution so that the scene's fonts,
sized in points, keep their size, and name the fonts really used.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QMarginsF,
    QMimeData,
    QPoint,
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
    QGuiApplication,
    QImage,
    QPageSize,
    QPainter,
    QPdfWriter,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QWidget

from gradstep.gui.export.figure import Caption, Figure, Legend, layout_figure, paint_figure
from gradstep.gui.export.files import FORMATS, ExportError, atomic_write_bytes, format_of

MAX_PNG_SIDE = 16384  # larger figures are drawn at a smaller scale


def screen_dpi() -> int:
    screen = QGuiApplication.primaryScreen()
    return round(screen.logicalDotsPerInchX()) if screen is not None else 96


def graph_image(
    source: Any,
    *,
    scale: float = 2.0,
    caption: Caption = None,
    legend: Legend = True,
    frame: bool = False,
    aspect: float | None = None,
    bold: bool = False,
) -> QImage:
    """The figure as an image, ``scale`` device pixels per scene unit (capped for huge graphs);
    ``aspect`` (16/9 for slides) and ``bold`` as in ``layout_figure``."""
    fig = layout_figure(source, caption, legend, frame, aspect=aspect, bold=bold)
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
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # the stubs want bytes, Qt a str
        raise ExportError("the PNG encoder failed")
    return bytes(buffer.data().data())


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
    return _portable_fonts(bytes(buffer.data().data()))


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
    return bytes(buffer.data().data())


def figure_bytes(
    source: Any,
    format: str,
    *,
    scale: float = 2.0,
    caption: Caption = None,
    legend: Legend = True,
    frame: bool = False,
    aspect: float | None = None,
    bold: bool = False,
) -> bytes:
    """The figure encoded as ``format`` ("png", "svg" or "pdf").

    ``frame``: one size whatever the step's caption says (frames of a series);
    ``aspect``: the figure's width over height (16/9 for a slide); ``bold``: thick
    edges and borders that survive a projector.
    """
    format = format.lower()
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    if format == "png":
        return png_bytes(
            graph_image(
                source,
                scale=scale,
                caption=caption,
                legend=legend,
                frame=frame,
                aspect=aspect,
                bold=bold,
            )  # fmt: skip
        )
    fig = layout_figure(source, caption, legend, frame, aspect=aspect, bold=bold)
    title = fig.caption[0] if fig.caption else "gradstep graph"
    return _svg_bytes(fig, title) if format == "svg" else _pdf_bytes(fig, title)


def export_graph(
    scene_or_view: Any,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    scale: float = 2.0,
    caption: Caption = None,
    legend: Legend = True,
    aspect: float | None = None,
    bold: bool = False,
) -> Path:
    """Write the graph as PNG/SVG/PDF (format from ``path`` when not given), atomically.

    ``caption``: None/False for none, True for the view's step caption, or
    your own text (a string or lines); ``legend``: True, False or "compact".
    Returns the path written.
    """
    data = figure_bytes(
        scene_or_view, format_of(path, format), scale=scale, caption=caption, legend=legend,
        aspect=aspect, bold=bold,
    )  # fmt: skip
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
