"""Checkpoints: atomic writes, safe loads, and reuse only when the configuration matches."""

from __future__ import annotations

import collections
import pickle

import pytest
import torch
from torch import nn

from helpers.checkpoint import (CheckpointError, load_checkpoint, load_state_if_matches, save_checkpoint,
                                save_model)


def test_round_trip_and_no_temporary_files_left(tmp_path):
    path = save_checkpoint({"model": nn.Linear(2, 2).state_dict(), "epoch": 3}, tmp_path / "a" / "m.pt")
    assert load_checkpoint(path)["epoch"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint({"epoch": 1}, tmp_path / "m.pt")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1 and len(list(tmp_path.iterdir())) == 1


def test_a_pickled_object_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump(collections.Counter("abc"), handle)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(tmp_path / "list.pt")


def test_whole_module_pickles_are_refused(tmp_path):
    torch.save(nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(CheckpointError, match="refusing checkpoint"):
        load_checkpoint(tmp_path / "module.pt")


def test_model_is_reused_only_with_matching_config(tmp_path):
    model = nn.Linear(3, 1)
    save_model(model, tmp_path / "m.pt", {"lr": 0.1})
    fresh = nn.Linear(3, 1)
    assert not load_state_if_matches(fresh, tmp_path / "m.pt", {"lr": 0.2})
    assert load_state_if_matches(fresh, tmp_path / "m.pt", {"lr": 0.1})
    assert torch.equal(fresh.weight, model.weight)
