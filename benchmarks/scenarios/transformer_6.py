"""A stack of 6 transformer encoder layers (d_model 128, 4 heads)

A benchmark scenario for big graphs: `nn.TransformerEncoder` with 6 layers,
a sequence of 8 tokens, a batch of 2, and a mean-squared loss on the output.
In the window each layer is one box until it is opened.
"""

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.TransformerEncoder(
    nn.TransformerEncoderLayer(
        d_model=128, nhead=4, dim_feedforward=256, dropout=0.0, batch_first=True
    ),
    num_layers=6,
    enable_nested_tensor=False,
)
x = torch.randn(2, 8, 128)
target = torch.randn(2, 8, 128)
out = model(x)
loss = (out - target).pow(2).mean()
loss.backward()
