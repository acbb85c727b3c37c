"""Autoencoders and their parts (introduced in 02; reused by 04 denoising and 05 GAN).

- ``ConvEncoder`` / ``ConvDecoder`` / ``MLPHead``: 000's separate encoder, decoder and two-layer
  classifier MLP (d~12, optional FC bottleneck), joined by ``composite.EncoderHead``.
  003 reuses them with ``latent_dim=5`` and dropout on Fashion-MNIST.
- ``MLPAutoencoder``: 002.P5.4, four linear layers each side to a 2-D embedding.
- ``ConvAutoencoder2D``: 002.P6.1's CAE to 2-D; ``skip=True`` adds 002.P6.2's skip connections
  (pool output -> matching upsampling input). 04 (P6.3) trains the same classes on noisy inputs.

Every autoencoder has ``encode(x) -> z``, ``decode(z) -> x_hat`` and ``forward(x) -> x_hat``;
images are ``N x 1 x 28 x 28`` in [0, 1], shape comments are for that input.
"""

from __future__ import annotations

import torch
from torch import nn

from .composite import EncoderHead


class ConvEncoder(nn.Module):
    """000.1 encoder: two stride-2 3x3 convs, then an FC layer (``fc=True``) or a conv to ``d`` (02)."""

    def __init__(self, latent_dim: int = 12, fc: bool = True, width: int = 16, dropout: float = 0.0):
        super().__init__()
        if not fc and latent_dim % 4:
            raise ValueError(f"without the FC layer latent_dim must be a multiple of 4, got {latent_dim}")
        self.latent_dim, self.fc, self.width = latent_dim, fc, width
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1),  # 1x28x28 -> 16x14x14
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # 16x14x14 -> 32x7x7
            nn.ReLU(),
        )
        if fc:
            self.bottleneck = nn.Sequential(
                nn.Flatten(),  # 32x7x7 -> 1568
                nn.Dropout(dropout),
                nn.Linear(2 * width * 49, latent_dim),  # 1568 -> d
            )
        else:
            self.bottleneck = nn.Sequential(
                nn.Conv2d(2 * width, latent_dim // 4, 3, stride=3),  # 32x7x7 -> (d/4)x2x2
                nn.Flatten(),  # (d/4)x2x2 -> d
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneck(self.features(x))  # -> N x d


class ConvDecoder(nn.Module):
    """000.1 decoder, the mirror of ``ConvEncoder``: FC (or transposed conv) then two up-convs (02)."""

    def __init__(
        self, latent_dim: int = 12, fc: bool = True, width: int = 16, dropout: float = 0.0, sigmoid: bool = True
    ):
        super().__init__()
        self.latent_dim = latent_dim
        if fc:
            self.expand = nn.Sequential(
                nn.Linear(latent_dim, 2 * width * 49),  # d -> 1568
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Unflatten(1, (2 * width, 7, 7)),  # 1568 -> 32x7x7
            )
        else:
            self.expand = nn.Sequential(
                nn.Unflatten(1, (latent_dim // 4, 2, 2)),  # d -> (d/4)x2x2
                nn.ConvTranspose2d(latent_dim // 4, 2 * width, 3, stride=3, output_padding=1),  # -> 32x7x7
                nn.ReLU(),
            )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 3, stride=2, padding=1, output_padding=1),  # 32x7x7 -> 16x14x14
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 3, stride=2, padding=1, output_padding=1),  # 16x14x14 -> 1x28x28
            nn.Sigmoid() if sigmoid else nn.Identity(),  # sigmoid=False: linear pixels (L1 never saturates)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.expand(z))  # N x d -> N x 1 x 28 x 28


class MLPHead(nn.Module):
    """000.2's two-layer MLP from a latent vector to class logits (02; reused by 05's scorer)."""

    def __init__(self, latent_dim: int = 12, hidden: int = 64, n_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),  # d -> 64
            nn.ReLU(),
            nn.Linear(hidden, n_classes),  # 64 -> 10
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def conv_autoencoder(
    latent_dim: int = 12, fc: bool = True, width: int = 16, dropout: float = 0.0, sigmoid: bool = True
) -> EncoderHead:
    """000.1's convolutional AE (``ConvEncoder`` + ``ConvDecoder``; ``sigmoid=False``: linear pixels) (02)."""
    return EncoderHead(
        ConvEncoder(latent_dim, fc, width, dropout), ConvDecoder(latent_dim, fc, width, dropout, sigmoid=sigmoid)
    )


def conv_classifier(latent_dim: int = 12, hidden: int = 64, n_classes: int = 10, width: int = 16) -> EncoderHead:
    """000.2's classifier: the 000.1 encoder + a two-layer MLP (02)."""
    return EncoderHead(ConvEncoder(latent_dim, True, width), MLPHead(latent_dim, hidden, n_classes))


class MLPAutoencoder(EncoderHead):
    """002.P5.4: 784 -> 256 -> 64 -> 16 -> 2 and back, ReLU between layers, none at the embedding (02)."""

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (256, 64, 16), side: int = 28):
        sizes = [side * side, *hidden, latent_dim]  # 784, 256, 64, 16, 2
        enc: list[nn.Module] = [nn.Flatten()]  # 1x28x28 -> 784
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            enc.append(nn.Linear(a, b))  # 784->256->64->16->2
            if i < len(sizes) - 2:
                enc.append(nn.ReLU())  # none into the embedding
        dec: list[nn.Module] = []
        back = sizes[::-1]
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec.append(nn.Linear(a, b))  # 2->16->64->256->784
            dec.append(nn.ReLU() if i < len(back) - 2 else nn.Sigmoid())  # pixels in [0, 1]
        dec.append(nn.Unflatten(1, (1, side, side)))  # 784 -> 1x28x28
        super().__init__(nn.Sequential(*enc), nn.Sequential(*dec))  # encode / decode / forward
        self.side = side


class ConvAutoencoder2D(nn.Module):
    """002.P6.1's CAE to 2-D (the layers the assignment lists; the decoder convolutions, whose kernel the
    text leaves open, are 3x3 with padding 1); ``skip=True`` is 002.P6.2's version (02, 04).

    The skips add each pooling layer's output to the input of its mirror upsampling layer
    (8x7x7 after pool2 -> before up1; 4x14x14 after pool1 -> before up2). ``decode(z)`` alone
    (random codes) uses zero skips.
    """

    def __init__(self, latent_dim: int = 2, skip: bool = False):
        super().__init__()
        self.skip = skip
        self.conv1 = nn.Conv2d(1, 4, 3, stride=1, padding=1)  # 1x28x28 -> 4x28x28
        self.pool1 = nn.MaxPool2d(2, 2)  # 4x28x28 -> 4x14x14
        self.conv2 = nn.Conv2d(4, 8, 3, stride=1, padding=1)  # 4x14x14 -> 8x14x14
        self.pool2 = nn.MaxPool2d(2, 2)  # 8x14x14 -> 8x7x7
        self.fc1 = nn.Linear(392, 20)  # 8*7*7 -> 20
        self.fc2 = nn.Linear(20, latent_dim)  # 20 -> 2
        self.fc3 = nn.Linear(latent_dim, 20)  # 2 -> 20
        self.fc4 = nn.Linear(20, 392)  # 20 -> 392 (8x7x7)
        self.up1 = nn.Upsample(scale_factor=2, mode="nearest")  # 8x7x7 -> 8x14x14
        self.conv3 = nn.Conv2d(8, 4, 3, stride=1, padding=1)  # 8x14x14 -> 4x14x14
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")  # 4x14x14 -> 4x28x28
        self.conv4 = nn.Conv2d(4, 1, 3, stride=1, padding=1)  # 4x28x28 -> 1x28x28
        self.relu, self.sigmoid = nn.ReLU(), nn.Sigmoid()

    def encode_with_skips(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Images -> (codes, (pool1 output, pool2 output))."""
        p1 = self.pool1(self.relu(self.conv1(x)))  # -> 4x14x14
        p2 = self.pool2(self.relu(self.conv2(p1)))  # -> 8x7x7
        z = self.fc2(self.relu(self.fc1(p2.flatten(1))))  # -> 2
        return z, (p1, p2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> 2-D codes."""
        return self.encode_with_skips(x)[0]

    def decode(self, z: torch.Tensor, skips: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """2-D codes (plus the encoder's pooled maps when ``skip``) -> images."""
        h = self.relu(self.fc4(self.relu(self.fc3(z)))).view(-1, 8, 7, 7)  # -> 8x7x7
        if self.skip and skips is not None:
            h = h + skips[1]  # pool2 -> up1
        h = self.relu(self.conv3(self.up1(h)))  # -> 4x14x14
        if self.skip and skips is not None:
            h = h + skips[0]  # pool1 -> up2
        return self.sigmoid(self.conv4(self.up2(h)))  # -> 1x28x28

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, skips = self.encode_with_skips(x)
        return self.decode(z, skips)


def linear_autoencoder(latent_dim: int = 8, side: int = 28) -> EncoderHead:
    """002.P5.3's linear AE: one linear map down, one up, no non-linearity (compare with PCA) (02)."""
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(side * side, latent_dim))  # 1x28x28 -> 784 -> k
    decoder = nn.Sequential(nn.Linear(latent_dim, side * side), nn.Unflatten(1, (1, side, side)))  # k -> 1x28x28
    return EncoderHead(encoder, decoder)


def conv_feature_classifier(features: nn.Module, n_features: int = 32 * 49, n_classes: int = 10) -> nn.Sequential:
    """003.3: conv features (frozen or fresh) + a 10-way linear layer in place of the latent layer (02)."""
    return nn.Sequential(
        features,  # 1x28x28 -> 32x7x7
        nn.Flatten(),  # 32x7x7 -> 1568
        nn.Linear(n_features, n_classes),
    )  # 1568 -> 10
