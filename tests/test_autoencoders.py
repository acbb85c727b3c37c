"""Notebook 02: autoencoder model shapes, the P6.1 layer list, the 100-label sampler, latent
numbers, the grid-search helper, and the notebook itself in the smoke profile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.latent import latent_stats, pca_basis, principal_angles, random_codes
from helpers.models import autoencoders as ae
from helpers.models.composite import freeze
from helpers.search import grid_points, grid_search

X = torch.rand(4, 1, 28, 28)


@pytest.mark.parametrize(
    "model, d",
    [
        (ae.conv_autoencoder(12), 12),
        (ae.conv_autoencoder(12, fc=False), 12),
        (ae.conv_autoencoder(5, dropout=0.25), 5),
        (ae.MLPAutoencoder(), 2),
        (ae.ConvAutoencoder2D(), 2),
        (ae.ConvAutoencoder2D(skip=True), 2),
        (ae.linear_autoencoder(8), 8),
    ],
)
def test_every_autoencoder_encodes_to_d_and_reconstructs_the_input_shape(model, d):
    z = model.encode(X)
    assert z.shape == (4, d)
    assert model.decode(z).shape == X.shape
    assert model(X).shape == X.shape


def test_sigmoid_decoders_output_pixels_in_unit_range():
    for model in (ae.conv_autoencoder(12), ae.MLPAutoencoder(), ae.ConvAutoencoder2D(skip=True)):
        out = model(X * 10)
        assert out.min() >= 0 and out.max() <= 1


def test_classifiers_give_ten_logits():
    assert ae.conv_classifier(12)(X).shape == (4, 10)
    assert ae.conv_feature_classifier(ae.ConvEncoder(5).features)(X).shape == (4, 10)
    assert ae.MLPHead(12)(torch.zeros(3, 12)).shape == (3, 10)


def test_p6_1_cae_has_exactly_the_listed_layers():
    model = ae.ConvAutoencoder2D()
    layers = [
        (
            type(m).__name__,
            getattr(m, "in_channels", getattr(m, "in_features", None)),
            getattr(m, "out_channels", getattr(m, "out_features", None)),
        )
        for m in model.children()
        if not isinstance(m, (nn.ReLU, nn.Sigmoid))
    ]
    assert layers == [
        ("Conv2d", 1, 4),
        ("MaxPool2d", None, None),
        ("Conv2d", 4, 8),
        ("MaxPool2d", None, None),
        ("Linear", 392, 20),
        ("Linear", 20, 2),
        ("Linear", 2, 20),
        ("Linear", 20, 392),
        ("Upsample", None, None),
        ("Conv2d", 8, 4),
        ("Upsample", None, None),
        ("Conv2d", 4, 1),
    ]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.padding == (1, 1) and model.pool1.stride == 2
    assert model.up1.mode == "nearest" and model.up1.scale_factor == 2


def test_skip_model_uses_the_skips_and_decodes_codes_alone():
    model = ae.ConvAutoencoder2D(skip=True)
    z, (p1, p2) = model.encode_with_skips(X)
    assert p1.shape == (4, 4, 14, 14) and p2.shape == (4, 8, 7, 7)
    assert not torch.allclose(model(X), model.decode(z))  # the skips change the output
    plain = ae.ConvAutoencoder2D(skip=False)
    plain.load_state_dict(model.state_dict())  # same weights, no extra parameters
    assert torch.allclose(plain(X), model.decode(z))


def test_mlp_autoencoder_has_four_linear_layers_per_side_and_no_relu_at_the_code():
    model = ae.MLPAutoencoder()
    assert sum(isinstance(m, nn.Linear) for m in model.encoder) == 4
    assert sum(isinstance(m, nn.Linear) for m in model.head) == 4
    assert isinstance(model.encoder[-1], nn.Linear) and isinstance(model.head[0], nn.Linear)


def test_freeze_leaves_no_trainable_parameters():
    encoder = freeze(ae.ConvEncoder(12))
    assert not any(p.requires_grad for p in encoder.parameters())


def test_latent_stats_prefer_separated_clusters():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 50)
    tight = rng.normal(size=(150, 4)) * 0.1 + np.eye(4)[y] * 3
    loose = rng.normal(size=(150, 4))
    s_tight, s_loose = latent_stats(tight, y), latent_stats(loose, y)
    assert s_tight["silhouette"] > 0.8 > s_loose["silhouette"]
    assert s_tight["ratio"] > s_loose["ratio"]


def test_principal_angles_are_zero_for_the_same_subspace_and_ninety_for_orthogonal():
    basis = pca_basis(np.random.default_rng(0).normal(size=(200, 6)) * [5, 4, 3, 1, 1, 1], 3)
    assert np.allclose(principal_angles(basis, basis @ np.array([[1, 2, 0], [0, 1, 0], [3, 0, 1.0]])), 0, atol=1e-4)
    assert np.allclose(principal_angles(np.eye(4)[:, :2], np.eye(4)[:, 2:]), 90)


def test_random_codes_match_the_codes_statistics():
    codes = torch.randn(5000, 3) * torch.tensor([1.0, 2.0, 0.5]) + 4
    gauss, box = random_codes(codes, 4000, "gaussian"), random_codes(codes, 100, "uniform")
    assert torch.allclose(gauss.mean(0), codes.mean(0), atol=0.15)
    assert (box >= codes.min(0).values).all() and (box <= codes.max(0).values).all()
    with pytest.raises(ValueError):
        random_codes(codes, 3, "cauchy")


def test_grid_search_on_a_two_point_grid_keeps_grid_order():
    assert grid_points({"a": [1, 2], "b": [0]}) == [{"a": 1, "b": 0}, {"a": 2, "b": 0}]
    table = grid_search(
        {"latent": [10, 5], "dropout": [0.0]}, lambda latent, dropout: {"val_loss": 1 / latent}, executor="serial"
    )
    assert list(table["latent"]) == [10, 5] and list(table["val_loss"]) == [0.1, 0.2]
    with pytest.raises(KeyError):
        grid_search({"a": [1]}, lambda a: {"loss": a}, executor="serial")


def test_class_mean_distances_by_hand():
    from helpers.latent import class_mean_distances, unit_rms

    points = np.array([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0], [5.0, 9.0]])
    labels = np.array([0, 0, 1, 1])
    assert class_mean_distances(points, labels) == pytest.approx([1.0, 1.0, 2.0, 2.0])
    z = unit_rms(points)
    assert np.sqrt((z**2).sum(1).mean()) == pytest.approx(1.0, rel=1e-6) and z.mean(0) == pytest.approx(0.0)
