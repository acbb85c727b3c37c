"""The trainer: learning, history, callbacks, NaN guard, checkpoint reuse and exact resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import training
from helpers.checkpoint import load_checkpoint
from helpers.data import ImageDataset
from helpers.noise import GaussianNoise
from helpers.training import BestModelCheckpoint, Callback, NonFiniteLossError, Trainer, predict, seed_everything


def blobs(n: int = 400, seed: int = 0, noise: float = 0.5, shift: float = 1.5) -> ImageDataset:
    """Two Gaussian blobs as 1x2x2 'images' (well separated by default)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, 2, 2, generator=g) * noise + (y.float() * 2 - 1).view(-1, 1, 1, 1) * shift
    return ImageDataset("blobs", "train", x, y, ("a", "b"))


def tiny_model() -> nn.Module:
    seed_everything(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def interrupt_at(monkeypatch, call: int) -> None:
    """Raise KeyboardInterrupt at the ``call``-th training step, like a run killed mid-epoch."""
    original, calls = training.classification_step, [0]

    def step(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "classification_step", step)


def no_training(monkeypatch) -> None:
    """Make any training step fail: a reused run must not train."""

    def step(*args, **kwargs):
        raise AssertionError("trained although a stored run should have been reused")

    monkeypatch.setattr(training, "classification_step", step)
    monkeypatch.setattr(training, "reconstruction_step", step)


SETTINGS = dict(lr=0.05, batch_size=32, device="cpu", show_progress=False)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_tiny_model_learns_a_separable_problem():
    history = Trainer(epochs=5, lr=0.05, batch_size=32, device="cpu", show_progress=False).fit(
        tiny_model(), blobs(), blobs(200, seed=1)
    )
    assert history.last("test_acc") > 0.95
    assert history.epoch["train_loss"][-1] < history.epoch["train_loss"][0]
    assert history.epochs_done == 5 and len(history.batch["loss"]) == 5 * 13


def test_same_seed_gives_same_metrics_on_cpu():
    runs = [
        Trainer(epochs=2, lr=0.05, batch_size=32, device="cpu", show_progress=False)
        .fit(tiny_model(), blobs(), blobs(100, 1))
        .epoch
        for _ in range(2)
    ]
    assert runs[0]["train_loss"] == runs[1]["train_loss"] and runs[0]["test_acc"] == runs[1]["test_acc"]


def test_resume_after_interruption_gives_the_same_final_weights(tmp_path, monkeypatch):
    reference = tiny_model()
    Trainer(epochs=4, **SETTINGS).fit(reference, blobs())
    interrupt_at(monkeypatch, 2 * 13 + 5)  # dies in the middle of epoch 3
    with pytest.raises(KeyboardInterrupt):
        Trainer(epochs=4, **SETTINGS, store=tmp_path).fit(tiny_model(), blobs())
    monkeypatch.undo()
    resumed = tiny_model()  # a fresh process would rebuild the model
    history = Trainer(epochs=4, **SETTINGS, store=tmp_path).fit(resumed, blobs())
    assert history.epochs_done == 4 and same_weights(reference, resumed)


def test_a_same_settings_rerun_reuses_the_stored_run(tmp_path, monkeypatch, capsys):
    first = tiny_model()
    Trainer(epochs=2, **SETTINGS, store=tmp_path).fit(first, blobs(), blobs(100, 1))
    no_training(monkeypatch)
    second = tiny_model()
    history = Trainer(epochs=2, **SETTINGS, store=tmp_path).fit(second, blobs(), blobs(100, 1))
    assert "reusing the stored run" in capsys.readouterr().out
    assert same_weights(first, second) and history.epochs_done == 2


def fresh_history(epochs=2, train=None, val=None, **options):
    return (
        Trainer(epochs=epochs, **{**SETTINGS, **options})
        .fit(tiny_model(), train or blobs(), val or blobs(100, 1))
        .epoch
    )


@pytest.mark.parametrize(
    "change",
    ["lr", "fewer epochs", "other data", "other subset", "other evaluation set", "other initial weights", "seed"],
)
def test_any_other_setting_retrains_and_matches_a_fresh_run(tmp_path, change):
    Trainer(epochs=3, **SETTINGS, store=tmp_path).fit(tiny_model(), blobs(), blobs(100, 1))
    before = sorted(tmp_path.glob("*.pt"))
    epochs, train, val, options, model = 3, blobs(), blobs(100, 1), {}, tiny_model()
    if change == "lr":
        options = {"lr": 0.01}
    elif change == "fewer epochs":
        epochs = 1
    elif change == "other data":
        train = blobs(seed=5)
    elif change == "other subset":
        train = blobs().head(300)
    elif change == "other evaluation set":
        val = blobs(100, 2)
    elif change == "seed":
        options = {"seed": 1}
    else:
        with torch.no_grad():
            model[1].weight.add_(0.01)
    history = Trainer(epochs=epochs, **{**SETTINGS, **options}, store=tmp_path).fit(model, train, val).epoch
    if change == "other initial weights":
        assert len(history["epoch"]) == 3 and len(list(tmp_path.glob("*.pt"))) == 2
    else:
        assert history == {**fresh_history(epochs, train, val, **options), "time_s": history["time_s"]}
    assert set(before) < set(tmp_path.glob("*.pt"))  # the first run's file is still there


def test_more_epochs_continue_a_shorter_run_exactly(tmp_path, capsys):
    Trainer(epochs=1, **SETTINGS, store=tmp_path).fit(tiny_model(), blobs())
    continued = tiny_model()
    history = Trainer(epochs=3, **SETTINGS, store=tmp_path).fit(continued, blobs())
    assert "resuming after epoch 1" in capsys.readouterr().out
    straight = tiny_model()
    Trainer(epochs=3, **SETTINGS).fit(straight, blobs())
    assert history.epochs_done == 3 and same_weights(straight, continued)


def test_an_experiment_leaves_the_default_runs_untouched(tmp_path, monkeypatch):
    Trainer(epochs=2, **SETTINGS, store=tmp_path).fit(tiny_model(), blobs())
    stored = {p: p.read_bytes() for p in tmp_path.glob("*.pt")}
    Trainer(epochs=2, **{**SETTINGS, "seed": 1}, store=tmp_path).fit(tiny_model(), blobs())  # -p seed=1
    assert all(p.read_bytes() == data for p, data in stored.items())
    no_training(monkeypatch)  # and back
    Trainer(epochs=2, **SETTINGS, store=tmp_path).fit(tiny_model(), blobs())


def test_a_corruption_without_identity_is_never_reused(tmp_path, capsys):
    data = blobs()
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Unflatten(1, (1, 2, 2)))
    sigma = 0.1
    Trainer(
        epochs=1,
        task="reconstruction",
        loss="mse",
        store=tmp_path,
        **{**SETTINGS, "lr": 0.01},
        corrupt=lambda x: x + sigma * torch.randn_like(x),
    ).fit(model, data)
    assert "has no stable identity" in capsys.readouterr().out and not list(tmp_path.glob("*.pt"))


def test_the_noise_level_is_part_of_a_denoising_run(tmp_path, monkeypatch):
    data, options = blobs(), dict(task="reconstruction", loss="mse", store=tmp_path, **{**SETTINGS, "lr": 0.01})

    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Unflatten(1, (1, 2, 2)))

    Trainer(epochs=1, corrupt=GaussianNoise(0.3), **options).fit(model(), data, data)
    other = Trainer(epochs=1, corrupt=GaussianNoise(0.6), **options).fit(model(), data, data).epoch
    fresh = Trainer(epochs=1, corrupt=GaussianNoise(0.6), **{**options, "store": None}).fit(model(), data, data).epoch
    assert len(list(tmp_path.glob("*.pt"))) == 2 and other["test_loss"] == fresh["test_loss"]


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
    history = Trainer(epochs=4, **SETTINGS, callbacks=[best]).fit(model, blobs(), blobs(100, 1))
    assert best.best == max(history.epoch["test_acc"])
    restored = best.restore(tiny_model())
    assert (predict(restored, blobs(100, 1)).argmax(1) == blobs(100, 1).labels).float().mean().item() == pytest.approx(
        best.best
    )
    assert torch.equal(load_checkpoint(tmp_path / "best.pt")["model"]["1.weight"], restored[1].weight)


def test_best_model_state_survives_a_resume(tmp_path, monkeypatch):
    options = dict(epochs=6, **{**SETTINGS, "lr": 0.3})
    train, val = blobs(noise=1.0, shift=0.3), blobs(100, 1, noise=1.0, shift=0.3)  # overlapping: noisy epochs
    reference = BestModelCheckpoint(monitor="test_loss", mode="min")
    Trainer(**options, callbacks=[reference]).fit(tiny_model(), train, val)
    interrupt_at(monkeypatch, 3 * 13 + 2)  # dies in epoch 4
    with pytest.raises(KeyboardInterrupt):
        Trainer(**options, store=tmp_path / "s", callbacks=[BestModelCheckpoint(monitor="test_loss", mode="min")]).fit(
            tiny_model(), train, val
        )
    monkeypatch.undo()
    resumed = BestModelCheckpoint(tmp_path / "best.pt", monitor="test_loss", mode="min")
    Trainer(**options, store=tmp_path / "s", callbacks=[resumed]).fit(tiny_model(), train, val)
    assert reference.best_epoch < 4  # the best epoch is in the interrupted part
    assert (resumed.best, resumed.best_epoch) == (reference.best, reference.best_epoch)
    assert all(torch.equal(reference.best_state[k], resumed.best_state[k]) for k in reference.best_state)
    assert torch.equal(load_checkpoint(tmp_path / "best.pt")["model"]["1.weight"], reference.best_state["1.weight"])


class StopAfter(Callback):
    """Stops training after ``epochs`` epochs (any callback may end training early)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def identity(self):
        return {"type": "StopAfter", "epochs": self.epochs}

    def on_epoch_end(self, trainer, model, history):
        return history.epochs_done >= self.epochs


def test_a_callback_can_stop_training_and_the_stop_is_stored(tmp_path, monkeypatch):
    trainer = Trainer(epochs=20, **SETTINGS, store=tmp_path, callbacks=[StopAfter(3)])
    history = trainer.fit(tiny_model(), blobs(), blobs(100, 1))
    assert trainer.stopped_early and history.epochs_done == 3
    no_training(monkeypatch)  # the stopped run is a finished run
    again = Trainer(epochs=20, **SETTINGS, store=tmp_path, callbacks=[StopAfter(3)])
    assert again.fit(tiny_model(), blobs(), blobs(100, 1)).epochs_done == 3 and again.stopped_early


def test_reconstruction_with_corruption_trains_towards_clean_targets():
    data = blobs()
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Unflatten(1, (1, 2, 2)))
    history = Trainer(
        epochs=30,
        lr=0.02,
        task="reconstruction",
        loss="mse",
        device="cpu",
        show_progress=False,
        corrupt=lambda x: x + 0.1 * torch.randn_like(x),
    ).fit(model, data, data)
    assert history.last("test_loss") < 0.1 * history.epoch["test_loss"][0] or history.last("test_loss") < 0.02
    assert "train_acc" not in history.epoch
