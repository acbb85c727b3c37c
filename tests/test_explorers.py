"""The explorers: the size calculator agrees with torch, every control redraws, batch runs get a figure."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from helpers import engine, explorers
from helpers.data import ImageDataset
from helpers.models.autoencoders import ConvAutoencoder2D, MLPAutoencoder
from helpers.models.classifiers import FortyFilterCNN
from helpers.models.denoising import ConvDenoiser
from helpers.models.gan import Generator


def tiny_data(n: int = 12) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    return ImageDataset("random", "test", torch.rand(n, 1, 28, 28, generator=g), torch.arange(n) % 10)


@pytest.mark.parametrize("kind", ["conv", "max-pool", "avg-pool"])
def test_size_calculator_agrees_with_real_torch_layers(kind):
    compared = 0
    for n, k, s, p in itertools.product([1, 5, 28, 50], [1, 2, 3, 5, 10], [1, 2, 3], [0, 1, 2, 5]):
        check = explorers.output_size_check(kind, n, k, s, p)
        if check["torch"] is not None and check["formula"] is not None:
            assert check["formula"] == check["torch"], (kind, n, k, s, p)
            compared += 1
        elif check["formula"] is None:  # the window does not fit: torch refuses too
            assert check["torch"] is None and check["torch_error"], (kind, n, k, s, p)
        else:  # only pooling may refuse a fitting window
            assert kind != "conv" and "pad" in check["torch_error"], (kind, n, k, s, p, check)
    assert compared > 100
    assert explorers.output_size_check(kind, 50, 4, 1, 1)["formula"] == 49


def test_size_calculator_rejects_an_unknown_layer_kind():
    with pytest.raises(ValueError, match="unknown layer kind 'dense'.*'conv'"):
        explorers.output_size_check("dense", 28, 3)


def explorers_to_check():
    torch.manual_seed(0)
    data = tiny_data()
    ae_mlp, cae_skip = MLPAutoencoder(), ConvAutoencoder2D(skip=True)
    codes = {
        "MLP": (ae_mlp, np.random.default_rng(0).normal(size=(12, 2))),
        "CAE + skips": (cae_skip, np.random.default_rng(1).normal(size=(12, 2))),
    }
    return {
        "sizes": (explorers.conv_size_calculator(), {"k": 5, "kind": "max-pool", "p": 2}),
        "activations torch": (
            explorers.activation_explorer(FortyFilterCNN(), data, "(test)"),
            {"channel": 3, "layer": "conv2", "index": 5},
        ),
        "activations engine": (
            explorers.activation_explorer(engine.tiny_cnn(0), data),
            {"layer": "conv2", "channel": 2},
        ),
        "latent": (explorers.latent_explorer(codes, data), {"x": None, "model": "CAE + skips"}),
        "noise": (
            explorers.noise_explorer({"denoiser": ConvDenoiser(), "CAE": ConvAutoencoder2D()}, data),
            {"sigma": 0.8, "index": 3},
        ),
        "generator": (explorers.generator_explorer(Generator(16, 28, 8)), {"seed_a": 7, "t": 0.9, "seed_b": 3}),
    }


@pytest.mark.parametrize("name", list(explorers_to_check()))
def test_every_control_redraws_the_widget_image(name):
    explorer, moves = explorers_to_check()[name]
    image = explorer.widget.children[1]
    assert image.value[:8] == b"\x89PNG\r\n\x1a\n"
    for key, value in moves.items():
        control = explorer.controls[key]
        before = image.value
        control.value = value if value is not None else control.max
        assert image.value != before, f"{name}: moving {key} did not change the image"
    assert explorer.redraws == len(moves)
    bundle = explorer.widget._repr_mimebundle_()
    assert "image/png" in bundle and "interactive" in bundle["text/plain"]


def test_activation_explorer_limits_the_channel_slider_to_the_layer():
    explorer = explorers.activation_explorer(FortyFilterCNN(), tiny_data())
    _ = explorer.widget  # builds the controls' observers
    assert explorer.controls["channel"].max == 39
    explorer.controls["layer"].value = "conv2"
    assert explorer.controls["channel"].max == 31


def test_layer_activation_matches_the_network_for_both_model_kinds():
    data = tiny_data()
    cnn = FortyFilterCNN().eval()
    expected = cnn.conv1(data.images[:1])[0]
    torch.testing.assert_close(explorers.layer_activation(cnn, cnn.conv1, data.images[0]), expected)
    net = engine.tiny_cnn(0)
    torch.testing.assert_close(
        explorers.layer_activation(net, 3, data.images[0]), net.forward(data.images[:1], upto=4)[0]
    )


def test_without_a_frontend_an_explorer_displays_one_static_figure(monkeypatch):
    import IPython.display
    import matplotlib.figure

    shown = []
    monkeypatch.setenv("WORKBOOK_WIDGETS", "off")
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **kw: shown.extend(objects))
    explorers.conv_size_calculator()._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)


def test_the_frontend_override_must_be_on_or_off(monkeypatch):
    from helpers.frontend import live_frontend

    monkeypatch.setenv("WORKBOOK_WIDGETS", "maybe")
    with pytest.raises(ValueError, match="WORKBOOK_WIDGETS='maybe'.*'on' or 'off'"):
        live_frontend()
    monkeypatch.setenv("WORKBOOK_WIDGETS", "on")
    assert live_frontend()
    monkeypatch.delenv("WORKBOOK_WIDGETS")
    assert not live_frontend()  # pytest is no kernel


def test_a_model_without_convolutions_is_refused():
    with pytest.raises(ValueError, match="Linear has no convolution layers"):
        explorers.activation_explorer(nn.Linear(2, 2), tiny_data())
