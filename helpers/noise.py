"""Corruption processes for denoising (notebook 04): Gaussian pixel noise and 002.P5.2's 2-D process."""

from __future__ import annotations

import torch


def gaussian_noise(
    x: torch.Tensor, sigma: float = 0.3, clip: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """x + eps with eps ~ N(0, sigma^2) (sigma is the standard deviation); clipped to [0, 1] if ``clip`` (04).

    Clipping keeps corrupted images valid pixel intensities (the clean ones lie in [0, 1]); it
    biases the noise near 0 and 1, so statistics tests use ``clip=False``.
    """
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device) * sigma
    noisy = x + eps
    return noisy.clamp(0.0, 1.0) if clip else noisy


class GaussianNoise:
    """``gaussian_noise`` with a fixed ``sigma`` as a corruption for the trainer (04).

    Its ``repr`` names the noise level, so a stored denoising run is reused only for the same
    noise (a lambda would hide ``sigma`` from the run's identity).
    """

    def __init__(self, sigma: float = 0.3, clip: bool = True):
        self.sigma, self.clip = float(sigma), clip

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_noise(x, self.sigma, self.clip)

    def __repr__(self) -> str:
        return f"GaussianNoise(sigma={self.sigma}, clip={self.clip})"


def parabola_samples(n: int = 500, low: float = -2.0, high: float = 2.0, seed: int = 0) -> torch.Tensor:
    """``n`` clean points (x, x^2) with x uniform on [low, high] (002.P5.2's 2-D data set; 04)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g) * (high - low) + low
    return torch.stack([x, x**2], 1)


def corrupt_2d(points: torch.Tensor, sigma: float = 0.3, seed: int = 0) -> torch.Tensor:
    """Draw x~ from C(x~|x) = N(x~; x, sigma^2 I): isotropic Gaussian noise on each 2-D point (04)."""
    g = torch.Generator().manual_seed(seed)
    return points + sigma * torch.randn(points.shape, generator=g)
