"""The colours of the graph and panels, light and dark, as plain data.

Both the window (``gui/theme.py``, which adds fonts and Qt helpers on top) and
the lesson page (``page/``, which may not import Qt) draw with these, so a
page looks like the app and follows it when a colour changes here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Palette:
    """Colours for the scene and the panels, and the few drawing numbers the page shares."""

    dark: bool
    background: str  # graph scene and panel backgrounds
    panel: str
    text: str
    muted_text: str
    # node kinds
    leaf_fill: str
    leaf_border: str
    op_fill: str
    op_border: str
    named_fill: str  # an op that produced a scenario variable
    edge: str
    # statuses
    current: str  # the node of the current step, active edges
    current_fill: str
    received: str  # incoming gradient arrived, not computed yet
    received_fill: str
    done: str  # computed in this backward pass
    done_fill: str
    pending: str  # part of the pass, not reached yet
    grad_text: str  # gradient labels on edges
    label_fill: str
    breakpoint: str
    selected: str
    faded_opacity: float  # nodes not created yet in the forward pass
    # code view
    current_line: str
    error_line: str
    error_text: str
    # closed nn.Module boxes, and the badge where a gradient first turns NaN/Inf
    module_fill: str = "#eceaf6"
    module_border: str = "#6f62a8"
    nonfinite: str = "#d7263d"
    active_edge_width: float = 3.0
    # a status written as text on the background (the inspector's "computes … in this
    # step"): the fills above are for shapes, these read at 4.5:1 or better (WCAG AA)
    current_text: str = "#b03f00"
    received_text: str = "#8a5a00"
    done_text: str = "#1f6f30"

    def colours(self) -> dict[str, str]:
        """Every colour by field name (``"done_fill": "#c9efd2"``), for a style sheet."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and value.startswith("#"):
                out[f.name] = value
        return out


LIGHT = Palette(
    dark=False,
    background="#fbfbfc",
    panel="#f0f1f3",
    text="#1d2126",
    muted_text="#6b7280",
    leaf_fill="#fff1c2",
    leaf_border="#b7861f",
    op_fill="#e7eef8",
    op_border="#5878a8",
    named_fill="#dcebdc",
    edge="#7c8590",
    current="#e0560b",
    current_fill="#ffd8bf",
    received="#d99a00",
    received_fill="#fff0b3",
    done="#2b8a3e",
    done_fill="#c9efd2",
    pending="#9aa4b2",
    grad_text="#8a2c0a",
    label_fill="#fffaf5",
    breakpoint="#d6336c",
    selected="#1c6fd1",
    faded_opacity=0.18,
    current_line="#ffe8a3",
    error_line="#ffc9c9",
    error_text="#b00020",
)

DARK = Palette(
    dark=True,
    background="#1c1e22",
    panel="#25282d",
    text="#e6e8eb",
    muted_text="#9aa1ab",
    leaf_fill="#4a3d17",
    leaf_border="#e0b64a",
    op_fill="#243349",
    op_border="#7ea2d6",
    named_fill="#22402c",
    edge="#8d96a3",
    current="#ff8a3d",
    current_fill="#6b3414",
    received="#f5c542",
    received_fill="#5b4a12",
    done="#51cf66",
    done_fill="#1e4d2b",
    pending="#6c7583",
    grad_text="#ffc38f",
    label_fill="#2b2119",
    breakpoint="#f06595",
    selected="#4dabf7",
    faded_opacity=0.16,
    current_line="#4d4220",
    error_line="#5c2326",
    error_text="#ff8787",
    module_fill="#2e2a45",
    module_border="#a99bf0",
    nonfinite="#ff4d5e",
    current_text="#ff8a3d",
    received_text="#f5c542",
    done_text="#51cf66",
)
