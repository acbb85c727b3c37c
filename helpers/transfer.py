"""Feature caching for frozen backbones and the offline transfer study (03, 004.Ex2).

Strategies of the study: ``frozen+linear`` and ``frozen+mlp`` train a head on cached features of
the pretrained backbone; ``fine-tune`` trains the whole pretrained network with a new head;
``scratch`` trains the same architecture from random weights.
"""

from __future__ import annotations

import copy
import math
import time

import pandas as pd
import torch
from torch import nn

from .models.backbones import make_head
from .training import Trainer, evaluating, predict

STRATEGIES = ("frozen+linear", "frozen+mlp", "fine-tune", "scratch")


@torch.no_grad()
def cache_features(features: nn.Module, data, batch_size: int = 500, device=None) -> torch.Tensor:
    """Run a frozen feature extractor once over ``data``: a ``N x F`` tensor for cheap head training (03)."""
    return predict(features, data, batch_size=batch_size, device=device).flatten(1)


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
    """Train one strategy on one labelled subset; returns test accuracy, time, trained parameters (03)."""
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
        test_acc = trainer.evaluate(head, (f_test, test.labels))["acc"]
        trained = sum(p.numel() for p in head.parameters())
    else:
        torch.manual_seed(seed)
        model = make_model() if strategy == "scratch" else copy.deepcopy(pretrained)
        model.head = nn.Linear(model.head.in_features, n_classes)  # F -> classes, new for both
        history = trainer.fit(model, train)  # evaluated once at the end: cheaper
        test_acc = trainer.evaluate(model, test)["acc"]
        trained = sum(p.numel() for p in model.parameters())
    return {
        "test_acc": test_acc,
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
