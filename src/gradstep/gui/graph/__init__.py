"""The graph panel: the view and its scene, items and their batched building, the
background layout job, keys, module boxes, the context menu, the minimap and search.

What is drawn at a step is worked out without Qt in ``gradstep.graph.drawing``.
"""
