"""Checkpoints: atomic writes, safe loads, leftovers of killed writes, readable files, clear write errors."""

from __future__ import annotations

import collections
import os
import pickle
import stat

import pytest
import torch
from torch import nn

from helpers.checkpoint import CheckpointError, load_checkpoint, remove_stale_temporaries, save_checkpoint


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


def test_leftovers_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / ".m.pt.pid999999999.abc123.tmp"  # no such process
    live = tmp_path / f".m.pt.pid{os.getppid()}.def456.tmp"  # a running process, maybe mid-write
    dead.write_bytes(b"x" * 100)
    live.write_bytes(b"x")
    save_checkpoint({"epoch": 1}, tmp_path / "m.pt")
    assert not dead.exists() and live.exists()
    assert remove_stale_temporaries(tmp_path) == []


def test_checkpoints_are_readable_like_other_outputs(tmp_path):
    previous = os.umask(0o022)
    try:
        path = save_checkpoint({"epoch": 1}, tmp_path / "m.pt")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_an_unwritable_location_is_a_clear_error_naming_the_folder(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(CheckpointError, match=f"could not write {blocker}/m.pt"):
        save_checkpoint({"epoch": 1}, blocker / "m.pt")


def test_a_full_disk_names_the_file_and_the_free_space(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc] . unexpected pos 395456 vs 395348")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match=r"could not write .*m.pt .*is there room \(\d+ MiB free\)"):
        save_checkpoint({"epoch": 1}, tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_stored_result_is_reused_only_for_the_same_configuration(tmp_path, monkeypatch):
    from helpers.notebook import NotebookRun

    monkeypatch.setenv("WORKBOOK_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("WORKBOOK_OUTPUT", str(tmp_path / "out"))
    calls = []

    def compute(value):
        calls.append(value)
        return {"rows": [{"strategy": "scratch", "acc": value}], "time_s": 1.5}

    run = NotebookRun("99_test", {"profile": "smoke", "seed": 0})
    first = run.stored("study", {"budgets": [10]}, lambda: compute(0.5))
    again = NotebookRun("99_test", {"profile": "smoke", "seed": 0}).stored(
        "study", {"budgets": [10]}, lambda: compute(0.9)
    )
    assert first == again == {"rows": [{"strategy": "scratch", "acc": 0.5}], "time_s": 1.5} and calls == [0.5]
    other_config = run.stored("study", {"budgets": [10, 50]}, lambda: compute(0.7))
    other_seed = NotebookRun("99_test", {"profile": "smoke", "seed": 1}).stored(
        "study", {"budgets": [10]}, lambda: compute(0.8)
    )
    assert other_config["rows"][0]["acc"] == 0.7 and other_seed["rows"][0]["acc"] == 0.8 and calls == [0.5, 0.7, 0.8]
    assert len(list((tmp_path / "ck" / "99_test" / "study").glob("*.pt"))) == 3
