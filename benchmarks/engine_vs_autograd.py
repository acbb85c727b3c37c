"""Time per epoch (1000 MNIST images) of assignment 001's tiny CNN: hand-written engine vs autograd.

    .venv/bin/python benchmarks/engine_vs_autograd.py [--batch-size 10] [--repeats 3]

Same network, same initial weights, same data (100 images per class of mnist-10k train), same
optimizer (RMSProp, lr 1e-3, rho 0.9), float32 on the CPU. Prints seconds per epoch and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from helpers import engine
from helpers.data import load_dataset


def epoch_engine(x, y, batch_size) -> float:
    net = engine.tiny_cnn(0)
    opt = engine.RMSProp(net, lr=1e-3, rho=0.9)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        engine.train_step(net, opt, x[i:i + batch_size], y[i:i + batch_size])
    return time.perf_counter() - start


def epoch_autograd(x, y, batch_size) -> float:
    params = engine.autograd_params(engine.tiny_cnn(0))
    opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-8)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        opt.zero_grad()
        F.cross_entropy(engine.autograd_forward(params, x[i:i + batch_size]), y[i:i + batch_size]).backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_dataset("mnist-10k", "train", download=False).per_class(100)
    x, y = data.images, data.labels
    print(f"tiny CNN of 001, 1 epoch of {len(x)} mnist-10k images, RMSProp, float32, CPU, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'batch':>6}{'engine s':>11}{'autograd s':>12}{'ratio':>8}")
    for batch in args.batch_size:
        epoch_engine(x, y, batch), epoch_autograd(x, y, batch)            # warm-up
        hand = statistics.median(epoch_engine(x, y, batch) for _ in range(args.repeats))
        auto = statistics.median(epoch_autograd(x, y, batch) for _ in range(args.repeats))
        print(f"{batch:>6}{hand:>11.3f}{auto:>12.3f}{hand / auto:>7.2f}x")


if __name__ == "__main__":
    main()
