"""Plain Python loops over samples and features: the "extremely slow" version of the walkthrough.

No numpy in the hot loop.  It computes in Python floats (float64) whatever ``dtype`` says, and is
kept to show what vectorising buys.
"""

from __future__ import annotations

import math
import time

from .. import optim
from ..optim import TrainSettings, Trajectory

name = "python"


def _loss_and_grad(loss, rows, ys, theta, idx):
    """Mean loss and gradient over the samples ``idx`` with explicit loops."""
    m = len(theta) - 1
    total = 0.0
    grad = [0.0] * (m + 1)
    for i in idx:
        x = rows[i]
        pred = theta[0]
        for j in range(m):
            pred += theta[j + 1] * x[j]
        r = pred - ys[i]
        total += loss.value(r)
        d = loss.slope(r)
        grad[0] += d
        for j in range(m):
            grad[j + 1] += d * x[j]
    n = len(idx)
    return total / n, [g / n for g in grad]


def fit(X, y, theta0, s: TrainSettings, device: str = "cpu") -> Trajectory:
    rows = [[float(v) for v in row] for row in X]
    ys = [float(v) for v in y]
    theta = [float(v) for v in theta0]
    n = len(rows)
    everyone = range(n)
    lrs = optim.lr_schedule(s)
    loss_h, theta_h, gn_h = [], [], []
    velocity = None
    limit = math.inf
    start = time.perf_counter()
    for e, batches in enumerate(optim.batch_plan(s, n)):
        loss, grad = _loss_and_grad(s.loss, rows, ys, theta, everyone)
        optim.drop_bias_gradient(grad, s)
        loss_h.append(loss)
        theta_h.append(list(theta))
        gn_h.append(math.sqrt(sum(g * g for g in grad)))
        if e == 0:
            limit = optim.divergence_limit(loss)
        if optim.diverged(loss, limit) or not all(map(math.isfinite, theta)):
            break
        for idx in [None] if batches is None else batches:
            if idx is not None:
                _, grad = _loss_and_grad(s.loss, rows, ys, theta, idx.tolist())
                optim.drop_bias_gradient(grad, s)
            velocity = _step(theta, grad, velocity, float(lrs[e]), s.momentum)
    wall = time.perf_counter() - start
    return optim.finish(
        loss_h,
        theta_h,
        gn_h,
        lrs,
        theta,
        backend=name,
        device="cpu",
        dtype="float64",
        wall_s=wall,
    )


def _step(theta, grad, velocity, lr, momentum):
    if momentum:
        if velocity is None:
            velocity = list(grad)
        else:
            velocity = [momentum * v + g for v, g in zip(velocity, grad, strict=True)]
        grad = velocity
    for j, g in enumerate(grad):
        theta[j] -= lr * g
    return velocity
