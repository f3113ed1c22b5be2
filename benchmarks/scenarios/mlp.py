"""A three-layer MLP on a small batch

A benchmark scenario of ordinary size: `nn.Sequential` of Linear and ReLU
layers, cross-entropy on four classes, one backward pass.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(16, 32),
    nn.ReLU(),
    nn.Linear(32, 32),
    nn.ReLU(),
    nn.Linear(32, 4),
)
x = torch.randn(8, 16)
labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
logits = model(x)
loss = F.cross_entropy(logits, labels)
loss.backward()
