"""Text widths without Qt: the node boxes of the page are the app's boxes.

The app sizes a node from its font's metrics (DejaVu Sans 9 pt, 12 px, bold title
over a 0.85× subtitle, see ``gui/graph/items.py``). The same advance widths, in
font units (2048 per em) for ASCII, give the same boxes here (within Qt's kerning,
a pixel or two), so the layered layout puts every node where the app does; the page then draws in DejaVu Sans (or a
similar wide sans) and squeezes a label that a substitute font makes too wide.
"""

from __future__ import annotations

UNITS = 2048
LINE = (1901 + 483) / UNITS  # DejaVu Sans ascent + descent, in em
TITLE_PX = 12.0  # 9 pt at 96 dpi, bold
SUBTITLE_PX = 10.0  # 0.85 × 9 pt, as Qt rounds it
PAD_X, PAD_Y = 10.0, 6.0  # as the app's node items
OTHER = 0.62  # em, for characters beyond ASCII


def _units(text: str) -> tuple[int, ...]:
    return tuple(int(u) for u in text.split())


# advance widths of " " .. "~", generated from the DejaVu Sans fonts
_BOLD = _units(
    "713 934 1067 1716 1425 2052 1786 627 936 936 1071 1716 778 850 778 748 "
    "1425 1425 1425 1425 1425 1425 1425 1425 1425 1425 819 819 1716 1716 1716 1188 "
    "2048 1585 1561 1503 1700 1399 1399 1681 1714 762 762 1587 1305 2038 1714 1741 "
    "1501 1741 1577 1475 1397 1663 1585 2259 1579 1483 1485 936 748 936 1716 1024 "
    "1024 1382 1466 1214 1466 1389 891 1466 1458 702 702 1362 702 2134 1458 1407 "
    "1466 1466 1010 1219 979 1458 1335 1892 1321 1335 1192 1458 748 1458 1716"
)

_REGULAR = _units(
    "651 821 942 1716 1303 1946 1597 563 799 799 1024 1716 651 739 651 690 "
    "1303 1303 1303 1303 1303 1303 1303 1303 1303 1303 690 690 1716 1716 1716 1087 "
    "2048 1401 1405 1430 1577 1294 1178 1587 1540 604 604 1343 1141 1767 1532 1612 "
    "1235 1612 1423 1300 1251 1499 1401 2025 1403 1251 1403 799 690 799 1716 1024 "
    "1024 1255 1300 1126 1300 1260 721 1300 1298 569 569 1186 569 1995 1298 1253 "
    "1300 1300 842 1067 803 1298 1212 1675 1212 1212 1075 1303 690 1303 1716"
)


def text_width(text: str, px: float, *, bold: bool = False) -> float:
    """The advance of ``text`` at ``px`` pixels per em."""
    table = _BOLD if bold else _REGULAR
    units = 0.0
    for ch in text:
        c = ord(ch) - 32
        units += table[c] if 0 <= c < len(table) else OTHER * UNITS
    return units / UNITS * px


def node_size(title: str, subtitle: str) -> tuple[float, float]:
    """A node's box, as the app's ``node_size``: widest line plus padding, at least 3.2 lines wide."""
    title_h = LINE * TITLE_PX
    width = text_width(title, TITLE_PX, bold=True)
    if subtitle:
        width = max(width, text_width(subtitle, SUBTITLE_PX))
    height = title_h + (LINE * SUBTITLE_PX if subtitle else 0.0)
    return (max(width + 2 * PAD_X, 3.2 * title_h), height + 2 * PAD_Y)


def constant_size(title: str) -> tuple[float, float]:
    """A constant input's small pill, as the app's ``constant_size``."""
    return (text_width(title, SUBTITLE_PX) + 1.4 * PAD_X, LINE * SUBTITLE_PX + PAD_Y)
