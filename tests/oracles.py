"""PyTorch's own answers for the bundled lessons, shared by the core and the GUI tests
(``tests/`` is on the path through its conftest): the oracle every gradient is checked against."""

from __future__ import annotations

import torch


def torch_lesson05() -> dict[str, float]:
    """Lesson 05's gradients by PyTorch itself: what each node sends back, by its target
    as the trace labels it (``w * x`` is the product's node; ``w`` and ``b`` the leaves)."""
    x, y = torch.tensor(6.7), torch.tensor(0.0)
    w = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    wx = w * x
    z = wx + b
    y_pred = torch.sigmoid(z)
    loss = torch.nn.functional.binary_cross_entropy(y_pred, y)
    g = torch.autograd.grad(loss, [y_pred, z, wx, w, b])
    return {k: v.item() for k, v in zip(["y_pred", "z", "w * x", "w", "b"], g)}
