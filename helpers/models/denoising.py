"""Models of notebook 04: 004.Ex3's shallow dense AE (shared-weight encoder/decoder/autoencoder)
and its convolutional denoising AE, with a layer summary for the "diabolo" shape check."""

from __future__ import annotations

import torch
from torch import nn

from .composite import EncoderHead


class DenseEncoder(nn.Module):
    """Input layer -> hidden code layer of the shallow AE (04)."""

    def __init__(self, code_size: int = 32, side: int = 28):
        super().__init__()
        self.flatten = nn.Flatten()  # 1x28x28 -> 784
        self.hidden = nn.Linear(side * side, code_size)  # 784 -> code_size
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.hidden(self.flatten(x)))


class DenseDecoder(nn.Module):
    """Hidden code -> output layer of the shallow AE, sigmoid pixels (04)."""

    def __init__(self, code_size: int = 32, side: int = 28):
        super().__init__()
        self.side = side
        self.output = nn.Linear(code_size, side * side)  # code_size -> 784
        self.act = nn.Sigmoid()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.output(z)).view(-1, 1, self.side, self.side)  # 784 -> 1x28x28


def shallow_models(code_size: int = 32, side: int = 28) -> tuple[DenseEncoder, DenseDecoder, EncoderHead]:
    """The exercise's three models (encoder, decoder, autoencoder) sharing one set of weights (04)."""
    encoder, decoder = DenseEncoder(code_size, side), DenseDecoder(code_size, side)
    return encoder, decoder, EncoderHead(encoder, decoder)  # autoencoder = decoder(encoder(x))


class ConvDenoiser(nn.Module):
    """004.Ex3's convolutional denoising AE (exactly the listed layers, 'same' padding) (04)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),  # 1x28x28 -> 32x28x28
            nn.MaxPool2d(2),  # 32x28x28 -> 32x14x14
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),  # 32x14x14 -> 64x14x14
            nn.MaxPool2d(2),  # 64x14x14 -> 64x7x7
            nn.Conv2d(64, 128, 3, padding=1),
            nn.ReLU(),  # 64x7x7 -> 128x7x7
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(128, 128, 3, padding=1),
            nn.ReLU(),  # 128x7x7 -> 128x7x7
            nn.Upsample(scale_factor=2),  # 128x7x7 -> 128x14x14
            nn.Conv2d(128, 64, 3, padding=1),
            nn.ReLU(),  # 128x14x14 -> 64x14x14
            nn.Upsample(scale_factor=2),  # 64x14x14 -> 64x28x28
            nn.Conv2d(64, 1, 3, padding=1),
            nn.Sigmoid(),  # 64x28x28 -> 1x28x28
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def layer_summary(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28)) -> list[tuple[str, tuple, int]]:
    """(layer name, output shape without batch, parameters) for every leaf layer, in call order (04)."""
    rows, hooks = [], []
    for name, module in model.named_modules():
        if not list(module.children()):
            hooks.append(
                module.register_forward_hook(
                    lambda m, i, o, name=name: rows.append(
                        (f"{name} ({type(m).__name__})", tuple(o.shape[1:]), sum(p.numel() for p in m.parameters()))
                    )
                )
            )
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    finally:
        for h in hooks:
            h.remove()
    return rows
