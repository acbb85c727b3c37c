"""The 001 study around the hand-written engine: its training loop, runs, activation maps, the autograd
twin (derived from the engine's layer list), gradient checks and timing (notebook 01).

A study's runs are stored (``stored_engine_runs``): a rerun with the same engine code, data, settings
and seed reloads their histories, final weights and snapshots instead of training again.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import engine


@dataclass
class EngineRun:
    """One optimizer's training run of the tiny CNN: history, final network, bottleneck snapshots and
    (with a ``probe``) activation maps after the first and the last epoch."""

    net: engine.Sequential
    history: dict[str, list[float]]
    seconds: float
    bottlenecks: dict[int, np.ndarray] = field(default_factory=dict)
    activations: dict[int, torch.Tensor] = field(default_factory=dict)
    active_share: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    def accuracy(self, data) -> float:
        """Accuracy of the final network on an ``ImageDataset``."""
        return 1.0 - engine.evaluate(self.net, data.images, data.labels)[1]

    def correct(self, data) -> np.ndarray:
        """Per image of ``data``: whether the final network classifies it right (paired comparisons)."""
        return (self.net.forward(data.images).argmax(1) == data.labels).numpy()

    def state(self) -> dict:
        """The run as plain tensors, lists and numbers (loads with ``weights_only=True``): final weights,
        history, seconds and the snapshots."""
        return {
            "params": [layer.params[name].clone() for layer, name in self.net.parameters()],
            "history": {k: list(v) for k, v in self.history.items()},
            "seconds": float(self.seconds),
            "bottlenecks": {e: torch.from_numpy(a.copy()) for e, a in self.bottlenecks.items()},
            "activations": dict(self.activations),
            "active_share": {
                e: {k: torch.from_numpy(v.copy()) for k, v in d.items()} for e, d in self.active_share.items()
            },
        }

    @classmethod
    def from_state(cls, state: dict, seed: int) -> EngineRun:
        """The run :meth:`state` described, its final weights in ``tiny_cnn(seed)``."""
        net = engine.tiny_cnn(seed)
        for (layer, name), value in zip(net.parameters(), state["params"], strict=True):
            layer.params[name] = value.clone()
        return cls(
            net,
            {k: list(v) for k, v in state["history"].items()},
            state["seconds"],
            {e: a.numpy() for e, a in state["bottlenecks"].items()},
            dict(state["activations"]),
            {e: {k: v.numpy() for k, v in d.items()} for e, d in state["active_share"].items()},
        )


def train_network(
    net: engine.Sequential,
    optimizer: engine.SGD,
    train_x,
    train_y,
    test_x,
    test_y,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    on_epoch=None,
) -> dict[str, list[float]]:
    """The 001 study loop: shuffle every epoch, train ``epochs`` epochs with the engine's
    ``train_step``; per-epoch train/test loss and error (01)."""
    history = {k: [] for k in ("epoch", "train_loss", "train_error", "test_loss", "test_error")}
    g = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(train_x), generator=g)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            engine.train_step(net, optimizer, train_x[index], train_y[index])
        values = (epoch, *engine.evaluate(net, train_x, train_y), *engine.evaluate(net, test_x, test_y))
        for key, value in zip(history, values):
            history[key].append(value)
        if on_epoch:
            on_epoch(epoch, net)
    return history


def autograd_twin(net: engine.Sequential) -> tuple[list[torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
    """The engine network as autograd leaf tensors (same values) and a ``torch.nn.functional``
    forward built from its own layer list, so the 001 network is written once (01, benchmark)."""
    params = [layer.params[name].clone().requires_grad_(True) for layer, name in net.parameters()]
    steps, position = [], 0
    for layer in net.layers:
        if isinstance(layer, (engine.Conv2dSame, engine.Linear)):
            weight, bias = params[position], params[position + 1]
            position += 2
            steps.append(
                (lambda x, w=weight, b=bias, pad=layer.pad: F.conv2d(x, w, b, padding=pad))
                if isinstance(layer, engine.Conv2dSame)
                else (lambda x, w=weight, b=bias: x @ w.t() + b)
            )
        else:
            steps.append(
                {
                    engine.ReLU: F.relu,
                    engine.MaxPool2x2: lambda x: F.max_pool2d(x, 2),
                    engine.Flatten: lambda x: x.flatten(1),
                }[type(layer)]
            )

    def forward(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return params, forward


def train_engine(
    kind: str, options: dict, train, test, epochs: int, batch_size: int, seed: int, probe: torch.Tensor | None = None
) -> EngineRun:
    """Train ``tiny_cnn(seed)`` with engine optimizer ``kind``; keep bottlenecks (and the activation maps
    of the ``probe`` images) after epoch 1 and the last."""
    if kind not in engine.OPTIMIZERS:
        raise ValueError(f"unknown engine optimizer {kind!r}; choose one of {', '.join(engine.OPTIMIZERS)}")
    net = engine.tiny_cnn(seed)
    snapshots: dict[int, np.ndarray] = {}
    activations: dict[int, torch.Tensor] = {}
    shares: dict[int, dict[str, np.ndarray]] = {}

    def snapshot(epoch, network):
        if epoch in (1, epochs):
            snapshots[epoch] = network.forward(test.images, upto=engine.BOTTLENECK).numpy().copy()
            shares[epoch] = active_shares(network, test.images)
            if probe is not None:
                activations[epoch] = activation_rows(network, probe).clone()

    start = time.perf_counter()
    history = train_network(
        net,
        engine.OPTIMIZERS[kind](net, **options),
        train.images,
        train.labels,
        test.images,
        test.labels,
        epochs,
        batch_size,
        seed,
        on_epoch=snapshot,
    )
    return EngineRun(net, history, time.perf_counter() - start, snapshots, activations, shares)


def engine_code_identity() -> str:
    """A hash of the engine's and this study's source: a stored study is reused only with the same code."""
    source = inspect.getsource(engine) + inspect.getsource(sys.modules[__name__])
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def study_identity(train, test, epochs: int, probe=None) -> dict:
    """What a stored 001 result depends on besides its own settings and the seed: the engine code, the
    training and test data (content hashes), the probe images and the epochs (01)."""
    from .checkpoint import data_identity, tensor_fingerprint

    return {
        "engine_code": engine_code_identity(),
        "train": data_identity(train),
        "test": data_identity(test),
        "probe": tensor_fingerprint(probe) if probe is not None else "none",
        "epochs": epochs,
    }


def stored_engine_runs(
    run, name: str, specs: Mapping[str, tuple[str, dict, int]], train, test, epochs: int, probe=None
) -> dict[str, EngineRun]:
    """One engine run per ``specs`` entry (label -> (optimizer kind, options, batch size)), all from
    ``tiny_cnn(run.seed)``, stored as ``run.stored(name, ...)``: reused only when the engine code, the
    training and test data (content hashes), the probe images, the epochs, every optimizer setting and
    batch size and the seed are the same (01)."""
    config = {
        **study_identity(train, test, epochs, probe),
        "runs": {label: list(spec) for label, spec in specs.items()},
    }

    def compute():
        return {
            label: train_engine(kind, options, train, test, epochs, batch, run.seed, probe=probe).state()
            for label, (kind, options, batch) in specs.items()
        }

    return {label: EngineRun.from_state(state, run.seed) for label, state in run.stored(name, config, compute).items()}


def active_shares(net: engine.Sequential, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Per image: the share of positions where conv 1's and conv 2's ReLU maps are non-zero (001.5b)."""
    return {
        "conv1": (net.forward(images, upto=2) > 0).float().mean((1, 2, 3)).numpy(),
        "conv2": (net.forward(images, upto=5) > 0).float().mean((1, 2, 3)).numpy(),
    }


def map_change(before: torch.Tensor, after: torch.Tensor) -> dict[str, float]:
    """Relative change ``|after - before| / |before|`` of the conv-1 and conv-2 maps of two
    :func:`activation_rows` snapshots of the same probe images (001.5b)."""
    first, last = before.reshape(-1, 9, *before.shape[-2:]), after.reshape(-1, 9, *after.shape[-2:])
    return {
        layer: ((last[:, tiles] - first[:, tiles]).norm() / first[:, tiles].norm().clamp_min(1e-12)).item()
        for layer, tiles in (("conv1", slice(1, 5)), ("conv2", slice(5, 9)))
    }


def finite_difference_check(
    net: engine.Sequential, x: torch.Tensor, labels: torch.Tensor, entries: list[tuple[int, ...]], eps: float = 1e-6
) -> list[dict]:
    """Central differences of the loss w.r.t. single conv-1 weights vs the hand-written gradient."""
    one_hot = F.one_hot(labels, 10).to(x.dtype)
    loss_of = lambda: engine.softmax_cross_entropy(net.forward(x), one_hot)[0].item()  # noqa: E731
    _, grad = engine.softmax_cross_entropy(net.forward(x), one_hot)
    net.backward(grad)
    weight, analytic = net.layers[0].params["W"], net.layers[0].grads["W"]
    rows = []
    for entry in entries:
        original = weight[entry].item()
        weight[entry] = original + eps
        plus = loss_of()
        weight[entry] = original - eps
        minus = loss_of()
        weight[entry] = original
        numeric = (plus - minus) / (2 * eps)
        exact = analytic[entry].item()
        rows.append(
            {
                "conv1 weight": str(entry),
                "finite difference": numeric,
                "hand-written": exact,
                "relative error": abs(numeric - exact) / max(abs(numeric) + abs(exact), 1e-30),
            }
        )
    return rows


def activation_rows(net: engine.Sequential, images: torch.Tensor) -> torch.Tensor:
    """Per image: the input, its 4 conv-1 ReLU maps and 4 conv-2 ReLU maps, upsampled to 28x28."""
    conv1 = net.forward(images, upto=2)  # N x 4 x 28 x 28
    conv2 = net.forward(images, upto=5)  # N x 4 x 14 x 14
    conv2 = F.interpolate(conv2, size=images.shape[-2:], mode="nearest")
    tiles = torch.cat([images, conv1, conv2], dim=1)  # N x 9 x 28 x 28
    return tiles.reshape(-1, 1, *images.shape[-2:])


def compare_with_autograd(train, test, epochs: int, batch_size: int, seed: int) -> dict:
    """Train the engine and its autograd twin (same init, batches, RMSProp); per-epoch train losses."""
    net = engine.tiny_cnn(seed)
    params, twin = autograd_twin(net)
    ours = engine.RMSProp(net, lr=1e-3, rho=0.9)
    theirs = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-8)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(train), generator=g)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            x, y = train.images[index], train.labels[index]
            engine.train_step(net, ours, x, y)
            theirs.zero_grad()
            F.cross_entropy(twin(x), y).backward()
            theirs.step()
        with torch.no_grad():
            autograd_loss = F.cross_entropy(twin(train.images), train.labels).item()
        rows.append(
            {
                "epoch": epoch,
                "engine train loss": engine.evaluate(net, train.images, train.labels)[0],
                "autograd train loss": autograd_loss,
            }
        )
    difference = max(abs(r["engine train loss"] - r["autograd train loss"]) for r in rows)
    return {"table": rows, "max_abs_difference": difference}


def epoch_seconds(x: torch.Tensor, y: torch.Tensor, batch_size: int, autograd: bool) -> float:
    """Seconds for one RMSProp epoch of ``tiny_cnn(0)`` over (x, y): engine or torch autograd (01, benchmark)."""
    if autograd:
        params, twin = autograd_twin(engine.tiny_cnn(0))
        opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-8)
    else:
        net = engine.tiny_cnn(0)
        opt = engine.RMSProp(net, lr=1e-3, rho=0.9)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        if autograd:
            opt.zero_grad()
            F.cross_entropy(twin(x[i : i + batch_size]), y[i : i + batch_size]).backward()
            opt.step()
        else:
            engine.train_step(net, opt, x[i : i + batch_size], y[i : i + batch_size])
    return time.perf_counter() - start


def engine_vs_autograd(x: torch.Tensor, y: torch.Tensor, batch_size: int, repeats: int = 3) -> tuple[float, float]:
    """Median seconds per epoch (engine, autograd) after one warm-up epoch each (01, benchmark)."""
    epoch_seconds(x, y, batch_size, False), epoch_seconds(x, y, batch_size, True)
    hand = sorted(epoch_seconds(x, y, batch_size, False) for _ in range(repeats))[repeats // 2]
    auto = sorted(epoch_seconds(x, y, batch_size, True) for _ in range(repeats))[repeats // 2]
    return hand, auto
