"""The trainer's fast path (issue 22): the chosen setting is recorded, is part of a stored run's
identity, is decided from measurements (compile time counted, bf16 only where allowed) and gives the
numbers of fp32 eager within a stated tolerance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import fast_path
from helpers.checkpoint import RunStore, config_fingerprint
from helpers.data import ImageDataset
from helpers.fast_path import FP32_EAGER, Setting, decide
from helpers.gan_training import train_gan
from helpers.models.gan import Discriminator, Generator
from helpers.training import Trainer, seed_everything

# fp32 with another memory format or compiled differs from fp32 eager only by the order of float
# sums: train losses agree to 1e-4 (relative). bf16 autocast rounds every conv/matmul input to an
# 8-bit mantissa: over the short run below the train losses agree to 5% (relative) and test
# accuracies to 5 points.
FP32_TOLERANCE = 1e-4
BF16_LOSS_TOLERANCE = 0.05
BF16_ACC_TOLERANCE = 0.05


def strokes(n: int = 512, seed: int = 0, side: int = 12) -> ImageDataset:
    """Two classes of 1 x side x side images: a horizontal or a vertical bar, with noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, side, side, generator=g) * 0.3
    position = torch.randint(2, side - 2, (n,), generator=g)
    for i in range(n):
        if y[i]:
            x[i, 0, :, position[i]] += 0.7
        else:
            x[i, 0, position[i], :] += 0.7
    return ImageDataset("strokes", "train", x.clamp(0, 1), y, ("horizontal", "vertical"))


def small_cnn() -> nn.Module:
    seed_everything(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),  # 1x12x12 -> 8x12x12
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> 8x6x6
        nn.Conv2d(8, 16, 3, padding=1),  # -> 16x6x6
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),  # -> 16x1x1
        nn.Flatten(),
        nn.Linear(16, 2),
    )


def fit(fast_path: str, epochs: int = 2, store=None, model=None, **options):
    trainer = Trainer(
        epochs=epochs, lr=0.01, batch_size=32, device="cpu", show_progress=False, fast_path=fast_path, store=store
    )
    model = model or small_cnn()
    history = trainer.fit(model, strokes(), strokes(256, seed=1), **options)
    return trainer, model, history


def test_the_chosen_setting_is_recorded_in_the_history_and_for_the_metrics():
    trainer, model, history = fit("fp32+channels_last")
    assert trainer.setting == Setting("fp32", "channels_last", False)
    assert history.meta["fast_path"]["setting"] == "fp32+channels_last"
    assert history.meta["fast_path"]["precision"] == "fp32"
    assert history.meta["fast_path"]["memory_format"] == "channels_last"
    assert history.meta["fast_path"]["compiled"] is False
    assert fast_path.CHOSEN[-1]["setting"] == "fp32+channels_last" and fast_path.CHOSEN[-1]["source"] == "requested"
    assert model[0].weight.is_contiguous()  # handed back in the ordinary memory format


def test_the_fast_path_is_part_of_the_stored_runs_identity(tmp_path, capsys):
    model = small_cnn()
    configs = {}
    for label in ("fp32", "fp32+channels_last", "bf16", "bf16+channels_last", "fp32+compiled", "fp32+fused"):
        trainer = Trainer(epochs=1, device="cpu", show_progress=False, fast_path=label)
        trainer.setting = Setting.parse(label)
        configs[label] = trainer.config(model, strokes())
    assert len({config_fingerprint(c) for c in configs.values()}) == len(configs)
    assert "fast_path" not in configs["fp32"]  # fp32 eager keeps the name runs had before the fast path
    assert configs["bf16"]["fast_path"] == {"precision": "bf16", "memory_format": "contiguous", "compiled": False}
    assert configs["fp32+fused"]["fast_path"]["fused_optimizer"] is True

    store = RunStore(tmp_path / "runs")
    fit("fp32", store=store)
    fit("bf16", store=store)  # a bf16 request never gets the stored fp32 run
    fit("fp32", store=store)
    out = capsys.readouterr().out
    assert out.count("reusing the stored run") == 1 and len(list(store.folder.glob("*.pt"))) == 2


def test_fp32_with_channels_last_gives_the_numbers_of_fp32_eager():
    _, _, eager = fit("fp32")
    _, _, other = fit("fp32+channels_last")
    for a, b in zip(eager.epoch["train_loss"], other.epoch["train_loss"]):
        assert abs(a - b) <= FP32_TOLERANCE * abs(a)
    assert other.last("test_acc") == pytest.approx(eager.last("test_acc"), abs=2 / 256)  # at most 2 images flip


def test_the_fused_optimizer_gives_the_numbers_of_fp32_eager_and_only_where_it_is_asked_for():
    eager_trainer, _, eager = fit("fp32")
    assert not eager_trainer.optimizer.defaults.get("fused")  # fp32 eager: the for-loop step, as before
    trainer, _, fused = fit("fp32+fused")
    assert trainer.optimizer.defaults["fused"] is True and fused.meta["fast_path"]["fused_optimizer"] is True
    for a, b in zip(eager.epoch["train_loss"], fused.epoch["train_loss"]):
        assert abs(a - b) <= FP32_TOLERANCE * abs(a)
    assert fused.last("test_acc") == pytest.approx(eager.last("test_acc"), abs=2 / 256)
    assert fast_path.has_fused_kernel("adamw") and fast_path.has_fused_kernel(torch.optim.SGD)
    assert not fast_path.has_fused_kernel("rmsprop")  # no fused kernel: the setting leaves it alone
    assert Setting.parse("fp32+fused").optimizer_options("rmsprop") == {}


def test_bf16_gives_the_numbers_of_fp32_eager_within_its_tolerance():
    _, _, eager = fit("fp32", epochs=3)
    _, _, bf16 = fit("bf16+channels_last", epochs=3)
    for a, b in zip(eager.epoch["train_loss"], bf16.epoch["train_loss"]):
        assert abs(a - b) <= BF16_LOSS_TOLERANCE * abs(a)
    assert abs(eager.last("test_acc") - bf16.last("test_acc")) <= BF16_ACC_TOLERANCE
    assert eager.last("test_acc") > 0.9  # the comparison is between two models that learned


def test_auto_on_a_short_run_stays_fp32_eager_exactly():
    _, eager_model, eager = fit("fp32")
    trainer, model, auto = fit("auto")
    assert trainer.choice.source == "short run" and trainer.setting == FP32_EAGER
    assert auto.epoch["train_loss"] == eager.epoch["train_loss"]
    assert all(torch.equal(a, b) for a, b in zip(eager_model.state_dict().values(), model.state_dict().values()))


def test_auto_probes_once_stores_the_probe_and_leaves_training_as_if_requested(isolated_outputs, monkeypatch):
    monkeypatch.setattr(fast_path, "MIN_PROBE_STEPS", 1)
    monkeypatch.setattr(fast_path, "COMPILE_FLOOR_S", 1e9)  # no compile in a unit test
    monkeypatch.setattr(fast_path, "CPU_COMPILE_PROBE_S", 1e9)
    first, model, history = fit("auto")
    assert first.choice.source == "probe"
    # Adam has a fused kernel: every candidate, and so the choice, uses it
    assert set(first.choice.measured) >= {"fp32+fused", "fp32+channels_last+fused"}
    assert first.setting.fused_optimizer and first.optimizer.defaults["fused"] is True
    assert list((isolated_outputs / "checkpoints" / "_fast_path").glob("*.json"))
    again, _, _ = fit("auto")
    assert again.choice.source == "stored probe" and again.setting == first.setting
    # the probe ran on copies with the RNG state put back: the same as asking for the setting
    _, direct, requested = fit(first.setting.label)
    assert requested.epoch["train_loss"] == history.epoch["train_loss"]
    assert all(torch.equal(a, b) for a, b in zip(direct.state_dict().values(), model.state_dict().values()))


def small_autoencoder() -> nn.Module:
    seed_everything(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),  # 1x12x12 -> 8x6x6
        nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1),  # -> 1x12x12
        nn.Sigmoid(),
    )


def fit_autoencoder(fast_path: str, epochs: int = 3):
    trainer = Trainer(
        epochs=epochs,
        lr=0.01,
        loss="mse",
        task="reconstruction",
        batch_size=32,
        device="cpu",
        show_progress=False,
        fast_path=fast_path,
    )
    return trainer, trainer.fit(small_autoencoder(), strokes(), strokes(128, seed=1))


@pytest.mark.skipif(not fast_path.native_bf16("cpu"), reason="this CPU computes bf16 only by emulation")
def test_bf16_is_a_candidate_for_reconstruction_and_keeps_its_losses(isolated_outputs, monkeypatch):
    monkeypatch.setattr(fast_path, "MIN_PROBE_STEPS", 1)
    monkeypatch.setattr(fast_path, "CPU_COMPILE_PROBE_S", 1e9)
    trainer, _ = fit_autoencoder("auto", epochs=1)
    assert {"bf16+fused", "bf16+channels_last+fused"} <= set(trainer.choice.measured)
    _, eager = fit_autoencoder("fp32")
    _, bf16 = fit_autoencoder("bf16+channels_last+fused")
    for key in ("train_loss", "test_loss"):
        for a, b in zip(eager.epoch[key], bf16.epoch[key]):
            assert abs(a - b) <= BF16_LOSS_TOLERANCE * abs(a)
    assert eager.last("test_loss") < 0.5 * eager.epoch["test_loss"][0] or eager.last("test_loss") < 0.02


def test_the_decision_counts_compile_time_and_refuses_bf16_beyond_its_loss_tolerance():
    settings = [FP32_EAGER, Setting("bf16"), Setting("fp32", compiled=True)]
    measured = {
        "fp32": {"s_per_step": 0.10, "compile_s": 0.0, "loss_gap": 0.0},
        "bf16": {"s_per_step": 0.08, "compile_s": 0.0, "loss_gap": 0.001},
        "fp32+compiled": {"s_per_step": 0.03, "compile_s": 60.0, "loss_gap": 0.0},
    }
    assert decide(measured, settings, planned_steps=500) == Setting("bf16")  # 60 s of compile not repaid
    assert decide(measured, settings, planned_steps=5000) == Setting("fp32", compiled=True)  # repaid
    measured["bf16"]["loss_gap"] = 0.5
    assert decide(measured, settings, planned_steps=500) == FP32_EAGER
    measured["bf16"].update(loss_gap=0.001, trajectory_gap=0.2)  # a bf16 run that drifts away
    assert decide(measured, settings, planned_steps=500) == FP32_EAGER
    measured["bf16"] = {"s_per_step": 0.099, "compile_s": 0.0, "loss_gap": 0.0}
    assert decide(measured, settings, planned_steps=500) == FP32_EAGER  # 1% faster: not worth a change


def test_unknown_fast_paths_are_refused_before_training():
    for bad in ("fast", "fp16", "bf16+bf16", "fp32+channels_first"):
        with pytest.raises(ValueError, match="fast path"):
            Trainer(epochs=1, device="cpu", fast_path=bad)


def test_the_gan_records_its_setting_and_keeps_it_in_its_identity(tmp_path, capsys):
    images = strokes(256, side=28).images
    results = {}
    for label in ("fp32", "fp32+channels_last+fused"):
        torch.manual_seed(0)
        G, D = Generator(16, 28, width=8), Discriminator(28, width=8)
        history, _ = train_gan(
            G, D, images, 1, batch_size=64, store=tmp_path / "gan", show_progress=False, fast_path=label
        )
        assert history.meta["fast_path"]["setting"] == label
        assert G.net[0].weight.is_contiguous()
        results[label] = history.epoch["d_loss"][0] + history.epoch["g_loss"][0]
    assert len(list((tmp_path / "gan").glob("*.pt"))) == 2 and "reusing" not in capsys.readouterr().out
    assert results["fp32+channels_last+fused"] == pytest.approx(results["fp32"], rel=1e-3)


def test_a_compiled_run_gives_the_numbers_of_fp32_eager():
    _, _, eager = fit("fp32")
    trainer, model, other = fit("fp32+compiled")  # 512 images in batches of 32: every batch full, compiled
    assert trainer.setting.compiled and other.meta["fast_path"]["compiled"] is True
    for a, b in zip(eager.epoch["train_loss"], other.epoch["train_loss"]):
        assert abs(a - b) <= FP32_TOLERANCE * abs(a)
    assert other.last("test_acc") == pytest.approx(eager.last("test_acc"), abs=2 / 256)


@pytest.mark.skipif(not fast_path.native_bf16("cpu"), reason="this CPU computes bf16 only by emulation")
def test_the_gan_in_bf16_autocast_keeps_its_losses(tmp_path):
    images = strokes(256, side=28).images
    losses = {}
    for label in ("fp32", "bf16+channels_last+fused"):
        torch.manual_seed(0)
        G, D = Generator(16, 28, width=8), Discriminator(28, width=8)
        history, _ = train_gan(G, D, images, 2, batch_size=64, show_progress=False, fast_path=label)
        assert history.meta["fast_path"]["precision"] == label[:4]
        assert all(p.dtype == torch.float32 for p in [*G.parameters(), *D.parameters()])
        losses[label] = history.epoch["d_loss"] + history.epoch["g_loss"]
    for a, b in zip(losses["fp32"], losses["bf16+channels_last+fused"]):
        assert abs(a - b) <= BF16_LOSS_TOLERANCE * abs(a)
