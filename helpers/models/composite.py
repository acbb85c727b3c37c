"""The one composite model of the workbook: an encoder followed by a head (introduced in 02).

``EncoderHead(encoder, head)`` is ``head(encoder(x))`` with ``encode(x)`` and ``decode(z)`` (the
head applied to codes). The head is a decoder for autoencoders (000.1, 002.P5.3/P5.4, 004.Ex3's
shallow AE), a classifier for 000.2/000.4/000.5 and 05's scorer, and a new classification head on
a pretrained backbone for 004.Ex2 (``flatten=True``). ``freeze``/``unfreeze`` make a part fixed or
trainable again.
"""

from __future__ import annotations

import torch
from torch import nn


class EncoderHead(nn.Module):
    """``head(encoder(x))``: encoder + decoder (an autoencoder) or encoder + classifier head (02)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, flatten: bool = False):
        super().__init__()
        self.encoder, self.head, self.flatten = encoder, head, flatten

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs -> codes (features), flattened to ``N x F`` when ``flatten``."""
        z = self.encoder(x)
        return z.flatten(1) if self.flatten else z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes -> the head's output (reconstructions for an autoencoder, logits for a classifier)."""
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients for ``module`` and keep it in eval mode (fixed batch-norm statistics, no
    dropout) even when its parent trains (000.3, 003.3, 004.Ex2) (02)."""
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    module.train = lambda mode=True: module  # stays in eval mode when the parent trains
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Let ``module`` train again (undoes :func:`freeze`) (03)."""
    for p in module.parameters():
        p.requires_grad_(True)
    if "train" in module.__dict__:
        del module.train
    module.train()
    return module
