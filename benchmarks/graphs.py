"""The benchmark autograd graphs, built with torch and turned into networkx graphs.

Each builder runs a small model forward and walks ``grad_fn.next_functions``
from the output, iteratively (deep graphs would hit Python's recursion limit),
into an ``nx.MultiDiGraph`` in the forward direction: an edge goes from the
producer of an input to the node that consumed it, keyed by the input slot.

Node ids are stable strings: a parameter's leaf is named after the parameter
(``layers.0.linear1.weight``), every other node after its discovery index in a
deterministic walk (``n17``), so building the same model twice gives the same
ids.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import torch
from torch import nn


def autograd_graph(output: torch.Tensor, names: dict[int, str] | None = None) -> nx.MultiDiGraph:
    """The autograd graph behind ``output`` as a forward-direction multigraph.

    ``names`` maps ``id(tensor)`` of leaves to readable names (parameter names).
    """
    names = names or {}
    root = output.grad_fn
    if root is None:
        raise ValueError("output has no grad_fn: nothing to walk")
    ids: dict[object, str] = {}

    def node_id(fn: object) -> str:
        if fn not in ids:
            variable = getattr(fn, "variable", None)
            name = names.get(id(variable)) if variable is not None else None
            ids[fn] = name if name is not None else f"n{len(ids)}"
        return ids[fn]

    g = nx.MultiDiGraph()
    stack = [root]
    seen = {root}
    while stack:
        fn = stack.pop()
        op = type(fn).__name__
        leaf = op == "AccumulateGrad"
        g.add_node(node_id(fn), op=op, label=op, kind="leaf" if leaf else "op")
        for slot, (producer, _output_nr) in enumerate(fn.next_functions):
            if producer is None:
                continue
            g.add_edge(node_id(producer), node_id(fn), key=slot)
            if producer not in seen:
                seen.add(producer)
                stack.append(producer)
    return g


def _param_names(model: nn.Module) -> dict[int, str]:
    return {id(p): name for name, p in model.named_parameters()}


def mlp() -> nx.MultiDiGraph:
    """A 3-layer MLP with an MSE loss (~16 nodes)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    x = torch.randn(5, 4, requires_grad=True)
    loss = nn.functional.mse_loss(model(x), torch.zeros(5, 1))
    return autograd_graph(loss, _param_names(model) | {id(x): "x"})


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.down is None else self.down(x)))


def resnet() -> nx.MultiDiGraph:
    """A small ResNet-18-like CNN (~130 nodes)."""
    torch.manual_seed(0)
    widths = [8, 16, 32, 64]
    blocks: list[nn.Module] = []
    cin = 8
    for i, w in enumerate(widths):
        blocks += [_BasicBlock(cin, w, 1 if i == 0 else 2), _BasicBlock(w, w, 1)]
        cin = w
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, 1, 1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        *blocks,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    x = torch.randn(2, 3, 16, 16)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([1, 2]))
    return autograd_graph(loss, _param_names(model))


def transformer(layers: int, dropout: float = 0.0) -> nx.MultiDiGraph:
    """A stack of ``nn.TransformerEncoderLayer`` (d_model 128), input requiring grad."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(128, 4, 256, dropout=dropout, batch_first=True)
    model = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
    model.train()
    x = torch.randn(2, 8, 128, requires_grad=True)
    names = _param_names(model) | {id(x): "x"}
    return autograd_graph(model(x).sum(), names)


def tanh_mlp(depth: int = 60) -> nx.MultiDiGraph:
    """A deep tanh MLP (``depth`` linear layers), the vanishing-gradient lesson."""
    torch.manual_seed(0)
    mods: list[nn.Module] = []
    for _ in range(depth):
        mods += [nn.Linear(16, 16), nn.Tanh()]
    model = nn.Sequential(*mods)
    loss = model(torch.randn(4, 16)).pow(2).mean()
    return autograd_graph(loss, _param_names(model))


BENCHMARK_GRAPHS: dict[str, Callable[[], nx.MultiDiGraph]] = {
    "mlp": mlp,
    "resnet": resnet,
    "transformer-6": lambda: transformer(6),
    "transformer-6-dropout": lambda: transformer(6, dropout=0.1),
    "transformer-24": lambda: transformer(24),
    "transformer-96": lambda: transformer(96),
    "tanh-mlp-60": tanh_mlp,
}
