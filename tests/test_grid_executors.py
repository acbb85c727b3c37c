"""The 003.2 grid through its executors: the local process pool, a Dask cluster of 2 workers, the
results folder, and points whose worker process is killed (helpers.search)."""

from __future__ import annotations

import os
import signal
import sys

import pandas as pd
import pytest

from helpers.search import GridPointError, cae_grid_point, grid_points, grid_search, parse_executor

# Four real (tiny) 003.2 grid points: 200 Fashion-MNIST training images, one epoch each.
GRID = {"latent": [2, 3], "weight_decay": [0.0], "dropout": [0.0, 0.25], "batch": [50], "epochs": [1]}
FIXED = {"dataset": "fashion-mnist", "val_size": 100, "train_limit": 200, "seed": 0, "lr": 1e-3}
VICTIM = {"latent": 3, "dropout": 0.0}  # the point whose first worker dies


def killed_once(marker: str, **arguments):
    """``cae_grid_point``, except that the first attempt at VICTIM kills its own worker process."""
    if all(arguments[k] == v for k, v in VICTIM.items()):
        try:
            descriptor = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            pass  # second attempt: run normally
        else:
            os.close(descriptor)
            os.kill(os.getpid(), signal.SIGKILL)
    return cae_grid_point(**arguments)


def values(table: pd.DataFrame) -> pd.DataFrame:
    """The table without ``time_s``, the one column that depends on where a point ran."""
    return table.drop(columns="time_s")


@pytest.fixture(scope="module")
def reference():
    """The grid run in this process: the table every executor must reproduce."""
    return grid_search(GRID, cae_grid_point, fixed=FIXED, executor="serial")


@pytest.fixture(scope="module")
def dask_client():
    """A Dask LocalCluster with 2 worker processes of one thread (the extra must be installed in CI)."""
    if os.environ.get("CI"):
        import distributed
    else:
        distributed = pytest.importorskip("distributed", reason="pip install -r requirements-extra.txt")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # ship killed_once to the workers
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_the_table_is_in_grid_order_with_every_point(reference):
    assert len(reference) == 4
    assert list(zip(reference["latent"], reference["dropout"])) == [(2, 0.0), (2, 0.25), (3, 0.0), (3, 0.25)]
    assert reference["val_loss"].between(0.0, 1.0).all() and reference["train_loss"].gt(0).all()


def test_the_local_pool_of_two_workers_gives_the_serial_table(reference, tmp_path):
    table = grid_search(GRID, cae_grid_point, fixed=FIXED, executor="local:2", results_dir=tmp_path)
    pd.testing.assert_frame_equal(values(table), values(reference))
    assert len(list(tmp_path.glob("*.json"))) == 4


def test_a_dask_cluster_of_two_workers_gives_the_same_table(reference, dask_client, tmp_path):
    table = grid_search(GRID, cae_grid_point, fixed=FIXED, executor=dask_client, results_dir=tmp_path)
    pd.testing.assert_frame_equal(values(table), values(reference))


def test_a_rerun_reuses_stored_points_and_recomputes_only_missing_ones(tmp_path, capsys):
    first = grid_search(GRID, cae_grid_point, fixed=FIXED, executor="serial", results_dir=tmp_path)
    stored = sorted(tmp_path.glob("*.json"))
    stored[0].unlink()
    capsys.readouterr()
    second = grid_search(GRID, cae_grid_point, fixed=FIXED, executor="serial", results_dir=tmp_path)
    assert "3 already in" in capsys.readouterr().out
    pd.testing.assert_frame_equal(values(first), values(second))
    other = grid_search(GRID, cae_grid_point, fixed={**FIXED, "lr": 2e-3}, executor="serial", results_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 8 and not other["val_loss"].equals(first["val_loss"])


def test_a_point_whose_local_worker_is_killed_is_rerun(reference, tmp_path):
    marker = tmp_path / "killed"
    table = grid_search(
        GRID, killed_once, fixed={**FIXED, "marker": str(marker)}, executor="local:2", results_dir=tmp_path / "results"
    )
    assert marker.exists()  # a worker really died
    pd.testing.assert_frame_equal(values(table), values(reference))


def test_a_point_whose_dask_worker_is_killed_is_rerun(reference, dask_client, tmp_path):
    marker = tmp_path / "killed"
    table = grid_search(
        GRID,
        killed_once,
        fixed={**FIXED, "marker": str(marker)},
        executor=dask_client,
        results_dir=tmp_path / "results",
    )
    assert marker.exists()
    pd.testing.assert_frame_equal(values(table), values(reference))
    assert len(list((tmp_path / "results").glob("*.json"))) == 4


def test_a_point_that_always_kills_its_worker_stops_with_a_clear_error(tmp_path):
    with pytest.raises(GridPointError, match="lost its worker 2 times"):
        grid_search(
            {"latent": [3], "dropout": [0.0]},
            killed_always,
            fixed={"marker": str(tmp_path)},
            executor="local:1",
            retries=1,
        )


def killed_always(latent, dropout, marker):
    """A grid point that kills its worker on every attempt."""
    os.kill(os.getpid(), signal.SIGKILL)


def failing(latent, dropout):
    """A grid point that raises."""
    raise ValueError(f"no such model: latent {latent}")


def test_a_point_that_raises_stops_the_search_naming_the_error(tmp_path):
    with pytest.raises(GridPointError, match="no such model: latent 3"):
        grid_search({"latent": [3, 4], "dropout": [0.0]}, failing, executor="local:1", results_dir=tmp_path)
    assert not list(tmp_path.glob("*.json"))


def test_the_full_profile_runs_table_1s_72_points():
    import tomllib

    from helpers.paths import profile_file

    full = tomllib.loads(profile_file("02_autoencoders").read_text())["full"]
    grid = {k: full[f"grid_{k}"] for k in ("latent", "weight_decay", "dropout", "batch", "epochs")}
    assert len(grid_points(grid)) == 72 == 2 * 3 * 3 * 2 * 2


def test_bad_executors_and_closures_get_errors_that_name_the_fix():
    with pytest.raises(ValueError, match="dask://host:8786"):
        parse_executor("ray://somewhere")
    with pytest.raises(ValueError, match="positive integer"):
        parse_executor("local:zero")
    assert parse_executor("dask://10.0.0.1:8786") == ("dask", "tcp://10.0.0.1:8786")
    with pytest.raises(TypeError, match="module-level function"):
        grid_search({"a": [1]}, lambda a: {"val_loss": a}, executor="local:1")
    with pytest.raises(ValueError, match="both grid axes and fixed"):
        grid_search({"a": [1]}, cae_grid_point, fixed={"a": 2}, executor="serial")
