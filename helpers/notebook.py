"""The standard first cell of every notebook: ``run = start_notebook(...)`` (introduced in 01).

A ``NotebookRun`` seeds everything, picks and prints the device, knows where this notebook's
figures, checkpoints and metrics go for the current profile, saves figures under stable names,
collects headline numbers and writes the metrics JSON at the end.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import torch

from .metrics import write_metrics
from .paths import checkpoints_root, figures_root, output_dir
from .plots import use_style
from .training import pick_device, seed_everything

PROFILES = ("smoke", "default", "full")


class NotebookRun:
    """Paths, seed, device, figures and metrics of one notebook execution (01)."""

    def __init__(self, notebook: str, profile: str, seed: int = 0, datasets: dict[str, str] | None = None,
                 device: str | None = None):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
        self.notebook, self.profile, self.seed = notebook, profile, seed
        self.datasets = dict(datasets or {})
        self.started = time.perf_counter()
        seed_everything(seed)
        use_style()
        self.device = pick_device(device)
        self.metrics: dict[str, Any] = {}
        self.figures: list[Path] = []

    @property
    def figures_dir(self) -> Path:
        """``figures/<notebook>/`` (or the runner's folder for non-default profiles)."""
        return figures_root() / self.notebook

    @property
    def checkpoints_dir(self) -> Path:
        """``checkpoints/<profile>/<notebook>/``: one folder per profile, so runs never mix."""
        return checkpoints_root() / self.profile / self.notebook

    def checkpoint(self, name: str) -> Path:
        """The checkpoint path for ``name`` (``.pt`` added when missing)."""
        return self.checkpoints_dir / (name if name.endswith(".pt") else f"{name}.pt")

    @property
    def metrics_path(self) -> Path:
        """``runs/<profile>/metrics/<notebook>.json`` (or under the runner's ``--out``)."""
        return output_dir(self.profile) / "metrics" / f"{self.notebook}.json"

    def caption(self, dataset_key: str | None = None, extra: str = "") -> str:
        """``'(mnist-10k, default)'``-style suffix naming data set and profile for titles."""
        name = self.datasets.get(dataset_key, dataset_key) if dataset_key else None
        parts = [p for p in (name, self.profile, extra) if p]
        return "(" + ", ".join(parts) + ")"

    def figure(self, fig, name: str, show: bool = True) -> None:
        """Save ``fig`` as ``figures/<notebook>/<name>.png`` (listed in ``run.figures``), show it inline."""
        import matplotlib.pyplot as plt

        self.figures_dir.mkdir(parents=True, exist_ok=True)
        path = self.figures_dir / f"{name}.png"
        fig.savefig(path)
        self.figures.append(path)
        if show:
            plt.show()
        plt.close(fig)

    def record(self, key: str, **values: Any) -> None:
        """Add headline numbers under ``key`` (an assignment item code such as ``002.P4.2``)."""
        self.metrics.setdefault(key, {}).update(values)

    def finish(self) -> dict[str, Any]:
        """Write the metrics JSON and return it (the last cell of every notebook)."""
        payload = {"notebook": self.notebook, "profile": self.profile, "datasets": self.datasets,
                   "seed": self.seed, "wall_time_s": round(time.perf_counter() - self.started, 1),
                   "torch": torch.__version__.split("+")[0], "device": str(self.device),
                   "python": platform.python_version(), **self.metrics}
        write_metrics(self.metrics_path, payload)
        return payload


def start_notebook(notebook: str, profile: str, seed: int = 0, datasets: dict[str, str] | None = None,
                   device: str | None = None) -> NotebookRun:
    """Seed, pick the device, set the style and paths for one notebook run (01)."""
    return NotebookRun(notebook, profile, seed, datasets, device)


def summary_table(metrics: dict[str, Any]) -> str:
    """A Markdown table of the headline numbers of a metrics dictionary (every notebook's end)."""
    rows = ["| item | metric | value |", "|---|---|---|"]
    for key, values in metrics.items():
        if isinstance(values, dict) and key != "datasets":
            for name, value in values.items():
                shown = f"{value:.4g}" if isinstance(value, float) else str(value)
                rows.append(f"| {key} | {name} | {shown} |")
    return "\n".join(rows)
