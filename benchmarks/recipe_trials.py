"""The short training trials that sized issue 17's recipes and default profile: one model, one recipe,
printed with its metric, wall and CPU seconds and the load average.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/recipe_trials.py p42 --set lr=5e-3 shift=1
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/recipe_trials.py --list

Each trial trains on the offline data sets of the default profile (mnist-10k, notmnist-10k,
fashion-mnist) with the workbook's trainer; ``--set`` overrides the trial's keyword defaults (values
are Python literals or plain words). Numbers taken on a shared machine are slower but the metrics are the same.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import noise  # noqa: E402
from helpers.data import load_splits  # noqa: E402
from helpers.latent import pca_basis, principal_angles  # noqa: E402
from helpers.models import autoencoders as ae  # noqa: E402
from helpers.models.classifiers import FortyFilterCNN, InceptionCNN, ResidualCNN, SequentialCNN  # noqa: E402
from helpers.models.composite import freeze  # noqa: E402
from helpers.models.denoising import ConvDenoiser, shallow_models  # noqa: E402
from helpers.training import Augment, Trainer  # noqa: E402


def trainer(epochs: int, **options) -> Trainer:
    return Trainer(epochs=epochs, show_progress=False, device="cpu", **options)


def classifier_recipe(epochs: int, lr: float, batch: int, shift: int, smoothing: float) -> Trainer:
    """The classifier recipe of 000.2 and 002.P4.2: AdamW, one-cycle, label smoothing, shifts."""
    return trainer(
        epochs,
        lr=lr,
        optimizer="adamw",
        weight_decay=1e-4,
        schedule="onecycle",
        batch_size=batch,
        label_smoothing=smoothing,
        augment=Augment(shift) if shift else None,
    )


def classifier_000_2(lr=1e-2, epochs=20, batch=128, shift=1, smoothing=0.0):
    """000.2: conv encoder (d = 12) + MLP head on mnist-10k; test accuracy per epoch (last 3)."""
    train, test = load_splits("mnist-10k")
    torch.manual_seed(0)
    h = classifier_recipe(epochs, lr, batch, shift, smoothing).fit(ae.conv_classifier(12), train, test)
    return {"test_acc": h.epoch["test_acc"][-3:], "train_acc": h.last("train_acc")}


def p42(lr=5e-3, epochs=5, batch=64, shift=1, smoothing=0.1):
    """002.P4.2: the 40-filter CNN on mnist-10k; test accuracy per epoch."""
    train, test = load_splits("mnist-10k")
    torch.manual_seed(0)
    h = classifier_recipe(epochs, lr, batch, shift, smoothing).fit(FortyFilterCNN(), train, test)
    return {"test_acc": h.epoch["test_acc"]}


def p53(lr=3e-2, epochs=20, batch=128):
    """002.P5.3: linear AE (k = 8) against PCA on mnist-10k: train MSE ratio and principal angles."""
    train, test = load_splits("mnist-10k")
    torch.manual_seed(0)
    model = ae.linear_autoencoder(8)
    trainer(epochs, lr=lr, schedule="cosine", warmup=0.05, batch_size=batch, task="reconstruction", loss="mse").fit(
        model, train, test
    )
    flat = train.images.flatten(1).numpy()
    basis = pca_basis(flat, 8)
    angles = principal_angles(model.head[0].weight.detach().numpy(), basis)
    centred = flat - flat.mean(0)
    pca = float(((centred - centred @ basis @ basis.T) ** 2).mean())
    mse = trainer(1, task="reconstruction", loss="mse").evaluate(model, train)["loss"]
    return {"mse_over_pca": mse / pca, "mean_angle": float(angles.mean()), "max_angle": float(angles.max())}


def two_d(model="mlp", lr=1e-2, epochs=40, batch=128, schedule="onecycle", optimizer="adamw"):
    """002.P5.4 (``model="mlp"``) or P6.1 (``"cae"``) 2-D autoencoder on mnist-10k; test MSE (last 3 epochs)."""
    train, test = load_splits("mnist-10k")
    torch.manual_seed(0)
    net = ae.MLPAutoencoder() if model == "mlp" else ae.ConvAutoencoder2D(skip=False)
    h = trainer(
        epochs, lr=lr, optimizer=optimizer, schedule=schedule, batch_size=batch, task="reconstruction", loss="mse"
    ).fit(net, train, test)
    return {"test_mse": h.epoch["test_loss"][-3:]}


def shallow(size=32, lr=3e-3, epochs=40, schedule="onecycle", optimizer="adamw"):
    """004.Ex3 shallow AE on notmnist-10k: test MSE, PSNR and dead code units."""
    train, test = load_splits("notmnist-10k")
    torch.manual_seed(0)
    encoder, _, model = shallow_models(size)
    h = trainer(
        epochs, lr=lr, optimizer=optimizer, schedule=schedule, batch_size=128, task="reconstruction", loss="mse"
    ).fit(model, train, test)
    with torch.no_grad():
        dead = int(((encoder(test.images) > 0).float().mean(0) == 0).sum())
    return {"test_mse": h.last("test_loss"), "psnr_db": 10 * np.log10(1 / h.last("test_loss")), "dead_units": dead}


def denoiser(images=3000, epochs=5, lr=2e-3, schedule="constant", optimizer="adam"):
    """004.Ex3 conv denoiser, sigma 0.3, on notmnist-10k: PSNR of the noisy and the denoised test images."""
    train, test = load_splits("notmnist-10k")
    torch.manual_seed(0)
    model = ConvDenoiser()
    trainer(
        epochs,
        lr=lr,
        optimizer=optimizer,
        schedule=schedule,
        batch_size=128,
        task="reconstruction",
        loss="mse",
        corrupt=noise.GaussianNoise(0.3),
    ).fit(model, train.head(images), None)
    mse = trainer(1, task="reconstruction", loss="mse", corrupt=noise.GaussianNoise(0.3)).evaluate(model, test)["loss"]
    torch.manual_seed(7919)
    base = float(((noise.GaussianNoise(0.3)(test.images) - test.images) ** 2).mean())
    return {"noisy_db": 10 * np.log10(1 / base), "denoised_db": 10 * np.log10(1 / mse)}


def frozen_003_3(images=12000, ae_epochs=10, epochs=10, lr=1e-2):
    """003.3: linear layer on the frozen conv layers of a k = 5 CAE (Fashion-MNIST); test accuracy."""
    train, test = load_splits("fashion-mnist")
    val, train = train.head(1000), train.tail(1000)
    train = train.limited(images, 0)
    torch.manual_seed(0)
    cae = ae.conv_autoencoder(5)
    trainer(ae_epochs, task="reconstruction", loss="mse", batch_size=128).fit(cae, train, val)
    model = ae.conv_feature_classifier(freeze(cae.encoder.features))
    h = trainer(epochs, lr=lr, optimizer="adamw", schedule="onecycle", batch_size=128).fit(model, train, test)
    return {"test_acc": h.epoch["test_acc"][-3:]}


def ex1(arch="inception", width=16, epochs=10, lr=3e-3, batch=64, images=0, augment=True):
    """004.Ex1 / 05 scorer: a Fashion-MNIST classifier with the full recipe; test accuracy per epoch."""
    train, test = load_splits("fashion-mnist")
    train = train.limited(images, 0)
    torch.manual_seed(0)
    net = {
        "residual": lambda: ResidualCNN(width=width),
        "sequential": lambda: SequentialCNN(width=width),
        "inception": lambda: InceptionCNN(branch=width),
    }[arch]()
    h = trainer(
        epochs,
        lr=lr,
        optimizer="adamw",
        weight_decay=5e-4,
        schedule="onecycle",
        batch_size=batch,
        label_smoothing=0.1,
        augment=Augment(2, True) if augment else None,
    ).fit(net, train, test)
    return {"test_acc": h.epoch["test_acc"]}


TRIALS = {f.__name__: f for f in (classifier_000_2, p42, p53, two_d, shallow, denoiser, frozen_003_3, ex1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trial", nargs="?", choices=list(TRIALS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a keyword default")
    parser.add_argument("--list", action="store_true", help="list the trials and their defaults")
    args = parser.parse_args(argv)
    if args.list or not args.trial:
        for name, function in TRIALS.items():
            print(f"{name}: {function.__doc__}")
        return 0
    options = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value  # a plain word: onecycle, adamw, inception
    started, cpu = time.perf_counter(), time.process_time()
    result = TRIALS[args.trial](**options)
    print(
        f"{args.trial} {options}: {result} ({time.perf_counter() - started:.0f} s wall, "
        f"{time.process_time() - cpu:.0f} s CPU, load {os.getloadavg()[0]:.1f}, {torch.get_num_threads()} threads)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
