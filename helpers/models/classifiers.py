"""CNN classifiers (introduced in 01; reused as feature extractors in 03 and 05).

All take ``C x H x W`` images (28x28 grey by default, 32x32 colour for CIFAR-10) and return
class logits. Shape comments are for a 1x28x28 input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FortyFilterCNN(nn.Module):
    """002.P4.2's CNN: 40 first-layer 5x5 filters, then a small conv + MLP head (01)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28):
        super().__init__()
        side = image_size // 4
        self.conv1 = nn.Conv2d(in_channels, 40, 5, padding=2)  # 1x28x28 -> 40x28x28
        self.pool = nn.MaxPool2d(2)  # halves H and W
        self.conv2 = nn.Conv2d(40, 32, 3, padding=1)  # 40x14x14 -> 32x14x14
        self.fc1 = nn.Linear(32 * side * side, 128)  # 32*7*7 -> 128
        self.fc2 = nn.Linear(128, n_classes)  # 128 -> 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))  # -> 40x14x14
        x = self.pool(F.relu(self.conv2(x)))  # -> 32x7x7
        return self.fc2(F.relu(self.fc1(x.flatten(1))))  # -> 10


def conv_bn(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv (same padding) + batch norm + ReLU, the building block of the 004.Ex1 nets (01)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SequentialCNN(nn.Module):
    """004.Ex1 model 1, the sequential baseline: two conv stages and a linear head (01)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(in_channels, width),  # 1x28x28 -> 32x28x28
            nn.MaxPool2d(2),  # -> 32x14x14
            conv_bn(width, 2 * width),  # -> 64x14x14
            nn.MaxPool2d(2),  # -> 64x7x7
            conv_bn(2 * width, 2 * width),  # -> 64x7x7
            nn.AdaptiveAvgPool2d(1),  # -> 64x1x1
        )
        self.head = nn.Linear(2 * width, n_classes)  # 64 -> 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class InceptionBlock(nn.Module):
    """Parallel 1x1, 3x3, 5x5 (as two 3x3) and pool paths, concatenated ("multiple paths") (01)."""

    def __init__(self, in_channels: int, branch: int):
        super().__init__()
        self.path1 = conv_bn(in_channels, branch, 1)  # C -> b
        self.path3 = nn.Sequential(conv_bn(in_channels, branch, 1), conv_bn(branch, branch, 3))
        self.path5 = nn.Sequential(
            conv_bn(in_channels, branch, 1), conv_bn(branch, branch, 3), conv_bn(branch, branch, 3)
        )  # 5x5 field
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(in_channels, branch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = [self.path1(x), self.path3(x), self.path5(x), self.pool(x)]
        return torch.cat(paths, dim=1)  # -> 4b x H x W


class InceptionCNN(nn.Module):
    """004.Ex1 model 2: a stem and two inception blocks (parallel branches) (01)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, branch: int = 16):
        super().__init__()
        self.stem = conv_bn(in_channels, 32)  # 1x28x28 -> 32x28x28
        self.pool = nn.MaxPool2d(2)
        self.block1 = InceptionBlock(32, branch)  # 32x14x14 -> 64x14x14
        self.block2 = InceptionBlock(4 * branch, branch)  # 64x7x7 -> 64x7x7
        self.gap = nn.AdaptiveAvgPool2d(1)  # -> 64x1x1
        self.head = nn.Linear(4 * branch, n_classes)  # 64 -> 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stem(x))  # -> 32x14x14
        x = self.pool(self.block1(x))  # -> 64x7x7
        x = self.block2(x)  # -> 64x7x7
        return self.head(self.gap(x).flatten(1))


class ResidualBlock(nn.Module):
    """Two 3x3 convs plus an identity (or 1x1 projection) shortcut: a second feature path (01)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn(in_channels, out_channels, 3, stride)  # C x H x W -> C' x H/s x W/s
        self.conv2 = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels)
        )  # same shape
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        )  # projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResidualCNN(nn.Module):
    """004.Ex1 model 3: a small ResNet (stem + three residual blocks) (01)."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 32):
        super().__init__()
        self.stem = conv_bn(in_channels, width)  # 1x28x28 -> 32x28x28
        self.layer1 = ResidualBlock(width, width, stride=2)  # -> 32x14x14
        self.layer2 = ResidualBlock(width, 2 * width, stride=2)  # -> 64x7x7
        self.layer3 = ResidualBlock(2 * width, 2 * width)  # -> 64x7x7
        self.gap = nn.AdaptiveAvgPool2d(1)  # -> 64x1x1
        self.head = nn.Linear(2 * width, n_classes)  # 64 -> 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.head(self.gap(x).flatten(1))


class ExamplesMNISTNet(nn.Module):
    """The pytorch/examples ``mnist/main.py`` network, for the data-pipeline benchmark (01)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)  # 1x28x28 -> 32x26x26
        self.conv2 = nn.Conv2d(32, 64, 3, 1)  # -> 64x24x24, pooled to 64x12x12
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)  # 64*12*12 -> 128
        self.fc2 = nn.Linear(128, 10)  # 128 -> 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout1(x).flatten(1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)  # logits (the example's log_softmax + NLL == CE)


def architecture_columns(model: nn.Module) -> dict[str, str]:
    """The conv layers of ``model`` as table columns: count, filters in order (``16 x14``: fourteen
    16-filter convs in a row), and each distinct
    kernel / stride / padding with how often it occurs (004.Ex1's results table; 01)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layers to describe")
    shapes: dict[str, int] = {}
    for conv in convs:
        shape = f"{conv.kernel_size[0]}x{conv.kernel_size[1]}/s{conv.stride[0]}/p{conv.padding[0]}"
        shapes[shape] = shapes.get(shape, 0) + 1
    runs: list[list[int]] = []  # filters in order, equal neighbours run-length coded
    for conv in convs:
        if runs and runs[-1][0] == conv.out_channels:
            runs[-1][1] += 1
        else:
            runs.append([conv.out_channels, 1])
    return {
        "conv layers": str(len(convs)),
        "filters": ", ".join(f"{c}" + (f" x{n}" if n > 1 else "") for c, n in runs),
        "kernel/stride/padding": ", ".join(f"{k} x{n}" for k, n in shapes.items()),
    }


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output side of a conv or pooling layer: floor((n + 2p - d(k-1) - 1) / s) + 1 (002.P4.1; 01)."""
    if min(size, kernel, stride) < 1 or padding < 0:
        raise ValueError(f"need size, kernel, stride >= 1 and padding >= 0; got {size, kernel, stride, padding}")
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}x{kernel} window does not fit a {size}-pixel input with padding {padding}")
    return out
