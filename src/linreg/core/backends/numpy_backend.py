"""The vectorised formula the walkthrough derives: grad = (1/n) X^T slope(X theta - y).

On large full-batch data it runs one of the fast paths of :mod:`linreg.core.fast` (row blocks read
once an epoch; sufficient statistics for mse and mse_half), which give the same trajectory.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import fast
from ..losses import loss_and_gradient
from ..optim import EXPLODE_FACTOR, TrainSettings, Trajectory, batch_plan, finish, lr_schedule

name = "numpy"


def fit(
    X,
    y,
    theta0,
    s: TrainSettings,
    device: str = "cpu",
    *,
    path: str | None = None,
    block_rows: int | None = None,
    workers: int | None = None,
) -> Trajectory:
    """``path``, ``block_rows`` and ``workers`` force a fast path's choices (tests, benchmarks)."""
    return train(X, y, theta0, s, path=path, block_rows=block_rows, workers=workers)


def train(
    X, y, theta0, s: TrainSettings, *, path=None, block_rows=None, workers=None, backend: str = name
) -> Trajectory:
    dt = np.dtype(s.dtype)
    X = np.ascontiguousarray(X, dtype=dt)
    y = np.ascontiguousarray(y, dtype=dt)
    theta = theta0.astype(dt)
    n, m = X.shape
    how = fast.choose_path(s, n, m, path)
    lrs = lr_schedule(s)
    loss_h = np.empty(s.epochs)
    theta_h = np.empty((s.epochs, m + 1))
    gn_h = np.empty(s.epochs)
    velocity = None
    limit = math.inf
    stats = None
    start = time.perf_counter()
    done = 0
    with fast.kernels(how, X, y, s.loss, block_rows=block_rows, workers=workers) as (
        formula,
        make_stats,
    ):
        for e, batches in enumerate(batch_plan(s, n)):
            if stats is None:
                loss, grad = formula(theta)
                gn = math.sqrt(float(grad @ grad))
            else:
                loss, grad64 = stats(theta)
                if loss < limit * (1 - fast.BAND):
                    grad, gn = grad64.astype(dt), math.sqrt(float(grad64 @ grad64))
                else:  # near or past the limit, or not finite: the formula decides
                    loss, grad = formula(theta)
                    gn = math.sqrt(float(grad @ grad))
            loss_h[e], theta_h[e], gn_h[e] = loss, theta, gn
            done = e + 1
            if e == 0:
                limit = EXPLODE_FACTOR * max(loss, np.finfo(np.float64).tiny)
                if make_stats is not None and s.epochs > 1 and fast.stats_safe(limit, n, dt):
                    stats = make_stats()
            if not (loss <= limit):  # also catches NaN
                break
            for idx in [None] if batches is None else batches:
                if idx is not None:
                    _, grad = loss_and_gradient(s.loss, X[idx], y[idx], theta)
                velocity = step(theta, grad, velocity, float(lrs[e]), s.momentum)
    wall = time.perf_counter() - start
    return finish(
        loss_h[:done],
        theta_h[:done],
        gn_h[:done],
        lrs,
        theta,
        backend=backend,
        device="cpu",
        dtype=s.dtype,
        wall_s=wall,
    )


def step(theta, grad, velocity, lr, momentum):
    """One ``torch.optim.SGD`` step in place; returns the momentum buffer."""
    if momentum:
        velocity = grad.copy() if velocity is None else momentum * velocity + grad
        theta -= lr * velocity
    else:
        theta -= lr * grad
    return velocity
