"""Pretrained torchvision backbones with exchangeable heads, freezing and unfreezing (03, 004.Ex2).

Backbones are chosen with torchvision's ``weights=`` API: ``resnet18`` (the classic residual
reference, 11.7 M parameters, 512 features) and ``mobilenet_v3_large`` / ``efficientnet_b0``
(light ones: 5.5 M / 5.3 M parameters, cheap on a CPU or a phone). ``weights=None`` builds the
same architecture with random weights: that is what the tests use offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .composite import EncoderHead, freeze, unfreeze

BACKBONES = {
    # name: (attribute holding the classifier to drop, feature size, name of the last block)
    "resnet18": ("fc", 512, "layer4"),
    "mobilenet_v3_large": ("classifier", 960, "features.16"),
    "efficientnet_b0": ("classifier", 1280, "features.8"),
}


class WeightsDownloadError(RuntimeError):
    """Pretrained weights could not be downloaded; the message names ``TORCH_HOME``."""


def torch_home() -> Path:
    """Where torchvision caches downloaded weights (``$TORCH_HOME``, default ``~/.cache/torch``) (03)."""
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))


def _resolve_weights(name: str, weights):
    import torchvision.models as tvm

    if weights is None or not isinstance(weights, str):
        return weights
    return tvm.get_model_weights(name).DEFAULT if weights == "DEFAULT" else tvm.get_model_weights(name)[weights]


class Backbone(nn.Module):
    """A torchvision classification network without its classifier: images -> feature vectors (03)."""

    def __init__(self, name: str, weights="DEFAULT"):
        import torchvision.models as tvm

        super().__init__()
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
        head_attr, self.out_features, self.last_block = BACKBONES[name]
        self.name, self.weights = name, _resolve_weights(name, weights)
        try:
            net = tvm.get_model(name, weights=self.weights)
        except (OSError, RuntimeError) as error:  # URLError is an OSError
            raise WeightsDownloadError(
                f"could not download the {name} weights {self.weights} ({error}). They are cached under "
                f"TORCH_HOME={torch_home()} (set TORCH_HOME to a folder holding "
                f"hub/checkpoints/*.pth, or run once on a machine with internet)."
            ) from None
        setattr(net, head_attr, nn.Identity())  # 3x224x224 -> out_features
        self.net = net

    def transforms(self):
        """The preprocessing that belongs to the weights (resize, crop, ImageNet normalisation)."""
        if self.weights is None:
            raise ValueError("weights=None has no preprocessing of its own")
        return self.weights.transforms()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # Bx3x224x224 -> Bxout_features


def make_head(kind: str, in_features: int, n_classes: int, hidden: int = 256, dropout: float = 0.5) -> nn.Module:
    """A classification head: ``linear``, ``mlp`` (one hidden layer + dropout) or ``mlp2`` (two) (03)."""
    if kind == "linear":
        return nn.Linear(in_features, n_classes)  # F -> classes
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),  # F -> hidden
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )  # -> classes
    if kind == "mlp2":
        return nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),  # F -> hidden
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Dropout(dropout),  # -> hidden/2
            nn.Linear(hidden // 2, n_classes),
        )  # -> classes
    raise ValueError(f"unknown head {kind!r}; use linear, mlp or mlp2")


def unfreeze_last_block(backbone: Backbone) -> nn.Module:
    """Unfreeze only the backbone's last block (``layer4`` of ResNet-18 ...); returns that block (03)."""
    freeze(backbone)
    block = backbone.net.get_submodule(backbone.last_block)
    unfreeze(block)
    return block


def parameter_groups(model: EncoderHead, lr: float, backbone_factor: float = 0.1) -> list[dict]:
    """Optimizer groups: the head at ``lr``, trainable encoder/backbone parameters at ``lr*backbone_factor``
    (03; 02 uses it for 000.5's slower pretrained encoder)."""
    body = [p for p in model.encoder.parameters() if p.requires_grad]
    groups = [{"params": [p for p in model.head.parameters() if p.requires_grad], "lr": lr}]
    return groups + ([{"params": body, "lr": lr * backbone_factor}] if body else [])
