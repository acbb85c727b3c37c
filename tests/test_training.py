"""The trainer: learning, history, callbacks, NaN guard, checkpoint reuse and exact resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.data import ImageDataset
from helpers.training import (BestModelCheckpoint, EarlyStopping, NonFiniteLossError, Trainer, predict,
                              seed_everything)


def blobs(n: int = 400, seed: int = 0) -> ImageDataset:
    """Two well-separated Gaussian blobs as 1x2x2 'images'."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, 2, 2, generator=g) * 0.5 + (y.float() * 2 - 1).view(-1, 1, 1, 1) * 1.5
    return ImageDataset("blobs", "train", x, y, ("a", "b"))


def tiny_model() -> nn.Module:
    seed_everything(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


class Interrupt(nn.Module):
    """Wraps a model and raises KeyboardInterrupt at a given forward call, like a killed run."""

    def __init__(self, model, at_call):
        super().__init__()
        self.model, self.at_call, self.calls = model, at_call, 0

    def forward(self, x):
        self.calls += 1
        if self.training and self.calls == self.at_call:
            raise KeyboardInterrupt
        return self.model(x)


def test_tiny_model_learns_a_separable_problem():
    history = Trainer(epochs=5, lr=0.05, batch_size=32, device="cpu", show_progress=False).fit(
        tiny_model(), blobs(), blobs(200, seed=1))
    assert history.last("test_acc") > 0.95
    assert history.epoch["train_loss"][-1] < history.epoch["train_loss"][0]
    assert history.epochs_done == 5 and len(history.batch["loss"]) == 5 * 13


def test_same_seed_gives_same_metrics_on_cpu():
    runs = [Trainer(epochs=2, lr=0.05, batch_size=32, device="cpu", show_progress=False).fit(
        tiny_model(), blobs(), blobs(100, 1)).epoch for _ in range(2)]
    assert runs[0]["train_loss"] == runs[1]["train_loss"] and runs[0]["test_acc"] == runs[1]["test_acc"]


def test_resume_after_interruption_gives_the_same_final_weights(tmp_path):
    settings = dict(epochs=4, lr=0.05, batch_size=32, device="cpu", show_progress=False)
    reference = tiny_model()
    Trainer(**settings).fit(reference, blobs())

    model = tiny_model()
    wrapped = Interrupt(model, at_call=2 * 13 + 5)           # dies in the middle of epoch 3
    with pytest.raises(KeyboardInterrupt):
        Trainer(**settings, checkpoint=tmp_path / "run.pt").fit(wrapped, blobs())
    resumed = tiny_model()                                    # a fresh process would rebuild the model
    history = Trainer(**settings, checkpoint=tmp_path / "run.pt").fit(resumed, blobs())
    assert history.epochs_done == 4
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_finished_run_is_reused_not_retrained(tmp_path, capsys):
    settings = dict(epochs=2, lr=0.05, batch_size=32, device="cpu", show_progress=False,
                    checkpoint=tmp_path / "m.pt")
    first = tiny_model()
    Trainer(**settings).fit(first, blobs())
    second = nn.Sequential(*[m for m in tiny_model()])
    with torch.no_grad():
        second[1].weight.zero_()
    Trainer(**settings).fit(second, blobs())
    assert "reusing finished run" in capsys.readouterr().out
    assert torch.equal(first[1].weight, second[1].weight)


def test_changed_settings_retrain_instead_of_reusing(tmp_path, capsys):
    Trainer(epochs=1, lr=0.05, device="cpu", show_progress=False, checkpoint=tmp_path / "m.pt").fit(tiny_model(), blobs())
    Trainer(epochs=1, lr=0.01, device="cpu", show_progress=False, checkpoint=tmp_path / "m.pt").fit(tiny_model(), blobs())
    assert "other settings; training afresh" in capsys.readouterr().out


def test_nan_loss_stops_with_a_clear_message():
    data = blobs()
    data.images[3] = float("nan")
    with pytest.raises(NonFiniteLossError, match="loss became nan at epoch 1, batch 1.*Lower the learning rate"):
        Trainer(epochs=1, batch_size=400, device="cpu", show_progress=False).fit(tiny_model(), data)


def test_bad_parameters_are_refused_before_training():
    with pytest.raises(ValueError, match="unknown optimizer 'adamx'"):
        Trainer(epochs=1, optimizer="adamx", device="cpu").fit(tiny_model(), blobs())
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        Trainer(epochs=0)
    with pytest.raises(ValueError, match="unknown loss"):
        Trainer(epochs=1, loss="hinge")


def test_best_model_callback_keeps_the_best_epoch(tmp_path):
    best = BestModelCheckpoint(tmp_path / "best.pt", monitor="test_acc")
    model = tiny_model()
    history = Trainer(epochs=4, lr=0.05, batch_size=32, device="cpu", show_progress=False,
                      callbacks=[best]).fit(model, blobs(), blobs(100, 1))
    assert best.best == max(history.epoch["test_acc"])
    restored = best.restore(tiny_model())
    assert (predict(restored, blobs(100, 1)).argmax(1) == blobs(100, 1).labels).float().mean().item() == \
        pytest.approx(best.best)


def test_early_stopping_stops_when_nothing_improves():
    trainer = Trainer(epochs=20, lr=1e-9, device="cpu", show_progress=False,
                      callbacks=[EarlyStopping("test_loss", "min", patience=2)])
    history = trainer.fit(tiny_model(), blobs(), blobs(100, 1))
    assert trainer.stopped_early and history.epochs_done < 20


def test_reconstruction_with_corruption_trains_towards_clean_targets():
    data = blobs()
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Unflatten(1, (1, 2, 2)))
    history = Trainer(epochs=30, lr=0.02, task="reconstruction", loss="mse", device="cpu", show_progress=False,
                      corrupt=lambda x: x + 0.1 * torch.randn_like(x)).fit(model, data, data)
    assert history.last("test_loss") < 0.1 * history.epoch["test_loss"][0] or history.last("test_loss") < 0.02
    assert "train_acc" not in history.epoch
