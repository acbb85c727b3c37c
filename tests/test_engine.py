"""The hand-written engine: every layer's gradients against torch autograd, and the optimizers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.engine import (
    SGD,
    Conv2dSame,
    Flatten,
    Linear,
    MaxPool2x2,
    Momentum,
    ReLU,
    RMSProp,
    softmax_cross_entropy,
    tiny_cnn,
)
from helpers.engine_study import autograd_twin, train_network

D = torch.float64


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / (a.norm() + b.norm()).clamp_min(1e-30)).item()


def autograd_reference(layer, x, grad_out, fn):
    """Gradients of <fn(x, params), grad_out> by autograd, for comparison."""
    x = x.clone().requires_grad_(True)
    params = {k: v.clone().requires_grad_(True) for k, v in layer.params.items()}
    out = fn(x, params)
    (out * grad_out).sum().backward()
    return out.detach(), x.grad, {k: v.grad for k, v in params.items()}


LAYERS = {
    "conv 1->4 5x5": (
        lambda: Conv2dSame(1, 4, 5, dtype=D),
        (3, 1, 12, 12),
        lambda x, p: F.conv2d(x, p["W"], p["b"], padding=2),
    ),
    "conv 4->4 5x5x4": (
        lambda: Conv2dSame(4, 4, 5, dtype=D),
        (2, 4, 8, 8),
        lambda x, p: F.conv2d(x, p["W"], p["b"], padding=2),
    ),
    "relu": (ReLU, (3, 2, 6, 6), lambda x, p: F.relu(x)),
    "maxpool 2x2": (MaxPool2x2, (3, 2, 8, 8), lambda x, p: F.max_pool2d(x, 2)),
    "flatten": (Flatten, (3, 2, 4, 4), lambda x, p: x.flatten(1)),
    "linear": (lambda: Linear(7, 5, dtype=D), (4, 7), lambda x, p: x @ p["W"].t() + p["b"]),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_forward_and_gradients_match_autograd(name):
    make, shape, reference = LAYERS[name]
    layer = make()
    for key in layer.params:  # random, fresh parameters each run
        layer.params[key] = torch.randn_like(layer.params[key])
    x = torch.randn(shape, dtype=D)
    out = layer.forward(x)
    grad_out = torch.randn_like(out)
    ref_out, ref_dx, ref_dp = autograd_reference(layer, x, grad_out, reference)
    assert relative_error(out, ref_out) <= 1e-12
    assert relative_error(layer.backward(grad_out), ref_dx) <= 1e-6
    for key in layer.params:
        assert relative_error(layer.grads[key], ref_dp[key]) <= 1e-6


def test_softmax_cross_entropy_gradient_is_a_minus_y():
    logits = torch.randn(6, 10, dtype=D, requires_grad=True)
    labels = torch.randint(0, 10, (6,))
    loss, grad = softmax_cross_entropy(logits.detach(), F.one_hot(labels, 10).to(D))
    reference = F.cross_entropy(logits, labels)
    reference.backward()
    assert abs(loss.item() - reference.item()) < 1e-12
    assert relative_error(grad, logits.grad) <= 1e-6


def test_whole_network_gradients_match_autograd():
    net = tiny_cnn(seed=int(torch.randint(0, 10_000, ())), dtype=D)
    x, labels = torch.rand(5, 1, 28, 28, dtype=D), torch.randint(0, 10, (5,))
    _, grad = softmax_cross_entropy(net.forward(x), F.one_hot(labels, 10).to(D))
    net.backward(grad)

    params, twin = autograd_twin(net)
    F.cross_entropy(twin(x), labels).backward()
    reference = iter(params)
    for i, layer in enumerate(net.layers):
        for key in layer.params:
            assert relative_error(layer.grads[key], next(reference).grad) <= 1e-6, f"layer {i} {key}"


class TwoParameters:
    """A 'network' with one layer holding two parameters and fixed gradients."""

    def __init__(self):
        self.layer = Linear(1, 1, dtype=D)
        self.layer.params = {"w": torch.tensor([1.0, -2.0], dtype=D)}
        self.layer.grads = {"w": torch.tensor([0.5, -1.0], dtype=D)}

    def parameters(self):
        return [(self.layer, "w")]


def test_sgd_update_by_hand():
    net = TwoParameters()
    SGD(net, lr=0.1).step()
    assert torch.allclose(net.layer.params["w"], torch.tensor([0.95, -1.9], dtype=D))


def test_momentum_update_by_hand_over_two_steps():
    net = TwoParameters()
    opt = Momentum(net, lr=0.1, alpha=0.9)
    opt.step()  # v = 0.1 g = (0.05, -0.1)
    opt.step()  # v = 0.9 v + 0.1 g = (0.095, -0.19)
    assert torch.allclose(net.layer.params["w"], torch.tensor([1 - 0.05 - 0.095, -2 + 0.1 + 0.19], dtype=D))


def test_rmsprop_update_by_hand():
    net = TwoParameters()
    RMSProp(net, lr=0.01, rho=0.9, eps=0.0).step()  # s = 0.1 g^2, step = lr g / sqrt(s) = lr sign(g) / sqrt(0.1)
    step = 0.01 / 0.1**0.5
    assert torch.allclose(net.layer.params["w"], torch.tensor([1 - step, -2 + step], dtype=D))


def test_training_on_real_digits_reduces_loss():
    from helpers.data import load_dataset

    train = load_dataset("mnist-10k", "train", download=False).per_class(20)
    net = tiny_cnn(seed=0)
    history = train_network(
        net, RMSProp(net, lr=1e-3), train.images, train.labels, train.images, train.labels, epochs=3, batch_size=10
    )
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["train_error"][-1] < 0.8


def test_a_second_smoke_run_of_the_001_study_reuses_the_stored_runs_and_gives_identical_numbers(tmp_path, monkeypatch):
    """The 001 trainings (optimizers and batch sizes) are stored: a rerun with the smoke profile's
    sizes trains nothing and gives the same histories, weights and snapshots; another epoch count or
    batch size trains afresh."""
    import tomllib
    from pathlib import Path

    import numpy as np

    from helpers import engine_study
    from helpers.data import load_splits
    from helpers.notebook import NotebookRun

    monkeypatch.setenv("WORKBOOK_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("WORKBOOK_OUTPUT", str(tmp_path / "out"))
    profiles = tomllib.loads((Path(__file__).parent.parent / "notebooks/profiles/01_cnn_classifier.toml").read_text())
    smoke = {**profiles["default"], **profiles["smoke"]}
    train_all, test_all = load_splits(smoke["mnist_dataset"], download=False)
    train = train_all.per_class(smoke["engine_per_class"], 0)
    test = test_all.per_class(smoke["engine_test_per_class"], 0)
    specs = {f"SGD, batch {b}": ("sgd", {"lr": 1e-3}, b) for b in smoke["engine_batch_sizes"]}
    specs["RMSProp"] = ("rmsprop", {"lr": 1e-3, "rho": 0.9}, smoke["engine_batch"])
    probe, epochs = test.images[:3], smoke["engine_epochs"]
    trained = []
    real_train = engine_study.train_engine

    def counting(*args, **kwargs):
        trained.append(args[0])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(engine_study, "train_engine", counting)

    def study(epochs=epochs, specs=specs):
        run = NotebookRun("01_cnn_classifier", {"profile": "smoke", "seed": 0})
        return engine_study.stored_engine_runs(run, "001_study", specs, train, test, epochs, probe=probe)

    first = study()
    assert len(trained) == len(specs)
    again = study()
    assert len(trained) == len(specs), "the second run trained again"
    for label in specs:
        a, b = first[label], again[label]
        assert a.history == b.history and a.seconds == b.seconds
        assert all(torch.equal(a.net.layers[i].params[k], b.net.layers[i].params[k]) for i, k in _names(a.net))
        assert all(np.array_equal(a.bottlenecks[e], b.bottlenecks[e]) for e in a.bottlenecks)
        assert all(torch.equal(a.activations[e], b.activations[e]) for e in a.activations)
        assert np.array_equal(a.correct(test), b.correct(test))
        assert a.accuracy(test) == pytest.approx(1 - a.history["test_error"][-1])
    one = {"RMSProp": specs["RMSProp"]}
    study(specs=one)
    assert len(trained) == len(specs) + 1, "a study of other runs reused the stored result"
    study(epochs=epochs + 1, specs=one)
    assert len(trained) == len(specs) + 2, "another epoch count reused the stored runs"
    study(specs={"RMSProp": ("rmsprop", {"lr": 1e-3, "rho": 0.9}, 7)})
    assert len(trained) == len(specs) + 3, "another batch size reused the stored runs"


def _names(net):
    return [(i, k) for i, layer in enumerate(net.layers) for k in layer.params]
