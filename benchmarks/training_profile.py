"""Where a training epoch's time goes: ``torch.profiler`` tables of the trainer on smoke-size runs of
01's 002.P4.2 CNN (one-cycle AdamW, shifts, label smoothing) and 02's 000.1 conv AE (issue 22).

    .venv/bin/python benchmarks/training_profile.py [--images 1920] [--epochs 1] [--rows 15] [--fast-path fp32]
    env $(.venv/bin/python -m helpers.allocator) .venv/bin/python benchmarks/training_profile.py  # as a kernel

Per model: the top operators by self CPU time, and the share of the wall time that no operator
accounts for (the per-batch Python of the loop, the data path, the optimizer's Python); an
evaluation pass is profiled with the training epoch. Run it against another checkout's helpers with
``PYTHONPATH=<that checkout>`` to compare (the numbers are of a shared machine: compare shares, not
seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after PYTHONPATH, so another checkout's helpers can be profiled

from cpu_fast_path import cnn40_recipe  # noqa: E402  (this folder: the same recipe)

from helpers import allocator  # noqa: E402
from helpers.data import load_splits  # noqa: E402
from helpers.models.autoencoders import conv_autoencoder  # noqa: E402
from helpers.models.classifiers import FortyFilterCNN  # noqa: E402
from helpers.training import Trainer  # noqa: E402


def runs(images: int, epochs: int, fast_path: str | None):
    """(label, trainer, model, train, test) for the two profiled trainings."""
    train, test = load_splits("mnist-10k")
    train, test = train.limited(images, 0), test.limited(images // 2, 0)
    extra = {} if fast_path is None else {"fast_path": fast_path}
    common = dict(device="cpu", show_progress=False, seed=0, **extra)
    cnn = Trainer(
        epochs,
        **cnn40_recipe(),
        **common,
    )
    cae = Trainer(epochs, loss="l1", task="reconstruction", batch_size=32, **common)
    return [
        ("01 002.P4.2 40-filter CNN, batch 64", cnn, FortyFilterCNN(), train, test),
        ("02 000.1 conv AE, batch 32", cae, conv_autoencoder(latent_dim=12), train, test),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1920, help="training images (smoke size)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rows", type=int, default=15, help="operators listed per table")
    parser.add_argument(
        "--fast-path", default=None, help="the trainer's fast_path (default: the trainer's own default)"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    helpers_from = Path(sys.modules["helpers"].__file__).parent
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {allocator.active()} allocator; "
        f"helpers from {helpers_from}"
    )
    for label, trainer, model, train, test in runs(args.images, args.epochs, args.fast_path):
        trainer.fit(model, train.limited(256, 0))  # warm-up (oneDNN primitives, allocator)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            started = time.perf_counter()
            trainer.fit(model, train, test)
            wall = time.perf_counter() - started
        events = prof.key_averages()
        top_level = sum(e.self_cpu_time_total for e in events) / 1e6  # seconds inside operators
        steps = args.epochs * -(-len(train) // trainer.batch_size)
        print(f"\n=== {label}: {steps} steps + {len(test)} test images, {wall:.2f} s wall ===")
        print(f"setting: {getattr(getattr(trainer, 'setting', None), 'label', 'fp32 (no fast path)')}")
        print(f"inside torch operators (self CPU, summed over threads' callers): {top_level:.2f} s")
        print(f"per step outside operators (Python, loop, data): {(wall - top_level) / steps * 1e3:.2f} ms")
        print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
