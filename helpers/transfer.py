"""Feature caching for frozen backbones and the offline transfer study (03, 004.Ex2).

Strategies of the study: ``frozen+linear`` and ``frozen+mlp`` train a head on cached features of
the pretrained backbone; ``fine-tune`` trains the whole pretrained network with a new head;
``scratch`` trains the same architecture from random weights. Every run keeps its per-image
right/wrong on the target's test images (packed bits), so two strategies are compared on the same
images with the paired margin, and across seeds with the spread of the per-seed differences.
"""

from __future__ import annotations

import base64
import copy
import math
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from .models.backbones import make_head
from .statements import Statement, best_of, compare, paired_standard_error, seed_differences
from .training import Trainer, evaluating, predict

STRATEGIES = ("frozen+linear", "frozen+mlp", "fine-tune", "scratch")


@torch.no_grad()
def cache_features(features: nn.Module, data, batch_size: int = 500, device=None) -> torch.Tensor:
    """Run a frozen feature extractor once over ``data``: a ``N x F`` tensor for cheap head training (03)."""
    return predict(features, data, batch_size=batch_size, device=device).flatten(1)


def pack_correct(correct) -> str:
    """Per-image right/wrong (booleans) as a short JSON-safe string: packed bits, base64 (03)."""
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode("ascii")


def unpack_correct(text: str, n: int) -> np.ndarray:
    """The ``n`` booleans that :func:`pack_correct` stored (03)."""
    return np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))[:n].astype(bool)


def _correct(model: nn.Module, data, labels: torch.Tensor, device=None) -> np.ndarray:
    return (predict(model, data, device=device).argmax(1) == labels).numpy()


def epochs_for(n_train: int, batch_size: int, steps: int, max_epochs: int) -> int:
    """Epochs giving about ``steps`` optimizer steps on ``n_train`` examples (at most ``max_epochs``) (03)."""
    return max(1, min(max_epochs, math.ceil(steps * batch_size / n_train)))


def run_strategy(
    strategy: str,
    pretrained: nn.Module,
    make_model,
    train,
    test,
    seed: int,
    steps: int,
    max_epochs: int,
    lr: float,
    batch_size: int = 64,
    device=None,
    feature_cache: dict | None = None,
    hidden: int = 128,
) -> dict:
    """Train one strategy on one labelled subset; returns test accuracy, the per-image right/wrong on
    ``test`` (:func:`pack_correct`), time and trained parameters (03)."""
    t0 = time.perf_counter()
    n_classes = len(train.classes)
    epochs = epochs_for(len(train), batch_size, steps, max_epochs)
    trainer = Trainer(
        epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device, show_progress=False, name=strategy
    )
    if strategy.startswith("frozen"):
        cache = feature_cache if feature_cache is not None else {}
        for key, data in (("train", train), ("test", test)):
            if (id(data), key) not in cache:
                cache[(id(data), key)] = cache_features(pretrained.features, data, device=device)
        f_train, f_test = cache[(id(train), "train")], cache[(id(test), "test")]
        head = make_head(
            "linear" if strategy.endswith("linear") else "mlp", f_train.shape[1], n_classes, hidden=hidden, dropout=0.3
        )
        torch.manual_seed(seed)
        trainer.lr = lr * 5  # a head alone tolerates (and needs) a larger step
        history = trainer.fit(head, (f_train, train.labels))
        correct = _correct(head, (f_test, test.labels), test.labels, device)
        trained = sum(p.numel() for p in head.parameters())
    else:
        torch.manual_seed(seed)
        model = make_model() if strategy == "scratch" else copy.deepcopy(pretrained)
        model.head = nn.Linear(model.head.in_features, n_classes)  # F -> classes, new for both
        history = trainer.fit(model, train)  # evaluated once at the end: cheaper
        correct = _correct(model, test, test.labels, device)
        trained = sum(p.numel() for p in model.parameters())
    return {
        "test_acc": float(correct.mean()),
        "correct": pack_correct(correct),
        "n_test": int(correct.size),
        "train_acc": history.last("train_acc"),
        "epochs": epochs,
        "params_trained": trained,
        "time_s": time.perf_counter() - t0,
    }


def transfer_study(
    pretrained: nn.Module,
    make_model,
    targets: dict,
    budgets,
    seeds,
    steps: int = 150,
    max_epochs: int = 30,
    lr: float = 2e-3,
    strategies=STRATEGIES,
    device=None,
) -> pd.DataFrame:
    """Strategies x target data sets x labels per class x seeds; one row per run (03).

    ``targets`` maps a data-set name to ``(train, test)`` ``ImageDataset``s; frozen features are
    computed once per (subset, split) and shared by the two frozen strategies.
    """
    rows, cache = [], {}
    for name, (train_full, test) in targets.items():
        cache[(id(test), "test")] = cache_features(pretrained.features, test, device=device)
        for budget in budgets:
            for seed in seeds:
                train = train_full.per_class(budget, seed)
                for strategy in strategies:
                    result = run_strategy(
                        strategy,
                        pretrained,
                        make_model,
                        train,
                        test,
                        seed,
                        steps,
                        max_epochs,
                        lr,
                        device=device,
                        feature_cache=cache,
                    )
                    rows.append(
                        {"target": name, "labels_per_class": budget, "seed": seed, "strategy": strategy, **result}
                    )
                cache.pop((id(train), "train"), None)
    return pd.DataFrame(rows)


def study_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean (and spread) test accuracy per target, strategy and label budget (03)."""
    table = results.groupby(["target", "strategy", "labels_per_class"])["test_acc"].agg(["mean", "std"])
    return table["mean"].unstack("labels_per_class").reindex(list(STRATEGIES), level="strategy")


def per_image(results: pd.DataFrame, target: str, strategy: str, budget: int) -> tuple[list, np.ndarray]:
    """The seeds and a ``seeds x test images`` boolean array of one strategy's runs at one budget (03)."""
    part = results[
        (results["target"] == target) & (results["strategy"] == strategy) & (results["labels_per_class"] == budget)
    ].sort_values("seed")
    return list(part["seed"]), np.stack([unpack_correct(c, n) for c, n in zip(part["correct"], part["n_test"])])


def difference_noise(results: pd.DataFrame, target: str, budget: int, a: str, b: str) -> tuple[float, str]:
    """The standard error of the difference of two strategies' mean test accuracies over the seeds, on
    the same test images, with what it is (03).

    Two sources: the training's randomness (the spread of the per-seed differences,
    :func:`~helpers.statements.seed_differences`, when there are >= 2 seeds) and the choice of test
    images (the paired standard error of the seed-averaged per-image difference). Combined in
    quadrature: the per-seed spread already holds part of the image noise, so the sum errs on the
    cautious side.
    """
    seeds_a, ca = per_image(results, target, a, budget)
    seeds_b, cb = per_image(results, target, b, budget)
    if seeds_a != seeds_b:
        raise ValueError(f"{a} and {b} at {budget} labels per class ran on different seeds: {seeds_a}, {seeds_b}")
    n, k = ca.shape[1], len(seeds_a)
    d = ca.mean(0) - cb.mean(0)
    paired = float(d.std() / math.sqrt(n)) if k > 1 else paired_standard_error(ca[0], cb[0])
    if k < 2:
        return paired, f"standard error of the paired difference on {n} test images (1 seed)"
    _, seed_se, _ = seed_differences(ca.mean(1), cb.mean(1))
    return (
        math.hypot(seed_se, paired),
        f"standard error of the difference (spread of the per-seed differences over {k} seeds and the paired "
        f"per-image noise on {n} test images, combined)",
    )


def compare_strategies(results: pd.DataFrame, target: str, budget: int, a: str, b: str, key: str) -> Statement:
    """Strategy ``a`` against ``b`` at one label budget: mean test accuracy over the seeds, judged
    against 2x :func:`difference_noise` (03)."""
    mean = results.groupby(["target", "strategy", "labels_per_class"])["test_acc"].mean()
    noise = difference_noise(results, target, budget, a, b)
    return compare(a, mean[(target, a, budget)], b, mean[(target, b, budget)], spread=noise, fmt="{:.3f}", key=key)


def best_strategy(results: pd.DataFrame, target: str, budget: int, key: str) -> Statement:
    """The strategy with the best mean test accuracy at one budget; "clear" only beyond 2x the
    :func:`difference_noise` of the top two (03)."""
    part = results[(results["target"] == target) & (results["labels_per_class"] == budget)]
    means = part.groupby("strategy")["test_acc"].mean().to_dict()
    first, second = sorted(means, key=means.get, reverse=True)[:2]
    noise = difference_noise(results, target, budget, first, second)
    return best_of(means, spread=noise, fmt="{:.3f}", what="test accuracy", key=key)


def study_plot(results: pd.DataFrame, title: str):
    """Test accuracy vs labels per class (log axis), one panel per target, one line per strategy (03)."""
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(results["target"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(5.2 * len(targets), 3.8), sharey=True, squeeze=False)
    for ax, target in zip(axes[0], targets):
        part = results[results["target"] == target]
        for strategy in STRATEGIES:
            s = part[part["strategy"] == strategy].groupby("labels_per_class")["test_acc"]
            if len(s):
                mean, std = s.mean(), s.std().fillna(0)
                ax.errorbar(mean.index, mean.values, yerr=std.values, marker="o", capsize=3, label=strategy)
        ax.set_xscale("log")
        budgets = sorted(set(part["labels_per_class"]))
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.minorticks_off()
        ax.set_xlabel("labels per class")
        ax.set_title(target)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the real path (Food-101)


@torch.no_grad()
def loader_features(
    backbone: nn.Module, dataset, batch_size: int = 64, device=None, workers: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of a lazily loaded data set (e.g. Food-101 JPEGs), computed once (03)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    feats, labels = [], []
    with evaluating(backbone.to(device)):
        for x, y in loader:
            feats.append(backbone(x.to(device)).flatten(1).cpu())
            labels.append(torch.as_tensor(y))
    return torch.cat(feats), torch.cat(labels)
