"""Shared fixtures: a throw-away workbook environment and a smoke-profile notebook runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WORKBOOK_PROGRESS", "off")


@pytest.fixture
def isolated_outputs(tmp_path, monkeypatch) -> Path:
    """Point stored runs and run outputs (figures included) at a temporary folder (data stays in data/)."""
    for variable, name in [("WORKBOOK_CHECKPOINTS", "checkpoints"), ("WORKBOOK_OUTPUT", "out")]:
        monkeypatch.setenv(variable, str(tmp_path / name))
    return tmp_path


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run("02_autoencoders")`` executes that notebook once per test session in the smoke
    profile through the real runner and returns its metrics dictionary (cached per notebook)."""
    from helpers.paths import environment
    from helpers.runner import execute

    root = tmp_path_factory.mktemp("smoke")
    cache: dict[str, dict] = {}

    def run(notebook: str) -> dict:
        if notebook not in cache:
            with environment(WORKBOOK_CHECKPOINTS=str(root / "checkpoints")):
                cache[notebook] = execute(notebook, "smoke", out_dir=root / "out").metrics
        return cache[notebook]

    run.root = root
    return run
