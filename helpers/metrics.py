"""Evaluation numbers and the per-notebook metrics file (introduced in 01, used by 01-05)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the label (01)."""
    return (logits.argmax(1) == labels).float().mean().item()


def confusion_matrix(labels, predictions, n_classes: int) -> np.ndarray:
    """Counts ``C[true, predicted]`` via scikit-learn (01)."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    return sk_confusion(np.asarray(labels), np.asarray(predictions), labels=list(range(n_classes)))


def most_confused_pairs(matrix: np.ndarray, classes, top: int = 3) -> list[tuple[str, str, int, float]]:
    """The ``top`` off-diagonal cells: ``(true, predicted, count, share of the true class)`` (01)."""
    off = matrix.astype(float).copy()
    np.fill_diagonal(off, -1)
    order = np.argsort(off, axis=None)[::-1][:top]
    pairs = []
    for flat in order:
        i, j = np.unravel_index(flat, matrix.shape)
        pairs.append((classes[i], classes[j], int(matrix[i, j]), matrix[i, j] / max(matrix[i].sum(), 1)))
    return pairs


def psnr(reference: torch.Tensor, estimate: torch.Tensor, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, averaged over images (04)."""
    mse = ((reference - estimate) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return (10 * torch.log10(max_value**2 / mse)).mean().item()


def _clean(value: Any) -> Any:
    """Make a value JSON-friendly: tensors and NumPy scalars become floats, NaN becomes None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: str | Path, metrics: dict[str, Any]) -> Path:
    """Write the flat metrics JSON of a notebook run (01)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(metrics), indent=2, sort_keys=False) + "\n")
    return path


WALL_CLOCK_KEY = re.compile(r"(^|_)time(_s)?$|_s$")  # wall_time_s, time_s, gan_time_s, fit_s, training_time


def is_wall_clock(key: str) -> bool:
    """Whether a metrics key holds measured wall-clock seconds (or, like a ``training_time``
    verdict, compares them): the numbers a second cold run on the same machine changes (01)."""
    return bool(WALL_CLOCK_KEY.search(key))


def without_wall_clock(metrics: Any) -> Any:
    """``metrics`` without its wall-clock entries (:func:`is_wall_clock`, at any depth): what two
    runs of the same parameters on one machine, with one thread count, give bit for bit (01;
    tests/test_reproducibility.py, benchmarks/reproducibility.py)."""
    if isinstance(metrics, dict):
        return {k: without_wall_clock(v) for k, v in metrics.items() if not is_wall_clock(str(k))}
    if isinstance(metrics, list):
        return [without_wall_clock(v) for v in metrics]
    return metrics


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Read a metrics JSON written by :func:`write_metrics` (tests, report)."""
    return json.loads(Path(path).read_text())


# Readable names for the metric keys the notebooks record (every summary table: notebooks, report, PDFs).
METRIC_LABELS = {
    "test_acc": "test accuracy",
    "train_acc": "training accuracy",
    "test_loss": "test loss",
    "test_l1": "test L1 per pixel",
    "train_l1": "training L1 per pixel",
    "test_mse": "test MSE per pixel",
    "train_mse": "training MSE per pixel",
    "val_mse": "validation MSE per pixel",
    "epochs": "epochs",
    "acc_mean": "mean test accuracy",
    "acc_std": "std of test accuracy",
    "seeds": "seeds",
    "silhouette": "silhouette",
    "silhouette_2d": "silhouette of the 2-D codes",
    "latent_dim": "latent size d",
    "max_shift_error": "max shift-equivariance error",
    "max_difference": "max difference to autograd",
    "top_confusion": "most frequent confusion",
    "top_confusion_count": "images in that confusion",
    "test_acc_100": "test accuracy (100 images)",
    "test_acc_full": "test accuracy (whole test split)",
    "first_train_loss": "first-epoch training loss",
    "last_train_loss": "last-epoch training loss",
}
_WORDS = {
    "acc": "accuracy",
    "l1": "L1",
    "mse": "MSE",
    "psnr": "PSNR",
    "fd": "Fréchet distance",
    "svm": "SVM",
    "u8": "8-bit",
    "f32": "float32",
    "s": "(s)",
    "std": "std",
    "val": "validation",
    "noskip": "without skips",
    "ae": "AE",
    "gan": "GAN",
    "min": "min",
    "max": "max",
    "abs": "absolute",
    "num": "number of",
    "pca": "PCA",
    "fc": "FC",
    "wd": "weight decay",
}


def metric_label(key: str) -> str:
    """A readable name for a metric key: ``test_acc`` -> 'test accuracy' (01; every summary table)."""
    if key in METRIC_LABELS:
        return METRIC_LABELS[key]
    return " ".join(_WORDS.get(word.lower(), word) for word in re.split(r"[_]+", key)).replace("@", " at ")


def metric_value(key: str, value) -> str:
    """A value as the summaries show it: accuracies in %, floats to 4 significant digits, verdicts as
    their outcomes (01, report)."""
    if key == "verdicts" and isinstance(value, dict):
        return "; ".join(f"{name}: {verdict.get('outcome')}" for name, verdict in value.items())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "acc" in key and isinstance(value, float) and 0 <= value <= 1 and "std" not in key:
        return f"{100 * value:.1f}%"
    if "acc_std" in key and isinstance(value, float):
        return f"{100 * value:.1f} pp"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
