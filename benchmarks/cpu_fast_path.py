"""Training speed of the workbook's models: fp32 eager against the fast path's chosen setting (issue 22).

    .venv/bin/python benchmarks/cpu_fast_path.py [--models residual24 residual32 cnn40 cae denoiser dcgan]
                                                 [--rounds 3] [--steps 6] [--stored] [--device cpu]

Run it as ``env $(.venv/bin/python -m helpers.allocator) .venv/bin/python benchmarks/cpu_fast_path.py``
to time with the allocator the notebooks' kernels get (tcmalloc, ``helpers.allocator``); the header
line says which allocator the run had.

Per model, with the notebook's batch size, optimizer and data set: the setting ``fast_path="auto"``
chooses for the notebook's default run (its planned number of steps; the probe runs afresh in a
temporary folder unless ``--stored`` uses the stored probes under ``WORKBOOK_CHECKPOINTS``), then
training images/s of fp32 eager and of the chosen setting, timed in interleaved rounds in this one
process (so both see the same load), the compile seconds of a compiled choice, the FLOPs of one
training step (``torch.utils.flop_counter.FlopCounterMode``: forward and backward) and the achieved
GFLOP/s as a fraction of an fp32 matmul's GFLOP/s measured in the same rounds (bf16 matmul beside
it). Those step timings repeat the probe's few fixed batches; the ``epoch`` columns time what a
notebook runs instead: one real training epoch (``Trainer.fit``, or ``train_gan``) over
``--epoch-images`` training images in fp32 eager and in the chosen setting, alternated ``--rounds``
times (the faster of each kept), data path, shuffling and per-batch loop included. On a shared
machine the seconds move with the load; the ratios are what to read.

``--results`` instead checks that bf16 keeps a model's results: 01's 002.P4.2 CNN trained with the
notebook's default recipe (5 epochs, test accuracy target 98.5%) and 02's 000.1 conv AE (L1, 2
epochs), each in fp32 eager and in bf16 + channels_last, with the final test numbers side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import allocator, fast_path  # noqa: E402
from helpers.data import load_splits  # noqa: E402
from helpers.fast_path import FP32_EAGER  # noqa: E402
from helpers.gan_training import choose_gan_setting, gan_stepper  # noqa: E402
from helpers.models.autoencoders import conv_autoencoder  # noqa: E402
from helpers.models.classifiers import FortyFilterCNN, ResidualCNN  # noqa: E402
from helpers.models.denoising import ConvDenoiser  # noqa: E402
from helpers.models.gan import Discriminator, Generator  # noqa: E402
from helpers.noise import GaussianNoise  # noqa: E402
from helpers.paths import environment  # noqa: E402
from helpers.training import Trainer  # noqa: E402


@dataclass
class Case:
    """One workbook training: how to build it and how many steps its default run plans."""

    label: str
    dataset: str
    batch_size: int
    epochs: int  # of the default profile's run
    train_limit: int  # training images of that run (0: all)
    trainer: dict[str, Any]
    build: Any


CASES = {
    "residual32": Case(
        "004.Ex1 residual, width 32",
        "fashion-mnist",
        64,
        12,
        0,
        dict(optimizer="adamw", weight_decay=5e-4, lr=3e-3),
        lambda: ResidualCNN(width=32),
    ),
    "residual24": Case(
        "004.Ex1 residual, width 24 (01)",
        "fashion-mnist",
        64,
        12,
        0,
        dict(optimizer="adamw", weight_decay=5e-4, lr=3e-3),
        lambda: ResidualCNN(width=24),
    ),
    "cnn40": Case(
        "002.P4.2 40-filter CNN",
        "mnist-10k",
        64,
        5,
        0,
        dict(optimizer="adamw", weight_decay=1e-4, lr=5e-3),
        FortyFilterCNN,
    ),
    "cae": Case(
        "02 000.1 conv AE (L1)",
        "mnist-10k",
        32,
        12,
        0,
        dict(optimizer="adam", loss="l1", task="reconstruction"),
        lambda: conv_autoencoder(latent_dim=12),
    ),
    "denoiser": Case(
        "04 004.Ex3 conv denoiser (sigma 0.3)",
        "notmnist-10k",
        128,
        10,
        8000,
        dict(optimizer="adam", lr=2e-3, loss="mse", task="reconstruction", corrupt=GaussianNoise(0.3)),
        ConvDenoiser,
    ),
    "dcgan": Case("05 DCGAN, width 32", "fashion-mnist", 128, 25, 12000, {}, None),
}


def matmul_gflops(dtype: torch.dtype, n: int = 1024, reps: int = 5) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` (median of ``reps``)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * n**3 / statistics.median(times) / 1e9


def flops_of(step) -> float:
    """FLOPs of one call of ``step`` (forward and backward; the optimizer's elementwise work is not counted)."""
    with FlopCounterMode(display=False) as counter:
        step(0)
    return float(counter.get_total_flops())


def prepare(name: str, device: torch.device):
    """(case, choice, make_stepper, planned steps) for one model."""
    case = CASES[name]
    train, _ = load_splits(case.dataset)
    train = train.limited(case.train_limit, 0)
    if name == "dcgan":
        from helpers.data import Batches

        G, D = Generator(100, 28, 32), Discriminator(28, 32)
        batches = Batches(train.images.to(device) * 2 - 1, batch_size=case.batch_size, shuffle=True, drop_last=True)
        choice = choose_gan_setting(G, D, batches, case.epochs, 2e-4, 0.5, 0, device, "auto")
        reals = [real for (real,), _ in zip(batches, range(8))]
        noise = torch.Generator().manual_seed(1)
        zs = [torch.randn(len(r), G.latent_dim, generator=noise) for r in reals]
        return case, choice, gan_stepper(G, D, 2e-4, 0.5, reals, zs), case.epochs * len(batches)
    trainer = Trainer(case.epochs, batch_size=case.batch_size, device=device, show_progress=False, **case.trainer)
    model = case.build().to(device)
    planned = case.epochs * -(-len(train) // case.batch_size)
    choice = trainer.choose_setting(model, train, planned)
    return case, choice, trainer.stepper(model, trainer.probe_batches(train, 8)), planned


def measure(name: str, device: torch.device, rounds: int, steps: int) -> dict[str, Any]:
    """Images/s of fp32 eager and of the chosen setting, FLOPs and matmul rates, interleaved."""
    case, choice, make_stepper, planned = prepare(name, device)
    flops = flops_of(make_stepper(FP32_EAGER))
    settings = [FP32_EAGER] if choice.setting == FP32_EAGER else [FP32_EAGER, choice.setting]
    steppers, warmup = {}, {}
    for setting in settings:
        steppers[setting.label] = make_stepper(setting)
        started = time.perf_counter()
        steppers[setting.label](0), steppers[setting.label](1)
        warmup[setting.label] = time.perf_counter() - started
    times = {s.label: [] for s in settings}
    matmul = {"fp32": [], "bf16": []}
    for _ in range(rounds):
        matmul["fp32"].append(matmul_gflops(torch.float32))
        matmul["bf16"].append(matmul_gflops(torch.bfloat16))
        for setting in settings:
            for i in range(steps):
                started = time.perf_counter()
                steppers[setting.label](2 + i)
                times[setting.label].append(time.perf_counter() - started)
    per_step = {label: statistics.median(values) for label, values in times.items()}
    chosen = choice.setting.label
    return {
        "case": case,
        "choice": choice,
        "planned": planned,
        "flops": flops,
        "per_step": per_step,
        "compile_s": max(warmup[chosen] - 2 * per_step[chosen] - (warmup["fp32"] - 2 * per_step["fp32"]), 0.0)
        if choice.setting.compiled
        else 0.0,
        "matmul": {k: statistics.median(v) for k, v in matmul.items()},
        "chosen": chosen,
    }


def epoch_seconds(name: str, label: str, device: torch.device, images: int) -> tuple[float, int]:
    """Seconds of one real training epoch of case ``name`` over ``images`` training images (all of a
    smaller set) in the fast-path setting ``label`` (the trainer's or the GAN loop's own, as a
    notebook runs it), and the number of images."""
    case = CASES[name]
    train = load_splits(case.dataset)[0]
    train = train if images >= len(train) else train.limited(images, 0)
    torch.manual_seed(0)
    started = time.perf_counter()
    if name == "dcgan":
        from helpers.gan_training import train_gan

        G, D = Generator(100, 28, 32), Discriminator(28, 32)
        train_gan(
            G, D, train.images, 1, batch_size=case.batch_size, device=device, show_progress=False, fast_path=label
        )
    else:
        trainer = Trainer(
            1, batch_size=case.batch_size, device=device, show_progress=False, fast_path=label, **case.trainer
        )
        trainer.fit(case.build(), train)
    return time.perf_counter() - started, len(train)


def epoch_rates(r: dict[str, Any], device: torch.device, images: int, rounds: int) -> None:
    """Add ``r["epoch"]``: images/s of a real epoch in fp32 eager and in the chosen setting."""
    seconds, count = {"fp32": [], r["chosen"]: []}, images
    for _ in range(rounds):
        for label in seconds:
            elapsed, count = epoch_seconds(r["name"], label, device, images)
            seconds[label].append(elapsed)
    r["epoch"] = {label: count / min(values) for label, values in seconds.items()}


def table(results: list[dict[str, Any]]) -> str:
    """The printed table, one row per model."""
    header = (
        f"{'model':<32}{'batch':>6}{'steps':>7}  {'chosen':<28}{'compile s':>10}{'fp32 img/s':>11}"
        f"{'chosen img/s':>13}{'speedup':>8}{'GFLOP/step':>11}{'fp32 GF/s':>10}{'/mm':>6}{'chosen GF/s':>12}{'/mm':>6}"
        f"{'epoch fp32':>11}{'epoch chosen':>13}{'speedup':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        batch = r["case"].batch_size
        fp32, chosen = r["per_step"]["fp32"], r["per_step"][r["chosen"]]
        mm = r["matmul"]["fp32"]
        lines.append(
            f"{r['case'].label:<32}{batch:>6}{r['planned']:>7}  {r['chosen'] + ' (' + r['choice'].source + ')':<28}"
            f"{r['compile_s']:>10.1f}{batch / fp32:>11.0f}{batch / chosen:>13.0f}{fp32 / chosen:>7.2f}x"
            f"{r['flops'] / 1e9:>11.2f}{r['flops'] / fp32 / 1e9:>10.1f}{r['flops'] / fp32 / 1e9 / mm:>6.2f}"
            f"{r['flops'] / chosen / 1e9:>12.1f}{r['flops'] / chosen / 1e9 / mm:>6.2f}"
            + (
                f"{r['epoch']['fp32']:>11.0f}{r['epoch'][r['chosen']]:>13.0f}"
                f"{r['epoch'][r['chosen']] / r['epoch']['fp32']:>7.2f}x"
                if "epoch" in r
                else ""
            )
        )
    mm32 = statistics.median(r["matmul"]["fp32"] for r in results)
    mm16 = statistics.median(r["matmul"]["bf16"] for r in results)
    lines.append(
        f"matmul 1024x1024 in the same rounds: fp32 {mm32:.0f} GFLOP/s, bf16 {mm16:.0f} GFLOP/s "
        f"({mm16 / mm32:.1f}x); /mm = achieved training GFLOP/s over that model's fp32 matmul GFLOP/s; "
        "epoch = images/s of one real training epoch (the trainer's loop), fp32 eager and chosen"
    )
    return "\n".join(lines)


def cnn40_recipe() -> dict:
    """The 002.P4.2 CNN's training recipe in notebook 01 (one-cycle AdamW, shifts, label smoothing),
    without its epochs; also used by ``benchmarks/training_profile.py``."""
    from helpers.training import Augment

    return dict(
        lr=0.005,
        optimizer="adamw",
        weight_decay=1e-4,
        schedule="onecycle",
        label_smoothing=0.1,
        augment=Augment.for_data("mnist-10k", shift=1),
        batch_size=64,
    )


def results_check(device: torch.device, cnn_epochs: int = 5, ae_epochs: int = 2, train_limit: int = 0) -> None:
    """``--results``: final test numbers of fp32 eager and bf16 + channels_last trainings."""
    mnist_train, mnist_test = load_splits("mnist-10k")
    mnist_train = mnist_train.limited(train_limit, 0)
    runs = {
        f"002.P4.2 CNN, {cnn_epochs} epochs (test acc)": (
            FortyFilterCNN,
            dict(epochs=cnn_epochs, **cnn40_recipe()),
            "test_acc",
        ),
        f"000.1 conv AE, L1, {ae_epochs} epochs (test L1)": (
            lambda: conv_autoencoder(latent_dim=12),
            dict(epochs=ae_epochs, loss="l1", task="reconstruction", batch_size=32),
            "test_loss",
        ),
    }
    print(f"{len(mnist_train)} mnist-10k training images, {len(mnist_test)} test images")
    print(f"{'training':<40}{'fp32':>10}{'bf16+channels_last':>20}{'difference':>12}")
    for label, (build, options, key) in runs.items():
        values = {}
        for setting in ("fp32", "bf16+channels_last"):
            torch.manual_seed(0)
            trainer = Trainer(device=device, show_progress=False, seed=0, fast_path=setting, **options)
            values[setting] = trainer.fit(build(), mnist_train, mnist_test).last(key)
        a, b = values["fp32"], values["bf16+channels_last"]
        print(f"{label:<40}{a:>10.4f}{b:>20.4f}{b - a:>+12.4f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models",
        nargs="*",
        default=["residual24", "residual32", "cnn40", "cae", "denoiser", "dcgan"],
        choices=list(CASES),
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per setting and round")
    parser.add_argument("--stored", action="store_true", help="use the stored probes (WORKBOOK_CHECKPOINTS)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--epoch-images", type=int, default=12800, help="training images of the real-epoch timing (0: skip it)"
    )
    parser.add_argument("--results", action="store_true", help="check bf16's results against fp32 instead")
    parser.add_argument("--cnn-epochs", type=int, default=5, help="--results: epochs of the 002.P4.2 CNN")
    parser.add_argument("--ae-epochs", type=int, default=2, help="--results: epochs of the conv AE")
    parser.add_argument("--train-limit", type=int, default=0, help="--results: training images (0: all)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.results:
        results_check(device, args.cnn_epochs, args.ae_epochs, args.train_limit)
        return 0
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {allocator.active()} allocator, "
        f"{fast_path.cpu_name()}, "
        f"native bf16: {fast_path.native_bf16(device)}, compile possible: {fast_path.can_compile(device)}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="fast_path_") as folder:
        context = environment() if args.stored else environment(WORKBOOK_CHECKPOINTS=folder)
        with context:
            for name in args.models:
                started = time.perf_counter()
                results.append(measure(name, device, args.rounds, args.steps))
                r = results[-1]
                r["name"] = name
                if args.epoch_images:
                    epoch_rates(r, device, args.epoch_images, args.rounds)
                print(
                    f"{r['case'].label}: chosen {r['chosen']} ({r['choice'].source}, probe "
                    f"{r['choice'].probe_s:.0f} s); measured {time.perf_counter() - started:.0f} s in all",
                    flush=True,
                )
                for label, m in sorted(r["choice"].measured.items()):
                    print(
                        f"    probe {label:<30} {m['s_per_step'] * 1e3:8.1f} ms/step  compile {m['compile_s']:5.1f} s"
                        f"  first-loss gap {m['loss_gap']:.4f}  trajectory gap {m.get('trajectory_gap', 0):.4f}"
                    )
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
