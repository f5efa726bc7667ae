"""The torch backend's sufficient statistics for mse and mse_half, float64 on the device.

:class:`linreg.core.fast_kernels.Stats` in torch: one pass of W^T W in chunks, one of residuals at
a reference point; then an epoch costs O(m^2) whatever n.  Used on cuda/mps (on the cpu the shared
numpy kernels run instead, unless a test asks for this engine).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import fast
from ..optim import (
    TrainSettings,
    Trajectory,
    diverged,
    divergence_limit,
    drop_bias_gradient,
    lr_schedule,
)
from .torch_common import DEFAULT_CHECK_EVERY, DeviceHistory, criterion, sync

STATS_ROWS = 1 << 20  # rows converted to float64 at a time when summing W^T W


def formula(Xt, yt, theta, s: TrainSettings):
    """What the autograd loop computes at ``theta``: J and its gradient (b's dropped without an
    intercept), by autograd through the loss's own torch module."""
    t = theta.detach().clone().requires_grad_(True)
    J = criterion(s.loss)(Xt @ t[1:] + t[0], yt)
    (grad,) = torch.autograd.grad(J, t)
    return J.detach(), drop_bias_gradient(grad, s)


class DeviceStats:
    """:class:`linreg.core.fast.Stats` in torch, float64 on the device (one pass of W^T W in
    chunks, one of residuals at the reference point)."""

    def __init__(self, Xt, yt, slope_scale: float) -> None:
        n, m = Xt.shape
        dev = Xt.device
        M = torch.zeros(m + 2, m + 2, dtype=torch.float64, device=dev)
        W = torch.empty(min(n, STATS_ROWS), m + 2, dtype=torch.float64, device=dev)
        W[:, 0] = 1.0
        for i in range(0, n, STATS_ROWS):
            xb = Xt[i : i + STATS_ROWS]
            wb = W[: len(xb)]
            wb[:, 1 : m + 1] = xb
            wb[:, m + 1] = yt[i : i + STATS_ROWS]
            M.addmm_(wb.T, wb)
        M /= n
        self.A = M[: m + 1, : m + 1].clone()
        self.ref = torch.linalg.lstsq(self.A, M[: m + 1, m + 1 :]).solution[:, 0]
        if not bool(torch.isfinite(self.ref).all()):  # any point will do (the identity is exact)
            self.ref = torch.zeros_like(self.ref)
        J = torch.zeros((), dtype=torch.float64, device=dev)
        g = torch.zeros(m + 1, dtype=torch.float64, device=dev)
        for i in range(0, n, STATS_ROWS):
            xb = Xt[i : i + STATS_ROWS]
            wb = W[: len(xb)]
            wb[:, 1 : m + 1] = xb
            wb[:, m + 1] = yt[i : i + STATS_ROWS]
            r = wb[:, : m + 1] @ self.ref - wb[:, m + 1]
            J += r @ r
            g += r @ wb[:, : m + 1]
        self.J_ref, self.g_ref = J / n, g / n
        self.slope_scale = slope_scale  # mse 2, mse_half 1

    def __call__(self, theta):
        d = theta.double() - self.ref
        Ad = self.A @ d
        J = self.J_ref + 2.0 * (d @ self.g_ref) + d @ Ad
        g = self.g_ref + Ad
        return 0.5 * self.slope_scale * J, self.slope_scale * g


class SGDStep:
    """theta -= lr * (the gradient, or its momentum buffer), in place: torch.optim.SGD's update."""

    def __init__(self, theta, lrs, momentum: float) -> None:
        self.theta, self.lrs, self.momentum = theta, lrs, momentum
        self.velocity = None

    def __call__(self, grad, e: int) -> None:
        lr = float(self.lrs[e])
        if not self.momentum:
            self.theta.sub_(lr * grad)
            return
        if self.velocity is None:
            self.velocity = grad.clone()
        else:
            self.velocity.mul_(self.momentum).add_(grad)
        self.theta.sub_(lr * self.velocity)


def fit_stats(X, y, theta0, s: TrainSettings, device: str) -> Trajectory | None:
    """Full-batch mse / mse_half from sufficient statistics, all on the device.

    Epoch 0 by the formula (it sets the divergence limit); every ``DEFAULT_CHECK_EVERY`` epochs the
    host looks at the losses: an epoch non-finite or within ``fast.BAND`` of the limit is
    recomputed by the formula, which decides and is logged, as on the numpy path.  None when the
    statistics could overflow below the limit: the caller runs the plain loop, from the start.
    """
    n, m = X.shape
    dtype = getattr(torch, s.dtype)
    Xt = torch.as_tensor(np.ascontiguousarray(X), device=device).to(dtype)
    yt = torch.as_tensor(np.ascontiguousarray(y), device=device).to(dtype)
    theta = torch.as_tensor(theta0, device=device).to(dtype).clone()  # never theta0 itself
    lrs = lr_schedule(s)
    history = DeviceHistory(s.epochs, m, device, dtype)
    start = time.perf_counter()
    step = SGDStep(theta, lrs, s.momentum)
    J0, g0 = formula(Xt, yt, theta, s)
    history.loss[0], history.theta[0], history.grad_norm[0] = J0, theta, g0.double().norm()
    limit = divergence_limit(float(J0))
    done = 1
    if not diverged(float(J0), limit):
        step(g0, 0)
        if s.epochs > 1:
            if not fast.stats_safe(limit, n, np.dtype(s.dtype)):
                return None
            stats = DeviceStats(Xt, yt, s.loss.kind.slope_scale)
            done = _epochs_by_stats(stats, Xt, yt, s, step, history, limit)
    sync(device)
    wall = time.perf_counter() - start
    return history.to_host(done, lrs, theta, s, device, wall)


def _epochs_by_stats(stats, Xt, yt, s: TrainSettings, step, history, limit: float) -> int:
    """Epochs 1 on by the statistics, the host checking every ``DEFAULT_CHECK_EVERY``; returns
    how many epochs the run has (up to and including the one that diverged)."""
    dtype = getattr(torch, s.dtype)
    first = 1
    while first < s.epochs:
        stop = min(s.epochs, (first // DEFAULT_CHECK_EVERY + 1) * DEFAULT_CHECK_EVERY)
        for e in range(first, stop):
            J, g = stats(step.theta)
            drop_bias_gradient(g, s)
            history.loss[e], history.theta[e], history.grad_norm[e] = J, step.theta, g.norm()
            step(g.to(dtype), e)
        wild = _first_diverged(Xt, yt, s, history, first, stop, limit)
        if wild is not None:
            return wild + 1
        first = stop
    return s.epochs


def _first_diverged(Xt, yt, s: TrainSettings, history, first: int, stop: int, limit: float):
    """Epochs ``first`` to ``stop`` - 1 whose loss is non-finite or within ``fast.BAND`` of the
    limit (rare), recomputed by the formula, which decides; the first that diverged, or None."""
    suspect = ~(history.loss[first:stop] < limit * (1 - fast.BAND))
    if not bool(suspect.any()):
        return None
    for k in (torch.nonzero(suspect)[:, 0] + first).tolist():
        Jk, gk = formula(Xt, yt, history.theta[k].clone(), s)
        history.loss[k], history.grad_norm[k] = Jk, gk.double().norm()
        if diverged(float(Jk), limit):
            return k
    return None
