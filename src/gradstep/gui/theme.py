"""Colours and fonts of the window: light and dark, normal and presentation.

Every colour the GUI draws comes from here, so exports and legends match the
screen; the light and dark colours themselves are in ``gradstep.palette``,
which the lesson page shares. ``Theme.legend()`` lists what each status colour means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette

from gradstep.palette import DARK as DARK_COLOURS
from gradstep.palette import LIGHT as LIGHT_COLOURS
from gradstep.palette import Palette

# Node visual states, in the order a legend lists them.
NODE_STATES = ("absent", "normal", "pending", "received", "done", "current")
EDGE_STATES = ("absent", "normal", "done", "active")


@dataclass(frozen=True)
class LegendEntry:
    """One line of a legend: a swatch (node or edge) and what it means."""

    label: str
    shape: str  # "leaf", "op" or "edge"
    fill: str
    border: str
    width: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Theme(Palette):
    """A palette (``gradstep.palette``: shared with the lesson page) plus fonts and zoom."""

    name: str
    font_scale: float = 1.0
    node_font_pt: float = 9.0
    max_fit_scale: float = 1.6
    edge_width: float = 1.0  # px, an edge not carrying a gradient now (wider: costlier)

    # ---------------------------------------------------------------- helpers
    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))

    def node_border(self, state: str, kind: str) -> str:
        return {
            "current": self.current,
            "received": self.received,
            "done": self.done,
            "pending": self.pending,
        }.get(
            state,
            {"leaf": self.leaf_border, "module": self.module_border}.get(kind, self.op_border),
        )

    def node_fill(self, state: str, kind: str, named: bool) -> str:
        if state == "normal" and kind == "module":
            return self.module_fill
        if state == "current":
            return self.current_fill
        if state == "received":
            return self.received_fill
        if state == "done":
            return self.done_fill
        if kind == "leaf":
            return self.leaf_fill
        return self.named_fill if named else self.op_fill

    def edge_color(self, state: str) -> str:
        return {"active": self.current, "done": self.done}.get(state, self.edge)

    def legend(self) -> list[LegendEntry]:
        """What the colours of the graph mean, for a legend drawn by an exporter."""
        return [
            LegendEntry("leaf tensor", "leaf", self.leaf_fill, self.leaf_border),
            LegendEntry("operation (grad_fn)", "op", self.op_fill, self.op_border),
            LegendEntry("named intermediate", "op", self.named_fill, self.op_border),
            LegendEntry("current node", "op", self.current_fill, self.current, 3.0),
            LegendEntry("gradient received", "op", self.received_fill, self.received, 2.0),
            LegendEntry("done in this pass", "op", self.done_fill, self.done, 2.0),
            LegendEntry("waiting in this pass", "op", self.op_fill, self.pending, 2.0),
            LegendEntry("gradient flowing now", "edge", self.current, self.current, 3.0),
            LegendEntry("gradient computed", "edge", self.done, self.done, 1.0),
        ]

    def ui_font(self, scale: float = 1.0) -> QFont:
        font = QFont(QGuiApplication.font())
        font.setPointSizeF(_base_point_size() * self.font_scale * scale)
        return font

    def mono_font(self, scale: float = 1.0) -> QFont:
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(_base_point_size() * self.font_scale * scale)
        return font

    def node_font(self, bold: bool = False) -> QFont:
        font = QFont(QGuiApplication.font())
        font.setPointSizeF(self.node_font_pt)
        font.setBold(bold)
        return font

    def palette(self) -> QPalette:
        pal = QPalette()
        bg, panel, text = QColor(self.background), QColor(self.panel), QColor(self.text)
        for role, colour in (
            (QPalette.ColorRole.Window, panel),
            (QPalette.ColorRole.Base, bg),
            (QPalette.ColorRole.AlternateBase, panel),
            (QPalette.ColorRole.Button, panel),
            (QPalette.ColorRole.WindowText, text),
            (QPalette.ColorRole.Text, text),
            (QPalette.ColorRole.ButtonText, text),
            (QPalette.ColorRole.ToolTipBase, bg),
            (QPalette.ColorRole.ToolTipText, text),
            (QPalette.ColorRole.PlaceholderText, QColor(self.muted_text)),
            (QPalette.ColorRole.Highlight, QColor(self.selected)),
            (QPalette.ColorRole.HighlightedText, readable_on(QColor(self.selected))),
            (QPalette.ColorRole.Link, QColor(self.selected)),
        ):
            pal.setColor(role, colour)
        pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(self.muted_text))
        pal.setColor(
            QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(self.muted_text)
        )
        return pal


def luminance(colour: QColor) -> float:
    """WCAG's relative luminance of ``colour`` (0 black … 1 white)."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in (colour.redF(), colour.greenF(), colour.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def readable_on(background: QColor) -> QColor:
    """White or near-black text, whichever reads better on ``background`` (white on the
    dark theme's light blue selection is 2.5:1; WCAG asks 4.5:1)."""
    lum = luminance(background)
    white, black = 1.05 / (lum + 0.05), (lum + 0.05) / (luminance(QColor("#111418")) + 0.05)
    return QColor("#ffffff") if white >= black else QColor("#111418")


_BASE_PT: list[float] = []


def _base_point_size() -> float:
    """The application's font size before any presentation scaling."""
    if not _BASE_PT:
        size = QGuiApplication.font().pointSizeF()
        _BASE_PT.append(size if size > 0 else 10.0)
    return _BASE_PT[0]


LIGHT = Theme(name="light", **asdict(LIGHT_COLOURS))
DARK = Theme(name="dark", **asdict(DARK_COLOURS))


def presentation(theme: Theme) -> Theme:
    """The same theme, larger and with stronger contrast, for a lecture hall."""
    if theme.dark:
        return replace(
            theme,
            name="dark-presentation",
            background="#000000",
            panel="#111111",
            text="#ffffff",
            muted_text="#c8c8c8",
            edge="#c8ced6",
            pending="#a3acb9",
            font_scale=1.7,
            node_font_pt=15.0,
            max_fit_scale=3.0,
            active_edge_width=6.0,
            edge_width=2.5,
        )
    return replace(
        theme,
        name="light-presentation",
        background="#ffffff",
        panel="#ffffff",
        text="#000000",
        muted_text="#3a3f45",
        edge="#3d4550",
        op_border="#1f3f75",
        leaf_border="#7a5400",
        pending="#5c6673",
        font_scale=1.7,
        node_font_pt=15.0,
        max_fit_scale=3.0,
        active_edge_width=6.0,
        edge_width=2.5,
    )


def system_prefers_dark() -> bool:
    """Whether the desktop asks for dark colours (Qt ≥ 6.5 knows; else guess from the palette)."""
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    if not _SYSTEM_WINDOW_LIGHTNESS:  # before our own palette replaces the system's
        window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
        _SYSTEM_WINDOW_LIGHTNESS.append(window.lightness())
    return _SYSTEM_WINDOW_LIGHTNESS[0] < 128


_SYSTEM_WINDOW_LIGHTNESS: list[int] = []


def choose_theme(mode: str = "system", *, presenting: bool = False) -> Theme:
    """``mode`` is "system", "light" or "dark"."""
    dark = system_prefers_dark() if mode == "system" else mode == "dark"
    theme = DARK if dark else LIGHT
    return presentation(theme) if presenting else theme
