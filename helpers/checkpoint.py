"""Checkpoints that are never half-written and never unpickle code (introduced in 01).

``save_checkpoint`` writes to a temporary file in the same folder and renames it into place, so a
run killed mid-write leaves the previous checkpoint intact. ``load_checkpoint`` uses
``torch.load(weights_only=True, map_location=...)`` and refuses anything that is not a plain
dictionary of tensors and simple values.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint file is unreadable, unsafe or not what was expected."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + rename) (01)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); it must be a dictionary (01)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"refusing checkpoint {path}: it is not a plain state dictionary that loads with "
            f"weights_only=True ({first_line}). Delete it to retrain.") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"refusing checkpoint {path}: it holds a {type(state).__name__}, "
                              "not a state dictionary. Delete it to retrain.")
    return state


def config_fingerprint(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able configuration, stored to detect stale checkpoints (01)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_state_if_matches(model: torch.nn.Module, path: str | Path, config: dict[str, Any],
                          map_location: str | torch.device = "cpu") -> bool:
    """Load ``model`` weights from ``path`` if it exists and was made with ``config`` (01)."""
    path = Path(path)
    if not path.exists():
        return False
    state = load_checkpoint(path, map_location)
    if state.get("fingerprint") != config_fingerprint(config) or "model" not in state:
        return False
    model.load_state_dict(state["model"])
    return True


def save_model(model: torch.nn.Module, path: str | Path, config: dict[str, Any]) -> Path:
    """Save ``model`` weights with the fingerprint of ``config`` (e.g. ``mnist_ae.pt``) (02)."""
    return save_checkpoint({"model": model.state_dict(), "config": json.dumps(config, default=str),
                            "fingerprint": config_fingerprint(config)}, path)
