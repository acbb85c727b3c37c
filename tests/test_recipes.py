"""Training recipes (issue 17): learning-rate schedules, label smoothing, augmentation, slower
submodules, and their place in a stored run's identity."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn

from helpers.data import ImageDataset
from helpers.training import FLIP_SAFE, Augment, Trainer, schedule_factor, seed_everything

SETTINGS = dict(batch_size=25, device="cpu", show_progress=False)


def images(name: str = "fashion-mnist", n: int = 100, side: int = 8, seed: int = 0) -> ImageDataset:
    """Random images with labels 0-9 under a data-set name (the name decides whether flips are allowed)."""
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(name, "train", torch.rand(n, 1, side, side, generator=g), torch.arange(n) % 10)


def small_model(side: int = 8) -> nn.Module:
    seed_everything(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(side * side, 10))


# --------------------------------------------------------------------------- schedules


def test_one_cycle_rises_to_the_peak_then_anneals_to_almost_nothing():
    factors = [schedule_factor("onecycle", step, 100, warmup=0.3) for step in range(100)]
    assert factors[0] == pytest.approx(1 / 25)  # OneCycleLR's div_factor
    assert max(factors) == pytest.approx(1.0) and int(torch.tensor(factors).argmax()) == 29
    assert all(a <= b for a, b in zip(factors[:30], factors[1:30]))  # rising
    assert all(a >= b for a, b in zip(factors[29:], factors[30:]))  # then falling
    assert factors[-1] == pytest.approx(1 / 25e4)


def test_cosine_warms_up_linearly_then_reaches_zero():
    factors = [schedule_factor("cosine", step, 50, warmup=0.1) for step in range(50)]
    assert factors[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    middle = 5 + (50 - 5) // 2 - 1
    assert factors[middle] == pytest.approx(0.5 * (1 + math.cos(math.pi * (middle - 4) / 45)))
    assert factors[-1] == pytest.approx(0.0, abs=1e-12)
    assert schedule_factor("constant", 7, 50) == 1.0


def test_the_trainer_sets_the_scheduled_rate_at_every_batch():
    history = Trainer(epochs=3, lr=0.02, schedule="onecycle", warmup=0.25, **SETTINGS).fit(small_model(), images())
    steps = 3 * 4
    expected = [0.02 * schedule_factor("onecycle", i, steps, 0.25) for i in range(steps)]
    assert history.batch["lr"] == pytest.approx(expected)


def test_every_parameter_group_follows_the_schedule_at_its_own_rate():
    from helpers.models.backbones import parameter_groups
    from helpers.models.composite import EncoderHead

    seed_everything(0)
    model = EncoderHead(nn.Sequential(nn.Flatten(), nn.Linear(64, 12)), nn.Linear(12, 10))
    trainer = Trainer(
        epochs=1,
        lr=0.01,
        schedule="cosine",
        **SETTINGS,
        parameter_groups=functools.partial(parameter_groups, lr=0.01, backbone_factor=0.1),
    )
    trainer.fit(model, images())
    head, encoder = trainer.optimizer.param_groups
    assert encoder["params"] == list(model.encoder.parameters()) and head["params"] == list(model.head.parameters())
    last = schedule_factor("cosine", 3, 4, 0.3)
    assert head["lr"] == pytest.approx(0.01 * last) and encoder["lr"] == pytest.approx(0.001 * last)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(schedule="step"), "unknown schedule"),
        (dict(warmup=1.0), "warmup"),
        (dict(label_smoothing=0.1, loss="mse", task="reconstruction"), "label_smoothing"),
    ],
)
def test_bad_recipe_settings_are_refused_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        Trainer(epochs=1, **bad)


def test_label_smoothing_changes_the_training_loss_but_not_the_evaluation_loss():
    plain = Trainer(epochs=1, lr=1e-9, **SETTINGS).fit(small_model(), images(), images(seed=1)).epoch
    smooth = (
        Trainer(epochs=1, lr=1e-9, label_smoothing=0.2, **SETTINGS).fit(small_model(), images(), images(seed=1)).epoch
    )
    assert smooth["train_loss"][0] != pytest.approx(plain["train_loss"][0], rel=1e-4)
    assert smooth["test_loss"][0] == pytest.approx(plain["test_loss"][0], rel=1e-5)


# --------------------------------------------------------------------------- augmentation


def test_augmentation_keeps_shapes_and_moves_whole_images():
    x = torch.zeros(64, 1, 12, 12)
    x[:, :, 4:8, 4:8] = torch.rand(64, 1, 4, 4) + 0.1  # content away from the border: shifts keep it
    out = Augment(shift=2)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)))  # nothing lost, nothing invented
    assert (out != x).any(dim=(1, 2, 3)).float().mean() > 0.5  # most images moved
    moved = [torch.nonzero(o[0] > 0).min(0).values - 4 for o in out]
    assert all(int(d.abs().max()) <= 2 for d in moved)  # by at most `shift` pixels


def test_augmentation_is_reproducible_from_its_generator():
    x = torch.rand(16, 1, 10, 10)
    a = Augment(2, flip=True)(x, torch.Generator().manual_seed(3))
    b = Augment(2, flip=True)(x, torch.Generator().manual_seed(3))
    c = Augment(2, flip=True)(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flips_mirror_some_images_and_only_where_labels_survive():
    x = torch.rand(64, 1, 6, 6)
    out = Augment(shift=0, flip=True)(x, torch.Generator().manual_seed(0))
    mirrored = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    assert (mirrored | kept).all() and 0 < mirrored.sum() < 64
    assert Augment.for_data("fashion-mnist").flip and "fashion-mnist" in FLIP_SAFE
    for digits_or_letters in ("mnist", "mnist-10k", "notmnist-10k", "kmnist"):
        assert not Augment.for_data(digits_or_letters).flip
    with pytest.raises(ValueError, match="mirrored digit or letter"):
        Trainer(epochs=1, augment=Augment(flip=True), **SETTINGS).fit(small_model(), images("mnist-10k"))


def test_augmented_training_keeps_labels_and_repeats_exactly():
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(64, 10)

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.linear(x.flatten(1))

    data = images()
    runs = []
    for _ in range(2):
        seen.clear()
        seed_everything(0)
        history = Trainer(epochs=2, augment=Augment(1, flip=True), **SETTINGS).fit(Spy(), data)
        runs.append((history.epoch["train_loss"], [s.clone() for s in seen]))
    assert runs[0][0] == runs[1][0] and all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    first_epoch = torch.cat(runs[0][1][:4])
    assert first_epoch.shape == data.images.shape and not torch.equal(
        first_epoch.sort(0).values, data.images.sort(0).values
    )


# --------------------------------------------------------------------------- stored-run identity


def test_every_recipe_setting_is_in_the_stored_runs_identity(tmp_path):
    plain = Trainer(epochs=2, **SETTINGS).config(small_model(), images())
    assert not {"schedule", "label_smoothing", "augment", "continuable"} & set(plain)
    recipe = Trainer(epochs=2, schedule="onecycle", label_smoothing=0.1, augment=Augment(2, True), **SETTINGS).config(
        small_model(), images()
    )
    assert recipe["schedule"] == "onecycle" and recipe["warmup"] == 0.3 and recipe["label_smoothing"] == 0.1
    assert recipe["augment"] == "Augment(shift=2, flip=True)" and recipe["continuable"] is False


def test_a_scheduled_run_never_continues_a_shorter_one(tmp_path, capsys):
    options = dict(lr=0.01, schedule="onecycle", store=tmp_path, **SETTINGS)
    Trainer(epochs=1, **options).fit(small_model(), images())
    history = Trainer(epochs=2, **options).fit(small_model(), images())
    assert "resuming" not in capsys.readouterr().out and history.epochs_done == 2
    assert len(list(tmp_path.glob("*.pt"))) == 2
    straight = Trainer(epochs=2, lr=0.01, schedule="onecycle", **SETTINGS).fit(small_model(), images())
    assert history.epoch["train_loss"] == straight.epoch["train_loss"]


# --------------------------------------------------------------------------- assigned settings stay assigned


def assignment_parameter_count(layers) -> int:
    """Weights + biases of conv (in, out, k) and linear (in, out) layers, counted from the assignment's list."""
    return sum(i * o * k * k + o for i, o, k in layers)


def test_001_still_trains_with_the_assigned_optimizer_settings(smoke_run):
    settings = smoke_run("01_cnn_classifier")["001.settings"]
    assert settings["sgd_lr"] == settings["momentum_lr"] == settings["rmsprop_lr"] == 0.001
    assert settings["momentum_alpha"] == 0.9 and settings["rmsprop_rho"] == 0.9


def test_02_assigned_items_keep_their_settings_beside_the_better_trained_variants(smoke_run):
    metrics = smoke_run("02_autoencoders")
    assert metrics["000.1"]["latent_dim"] == 12 and metrics["000.1"]["loss"] == "l1"
    p54 = metrics["002.P5.4"]
    assert (p54["optimizer"], p54["lr"], p54["schedule"]) == ("adam", 0.001, "constant")
    variant = metrics["002.P5.4.variant"]
    assert variant["schedule"] == "onecycle" and variant["params"] == p54["params"]  # same network
    p61_layers = [(1, 4, 3), (4, 8, 3), (392, 20, 1), (20, 2, 1), (2, 20, 1), (20, 392, 1), (8, 4, 3), (4, 1, 3)]
    assert metrics["002.P6.1"]["params"] == assignment_parameter_count(p61_layers)
    for key in ("000.5", "000.5.slow_encoder", "000.5.linear_probe"):
        assert {"diff_vs_scratch_mean_pp", "diff_vs_scratch_std_pp", "seeds_above_scratch"} <= set(metrics[key]), key


def test_02_default_profile_keeps_p54_at_ten_or_more_epochs():
    from helpers.parameters import declared_defaults

    defaults = declared_defaults("02_autoencoders")
    assert defaults["p5_epochs"] >= 10 and defaults["latent_dim"] == 12


def test_04_denoiser_keeps_the_exercise_layers(smoke_run):
    ex3 = smoke_run("04_denoising")["004.Ex3"]
    layers = [(1, 32, 3), (32, 64, 3), (64, 128, 3), (128, 128, 3), (128, 64, 3), (64, 1, 3)]
    assert ex3["denoiser_params"] == assignment_parameter_count(layers)
    assert all(0 <= ex3[f"live_units_{size}"] <= size for size in (8, 32))


# the workbook's targets (issue 17): each is stated in its notebook with a verdict from the numbers
# (item, verdict key, recorded metric and its scale to the verdict's unit, goal in that unit)
TARGETS = {
    "01_cnn_classifier": [("002.P4.2", "target", "test_acc", 1, 0.985)],
    "02_autoencoders": [
        ("000.2", "target", "test_acc", 1, 0.98),
        ("002.P6.1", "target", "test_mse", 1, 0.045),
        ("003.3", "target", "test_acc", 100, 88.0),
    ],
    "04_denoising": [("004.Ex3.e", "target_gain", None, 1, 8.0)],
    "05_gan": [("003.5", "target_scorer", "scorer_test_acc", 1, 0.90), ("003.5", "target_fd_ratio", None, 1, 0.5)],
}


@pytest.mark.parametrize("notebook", sorted(TARGETS))
def test_each_workbook_target_gets_a_verdict_from_the_recorded_number(smoke_run, notebook):
    metrics = smoke_run(notebook)
    for item, key, metric, scale, goal in TARGETS[notebook]:
        verdict = metrics[item]["verdicts"][key]
        value = verdict["value"]["value"]
        assert verdict["kind"] == "meets" and verdict["goal"]["value"] == pytest.approx(goal)
        if metric is not None:
            assert value == pytest.approx(scale * metrics[item][metric])
        ok = value >= goal if verdict["better"] == "higher" else value <= goal
        assert verdict["outcome"] == ("meets" if ok else "misses"), (item, key)
