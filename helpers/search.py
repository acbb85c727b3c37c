"""Grid search run through an executor, with a results folder (introduced in 02 for 003.2).

``grid_search(grid, evaluate, fixed=..., executor=..., results_dir=...)`` calls
``evaluate(**point, **fixed)`` once per point of the Cartesian grid and returns one table row per
point, **in grid order**: the point's values, what ``evaluate`` returned, and ``time_s`` (the
seconds the point took where it ran; the only column that depends on who ran it).

Executors (``executor=``):

- ``"local"`` (default): a process pool on this machine, one worker per CPU core (``"local:N"``:
  N workers). Every worker runs one point at a time with one torch thread, so 2 cores run 2 points.
- ``"dask://host:8786"``: a Dask distributed cluster (``dask scheduler`` / ``dask worker``; the
  optional extra ``pip install -r requirements-extra.txt``), or a ready ``distributed.Client``.
  A point whose worker dies is re-run by the scheduler on another worker.
- ``"serial"``: in this process, one point after the other (any callable, closures included).

Every executor runs a point with one torch thread, so the numbers are the same whichever ran it.
``evaluate`` must be a module-level function taking plain values (for 003.2:
:func:`cae_grid_point`, which loads its data by registry name inside the worker), so that it can be
shipped to other processes and machines. With ``results_dir``, every finished point is written at
once (atomically) as ``<fingerprint>.json``, the fingerprint covering the function, the point,
``fixed`` and the torch version: a rerun, or a run after a crash, only computes missing points.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import pickle
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .checkpoint import config_fingerprint, write_json_atomically
from .paths import shown_path

RESULT_FORMAT = 1  # bump when the stored JSON changes meaning


class GridPointError(RuntimeError):
    """A grid point failed, or its worker was lost more often than allowed; the message names it."""


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, as a list of dictionaries, in grid order (02)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def task_name(evaluate: Callable) -> str:
    """``module.qualname`` of ``evaluate``: the function's part of a point's fingerprint (02)."""
    return f"{getattr(evaluate, '__module__', '?')}.{getattr(evaluate, '__qualname__', repr(evaluate))}"


def point_fingerprint(evaluate: Callable, point: Mapping[str, Any], fixed: Mapping[str, Any]) -> str:
    """A stable hash of everything that determines a point's result (function, point, fixed, torch) (02)."""
    import torch

    return config_fingerprint(
        {
            "format": RESULT_FORMAT,
            "task": task_name(evaluate),
            "point": dict(point),
            "fixed": dict(fixed),
            "torch": torch.__version__.split("+")[0],
        }
    )


# --------------------------------------------------------------------------- one point, anywhere


def run_point(
    evaluate: Callable, point: Mapping[str, Any], fixed: Mapping[str, Any], threads: int = 1
) -> dict[str, Any]:
    """Run one grid point with ``threads`` torch threads; what any executor's worker executes (02)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        started = time.perf_counter()
        result = {k: v.item() if hasattr(v, "item") else v for k, v in dict(evaluate(**point, **fixed)).items()}
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(before)
    return {"result": result, "time_s": seconds, "worker": f"{socket.gethostname()}:{os.getpid()}"}


def _read_stored(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as error:
        print(f"grid: ignoring unreadable result {path} ({error}); the point runs again")
        return None
    return record if isinstance(record, dict) and "result" in record else None


# --------------------------------------------------------------------------- executors


def parse_executor(executor: Any) -> tuple[str, Any]:
    """``("serial", None)``, ``("local", workers)`` or ``("dask", address or Client)`` (02)."""
    if executor is None or executor == "local":
        return "local", len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not isinstance(executor, str):
        if type(executor).__name__ == "Client":
            return "dask", executor
        raise TypeError(f"executor must be a string or a distributed.Client, got {type(executor).__name__}")
    if executor == "serial":
        return "serial", None
    if executor.startswith("local:"):
        count = executor.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"executor {executor!r}: the worker count after 'local:' must be a positive integer")
        return "local", int(count)
    if executor.startswith("dask://"):
        return "dask", "tcp://" + executor[len("dask://") :]
    if executor.startswith("tcp://"):
        return "dask", executor
    raise ValueError(
        f"unknown executor {executor!r}; use 'local', 'local:N', 'serial' or "
        "'dask://host:8786' (a Dask scheduler's address)"
    )


def _dask_client(address):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "executor 'dask://...' needs Dask distributed, an optional extra: "
            "pip install -r requirements-extra.txt (or pip install 'dl-workbook-helpers[cluster]')"
        ) from None
    if not isinstance(address, str):
        return address, False
    try:
        return Client(address, timeout="20s"), True
    except OSError as error:
        raise ConnectionError(
            f"no Dask scheduler answers at {address} ({error}); start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`"
        ) from None


def _run_serial(todo, evaluate, fixed, done):
    for index, point in todo.items():
        done(index, run_point(evaluate, point, fixed))


def _run_local(todo, evaluate, fixed, workers, retries, done):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    try:
        pickle.dumps(evaluate)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise TypeError(
            f"evaluate {task_name(evaluate)} cannot be sent to worker processes ({error}); "
            "make it a module-level function in helpers (see helpers.search.cae_grid_point) "
            "or use executor='serial'"
        ) from None
    remaining, lost = dict(todo), dict.fromkeys(todo, 0)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    while remaining:
        with ProcessPoolExecutor(max_workers=min(workers, len(remaining)), mp_context=context) as pool:
            futures = {pool.submit(run_point, evaluate, point, fixed): index for index, point in remaining.items()}
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        lost[index] += 1
                        continue
                    done(index, record)
                    del remaining[index]
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # a failed point stops the search now
                raise
        given_up = [remaining[i] for i in remaining if lost[i] > retries]
        if given_up:
            raise GridPointError(
                f"the local pool lost its worker {retries + 1} times while these points were "
                f"unfinished: {given_up}; a point that kills its worker (out of memory?) "
                "needs fewer workers (executor='local:1') or a smaller setting"
            )
        if remaining:
            print(f"grid: a worker died; re-running {len(remaining)} unfinished point(s)")


def _run_dask(todo, evaluate, fixed, client, done):
    from distributed import as_completed

    futures = {client.submit(run_point, evaluate, point, fixed, pure=False): index for index, point in todo.items()}
    try:
        for future in as_completed(futures):
            done(futures[future], future.result())
    except BaseException:
        client.cancel(list(futures))
        raise


# --------------------------------------------------------------------------- the search


def grid_search(
    grid: Mapping[str, Sequence[Any]],
    evaluate: Callable[..., Mapping[str, float]],
    score: str = "val_loss",
    fixed: Mapping[str, Any] | None = None,
    executor: Any = "local",
    results_dir: str | Path | None = None,
    retries: int = 2,
    verbose: bool = True,
):
    """Run ``evaluate(**point, **fixed)`` on every grid point through ``executor``; a table in grid order (02).

    ``evaluate`` returns a dictionary holding ``score``. Finished points are stored in
    ``results_dir`` (if given) and reused by later calls. ``retries``: how often the local pool is
    rebuilt for points whose worker died (a Dask scheduler re-runs them by itself).
    """
    import pandas as pd

    fixed = dict(fixed or {})
    kind, target = parse_executor(executor)
    points = grid_points(grid)
    if not points:
        raise ValueError("the grid is empty: every entry needs at least one value")
    clash = set(grid) & set(fixed)
    if clash:
        raise ValueError(f"{sorted(clash)} are both grid axes and fixed arguments; keep each in one place")
    folder = Path(results_dir) if results_dir else None
    paths = [folder / f"{point_fingerprint(evaluate, p, fixed)}.json" if folder else None for p in points]
    records: dict[int, dict[str, Any]] = {}
    for index, path in enumerate(paths):
        stored = _read_stored(path) if path else None
        if stored is not None:
            records[index] = stored

    def done(index: int, record: dict[str, Any]) -> None:
        if score not in record["result"]:
            raise KeyError(f"evaluate() returned {sorted(record['result'])}, without the score {score!r}")
        record = {"task": task_name(evaluate), "point": points[index], "fixed": fixed, **record}
        if paths[index] is not None:
            write_json_atomically(record, paths[index])
        records[index] = record

    todo = {i: p for i, p in enumerate(points) if i not in records}
    started = time.perf_counter()
    if verbose:
        where = (
            "in this process"
            if kind == "serial"
            else f"on a local pool of {min(target, len(todo))} worker(s)"
            if kind == "local"
            else f"on the Dask cluster {getattr(target, 'scheduler', target)}"
        )
        print(
            f"grid: {len(points)} points, {len(records)} already in {shown_path(folder) if folder else 'no folder'}, "
            f"{len(todo)} to run" + (f" {where}" if todo else "")
        )
    if todo:
        try:
            if kind == "serial":
                _run_serial(todo, evaluate, fixed, done)
            elif kind == "local":
                _run_local(todo, evaluate, fixed, target, retries, done)
            else:
                client, owned = _dask_client(target)
                try:
                    _run_dask(todo, evaluate, fixed, client, done)
                finally:
                    if owned:
                        client.close()
        except (GridPointError, KeyError, TypeError, ImportError, ConnectionError):
            raise
        except Exception as error:
            failed = next((points[i] for i in todo if i not in records), None)
            raise GridPointError(
                f"grid search stopped: {type(error).__name__}: {error} (first unfinished "
                f"point {failed}; finished points are kept in {folder})"
            ) from error
        if verbose:
            print(f"grid: ran {len(todo)} point(s) in {time.perf_counter() - started:.1f} s")
    rows = [{**points[i], **records[i]["result"], "time_s": records[i]["time_s"]} for i in range(len(points))]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- 003.2's evaluate


def holdout_split(dataset: str, val_size: int, train_limit: int = 0, seed: int = 0):
    """``(train, val)`` of a named data set: val = the first ``val_size`` training images, train = the
    rest, or a balanced ``train_limit`` of it, drawn with ``seed`` (02, 003.1-003.2)."""
    from .data import load_dataset

    full = load_dataset(dataset, "train")
    return full.tail(val_size).limited(train_limit, seed), full.head(val_size)


_cached_holdout = functools.lru_cache(maxsize=4)(holdout_split)


def cae_grid_point(
    latent: int,
    weight_decay: float,
    dropout: float,
    batch: int,
    epochs: int,
    *,
    dataset: str,
    val_size: int,
    train_limit: int,
    seed: int,
    lr: float,
    device: str = "cpu",
) -> dict[str, float]:
    """003.2's evaluate: train a ``conv_autoencoder(latent, dropout)`` with MSE and Adam on
    ``holdout_split(dataset, val_size, train_limit, seed)`` (loaded by name, once per worker);
    its last validation and training MSE (02)."""
    import torch

    from .models.autoencoders import conv_autoencoder
    from .training import Trainer

    train, val = _cached_holdout(dataset, val_size, train_limit, seed)
    torch.manual_seed(seed)
    model = conv_autoencoder(latent, dropout=dropout)
    trainer = Trainer(
        epochs,
        lr=lr,
        loss="mse",
        task="reconstruction",
        batch_size=batch,
        weight_decay=weight_decay,
        seed=seed,
        device=device,
        show_progress=False,
        name=f"grid k{latent} wd{weight_decay:g} do{dropout:g} b{batch} e{epochs}",
    )
    history = trainer.fit(model, train, val, eval_name="val")
    return {"val_loss": history.last("val_loss"), "train_loss": history.last("train_loss")}
