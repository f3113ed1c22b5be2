"""What a layout says: where every node's centre and every edge's polyline go.

Apart from the algorithm that computes it, so that the steps of the algorithm
(``crossings``, ``fold``) and the readers of a layout (the drawing, the GUI,
the benchmarks) can name it without importing the algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]
EdgeId = tuple[str, str, int]


@dataclass
class GraphLayout:
    """Where everything goes; layout units, y grows downward.

    Without ``previous`` the drawing's box is ``[0, width] x [0, height]``;
    a layout made with ``previous`` is translated into the previous one's
    frame, so its box may start elsewhere (``width``/``height`` stay its
    extent).
    """

    positions: dict[str, Point]  # node id -> centre (x, y)
    layers: dict[str, int]  # node id -> layer index (0 = first in forward direction)
    order: list[list[str]]  # real node ids per layer, in drawing order
    edge_points: dict[EdgeId, list[Point]]  # (u, v, key) -> polyline, endpoints included
    width: float
    height: float
