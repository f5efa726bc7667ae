"""The vectorised formula the walkthrough derives: grad = (1/n) X^T slope(X theta - y)."""

from __future__ import annotations

import math
import time

import numpy as np

from ..losses import loss_and_gradient
from ..optim import EXPLODE_FACTOR, TrainSettings, Trajectory, batch_plan, finish, lr_schedule

name = "numpy"


def fit(X, y, theta0, s: TrainSettings, device: str = "cpu") -> Trajectory:
    dt = np.dtype(s.dtype)
    X = np.ascontiguousarray(X, dtype=dt)
    y = np.ascontiguousarray(y, dtype=dt)
    theta = theta0.astype(dt)
    n, m = X.shape
    lrs = lr_schedule(s)
    loss_h = np.empty(s.epochs)
    theta_h = np.empty((s.epochs, m + 1))
    gn_h = np.empty(s.epochs)
    velocity = None
    limit = math.inf
    start = time.perf_counter()
    done = 0
    for e, batches in enumerate(batch_plan(s, n)):
        loss, grad = loss_and_gradient(s.loss, X, y, theta)
        loss_h[e], theta_h[e], gn_h[e] = loss, theta, math.sqrt(float(grad @ grad))
        done = e + 1
        if e == 0:
            limit = EXPLODE_FACTOR * max(loss, np.finfo(np.float64).tiny)
        if not (loss <= limit):  # also catches NaN
            break
        for idx in [None] if batches is None else batches:
            if idx is not None:
                _, grad = loss_and_gradient(s.loss, X[idx], y[idx], theta)
            velocity = step(theta, grad, velocity, lrs[e], s.momentum)
    wall = time.perf_counter() - start
    return finish(
        loss_h[:done], theta_h[:done], gn_h[:done], lrs, theta,
        backend=name, device="cpu", dtype=s.dtype, wall_s=wall,
    )


def step(theta, grad, velocity, lr, momentum):
    """One ``torch.optim.SGD`` step in place; returns the momentum buffer."""
    if momentum:
        velocity = grad.copy() if velocity is None else momentum * velocity + grad
        theta -= lr * velocity
    else:
        theta -= lr * grad
    return velocity
