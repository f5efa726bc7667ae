"""The vectorised formula the walkthrough derives: grad = (1/n) X^T slope(X theta - y).

The loop (:func:`descend`) is the walkthrough's.  How the whole set's J and gradient are computed
is chosen before it, from the sizes alone (:mod:`linreg.core.fast`): the formula itself, or on
large full-batch data row blocks read once an epoch or sufficient statistics (mse, mse_half),
which give the same trajectory.
"""

from __future__ import annotations

import time

import numpy as np

from .. import fast
from ..losses import loss_and_gradient
from ..optim import (
    TrainSettings,
    Trajectory,
    batch_plan,
    diverged,
    divergence_limit,
    drop_bias_gradient,
    finish,
    lr_schedule,
    starting_point,
)

name = "numpy"


def fit(X, y, theta0, s: TrainSettings, device: str = "cpu") -> Trajectory:
    return train(X, y, theta0, s)


def train(
    X,
    y,
    theta0,
    s: TrainSettings,
    device: str = "cpu",
    *,
    path=None,
    block_rows=None,
    workers=None,
    backend: str = name,
) -> Trajectory:
    """:func:`fit` with a fast path's choices forced (``path``, ``block_rows``, ``workers``: tests
    and benchmarks); ``backend`` names the trajectory (the torch backend runs this on the cpu)."""
    dt = np.dtype(s.dtype)
    X = np.ascontiguousarray(X, dtype=dt)
    y = np.ascontiguousarray(y, dtype=dt)
    how = fast.choose_path(s, *X.shape, path)
    with fast.full_batch(how, X, y, s, block_rows=block_rows, workers=workers) as whole:
        return descend(X, y, starting_point(theta0, s).astype(dt), s, whole, backend)


def descend(X, y, theta, s: TrainSettings, whole, backend: str) -> Trajectory:
    """Gradient descent from ``theta`` (updated in place): each epoch J and its gradient over the
    whole set, ``whole(theta) -> (J, grad, |grad|)``, are logged, then one step per mini-batch
    (one step, with that gradient, for the full batch)."""
    n, m = X.shape
    lrs = lr_schedule(s)
    loss_h, theta_h, gn_h = np.empty(s.epochs), np.empty((s.epochs, m + 1)), np.empty(s.epochs)
    velocity, limit, done = None, None, 0
    start = time.perf_counter()
    for e, batches in enumerate(batch_plan(s, n)):
        loss, grad, gn = whole(theta)
        loss_h[e], theta_h[e], gn_h[e] = loss, theta, gn
        done = e + 1
        limit = divergence_limit(loss) if limit is None else limit
        if diverged(loss, limit):
            break
        for idx in batches or [None]:
            if idx is not None:  # this mini-batch's gradient
                grad = drop_bias_gradient(loss_and_gradient(s.loss, X[idx], y[idx], theta)[1], s)
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
