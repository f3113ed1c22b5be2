"""The layered layout of a graph: ``layered_layout`` (see ``layered``) and what it returns
(``types``), its steps (``layering``, ``simplex``, ``proper``, ``ordering``,
``crossings``, ``coordinates``, ``component``) and ``fold`` (a loop's iterations in one place).
"""

from gradstep.graph.layout.layered import DEFAULT_NODE_SIZE, layered_layout
from gradstep.graph.layout.types import EdgeId, GraphLayout, Point

__all__ = ["DEFAULT_NODE_SIZE", "EdgeId", "GraphLayout", "Point", "layered_layout"]
