"""Data-parallel training (helpers.distributed): sharded batches, rank-0-only checkpoints, and a
2-process gloo run under torchrun that repeats the 1-process losses at the same global batch.

Run by hand as a torchrun worker: ``torchrun --standalone --nproc_per_node 2 tests/test_distributed_training.py
--out result.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import distributed
from helpers.checkpoint import save_checkpoint
from helpers.data import Batches
from helpers.paths import REPO_ROOT
from helpers.training import LoaderBatches

TOLERANCE = 1e-5  # absolute, on per-epoch losses of about 1.4-2.2 (float32 sums in another order)
GLOBAL_BATCH = 64


def small_training(batch_size: int, store: str | None = None) -> dict[str, list[float]]:
    """3 epochs of a BatchNorm- and dropout-free MLP on 512 Fashion-MNIST images (Adam), CPU."""
    from helpers.data import load_dataset
    from helpers.training import Trainer

    data = load_dataset("fashion-mnist", "train")
    train, test = data.head(512), data.subset(range(512, 768), "test")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    trainer = Trainer(
        epochs=3,
        lr=1e-3,
        batch_size=batch_size,
        seed=0,
        device="cpu",
        store=store,
        show_progress=False,
        name="ddp-test",
    )
    return trainer.fit(model, train, test).epoch


def test_the_shards_of_a_step_together_are_the_one_process_batch():
    data = torch.arange(10)
    whole = [set(b[0].tolist()) for b in Batches(data, batch_size=4, shuffle=True, seed=3)]
    shards = [
        list(distributed.ShardedBatches(Batches(data, batch_size=2, shuffle=True, seed=3), r, 2)) for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == len(whole) == 3
    for step, batch in enumerate(whole):
        assert set(shards[0][step][0].tolist()) | set(shards[1][step][0].tolist()) == batch
        assert not set(shards[0][step][0].tolist()) & set(shards[1][step][0].tolist())
    odd = [
        torch.cat([b[0] for b in distributed.ShardedBatches(Batches(torch.arange(9), batch_size=2), r, 2)])
        for r in range(2)
    ]
    assert len(odd[0]) == len(odd[1]) == 5 and set(torch.cat(odd).tolist()) == set(range(9))  # padded by wrapping
    lazy = torch.utils.data.TensorDataset(torch.arange(10).float(), torch.arange(10))  # a lazily loaded set
    lazy_shards = [list(distributed.ShardedBatches(LoaderBatches(lazy, 2, seed=3, workers=0), r, 2)) for r in range(2)]
    for step, batch in enumerate(whole):
        assert {int(v) for shard in lazy_shards for v in shard[step][1]} == batch
    with pytest.raises(ValueError, match="outside a world"):
        distributed.ShardedBatches(Batches(data, batch_size=2), 2, 2)


def test_outside_torchrun_nothing_changes_and_only_rank_0_writes_checkpoints(tmp_path, monkeypatch):
    model = nn.Linear(2, 2)
    batches = Batches(torch.arange(4), batch_size=2)
    assert distributed.wrap(model, "cpu") is model and distributed.shard(batches) is batches
    assert distributed.all_sum(3, 4.5) == (3, 4.5)
    monkeypatch.setenv("RANK", "1")
    save_checkpoint({"x": 1}, tmp_path / "rank1.pt")
    assert not (tmp_path / "rank1.pt").exists()
    monkeypatch.setenv("RANK", "0")
    save_checkpoint({"x": 1}, tmp_path / "rank0.pt")
    assert (tmp_path / "rank0.pt").exists()


def test_the_torchrun_entry_keeps_rank_0_outputs_and_discards_the_others(monkeypatch, capsys):
    import helpers.runner

    seen = []
    monkeypatch.setattr(
        helpers.runner,
        "execute",
        lambda notebook, profile, overrides, out_dir: seen.append(
            (notebook, profile, overrides, out_dir, out_dir and Path(out_dir).is_dir())
        ),
    )
    monkeypatch.delenv("RANK", raising=False)
    assert distributed.main(["04_denoising"]) == 2 and "torchrun" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "0")
    assert distributed.main(["04_denoising", "--profile", "smoke", "-p", "batch_size=16"]) == 0
    monkeypatch.setenv("RANK", "1")
    assert distributed.main(["04_denoising", "--profile", "smoke"]) == 0
    assert seen[0] == ("04_denoising", "smoke", {"batch_size": 16}, None, None)  # rank 0: the run's outputs
    assert seen[1][3] and seen[1][4] and not Path(seen[1][3]).exists()  # rank 1: a scratch folder, removed


def test_two_gloo_processes_reach_the_one_process_losses_at_the_same_global_batch(tmp_path):
    out = tmp_path / "result.json"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        __file__,
        "--out",
        str(out),
        "--store",
        str(tmp_path / "ddp"),
    ]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    ranks = [json.loads(Path(f"{out}.rank{r}").read_text()) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert all(ranks[0]["history"][k] == ranks[1]["history"][k] for k in ("train_loss", "test_loss"))  # summed
    stored = json.loads(next((tmp_path / "ddp").glob("*.json")).read_text())  # rank 0 stored the run
    assert stored["finished"] and stored["config"]["world_size"] == 2 and stored["config"]["batch_size"] == 32
    one = small_training(GLOBAL_BATCH)
    two = ranks[0]["history"]
    for key in ("train_loss", "test_loss"):
        difference = max(abs(a - b) for a, b in zip(one[key], two[key]))
        print(f"{key}: 1 process {one[key]}, 2 processes {two[key]}, max difference {difference:.2e}")
        assert difference < TOLERANCE, key
    assert one["test_loss"][-1] < one["test_loss"][0]  # it trained
    assert max(abs(a - b) for a, b in zip(one["test_acc"], two["test_acc"])) <= 2 / 256


def _worker() -> None:
    """One torchrun process: train with the per-process batch, write this rank's history."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--store")
    args = parser.parse_args()
    history = small_training(GLOBAL_BATCH // int(os.environ["WORLD_SIZE"]), args.store)
    Path(f"{args.out}.rank{distributed.rank()}").write_text(
        json.dumps({"world": distributed.world_size(), "history": history})
    )


if __name__ == "__main__":
    _worker()
