"""Which points of a long per-epoch series MLflow gets (``tracking.max_points``).

Nobody sees 100,000 points on a chart (MLflow's Compare view samples about 320), yet each costs
a row in the store.  A series of at most ``max_points`` epochs is logged whole; a longer one is
thinned so its chart keeps its shape:

* the first epochs, log-spaced (a loss falls fastest at the start),
* evenly spaced epochs across the whole run,
* the smallest and the largest value of every bucket between them, so a spike, a plateau's
  end or a divergence is never sampled away,
* the last epoch (the learned value).

Steps keep their true epoch numbers.  Every epoch is kept in the run's ``trajectory.parquet``.
"""

from __future__ import annotations

import itertools

import numpy as np


def chosen_steps(values: np.ndarray, max_points: int) -> np.ndarray:
    """The sorted epochs (indices into ``values``) to log: all of them for a run of at most
    ``max_points`` epochs (its series has one value more: the learned one, after the last
    epoch), else at most ``max_points`` chosen as the module says."""
    n = len(values)
    if n <= max_points + 1:
        return np.arange(n)
    head = np.unique(np.geomspace(1, n, max(max_points // 4, 2)).astype(np.int64) - 1)
    finite = np.where(np.isfinite(values), values, np.nan)
    room = max_points - len(head) - 1
    buckets = max(room // 3, 1)
    steps = _with_buckets(finite, head, buckets)
    if len(steps) < 0.9 * max_points:  # a smooth series' extremes are its buckets' ends: more
        wider = max(int(buckets * (room / max(len(steps) - len(head) - 1, 1))), buckets + 1)
        more = _with_buckets(finite, head, min(wider, room))
        steps = more if len(more) <= max_points else steps
    return steps


def _with_buckets(finite: np.ndarray, head: np.ndarray, buckets: int) -> np.ndarray:
    n = len(finite)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    picked = [head, edges[:-1], [n - 1]]
    for lo, hi in itertools.pairwise(edges):
        part = finite[lo:hi]
        if hi > lo and not np.isnan(part).all():
            picked.append([lo + np.nanargmin(part), lo + np.nanargmax(part)])
    return np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p in picked]))


def thin(
    series: dict[str, np.ndarray], max_points: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each series as (steps, values), thinned to at most ``max_points`` points."""
    out = {}
    for name, values in series.items():
        values = np.asarray(values, dtype=np.float64)
        steps = chosen_steps(values, max_points)
        out[name] = (steps, values[steps])
    return out
