"""A small grid search over training settings (introduced in 02 for 003.2).

``grid_search(grid, evaluate)`` calls ``evaluate(**config)`` for every point of the Cartesian grid
and returns a ``pandas.DataFrame`` sorted by the score (lower is better by default).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Callable, Mapping, Sequence


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, as a list of dictionaries (02)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def grid_search(grid: Mapping[str, Sequence[Any]], evaluate: Callable[..., Mapping[str, float]],
                score: str = "val_loss", minimize: bool = True):
    """Run ``evaluate(**point)`` (returns a dict holding ``score``) on every grid point; sorted table (02)."""
    import pandas as pd

    rows = []
    for point in grid_points(grid):
        t0 = time.perf_counter()
        result = dict(evaluate(**point))
        if score not in result:
            raise KeyError(f"evaluate() returned {sorted(result)}, without the score {score!r}")
        rows.append({**point, **result, "search_time_s": time.perf_counter() - t0})
    return pd.DataFrame(rows).sort_values(score, ascending=minimize).reset_index(drop=True)
