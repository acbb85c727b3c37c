"""DCGAN generator and discriminator sized for 28x28 or 64x64 grey images (introduced in 05).

Radford et al.'s recipe: transposed convolutions with batch norm and ReLU, a tanh output in
[-1, 1]; a strided-conv discriminator with LeakyReLU(0.2) and no pooling; weights drawn from
N(0, 0.02) (batch-norm scales from N(1, 0.02)). Shape comments are for width 64 and 1 channel.
"""

from __future__ import annotations

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation, applied with ``model.apply(dcgan_init)`` (05)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _up(cin: int, cout: int, k: int = 4, s: int = 2, p: int = 1) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


def _down(cin: int, cout: int, bn: bool = True) -> list[nn.Module]:
    return (
        [nn.Conv2d(cin, cout, 4, 2, 1, bias=not bn)]
        + ([nn.BatchNorm2d(cout)] if bn else [])
        + [nn.LeakyReLU(0.2, True)]
    )


class Generator(nn.Module):
    """DCGAN generator: a latent vector to a tanh image of side 28 or 64 (05)."""

    def __init__(self, latent_dim: int = 100, image_size: int = 28, width: int = 64, channels: int = 1):
        super().__init__()
        if image_size not in (28, 64):
            raise ValueError(f"image_size must be 28 or 64, got {image_size}")
        self.latent_dim, self.image_size = latent_dim, image_size
        w = width
        if image_size == 28:
            layers = (
                _up(latent_dim, 2 * w, 7, 1, 0)  # 100x1x1 -> 128x7x7
                + _up(2 * w, w)  # -> 64x14x14
                + [nn.ConvTranspose2d(w, channels, 4, 2, 1)]
            )  # -> 1x28x28
        else:
            layers = (
                _up(latent_dim, 8 * w, 4, 1, 0)  # 100x1x1 -> 512x4x4
                + _up(8 * w, 4 * w)  # -> 256x8x8
                + _up(4 * w, 2 * w)  # -> 128x16x16
                + _up(2 * w, w)  # -> 64x32x32
                + [nn.ConvTranspose2d(w, channels, 4, 2, 1)]
            )  # -> 1x64x64
        self.net = nn.Sequential(*layers, nn.Tanh())  # values in [-1, 1]
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), -1, 1, 1))


class Discriminator(nn.Module):
    """DCGAN discriminator: an image of side 28 or 64 to one real/fake logit (05)."""

    def __init__(self, image_size: int = 28, width: int = 64, channels: int = 1):
        super().__init__()
        if image_size not in (28, 64):
            raise ValueError(f"image_size must be 28 or 64, got {image_size}")
        w = width
        if image_size == 28:
            layers = (
                _down(channels, w, bn=False)  # 1x28x28 -> 64x14x14
                + _down(w, 2 * w)  # -> 128x7x7
                + [nn.Conv2d(2 * w, 1, 7, 1, 0)]
            )  # -> 1x1x1
        else:
            layers = (
                _down(channels, w, bn=False)  # 1x64x64 -> 64x32x32
                + _down(w, 2 * w)  # -> 128x16x16
                + _down(2 * w, 4 * w)  # -> 256x8x8
                + _down(4 * w, 8 * w)  # -> 512x4x4
                + [nn.Conv2d(8 * w, 1, 4, 1, 0)]
            )  # -> 1x1x1
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()  # N logits
