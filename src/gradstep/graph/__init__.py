"""The autograd graph of a trace and its layered layout (no torch, no Qt)."""

from gradstep.graph.model import build_graph, node_label, short_op

__all__ = ["build_graph", "node_label", "short_op"]
