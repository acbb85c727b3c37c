"""The run layout: profiles and where every output of a run lives (introduced in 01, used by all).

This module is the one owner of the layout; the notebook session (``helpers.notebook``), the batch
runner (``helpers.runner``), the report and the tests all ask it:

==========================  ===============================================================
what                        where
==========================  ===============================================================
data cache                  ``$WORKBOOK_DATA`` or ``data/``
stored runs (checkpoints)   ``$WORKBOOK_CHECKPOINTS`` or ``checkpoints/``, then
                            ``<notebook>/<name>/<fingerprint>.pt``: one file per configuration,
                            shared by every profile (``helpers.checkpoint.RunStore``)
run outputs                 ``$WORKBOOK_OUTPUT`` or ``runs/<profile>/``: ``notebooks/``,
                            ``metrics/``, ``figures/<notebook>/``, ``models/<notebook>/``,
                            ``report/``
published figures           ``figures/<notebook>/``: written only by the default report build
                            (``make report``), copied from the run's figures
profile values              ``notebooks/profiles/<notebook>.toml``
==========================  ===============================================================

A relative path in one of the variables is read relative to the folder the user ran the command
from (``$PWD``), not the kernel's working folder (``notebooks/``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("smoke", "default", "full")
MIN_FREE_BYTES = 200 * 2**20  # refuse to start a run with less free space than this


class LayoutError(RuntimeError):
    """An output folder cannot be used (not writable, disk full); the message names the folder."""


@contextlib.contextmanager
def environment(**values: str):
    """Set environment variables inside the block and restore the previous values after it (01).

    The runner points a kernel at its output folders this way; the tests use it for theirs.
    """
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invocation_dir() -> Path:
    """The folder the user ran the command from: ``$PWD`` (kept by Jupyter and papermill), else cwd."""
    pwd = os.environ.get("PWD")
    return Path(pwd) if pwd and Path(pwd).is_dir() else Path.cwd()


def _env_path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    if not value:
        return default
    path = Path(value).expanduser()
    return (path if path.is_absolute() else invocation_dir() / path).resolve()


def check_profile(profile: str) -> str:
    """``profile`` if it is one of :data:`PROFILES`, else a ``ValueError`` listing them (01)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    return profile


def data_root() -> Path:
    """The data cache: ``$WORKBOOK_DATA`` or ``data/`` (01)."""
    return _env_path("WORKBOOK_DATA", REPO_ROOT / "data")


def checkpoints_root() -> Path:
    """Root folder of stored runs: ``$WORKBOOK_CHECKPOINTS`` or ``checkpoints/`` (01)."""
    return _env_path("WORKBOOK_CHECKPOINTS", REPO_ROOT / "checkpoints")


def shown_path(path) -> str:
    """``path`` as printed output shows it: under the stored-runs root as ``checkpoints/...``, under
    the repository relative to it, else its last two parts: no local absolute path reaches a PDF
    (04's grid search, via ``helpers.search``)."""
    path = Path(path)
    for root, name in ((checkpoints_root(), "checkpoints"), (REPO_ROOT, "")):
        if path.is_relative_to(root):
            return str(Path(name) / path.relative_to(root)) if name else str(path.relative_to(root))
    return str(Path(*path.parts[-2:])) if path.is_absolute() else str(path)


def stored_runs_dir(notebook: str, name: str) -> Path:
    """``checkpoints/<notebook>/<name>/``: every stored configuration of one training (01)."""
    return checkpoints_root() / notebook / name


def runs_root() -> Path:
    """Root of executed notebooks, metrics, figures and reports: ``runs/`` (01)."""
    return REPO_ROOT / "runs"


def output_dir(profile: str) -> Path:
    """Where a run in ``profile`` writes its outputs: ``$WORKBOOK_OUTPUT`` or ``runs/<profile>`` (01)."""
    return _env_path("WORKBOOK_OUTPUT", runs_root() / check_profile(profile))


def executed_notebook_path(notebook: str, profile: str) -> Path:
    """``runs/<profile>/notebooks/<notebook>.ipynb``: the runner's executed copy (01)."""
    return output_dir(profile) / "notebooks" / f"{notebook}.ipynb"


def metrics_path(notebook: str, profile: str) -> Path:
    """``runs/<profile>/metrics/<notebook>.json``: the headline numbers of one run (01)."""
    return output_dir(profile) / "metrics" / f"{notebook}.json"


def run_figures_dir(notebook: str, profile: str) -> Path:
    """``runs/<profile>/figures/<notebook>/``: where every run saves its figures (01)."""
    return output_dir(profile) / "figures" / notebook


def run_models_dir(notebook: str, profile: str) -> Path:
    """``runs/<profile>/models/<notebook>/``: model files a run hands out (e.g. ``mnist_ae.pt``; 02)."""
    return output_dir(profile) / "models" / notebook


def report_dir(profile: str) -> Path:
    """``runs/<profile>/report/``: the PDF (or HTML) report (01)."""
    return output_dir(profile) / "report"


def published_figures_dir(notebook: str) -> Path:
    """``figures/<notebook>/``: the committed figures, written only by the default report build (01)."""
    return REPO_ROOT / "figures" / notebook


def notebooks_dir() -> Path:
    """The folder holding the notebook sources (01)."""
    return REPO_ROOT / "notebooks"


def profile_file(notebook: str) -> Path:
    """``notebooks/profiles/<notebook>.toml``: every profile's parameter values (01)."""
    return notebooks_dir() / "profiles" / f"{notebook}.toml"


def ensure_writable(folder: Path, min_free: int = MIN_FREE_BYTES) -> Path:
    """Create ``folder`` and prove it takes a file and has room, or raise :class:`LayoutError` (01).

    Called before any training, so an unwritable or full output location fails at once with the
    folder named, instead of after minutes of work.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise LayoutError(
            f"cannot write to {folder} ({error.strerror or error}); choose a writable "
            "folder (e.g. set WORKBOOK_OUTPUT / WORKBOOK_CHECKPOINTS, or --out) or fix "
            "its permissions"
        ) from None
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise LayoutError(
            f"only {free / 2**20:.0f} MiB free in {folder} (a run needs at least "
            f"{min_free / 2**20:.0f} MiB); free some space, prune stored runs "
            "(python -m helpers.checkpoint prune) or point the output elsewhere"
        )
    return folder
