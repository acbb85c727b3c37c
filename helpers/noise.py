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


def noise_gain(out_a: torch.Tensor, out_b: torch.Tensor, noisy_a: torch.Tensor, noisy_b: torch.Tensor) -> torch.Tensor:
    """Per image, the share of the input's noise that reaches a denoiser's output (04).

    ``noisy_a`` and ``noisy_b`` are two independently corrupted copies of the same clean images and
    ``out_a``, ``out_b`` the model's outputs on them. The gain is the least-squares slope of the
    output difference on the input difference, ``sum((oa - ob) * (xa - xb)) / sum((xa - xb)**2)``:
    1 for the identity map, 0 for an output that does not depend on the noise draw. Anything the
    output computes from the clean image alone (a blur, a grey background, a prototype) cancels in
    both differences, so unlike a distance to the noisy input it is not confounded by the clipped
    noise's non-zero mean.
    """
    d_out, d_in = (out_a - out_b).flatten(1), (noisy_a - noisy_b).flatten(1)
    return (d_out * d_in).sum(1) / (d_in * d_in).sum(1).clamp_min(1e-12)


def per_image_mse(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image against its reference (04: paired margins over test images)."""
    return ((reference - estimate) ** 2).flatten(1).mean(1)
