"""Stored runs that are never half-written, never stale and never unpickle code (introduced in 01).

``save_checkpoint`` writes to a temporary file in the same folder and renames it into place, so a
run killed mid-write leaves the previous checkpoint intact (temporary files of killed writers are
removed the next time the folder is used). ``load_checkpoint`` uses
``torch.load(weights_only=True)`` and refuses anything that is not a plain dictionary.

A :class:`RunStore` keeps one file per *configuration* of a training: the file name is the
fingerprint of everything that made the run (architecture, initial weights, every
hyperparameter including the epoch count, seed, the exact training and evaluation data, the
corruption), so a rerun with the same settings reuses it, any other setting trains afresh, and
experiments (``-p seed=1``, another profile) never overwrite the report's runs::

    python -m helpers.checkpoint list                 # every stored run, newest use first
    python -m helpers.checkpoint prune --unused-days 30 [--dry-run]
    python -m helpers.checkpoint prune --notebook 02_autoencoders
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import pickle
import re
import shutil
import tempfile
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .distributed import is_main
from .paths import checkpoints_root, stored_runs_dir

_TMP = re.compile(r"^\..+\.pid(\d+)\.[^.]+\.tmp$")


class CheckpointError(RuntimeError):
    """A checkpoint file is unreadable, unsafe, not what was expected or cannot be written."""


# --------------------------------------------------------------------------- atomic files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete temporary files left in ``folder`` by writers that were killed mid-write (01)."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _TMP.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _write_error(path: Path, error: BaseException) -> CheckpointError:
    existing = next((p for p in [path.parent, *path.parent.parents] if p.is_dir()), Path("/"))
    free = shutil.disk_usage(existing).free / 2**20
    return CheckpointError(
        f"could not write {path} ({error}); is {path.parent} a writable folder, and "
        f"is there room ({free:.0f} MiB free)?"
    )


def _write_atomically(path: Path, write) -> Path:
    if not is_main():  # under torchrun only rank 0 writes (helpers.distributed)
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _write_error(path, error) from None
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # readable like any other output, not 0600
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, (OSError, RuntimeError)):
            raise _write_error(path, error) from None
        raise
    return path


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + rename); under torchrun only rank 0 writes (01)."""
    return _write_atomically(Path(path), lambda stream: torch.save(state, stream))


def write_json_atomically(payload: Any, path: str | Path) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically (01)."""
    text = json.dumps(payload, indent=2, sort_keys=False, default=str).encode()
    return _write_atomically(Path(path), lambda stream: stream.write(text))


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
            f"weights_only=True ({first_line}). Delete it to retrain."
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(
            f"refusing checkpoint {path}: it holds a {type(state).__name__}, "
            "not a state dictionary. Delete it to retrain."
        )
    return state


# --------------------------------------------------------------------------- identities


def config_fingerprint(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able configuration: the name of a stored run (01)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tensor_fingerprint(*tensors: torch.Tensor) -> str:
    """A hash of the exact contents, shapes and dtypes of ``tensors`` (data identity; 01)."""
    digest = hashlib.blake2b(digest_size=12)
    for tensor in tensors:
        digest.update(f"{tuple(tensor.shape)}{tensor.dtype}".encode())
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def data_identity(data) -> dict[str, Any] | None:
    """Name, split, size and content hash of a data set (``ImageDataset``, ``Batches`` or tensors) (01).

    ``"none"`` for no data; ``None`` (no identity: never reuse a run on it) for a lazily loaded data
    set such as Food-101's JPEGs, whose content is not hashed.
    """
    from .data import Batches, ImageDataset

    if data is None:
        return "none"
    if isinstance(data, ImageDataset):
        return {
            "name": data.name,
            "split": data.split,
            "n": len(data),
            "content": tensor_fingerprint(data.images, data.labels),
        }
    if isinstance(data, Batches) or (isinstance(data, (tuple, list)) and all(torch.is_tensor(t) for t in data)):
        tensors = data.tensors if isinstance(data, Batches) else tuple(data)
        return {"n": len(tensors[0]), "content": tensor_fingerprint(*tensors)}
    return None


def state_fingerprint(model: torch.nn.Module) -> str:
    """A hash of every parameter and buffer of ``model`` and of which parameters train (01).

    Part of a run's identity: it captures the seed's initial weights, pretrained or frozen parts
    (000.3's decoder on the 000.2 classifier's encoder) and anything loaded before training.
    """
    state = model.state_dict()
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    return tensor_fingerprint(*state.values()) + config_fingerprint({"keys": list(state), "train": trainable})


def model_identity(model: torch.nn.Module) -> dict[str, Any]:
    """The architecture of ``model``: its ``repr`` plus every module's class and plain settings (01).

    ``repr`` alone misses flags that change ``forward`` but no layer (``ConvAutoencoder2D(skip=True)``
    prints like ``skip=False``), so each module's public bool/int/float/str/tuple attributes count too.
    """
    settings = {}
    for name, module in model.named_modules():
        plain = {
            k: v
            for k, v in vars(module).items()
            if not k.startswith("_") and k != "training" and isinstance(v, (bool, int, float, str, tuple, type(None)))
        }
        settings[name or "."] = [f"{type(module).__module__}.{type(module).__qualname__}", plain]
    return {"repr": repr(model), "modules": config_fingerprint(settings)}


def callable_identity(function) -> str | None:
    """A stable description of a corruption or other callable, or ``None`` when there is none (04).

    Objects with their own ``__repr__`` (e.g. ``noise.GaussianNoise(sigma=0.3)``) and
    ``functools.partial`` of a module-level function have one; a lambda or closure does not (it may
    read notebook globals), so a run using it is never reused.
    """
    if function is None:
        return "none"
    if isinstance(function, functools.partial):
        inner = callable_identity(function.func)
        return None if inner is None else f"partial({inner}, {function.args!r}, {sorted(function.keywords.items())!r})"
    if isinstance(function, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        code = getattr(function, "__code__", None)
        if function.__module__ == "__main__" or "<" in function.__qualname__ or (code and code.co_freevars):
            return None
        return f"{function.__module__}.{function.__qualname__}"
    return repr(function) if type(function).__repr__ is not object.__repr__ else None


def save_model(model: torch.nn.Module, path: str | Path, config: dict[str, Any]) -> Path:
    """Save ``model`` weights and the configuration that made them (e.g. ``mnist_ae.pt``; 02)."""
    return save_checkpoint(
        {
            "model": model.state_dict(),
            "config": json.dumps(config, default=str),
            "fingerprint": config_fingerprint(config),
        },
        path,
    )


# --------------------------------------------------------------------------- the store


class RunStore:
    """The stored runs of one training (``checkpoints/<notebook>/<name>/``), one per configuration (01).

    ``path(config)`` is ``<fingerprint>.pt``; beside it ``<fingerprint>.json`` says what made it,
    how far it got and when it was last used (``python -m helpers.checkpoint list``).
    """

    def __init__(self, folder: str | Path, notebook: str = "", name: str = ""):
        self.folder = Path(folder)
        self.notebook, self.name = notebook or self.folder.parent.name, name or self.folder.name

    @classmethod
    def for_notebook(cls, notebook: str, name: str) -> RunStore:
        """The store of training ``name`` in ``notebook``."""
        return cls(stored_runs_dir(notebook, name), notebook, name)

    def path(self, config: dict[str, Any]) -> Path:
        """Where the run made with ``config`` is (or will be) stored."""
        return self.folder / f"{config_fingerprint(config)}.pt"

    def find(self, config: dict[str, Any]) -> Path | None:
        """The stored run to start from: the same configuration, or else a shorter one to continue.

        A run with every setting equal but fewer epochs done (a finished shorter run, or an
        interrupted one) is an exact prefix of this run, because batches are drawn per
        (seed, epoch) and the RNG state is stored; the one that got furthest is chosen. A run with
        *more* epochs is never used. Configurations marked ``"continuable": False`` (e.g. a
        learning-rate schedule over the whole run) only match exactly.
        """
        remove_stale_temporaries(self.folder)
        exact = self.path(config)
        if exact.exists():
            return exact
        if not config.get("continuable", True) or "epochs" not in config:
            return None
        base = {k: v for k, v in config.items() if k != "epochs"}
        best, best_done = None, 0
        for sidecar in self.folder.glob("*.json"):
            try:
                info = json.loads(sidecar.read_text())
            except (OSError, ValueError):
                continue
            stored = json.loads(json.dumps(info.get("config", {}), default=str))
            done = info.get("epochs_done", 0)
            if (
                {k: v for k, v in stored.items() if k != "epochs"} == json.loads(json.dumps(base, default=str))
                and best_done < done <= config["epochs"]
                and sidecar.with_suffix(".pt").exists()
            ):
                best, best_done = sidecar.with_suffix(".pt"), done
        return best

    def load(self, config: dict[str, Any], map_location="cpu") -> dict[str, Any] | None:
        """The stored state to start ``config``'s run from (see :meth:`find`), or ``None``."""
        path = self.find(config)
        if path is None:
            return None
        state = load_checkpoint(path, map_location)
        self._touch(path)
        return state

    def save(self, config: dict[str, Any], state: dict[str, Any], epochs_done: int, epochs: int) -> Path:
        """Store ``state`` for ``config`` atomically, with its JSON description beside it."""
        path = save_checkpoint({**state, "fingerprint": config_fingerprint(config)}, self.path(config))
        now = time.time()
        write_json_atomically(
            {
                "notebook": self.notebook,
                "name": self.name,
                "fingerprint": config_fingerprint(config),
                "epochs_done": epochs_done,
                "epochs": epochs,
                "finished": epochs_done >= epochs,
                "updated": now,
                "last_used": now,
                "config": config,
            },
            path.with_suffix(".json"),
        )
        return path

    @staticmethod
    def _touch(path: Path) -> None:
        sidecar = path.with_suffix(".json")
        try:
            info = json.loads(sidecar.read_text())
            info["last_used"] = time.time()
            write_json_atomically(info, sidecar)
        except (OSError, ValueError, CheckpointError):
            pass


def stored_runs(root: str | Path | None = None) -> list[dict[str, Any]]:
    """Every stored run under ``root`` (default ``checkpoints/``) with its description (01)."""
    root = Path(root) if root else checkpoints_root()
    runs = []
    for checkpoint in sorted(root.glob("*/*/*.pt")):
        sidecar = checkpoint.with_suffix(".json")
        try:
            info = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            info = {
                "notebook": checkpoint.parent.parent.name,
                "name": checkpoint.parent.name,
                "fingerprint": checkpoint.stem,
                "last_used": checkpoint.stat().st_mtime,
            }
        info["path"], info["bytes"] = checkpoint, checkpoint.stat().st_size
        runs.append(info)
    return sorted(runs, key=lambda info: -info.get("last_used", 0))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.checkpoint {list,prune}``: see the stored runs and delete old ones."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.checkpoint", description="List and prune stored runs (checkpoints/)."
    )
    parser.add_argument("--root", type=Path, help="stored-runs folder (default $WORKBOOK_CHECKPOINTS or checkpoints/)")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="every stored run, most recently used first")
    prune = sub.add_parser("prune", help="delete stored runs (and leftovers of killed writes)")
    for command in (listing, prune):
        command.add_argument("--notebook", help="only this notebook's runs")
        command.add_argument("--name", help="only this training's runs (e.g. 000_2_classifier)")
    prune.add_argument("--unused-days", type=float, help="only runs not used for this many days")
    prune.add_argument("--unfinished", action="store_true", help="only runs that stopped before their last epoch")
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    args = parser.parse_args(argv)
    root = args.root.resolve() if args.root else checkpoints_root()
    runs = [
        r
        for r in stored_runs(root)
        if (not args.notebook or r.get("notebook") == args.notebook) and (not args.name or r.get("name") == args.name)
    ]
    if args.command == "list":
        print(f"{len(runs)} stored run(s) in {root}")
        for r in runs:
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.get("last_used", 0)))
            progress = f"{r.get('epochs_done', '?')}/{r.get('epochs', '?')} epochs"
            print(
                f"{r.get('notebook', '?'):22s} {r.get('name', '?'):28s} {r['path'].stem}  {progress:14s} "
                f"{r['bytes'] / 2**20:7.1f} MiB  last used {used}"
            )
        return 0
    cutoff = time.time() - args.unused_days * 86400 if args.unused_days is not None else None
    chosen = [
        r
        for r in runs
        if (cutoff is None or r.get("last_used", 0) < cutoff) and (not args.unfinished or not r.get("finished", False))
    ]
    freed = 0
    for r in chosen:
        freed += r["bytes"]
        print(f"{'would delete' if args.dry_run else 'deleting'} {r['path']}")
        if not args.dry_run:
            r["path"].unlink(missing_ok=True)
            r["path"].with_suffix(".json").unlink(missing_ok=True)
    leftovers = (
        []
        if args.dry_run
        else [
            p
            for folder in {r["path"].parent for r in stored_runs(root)} | set(root.glob("*/*"))
            if folder.is_dir()
            for p in remove_stale_temporaries(folder)
        ]
    )
    print(
        f"{'would free' if args.dry_run else 'freed'} {freed / 2**20:.1f} MiB in {len(chosen)} run(s); "
        f"removed {len(leftovers)} leftover temporary file(s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
