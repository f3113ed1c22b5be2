"""Sixty tanh layers: where the gradient vanishes

A benchmark scenario and a lesson: a deep stack of `Linear` + `tanh` layers
with small weights. The gradient reaching the first layers is many orders of
magnitude smaller than at the last ones (see the gradient-flow plot).
"""

import torch
import torch.nn as nn

torch.manual_seed(0)
layers = []
for _ in range(60):
    layers.append(nn.Linear(16, 16))
    layers.append(nn.Tanh())
model = nn.Sequential(*layers)
x = torch.randn(4, 16)
out = model(x)
loss = out.pow(2).mean()
loss.backward()
