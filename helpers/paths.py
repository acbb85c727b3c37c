"""Where things live: data cache, figures, checkpoints, run outputs (used by every notebook).

Each root can be moved with an environment variable, which is how the runner and the tests keep
``smoke`` runs away from the ``default`` report's files.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def data_root() -> Path:
    """The data cache: ``$WORKBOOK_DATA`` or ``data/`` (introduced in 01)."""
    return _env_path("WORKBOOK_DATA", REPO_ROOT / "data")


def figures_root() -> Path:
    """Root folder for saved figures: ``$WORKBOOK_FIGURES`` or ``figures/`` (01)."""
    return _env_path("WORKBOOK_FIGURES", REPO_ROOT / "figures")


def checkpoints_root() -> Path:
    """Root folder for model checkpoints: ``$WORKBOOK_CHECKPOINTS`` or ``checkpoints/`` (01)."""
    return _env_path("WORKBOOK_CHECKPOINTS", REPO_ROOT / "checkpoints")


def runs_root() -> Path:
    """Root of executed notebooks, metrics and reports: ``runs/`` (01)."""
    return REPO_ROOT / "runs"


def output_dir(profile: str) -> Path:
    """Where a run in ``profile`` writes notebooks, metrics, report: ``$WORKBOOK_OUTPUT`` or ``runs/<profile>`` (01)."""
    return _env_path("WORKBOOK_OUTPUT", runs_root() / profile)


def notebooks_dir() -> Path:
    """The folder holding the notebook sources (01)."""
    return REPO_ROOT / "notebooks"
