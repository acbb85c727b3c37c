"""An autoencoder as a compression tool (notebook 04, 004.Ex3 f): bytes, ratios and PSNR per code size."""

from __future__ import annotations

import torch

from .metrics import psnr


def quantise_8bit(codes: torch.Tensor) -> torch.Tensor:
    """Codes rounded to 256 levels between their global min and max, then mapped back (04)."""
    lo, hi = codes.min(), codes.max()
    scale = (hi - lo).clamp_min(1e-12) / 255
    return torch.round((codes - lo) / scale) * scale + lo


def compression_row(code_size: int, images: torch.Tensor, codes: torch.Tensor, decode) -> dict:
    """Bytes per image (raw 8-bit pixels vs float32 / 8-bit codes), ratios and PSNR at one code size (04)."""
    raw = images[0].numel()  # one byte per 8-bit pixel
    with torch.no_grad():
        rec32 = decode(codes).reshape(images.shape)
        rec8 = decode(quantise_8bit(codes)).reshape(images.shape)
    return {
        "code_size": code_size,
        "raw_bytes": raw,
        "code_bytes_f32": 4 * code_size,
        "code_bytes_u8": code_size,
        "ratio_f32": raw / (4 * code_size),
        "ratio_u8": raw / code_size,
        "mse": torch.mean((images - rec32) ** 2).item(),
        "psnr_f32": psnr(images, rec32),
        "psnr_u8": psnr(images, rec8),
    }
