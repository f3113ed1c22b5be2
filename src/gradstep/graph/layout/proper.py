"""The proper layered graph: every edge spans exactly one layer.

A long edge is split by dummy vertices, one on each layer it passes, so
that crossing reduction and coordinate assignment only ever look at
adjacent layers. Vertices ``0..n_real-1`` are the graph's nodes; dummies
follow. Parallel edges are one bundle, drawn through one chain of dummies;
the bundle's multiplicity is kept by repeating the neighbour in ``up`` and
``down``, so that crossing counts stay exact per edge.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ProperGraph:
    """A layered graph whose edges all join adjacent layers."""

    n_real: int
    layer: list[int]  # vertex -> layer index
    up: list[list[int]]  # vertex -> neighbours on the layer above, in input-slot order
    down: list[list[int]]  # vertex -> neighbours on the layer below
    chains: list[list[int]]  # bundle -> its vertices from tail to head
    depth: int  # number of layers

    @property
    def size(self) -> int:
        return len(self.layer)


def make_proper(n: int, layer: list[int], bundles: list[tuple[int, int, int]]) -> ProperGraph:
    """Split the long ones among ``bundles`` (``(tail, head, multiplicity)``, tail above head).

    ``bundles`` must be sorted the way inputs should read left to right: the
    order of each head's ``up`` list follows it.
    """
    layer = list(layer)
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    chains: list[list[int]] = []
    for tail, head, mult in bundles:
        if layer[head] == layer[tail] + 1:  # most edges: no dummy
            if mult == 1:
                down[tail].append(head)
                up[head].append(tail)
            else:
                down[tail].extend([head] * mult)
                up[head].extend([tail] * mult)
            chains.append([tail, head])
            continue
        chain = [tail]
        for lay in range(layer[tail] + 1, layer[head]):
            dummy = len(layer)
            layer.append(lay)
            up.append([])
            down.append([])
            chain.append(dummy)
        chain.append(head)
        for a, b in zip(chain, chain[1:]):
            down[a].extend([b] * mult)
            up[b].extend([a] * mult)
        chains.append(chain)
    return ProperGraph(n, layer, up, down, chains, (max(layer) + 1) if layer else 0)
