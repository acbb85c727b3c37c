"""Seconds per training epoch of every default-profile model, per 1,000 images (for sizing profiles).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/epoch_costs.py [--images 2000] [--models p42 ex1_seq ...]

Each model trains one epoch on ``--images`` random 28x28 images with the trainer and the recipe its
notebook uses (schedule, augmentation, batch size), after one warm-up epoch; the table gives seconds
per 1,000 training images, wall and CPU (user + system of this process), and the load average: on a
busy machine the wall time is inflated, the CPU time much less, and CPU s / threads estimates the idle
wall time. Multiply by the notebook's images x epochs to size a profile.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.data import ImageDataset  # noqa: E402
from helpers.models import autoencoders as ae  # noqa: E402
from helpers.models.classifiers import FortyFilterCNN, InceptionCNN, ResidualCNN, SequentialCNN  # noqa: E402
from helpers.models.denoising import ConvDenoiser, shallow_models  # noqa: E402
from helpers.training import Augment, Trainer  # noqa: E402

CLASSIFY = {"task": "classification", "loss": "cross_entropy"}
RECON = {"task": "reconstruction", "loss": "mse"}
MODELS = {  # name: (model factory, trainer options)
    "p42_cnn40": (FortyFilterCNN, {**CLASSIFY, "batch_size": 64}),
    "ex1_sequential_w32": (
        lambda: SequentialCNN(width=32),
        {**CLASSIFY, "batch_size": 64, "augment": Augment(2, True)},
    ),
    "ex1_sequential_w16": (
        lambda: SequentialCNN(width=16),
        {**CLASSIFY, "batch_size": 64, "augment": Augment(2, True)},
    ),
    "ex1_residual_w24": (lambda: ResidualCNN(width=24), {**CLASSIFY, "batch_size": 64, "augment": Augment(2, True)}),
    "ex1_inception": (InceptionCNN, {**CLASSIFY, "batch_size": 64, "augment": Augment(2, True)}),
    "ex1_residual_w32": (ResidualCNN, {**CLASSIFY, "batch_size": 64, "augment": Augment(2, True)}),
    "000_conv_classifier": (lambda: ae.conv_classifier(12), {**CLASSIFY, "batch_size": 128}),
    "000_conv_ae_b32": (lambda: ae.conv_autoencoder(12), {**RECON, "loss": "l1", "batch_size": 32}),
    "p53_linear_ae": (lambda: ae.linear_autoencoder(8), {**RECON, "batch_size": 128}),
    "p54_mlp_ae": (ae.MLPAutoencoder, {**RECON, "batch_size": 128}),
    "p61_cae_2d": (lambda: ae.ConvAutoencoder2D(skip=False), {**RECON, "batch_size": 128}),
    "ex3_shallow_32": (lambda: shallow_models(32)[2], {**RECON, "batch_size": 128}),
    "ex3_conv_denoiser": (ConvDenoiser, {**RECON, "batch_size": 128}),
}


def seconds_per_epoch(factory, options: dict, images: int) -> tuple[float, float]:
    """Wall and CPU seconds of one training epoch (after a warm-up epoch) on ``images`` random images."""
    torch.manual_seed(0)
    data = ImageDataset("fashion-mnist", "train", torch.rand(images, 1, 28, 28), torch.randint(0, 10, (images,)))
    model = factory()
    Trainer(epochs=1, show_progress=False, device="cpu", **options).fit(model, data)  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    Trainer(epochs=1, show_progress=False, device="cpu", **options).fit(model, data)
    return time.perf_counter() - started, time.process_time() - cpu_started


def forward_macs(model: torch.nn.Module) -> int:
    """Multiply-accumulates of one forward pass of a 1x28x28 image through conv and linear layers:
    a load-independent cost (a training step is about three forward passes)."""
    total, hooks = [0], []

    def count(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            total[0] += (
                output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            )
        elif isinstance(module, torch.nn.ConvTranspose2d):
            total[0] += inputs[0].numel() * module.out_channels * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total[0] += output.numel() * module.in_features

    for module in model.modules():
        hooks.append(module.register_forward_hook(count))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 1, 28, 28))
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--macs-only", action="store_true", help="only the load-independent MAC counts")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.images} images per epoch")
    print(
        f"{'model':<24}{'MMAC / image':>13}{'wall s / 1000 images':>21}{'CPU s / 1000 images':>21}{'load (1 min)':>14}"
    )
    for name in args.models:
        factory, options = MODELS[name]
        macs = forward_macs(factory()) / 1e6
        wall, cpu = (float("nan"),) * 2 if args.macs_only else seconds_per_epoch(factory, options, args.images)
        print(
            f"{name:<24}{macs:>13.2f}{1000 * wall / args.images:>21.3f}{1000 * cpu / args.images:>21.3f}"
            f"{os.getloadavg()[0]:>14.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
