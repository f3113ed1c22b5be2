"""A small residual network (about 130 autograd nodes)

A benchmark scenario with skip connections: a convolution stem, nine
residual blocks of conv → batch norm → ReLU → conv → batch norm plus the
skip, global average pooling and a linear classifier.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + x)


class ResNet(nn.Module):
    def __init__(self, channels=8, blocks=9, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.blocks = nn.Sequential(*[Block(channels) for _ in range(blocks)])
        self.head = nn.Linear(channels, classes)

    def forward(self, x):
        h = F.relu(self.bn(self.stem(x)))
        h = self.blocks(h)
        h = h.mean(dim=(2, 3))
        return self.head(h)


torch.manual_seed(0)
model = ResNet()
images = torch.randn(2, 3, 8, 8)
labels = torch.tensor([3, 7])
loss = F.cross_entropy(model(images), labels)
loss.backward()
