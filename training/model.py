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


def load_onnx_weights(net: PlateNet, path) -> None:
    """Load the weights of an exported model into ``net`` (same architecture and width).

    The export folds each batch norm into the convolution before it; here each convolution gets
    the folded weight and its batch norm the folded bias, with unit scale and running statistics
    (so that ``net`` computes what the export computes). Raises ``ValueError`` on a mismatch."""
    import onnx
    from onnx import numpy_helper

    weights = [numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer]
    by_name = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    folded = [w for w, i in zip(weights, onnx.load(str(path)).graph.initializer, strict=True)
              if not i.name.startswith("net.head")]  # fmt: skip
    convs = [m for m in net.modules() if isinstance(m, nn.Conv1d | nn.Conv2d) and m is not net.head]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    if len(folded) != 2 * len(convs) or len(convs) != len(norms):
        raise ValueError(f"{path}: {len(folded)} folded tensors for {len(convs)} convolutions")
    with torch.no_grad():
        for conv, norm, (w, b) in zip(convs, norms, zip(folded[::2], folded[1::2], strict=True), strict=True):
            if tuple(conv.weight.shape) != w.shape:
                raise ValueError(f"{path}: weight {w.shape} for a convolution of {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w))
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(b))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        net.head.weight.copy_(torch.from_numpy(by_name["net.head.weight"]))
        net.head.bias.copy_(torch.from_numpy(by_name["net.head.bias"]))
