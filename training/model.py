"""The recogniser network (torch): a small all-convolutional CTC model, exported to ONNX.

Input ``(n, 3, 32, W)`` (W a multiple of 4); a conv stack brings the height to 1 and the width
to ``W / 4`` frames, dilated 1-D convolutions give each frame context across the line, and a
1x1 convolution scores ``1 + len(charset)`` classes per frame (class 0 = CTC blank).
Convolutions only, so the ONNX export is plain and fast on one CPU core.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int | tuple[int, int] = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Context(nn.Module):
    """A residual dilated 1-D convolution over the frames."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.norm(self.conv(x)))


class PlateNet(nn.Module):
    """CTC recogniser; ``forward`` returns log-probabilities ``(n, T, classes)``."""

    def __init__(self, classes: int, width: int = 1) -> None:
        super().__init__()
        c = [int(v * width) for v in (32, 64, 96, 128, 160)]
        self.features = nn.Sequential(
            _conv(3, c[0], 2),  # 16 x W/2
            _conv(c[0], c[1]),
            nn.MaxPool2d(2),  # 8 x W/4
            _conv(c[1], c[2]),
            _conv(c[2], c[2]),
            nn.MaxPool2d((2, 1)),  # 4 x W/4
            _conv(c[2], c[3]),
            nn.Conv2d(c[3], c[4], (4, 1), bias=False),  # 1 x W/4
            nn.BatchNorm2d(c[4]),
            nn.ReLU(inplace=True),
        )
        self.context = nn.Sequential(_Context(c[4], 1), _Context(c[4], 2), _Context(c[4], 4), nn.Dropout(0.1))
        self.head = nn.Conv1d(c[4], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).squeeze(2)  # (n, C, T)
        return torch.log_softmax(self.head(self.context(f)), dim=1).transpose(1, 2)


class Exported(nn.Module):
    """The ONNX graph: probabilities ``(n, T, classes)`` as ``ocr.plate_rec`` expects."""

    def __init__(self, net: PlateNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.net(x))
