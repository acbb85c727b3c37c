"""Grid points per minute of 003.2's grid search with 1 and 2 local workers and a 2-worker Dask cluster.

    .venv/bin/python benchmarks/grid_scaling.py [--train-limit 4000] [--epochs 2] [--dask tcp://host:8786]

The grid is 8 real 003.2 points (``helpers.search.cae_grid_point``: latent [5, 10] × weight decay
[0, 1e-5] × dropout [0, .25], batch 100) on a small Fashion-MNIST subset, so the whole script runs
in a couple of minutes on two cores (a point takes a few seconds on one thread). No results folder
is used, so every point is trained. The local rows include starting the pool's processes and
loading the data in each, as a notebook's call does; the Dask row uses a ``LocalCluster`` of 2
single-threaded worker processes started before the clock (as a cluster is started before the
notebook), or the cluster at ``--dask``; its workers' data loading is included. Prints one row
per executor: wall time, points per minute, speed-up over 1 worker, the mean seconds of one point
inside its worker (it grows when the workers compete for cores), and whether the table equals the
1-worker table (it must: same numbers whoever ran a point).
"""

from __future__ import annotations

import argparse
import os
import time

from helpers.search import cae_grid_point, grid_points, grid_search

GRID = {"latent": [5, 10], "weight_decay": [0.0, 1e-5], "dropout": [0.0, 0.25], "batch": [100]}


def timed(grid, fixed, executor) -> tuple[float, float, object]:
    """Seconds the whole grid took through ``executor``, mean seconds of one point where it ran, the table."""
    started = time.perf_counter()
    table = grid_search(grid, cae_grid_point, fixed=fixed, executor=executor, verbose=False)
    return time.perf_counter() - started, table["time_s"].mean(), table.drop(columns="time_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-limit", type=int, default=4000, help="training images per point (balanced)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dask", help="address of a running Dask scheduler (default: a 2-worker LocalCluster)")
    args = parser.parse_args()
    grid = {**GRID, "epochs": [args.epochs]}
    fixed = {"dataset": "fashion-mnist", "val_size": 500, "train_limit": args.train_limit, "seed": 0, "lr": 1e-3}
    points = len(grid_points(grid))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{points} grid points, {args.train_limit} training images, {args.epochs} epoch(s) each; {cores} cores")

    rows = []
    for label, executor in [("local, 1 worker", "local:1"), ("local, 2 workers", "local:2")]:
        rows.append((label, *timed(grid, fixed, executor)))
    try:
        import distributed
    except ImportError:
        print("Dask row skipped: pip install -r requirements-extra.txt")
    else:
        if args.dask:
            rows.append((f"dask {args.dask}", *timed(grid, fixed, args.dask)))
        else:
            with (
                distributed.LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                rows.append(("dask LocalCluster, 2 workers", *timed(grid, fixed, client)))

    base_seconds, base_table = rows[0][1], rows[0][3]
    print("\n| executor | wall s | points/min | speed-up vs 1 worker | s per point in its worker | same table |")
    print("|---|---:|---:|---:|---:|---|")
    for label, seconds, point_seconds, table in rows:
        print(
            f"| {label} | {seconds:.1f} | {60 * points / seconds:.1f} | {base_seconds / seconds:.2f} | "
            f"{point_seconds:.2f} | {'yes' if table.equals(base_table) else 'NO'} |"
        )


if __name__ == "__main__":
    main()
