"""One training epoch of the pytorch/examples MNIST net: DataLoader pipeline vs the helpers' trainer.

    .venv/bin/python benchmarks/data_pipeline.py [--device cuda] [--repeats 3]

Both train ``ExamplesMNISTNet`` (the network of pytorch/examples ``mnist/main.py``) for one epoch
with Adadelta (lr 1.0), batch size 64, on the same real images: the 8,000 training digits of the
embedded ``mnist-10k`` set (full MNIST cannot be downloaded here). The examples' pipeline is the real
one: ``torchvision.datasets.MNIST`` (PIL image per item) + ``ToTensor`` + ``Normalize`` +
``DataLoader(shuffle=True, num_workers=1, pin_memory on CUDA)``. The helpers' pipeline keeps the
normalised data set as one tensor on the device and slices shuffled batches from it.
Prints a table of seconds per epoch, images per second and the ratio.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

from helpers.data import load_dataset
from helpers.models.classifiers import ExamplesMNISTNet
from helpers.paths import data_root
from helpers.training import Trainer, seed_everything

MEAN, STD = 0.1307, 0.3081


def mnist_folder_from_embedded(root: Path) -> Path:
    """Lay mnist-10k out as torchvision's MNIST/raw folder so the real MNIST class reads it."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in (data_root() / "mnist-10k").glob("*.gz"):
        with gzip.open(path) as src, open(raw / path.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


def epoch_with_dataloader(device: torch.device, root: Path) -> float:
    """pytorch/examples mnist/main.py: one epoch of its train() loop; returns seconds."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    kwargs = {"batch_size": 64, "shuffle": True}
    if device.type == "cuda":
        kwargs.update({"num_workers": 1, "pin_memory": True})
    loader = torch.utils.data.DataLoader(dataset, **kwargs)
    seed_everything(1)
    model = ExamplesMNISTNet().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    model.train()
    _sync(device)
    start = time.perf_counter()
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def epoch_with_helpers(device: torch.device) -> float:
    """The same epoch through helpers.training.Trainer over in-memory tensors; returns seconds."""
    train = load_dataset("mnist-10k", "train", download=False)
    train.images = (train.images - MEAN) / STD
    seed_everything(1)
    model = ExamplesMNISTNet()
    trainer = Trainer(epochs=1, lr=1.0, optimizer="adadelta", batch_size=64, device=device, show_progress=False, seed=1)
    train = train.to(device)
    _sync(device)
    start = time.perf_counter()
    trainer.fit(model, train)
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    root = Path(tempfile.mkdtemp())
    try:
        mnist_folder_from_embedded(root)
        epoch_with_dataloader(device, root), epoch_with_helpers(device)  # warm-up
        loader = statistics.median(epoch_with_dataloader(device, root) for _ in range(args.repeats))
        helpers = statistics.median(epoch_with_helpers(device) for _ in range(args.repeats))
    finally:
        shutil.rmtree(root)
    n = 8000
    print(
        f"ExamplesMNISTNet, 1 epoch of mnist-10k train ({n} images), batch 64, Adadelta, "
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}"
    )
    print(f"{'pipeline':<38}{'s/epoch':>10}{'images/s':>12}")
    print(f"{'pytorch/examples DataLoader':<38}{loader:>10.2f}{n / loader:>12.0f}")
    print(f"{'helpers Trainer (in-memory tensors)':<38}{helpers:>10.2f}{n / helpers:>12.0f}")
    print(f"speed-up (DataLoader time / helpers time): {loader / helpers:.2f}x")


if __name__ == "__main__":
    main()
