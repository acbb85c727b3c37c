"""Notebook 03: backbones (weights=None, random tensors), freezing, class subsets, the transfer study."""

from __future__ import annotations

import functools

import pytest
import torch

from helpers.data import ImageDataset
from helpers.models.backbones import (
    BACKBONES,
    Backbone,
    WeightsDownloadError,
    make_head,
    parameter_groups,
    unfreeze_last_block,
)
from helpers.models.classifiers import SequentialCNN
from helpers.models.composite import EncoderHead, freeze
from helpers.transfer import STRATEGIES, cache_features, epochs_for, study_table, transfer_study


def _step(model, x, y, lr=0.1):
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_large"])
def test_backbone_shapes_and_heads(name):
    torch.manual_seed(0)
    backbone = Backbone(name, weights=None)
    features = backbone(torch.randn(2, 3, 64, 64))
    assert features.shape == (2, BACKBONES[name][1])
    for kind in ("linear", "mlp", "mlp2"):
        model = EncoderHead(backbone, make_head(kind, backbone.out_features, 20), flatten=True)
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 20)


def test_freezing_changes_only_the_head():
    torch.manual_seed(0)
    backbone = freeze(Backbone("resnet18", weights=None))
    model = EncoderHead(backbone, make_head("mlp", 512, 5), flatten=True)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    head_before = [p.clone() for p in model.head.parameters()]
    model.train()
    _step(model, torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3]))
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())  # BN stats too
    assert any(not torch.equal(a, b) for a, b in zip(head_before, model.head.parameters()))


def test_unfreeze_last_block_and_lower_lr():
    torch.manual_seed(0)
    backbone = Backbone("resnet18", weights=None)
    model = EncoderHead(backbone, make_head("linear", 512, 3), flatten=True)
    block = unfreeze_last_block(backbone)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("net.layer4.") for n in trainable)
    layer1 = backbone.net.layer1[0].conv1.weight.clone()
    layer4 = block[1].conv2.weight.clone()
    _step(model, torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 0]))
    assert torch.equal(layer1, backbone.net.layer1[0].conv1.weight)
    assert not torch.equal(layer4, block[1].conv2.weight)
    groups = parameter_groups(model, lr=1e-3, backbone_factor=0.1)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]


def test_missing_weights_name_torch_home(monkeypatch, tmp_path):
    import torch.hub

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsDownloadError, match="TORCH_HOME"):
        Backbone("resnet18", weights="DEFAULT")


def test_unknown_names_fail_clearly():
    with pytest.raises(ValueError, match="resnet18"):
        Backbone("vgg99", weights=None)
    with pytest.raises(ValueError, match="linear"):
        make_head("deep", 10, 2)


def test_epochs_for_budget():
    assert epochs_for(100, 64, 100, 30) == 30
    assert epochs_for(6000, 64, 100, 30) == 2
    assert epochs_for(100000, 64, 10, 30) == 1


def _fake(n_per_class, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(n_per_class)
    images = torch.rand(len(labels), 1, 28, 28, generator=g) * 0.2
    for c in range(10):  # a class-specific bright bar: learnable
        images[labels == c, :, 2 * c : 2 * c + 3, :] += 0.8
    return ImageDataset("fake", "train", images.clamp(0, 1), labels)


def test_transfer_study_runs_every_strategy():
    torch.manual_seed(0)
    pretrained = SequentialCNN(width=4)
    train, test = _fake(12, 0), _fake(5, 1)
    features = cache_features(pretrained.features, test)
    assert features.shape == (50, 8)
    results = transfer_study(
        pretrained,
        lambda: SequentialCNN(width=4),
        {"fake": (train, test)},
        budgets=[2, 10],
        seeds=[0],
        steps=5,
        max_epochs=5,
    )
    assert set(results["strategy"]) == set(STRATEGIES) and len(results) == 8
    assert results["test_acc"].between(0, 1).all()
    frozen = results[results["strategy"] == "frozen+linear"]["params_trained"].iloc[0]
    assert frozen == 8 * 10 + 10
    table = study_table(results)
    assert list(table.columns) == [2, 10] and table.shape == (4, 2)


def test_real_path_loops_on_fake_images():
    """The Food-101 code path (feature pass over a lazy data set, last-block fine-tuning) on fake images."""
    from helpers.training import Trainer
    from helpers.transfer import loader_features

    torch.manual_seed(0)
    fake = torch.utils.data.TensorDataset(torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 2, 3] * 2))
    backbone = Backbone("mobilenet_v3_large", weights=None)
    features, labels = loader_features(backbone, fake, batch_size=4, workers=0)
    assert features.shape == (8, 960) and labels.tolist() == [0, 1, 2, 3] * 2
    model = EncoderHead(backbone, make_head("linear", 960, 4), flatten=True)
    unfreeze_last_block(backbone)
    trainer = Trainer(
        epochs=1,
        batch_size=4,
        workers=0,
        device="cpu",
        show_progress=False,
        parameter_groups=functools.partial(parameter_groups, lr=1e-3, backbone_factor=0.1),
    )
    history = trainer.fit(model, fake, fake)
    assert 0 <= history.last("train_acc") <= 1 and 0 <= history.last("test_acc") <= 1
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [1e-3, 1e-4]  # head, unfrozen last block


def test_per_image_results_round_trip_through_packed_bits():
    import numpy as np

    from helpers.transfer import pack_correct, unpack_correct

    correct = np.random.default_rng(0).random(1003) < 0.7
    text = pack_correct(correct)
    assert isinstance(text, str) and len(text) < 200
    assert (unpack_correct(text, len(correct)) == correct).all()


def _study_rows(per_strategy_seed):
    """A study's results table from per-image right/wrong per (strategy, seed), one target at 10 labels."""
    import numpy as np
    import pandas as pd

    from helpers.transfer import pack_correct

    return pd.DataFrame(
        [
            {
                "target": "t",
                "labels_per_class": 10,
                "seed": seed,
                "strategy": strategy,
                "test_acc": float(np.mean(c)),
                "correct": pack_correct(c),
                "n_test": len(c),
            }
            for (strategy, seed), c in per_strategy_seed.items()
        ]
    )


def test_difference_noise_one_seed_is_the_paired_standard_error():
    from helpers.statements import paired_standard_error
    from helpers.transfer import difference_noise

    a = [1, 1, 1, 0, 0, 1, 0, 1]
    b = [1, 0, 0, 0, 1, 1, 0, 0]
    se, label = difference_noise(_study_rows({("x", 0): a, ("y", 0): b}), "t", 10, "x", "y")
    assert se == paired_standard_error(a, b) and "paired" in label and "1 seed" in label


def test_difference_noise_over_seeds_combines_seed_spread_and_paired_noise_by_hand():
    import math

    from helpers.transfer import compare_strategies, difference_noise

    rows = _study_rows(
        {
            ("x", 0): [1, 1, 1, 1],  # acc 1.00
            ("x", 1): [1, 1, 0, 1],  # acc 0.75
            ("y", 0): [1, 0, 0, 1],  # acc 0.50
            ("y", 1): [0, 0, 0, 1],  # acc 0.25
        }
    )
    # per-seed differences 0.5, 0.5: spread 0; seed-averaged per-image differences (1, 1, .5, 1) - (.5, 0, 0, 1)
    # = (0.5, 1, 0.5, 0): mean 0.5, population std sqrt(0.125), over sqrt(4)
    se, label = difference_noise(rows, "t", 10, "x", "y")
    assert se == pytest.approx(math.sqrt(0.125) / 2) and "2 seeds" in label
    s = compare_strategies(rows, "t", 10, "x", "y", key="k")
    assert s.outcome == "a"  # 0.875 - 0.375 = 0.5 > 2 x 0.177
    assert s.verdict["spread"] == pytest.approx(se)
