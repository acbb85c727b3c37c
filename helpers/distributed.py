"""Data-parallel training under ``torchrun`` (introduced for the ``full`` profile's large trainings:
004.Ex1 in 01, 004.Ex2's fine-tuning in 03; used by the ``Trainer``).

    torchrun --standalone --nproc_per_node 2 -m helpers.distributed 01_cnn_classifier --profile full

runs the notebook in every one of the N processes, with the same notebook code: each process's
``Trainer.fit`` joins the process group that torchrun describes
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``; NCCL with one GPU per
process, ``cuda:LOCAL_RANK``, or gloo on CPU), trains on its shard of every epoch
(:class:`ShardedBatches`, for in-memory and lazily loaded data alike) and lets ``DistributedDataParallel``
average the gradients. Stored runs and checkpoints (every write of ``helpers.checkpoint``) are
written by rank 0 only, and a stored run's identity includes the world size; rank 0's executed
notebook, metrics and figures are the run's, the other ranks write theirs to a temporary folder
that is deleted. (02's grid search has its own executors, not torchrun: ``helpers.search``.)

**Effective batch size** = per-process ``batch_size`` × ``WORLD_SIZE``: a ``batch_size=64`` run on
2 processes takes the steps of a ``batch_size=128`` run on one (same examples per step, gradients of
the mean loss). To keep a notebook's global batch, divide its batch size by N. Epoch losses and
accuracies are summed over the processes, so the history is that of the whole data. BatchNorm
layers are converted to ``SyncBatchNorm`` on GPUs; on CPU (gloo) their batch statistics stay per
process, so only BatchNorm-free models repeat a one-process run up to rounding.
Outside torchrun every function here is a no-op and training is unchanged.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence

import torch
from torch import nn


def launched_by_torchrun() -> bool:
    """Whether this process was started by torchrun with more than one process (the env says so)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def setup() -> bool:
    """Join torchrun's process group once (NCCL on GPUs, gloo on CPU); ``True`` when distributed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if not launched_by_torchrun():
        return False
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK") if v not in os.environ]
    if missing:
        raise RuntimeError(
            f"RANK/WORLD_SIZE are set but {missing} are not: start the program with "
            "`torchrun --nproc_per_node N ...` rather than by hand"
        )
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    atexit.register(teardown)
    return True


def teardown() -> None:
    """Leave the process group (registered by :func:`setup` to run at exit). Without it, gloo's
    worker threads can outlive the interpreter and abort the process at exit ("terminate called
    without an active exception", SIGABRT: pytorch/pytorch#190489)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    """How many processes train together (torchrun's ``WORLD_SIZE``; 1 outside torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ["WORLD_SIZE"]) if launched_by_torchrun() else 1


def rank() -> int:
    """This process's rank (0 outside torchrun)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Rank 0, the process that writes checkpoints, metrics and figures."""
    return rank() == 0


class ShardedBatches:
    """This process's share of a :class:`helpers.data.Batches` (in-memory tensors) or a
    :class:`helpers.training.LoaderBatches` (a lazily loaded data set), like ``DistributedSampler``.

    Every process draws the same permutation of epoch ``k`` (``Batches``' own ``(seed, epoch)``
    order), pads it by wrapping to a multiple of the world size and takes every ``world``-th index
    from its rank on. The k-th batches of all ranks together are then exactly the k-th batch of a
    one-process run with ``world`` times the batch size (when nothing is padded).
    """

    def __init__(self, batches, rank_: int, world: int):
        if not 0 <= rank_ < world:
            raise ValueError(f"rank {rank_} is outside a world of {world} processes")
        self.base, self.rank, self.world = batches, rank_, world
        self.batch_size, self.epoch = batches.batch_size, batches.epoch

    def set_epoch(self, epoch: int) -> None:
        """Fix the shuffle order to the one of ``epoch`` (the same on every rank)."""
        self.epoch = epoch

    def _size(self) -> int:
        return len(self.base.tensors[0]) if hasattr(self.base, "tensors") else len(self.base.dataset)

    def _indices(self) -> torch.Tensor:
        n, base = self._size(), self.base
        if base.shuffle:
            generator = torch.Generator().manual_seed(base.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        padded = -(-n // self.world) * self.world
        order = torch.cat([order, order[: padded - n]]) if padded > n else order
        return order[self.rank :: self.world]

    def __len__(self) -> int:
        per_rank = -(-self._size() // self.world)
        return (
            per_rank // self.batch_size if getattr(self.base, "drop_last", False) else -(-per_rank // self.batch_size)
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        mine = self._indices()
        if hasattr(self.base, "tensors"):
            mine = mine.to(self.base.tensors[0].device)
            for start in range(0, len(self) * self.batch_size, self.batch_size):
                index = mine[start : start + self.batch_size]
                yield tuple(t[index] for t in self.base.tensors)
        else:  # a lazily loaded data set, through a DataLoader
            loader = torch.utils.data.DataLoader(
                torch.utils.data.Subset(self.base.dataset, mine.tolist()),
                batch_size=self.batch_size,
                num_workers=self.base.workers,
            )
            for x, y in loader:
                yield x.to(self.base.device), torch.as_tensor(y).to(self.base.device)
        self.epoch += 1


def shard(batches):
    """``batches`` split across the processes (``ShardedBatches``), or unchanged outside torchrun."""
    return ShardedBatches(batches, rank(), world_size()) if world_size() > 1 else batches


def wrap(model: nn.Module, device) -> nn.Module:
    """``DistributedDataParallel(model)`` under torchrun (SyncBatchNorm on GPUs), else ``model``."""
    if not setup():
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = torch.device(device)
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        index = device.index if device.index is not None else torch.cuda.current_device()
        return DistributedDataParallel(model, device_ids=[index])
    return DistributedDataParallel(model)


def all_sum(*numbers: float) -> tuple[float, ...]:
    """The sums of ``numbers`` over all processes (the numbers themselves outside torchrun)."""
    if world_size() == 1:
        return numbers
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    values = torch.tensor(numbers, dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return tuple(values.tolist())


# --------------------------------------------------------------------------- torchrun entry point


def main(argv: Sequence[str] | None = None) -> int:
    """``torchrun --nproc_per_node N -m helpers.distributed NOTEBOOK [--profile P] [-p key=value]``."""
    from .runner import RunError, execute, parse_override

    parser = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node N -m helpers.distributed",
        description="run one notebook data-parallel in every torchrun process",
    )
    parser.add_argument("notebook")
    parser.add_argument("--profile", default="default")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        print(
            "error: start this with torchrun, e.g. `torchrun --standalone --nproc_per_node 2 -m "
            f"helpers.distributed {args.notebook} --profile {args.profile}`",
            file=sys.stderr,
        )
        return 2
    scratch = None if is_main() else tempfile.mkdtemp(prefix=f"workbook-rank{rank()}-")
    try:  # rank > 0: its notebook, metrics, figures are thrown away
        overrides = dict(parse_override(p) for p in args.parameter)
        execute(args.notebook, args.profile, overrides, out_dir=scratch)
    except RunError as error:
        print(f"error (rank {rank()}): {error}", file=sys.stderr)
        return 1
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
