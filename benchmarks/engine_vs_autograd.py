"""Time per epoch (1000 MNIST images) of assignment 001's tiny CNN: hand-written engine vs autograd.

    .venv/bin/python benchmarks/engine_vs_autograd.py [--batch-size 10] [--repeats 3]

Same network, same initial weights, same data (100 images per class of mnist-10k train), same
optimizer (RMSProp, lr 1e-3, rho 0.9), float32 on the CPU. Prints seconds per epoch and the ratio.
"""

from __future__ import annotations

import argparse

import torch

from helpers.data import load_dataset
from helpers.engine_study import engine_vs_autograd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_dataset("mnist-10k", "train", download=False).per_class(100)
    x, y = data.images, data.labels
    print(
        f"tiny CNN of 001, 1 epoch of {len(x)} mnist-10k images, RMSProp, float32, CPU, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"{'batch':>6}{'engine s':>11}{'autograd s':>12}{'ratio':>8}")
    for batch in args.batch_size:
        hand, auto = engine_vs_autograd(x, y, batch, args.repeats)
        print(f"{batch:>6}{hand:>11.3f}{auto:>12.3f}{hand / auto:>7.2f}x")


if __name__ == "__main__":
    main()
