"""Figures of the graph (PNG, SVG, PDF, clipboard) and screenshots of the window.

A figure is the whole graph scene at the step shown, drawn through the
window's own scene (so it looks like the screen), with an optional caption
above (title, step, chain-rule line) and a legend of the colours below. PNG
is rendered at ``scale``× (2 for slides); SVG and PDF are vector, and the
PDF embeds its fonts. This module lays a figure out and paints it; ``formats``
turns it into PNG, SVG or PDF bytes, files and the clipboard, and the
handout's PDF book paints these same figures onto its pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QPointF,
    QRectF,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPen,
)
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from gradstep.gui.graph.items import EdgeItem, NodeItem
from gradstep.gui.theme import LIGHT, LegendEntry, Theme
from gradstep.plotting.labels import LOCAL, step_caption
from gradstep.trace.quiz import NONE

__all__ = [
    "Caption",
    "Figure",
    "Legend",
    "default_caption",
    "graph_view_for",
    "layout_figure",
    "paint_figure",
]

MARGIN = 18.0
SCENE_PAD = 20.0
FRAME_LINES = 4  # a series of frames keeps room for title, step, chain rule, formula


Caption = str | Sequence[str] | bool | None
#: True: every colour explained; "compact": the five a slide needs; False: none
Legend = bool | str
#: a slide's width over its height
SLIDE = 16 / 9
_COMPACT = (
    "leaf tensor",
    "operation (grad_fn)",
    "named intermediate",
    "current node",
    "gradient flowing now",
)


# ------------------------------------------------------------------ sources
def graph_view_for(
    trace: Any,
    step: int | None = None,
    *,
    theme: Theme | None = None,
    values: bool = False,
    direction: str = "TB",
) -> Any:
    """A graph view of ``trace`` at ``step`` (default: the last), never shown: for headless
    export; ``values``: each tensor's value and gradient written in its node;
    ``direction``: "LR" lays the forward pass out left to right (a wide slide)."""
    from gradstep.gui.graph.view import GraphView
    from gradstep.gui.stepping import Breakpoints
    from gradstep.session import Session

    breakpoints = Breakpoints()
    view = GraphView(theme or LIGHT, breakpoints, background_layout=False)
    view.follow = False
    view.show_values = values
    view.direction = direction
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
    labels = getattr(source, "labels", None)  # a GraphView: its quiz's blanks, if any
    blanks = labels.blanks(session.state()) if labels is not None else NONE
    return step_caption(session.trace, session.trace.steps[session.index], blanks)


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
    pad_y: float = 0.0  # above (and below) the drawing, to reach the asked aspect
    bold: bool = False  # thick edges and borders, for a projector

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


def legend_entries(theme: Theme, legend: Legend) -> list[LegendEntry]:
    """The legend's entries: all, or a slide's compact few (constants included)."""
    if not legend:
        return []
    entries = theme.legend()
    if legend != "compact":
        return entries
    compact = [e for e in entries if e.label in _COMPACT]
    compact.insert(3, LegendEntry("constant", "leaf", theme.background, theme.muted_text))
    return compact


def layout_figure(
    source: Any,
    caption: Caption,
    legend: Legend,
    frame: bool = False,
    *,
    aspect: float | None = None,
    bold: bool = False,
) -> Figure:
    """Sizes and places the parts; ``frame``: the same size at every step (for a series);
    ``aspect``: widened or heightened to this width over height (16/9 for slides), the
    drawing in the middle; ``bold``: thick edges and borders (``paint_figure``)."""
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
        legend_entries(theme, legend),
        bold=bold,
    )
    fonts = [_font_for(i, fig) for i in range(len(fig.caption))]
    if frame:
        width = max(rect.width(), 480.0 if fig.caption else 0.0, 360.0 if fig.legend else 0.0)
    else:
        widest = max(
            (QFontMetricsF(f).horizontalAdvance(t) for f, t in zip(fonts, fig.caption)), default=0.0
        )
        width = max(rect.width(), min(widest, 1100.0), 360.0 if fig.legend else 0.0)
    _measure(fig, fonts, width, frame)
    if aspect:
        if fig.width / fig.height < aspect:  # wider: the caption may wrap less, so again
            _measure(fig, fonts, fig.height * aspect - 2 * MARGIN, frame)
            fig.width = max(fig.width, fig.height * aspect)  # the drawing is centred across
        fig.pad_y = max(0.0, (fig.width / aspect - fig.height) / 2)
        fig.height += 2 * fig.pad_y
    return fig


def _measure(fig: Figure, fonts: list[QFont], width: float, frame: bool) -> None:
    """The caption's lines, the legend's rows and the figure's size for a content ``width``."""
    _, text_f, _ = fig.fonts()
    if frame:  # the caption neither widens nor heightens the figure: lines are elided
        elided = [
            QFontMetricsF(f).elidedText(t, Qt.TextElideMode.ElideRight, width)
            for f, t in zip(fonts, fig.caption[:FRAME_LINES])
        ]
        fig.lines = [(t, f, QFontMetricsF(f).height()) for f, t in zip(fonts, elided)]
        slots = [QFontMetricsF(_font_for(i, fig)).height() for i in range(FRAME_LINES)]
        caption_h = sum(slots) + 2 * FRAME_LINES if fig.caption else 0.0
    else:
        fig.lines = [(t, f, _text_height(f, t, width)) for f, t in zip(fonts, fig.caption)]
        caption_h = sum(h + 2 for _, _, h in fig.lines)
    fig.width = width + 2 * MARGIN
    fig.caption_h = caption_h + (8 if fig.caption else 0)
    legend_h = 0.0
    if fig.legend:
        fig.legend_rows = _legend_rows(fig.legend, text_f, width)
        legend_h = 10 + len(fig.legend_rows) * _legend_row_h(text_f)
    fig.height = MARGIN + fig.caption_h + fig.rect.height() + legend_h + MARGIN


def _font_for(i: int, fig: Figure) -> QFont:
    title, text, mono = fig.fonts()
    if i == 0:
        return title
    # from line 3 on, the chain rule's equations: numbers line up in mono
    line = fig.caption[i] if i < len(fig.caption) else ""
    return mono if i >= 2 and not line.startswith(LOCAL) else text


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
    y = MARGIN + fig.caption_h + fig.pad_y
    target = QRectF(MARGIN + (inner - fig.rect.width()) / 2, y, fig.rect.width(), fig.rect.height())
    render = getattr(fig.source, "render_scene", None)
    with bold_items(fig.scene, fig.bold):
        if render is not None:
            render(painter, target, fig.rect)
        else:
            fig.scene.render(painter, target, fig.rect, Qt.AspectRatioMode.KeepAspectRatio)
    if fig.legend_rows:  # under the drawing; on a slide, at the bottom
        rows = len(fig.legend_rows) * _legend_row_h(fig.fonts()[1])
        top = y + fig.rect.height() + 10
        _paint_legend(painter, fig, max(top, fig.height - MARGIN - rows) if fig.pad_y else top)


@contextmanager
def bold_items(scene: QGraphicsScene, bold: bool) -> Iterator[None]:
    """Edges and borders drawn thick and dark while a figure is painted (then as before)."""
    items = [i for i in scene.items() if isinstance(i, (EdgeItem, NodeItem))] if bold else []
    for item in items:
        item.bold = True
    try:
        yield
    finally:
        for item in items:
            item.bold = False


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
