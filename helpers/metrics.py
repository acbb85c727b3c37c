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
    """A value as the summaries show it: accuracies in %, floats to 4 significant digits (01, report)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "acc" in key and isinstance(value, float) and 0 <= value <= 1 and "std" not in key:
        return f"{100 * value:.1f}%"
    if "acc_std" in key and isinstance(value, float):
        return f"{100 * value:.1f} pp"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- the summary table
# One row per headline number and per recorded verdict: ``item | what | value | target | verdict``
# (the report's and the hand-ins' summary pages, every notebook's last cell). Verdicts are put in
# words from their record (kind, names, numbers, margin, outcome); each number is shown as its
# generated sentence shows it, so the table and the prose cannot disagree on a digit.

SUMMARY_HEADER = ("item", "what", "value", "target", "verdict")
_UNIT = r"(?:\s?(?:%|dB|points?|pt|pp|values|°|×|s\b))?"


def shown_as_in(value: float, sentence: str, before: str = "", missing: str | None = None) -> str:
    """``value`` written as ``sentence`` writes it (right after the literal ``before`` when given),
    unit included ('91.2%', '12.5 dB'); ``missing`` (default ``{:.4g}``) when the sentence does not
    hold it (summaries)."""
    candidates = set()
    for digits in range(6):
        for spec in (f".{digits}%", f".{digits}f", f",.{digits}f", f".{digits}g", f".{digits}e"):
            candidates.add(format(value, spec))
    lead = re.escape(before) if before else r"(?<![\d.,])"
    for text in sorted(candidates, key=len, reverse=True):
        found = re.search(lead + "(" + re.escape(text) + r"(?!\d|[.,]\d)" + _UNIT + ")", sentence)
        if found:
            return found.group(1)
    return f"{value:.4g}" if missing is None else missing


def _phrase(pattern: str, sentence: str, default: str) -> str:
    found = re.search(pattern, sentence)
    return found.group(1) if found else default


def _named(entry: dict[str, Any], sentence: str) -> str:
    return shown_as_in(entry["value"], sentence, entry["name"] + " ")


def verdict_words(verdict: dict[str, Any]) -> tuple[str, str, str, str]:
    """``(what, value, target, verdict in words)`` of a recorded verdict (``helpers.statements``; summaries)."""
    kind, outcome, sentence = verdict.get("kind"), verdict.get("outcome"), verdict.get("sentence", "")
    margin = ""
    if verdict.get("spread") is not None:
        spread = shown_as_in(verdict["spread"], sentence, "(", missing="")  # unitless raw numbers mislead
        margin = f"{verdict.get('factor', 2):g}× the {verdict.get('spread_label') or 'noise'}"
        margin += f" ({spread})" if spread else ""
    if kind == "compare":
        a, b = verdict["a"], verdict["b"]
        value = f"{_named(a, sentence)} vs {_named(b, sentence)}"
        if outcome == "same":
            words = f"no measurable difference: within {margin}" if margin else "no measurable difference"
        else:
            winner, loser = (a["name"], b["name"]) if outcome == "a" else (b["name"], a["name"])
            words = f"{winner} {'exceeds' if verdict.get('better') == 'neither' else 'beats'} {loser}"
            if margin:
                words += f", by more than {margin}"
            elif "single run" in sentence:
                words += " (one run, no noise estimate)"
        return f"{a['name']} vs {b['name']}", value, "", words
    if kind == "best_of":
        values = verdict["values"]
        ranked = sorted(values, key=values.get, reverse=verdict.get("better") == "higher")
        what = _phrase(r"(?:has|share) the best (.*?) \(", sentence, "")
        listing = ", ".join(f"{n} {shown_as_in(values[n], sentence, n + ' ')}" for n in ranked)
        best, second = verdict.get("best", ranked[0]), verdict.get("runner_up", ranked[1])
        if outcome == "clear":
            words = f"{best} is best, ahead of {second}" + (f" by more than {margin}" if margin else " (one run)")
        else:
            words = f"{best} and {second} share the best: no measurable difference" + (
                f", within {margin}" if margin else ""
            )
        return f"best {what}".strip() if what else "the best of " + ", ".join(ranked), listing, "", words
    if kind == "similar":
        values = verdict["values"]
        what = _phrase(r"the (.*?) are (?:not )?similar", sentence, ", ".join(values))
        listing = ", ".join(f"{n} {shown_as_in(v, sentence, n + ' ')}" for n, v in values.items())
        words = (
            f"similar (at most {verdict['ratio']:.2f}× apart)"
            if outcome == "similar"
            else f"not similar ({verdict['ratio']:.1f}× apart)"
        )
        return what, listing, f"≤ {verdict['max_ratio']:g}× apart", words
    if kind == "near":
        v, ref = verdict["value"], verdict["reference"]
        value = f"{_named(v, sentence)} vs {_named(ref, sentence)}"
        tol = f"within {verdict['rel_tol']:.0%}"
        words = f"{v['name']} is near {ref['name']}" if outcome == "near" else f"{v['name']} is far from {ref['name']}"
        return f"{v['name']} vs {ref['name']}", value, tol, words
    if kind == "agrees":
        what = _phrase(r"^(.*): (?:agrees|does not agree) \(", sentence, "numerical check")
        words = "agrees" if outcome == "agrees" else "does not agree"
        return what, f"max difference {verdict['error']:.1e}", f"≤ {verdict['tolerance']:.0e}", words
    if kind == "meets":
        v, goal = verdict["value"], verdict["goal"]
        bound = "≤" if verdict.get("better") == "lower" else "≥"
        target = f"{bound} {shown_as_in(goal['value'], sentence, bound + ' ')}"
        words = f"meets {goal['name']}" if outcome == "meets" else f"misses {goal['name']}"
        return v["name"], shown_as_in(v["value"], sentence, "("), target, words
    if kind == "reading" and isinstance(verdict.get("base"), dict):  # a sentence chosen by another verdict
        what, value, target, _ = verdict_words(verdict["base"])
        return what, value, target, sentence
    return "", "", "", sentence or str(outcome)


_ITEM = re.compile(r"^(\d{3}(?:\.[A-Z][A-Za-z]*\d+)?(?:\.\d+)*)(?:\.(.+))?$")


def split_item(key: str) -> tuple[str, str]:
    """``'004.Ex1.residual'`` -> ``('004.Ex1', 'residual')``: the assignment item and what part of it
    a metrics key names (``''`` for the item itself) (summaries)."""
    found = _ITEM.match(key)
    return (found.group(1), (found.group(2) or "").replace("_", " ")) if found else (key, "")


def summary_rows(
    metrics: dict[str, Any], keep=lambda key: True, verdicts_only: bool = False
) -> list[tuple[str, str, str, str, str]]:
    """``(item, what, value, target, verdict)`` for every headline number and verdict of a metrics
    dictionary, items in recorded order (every notebook's last cell); ``verdicts_only`` keeps the
    verdicts and targets alone, each with its numbers (the report's and the hand-ins' summaries)."""
    rows = []
    for key, values in metrics.items():
        if not isinstance(values, dict) or key in ("datasets", "parameters") or not keep(key):
            continue
        item, part = split_item(key)
        prefix = f"{part}: " if part else ""
        for name, value in values.items():
            if name == "verdicts" and isinstance(value, dict):
                for verdict in value.values():
                    if isinstance(verdict, dict):
                        what, *rest = verdict_words(verdict)
                        rows.append((item, prefix + what, *rest))
            elif not verdicts_only:
                rows.append((item, prefix + metric_label(name), metric_value(name, value), "", ""))
    return rows


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown_table(rows: list[tuple[str, str, str, str, str]]) -> str:
    """A Markdown table of :func:`summary_rows`, the item named once per group (summaries)."""
    widths = (7, 26, 16, 7, 24)  # dashes: pandoc's relative column widths
    lines = ["| " + " | ".join(SUMMARY_HEADER) + " |", "|" + "|".join(":" + "-" * w for w in widths) + "|"]
    previous = None
    for item, *rest in rows:
        lines.append("| " + " | ".join(_cell(c) for c in (item if item != previous else "", *rest)) + " |")
        previous = item
    return "\n".join(lines)
