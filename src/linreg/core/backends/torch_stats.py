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
from .torch_backend import DEFAULT_CHECK_EVERY, _fit_cpu, _fit_device, _sync, _to_host, criterion

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


def fit_stats(X, y, theta0, s: TrainSettings, device: str) -> Trajectory:
    """Full-batch mse / mse_half from sufficient statistics, all on the device.

    Epoch 0 by the formula (it sets the divergence limit); every ``DEFAULT_CHECK_EVERY`` epochs the
    host looks at the losses: an epoch non-finite or within ``fast.BAND`` of the limit is
    recomputed by the formula, which decides and is logged, as on the numpy path.
    """
    n, m = X.shape
    dtype = getattr(torch, s.dtype)
    Xt = torch.as_tensor(np.ascontiguousarray(X), device=device).to(dtype)
    yt = torch.as_tensor(np.ascontiguousarray(y), device=device).to(dtype)
    theta = torch.as_tensor(theta0, device=device).to(dtype).clone()  # never theta0 itself
    lrs = lr_schedule(s)
    loss_h = torch.empty(s.epochs, device=device, dtype=torch.float64)
    theta_h = torch.empty(s.epochs, m + 1, device=device, dtype=dtype)
    gn_h = torch.empty(s.epochs, device=device, dtype=torch.float64)
    start = time.perf_counter()
    velocity = None

    def step(grad, e):
        nonlocal velocity
        if s.momentum:
            velocity = grad.clone() if velocity is None else velocity.mul_(s.momentum).add_(grad)
            theta.sub_(float(lrs[e]) * velocity)
        else:
            theta.sub_(float(lrs[e]) * grad)

    J0, g0 = formula(Xt, yt, theta, s)
    loss_h[0], theta_h[0], gn_h[0] = J0, theta, g0.double().norm()
    loss0 = float(J0)
    limit = divergence_limit(loss0)
    done = 1
    stats = None
    if not diverged(loss0, limit):
        step(g0, 0)
        if s.epochs > 1 and fast.stats_safe(limit, n, np.dtype(s.dtype)):
            stats = DeviceStats(Xt, yt, s.loss.kind.slope_scale)
    e = 1
    while stats is not None and e < s.epochs:
        stop = min(s.epochs, (e // DEFAULT_CHECK_EVERY + 1) * DEFAULT_CHECK_EVERY)
        first = e
        for e in range(first, stop):
            J, g = stats(theta)
            drop_bias_gradient(g, s)
            loss_h[e], theta_h[e], gn_h[e] = J, theta, g.norm()
            step(g.to(dtype), e)
        e = stop
        done = stop
        losses = loss_h[first:stop]
        suspect = ~(losses < limit * (1 - fast.BAND))
        if bool(suspect.any()):  # rare: near the limit or diverged; the formula decides
            for k in (torch.nonzero(suspect)[:, 0] + first).tolist():
                Jk, gk = formula(Xt, yt, theta_h[k].clone(), s)
                loss_h[k], gn_h[k] = Jk, gk.double().norm()
                if diverged(float(Jk), limit):
                    done = k + 1
                    break
            else:
                continue
            break
    if stats is None and done == 1 and s.epochs > 1 and not diverged(loss0, limit):
        # the formula could overflow below the limit here: the plain loop, from the start
        return (
            _fit_cpu(X, y, theta0, s) if device == "cpu" else _fit_device(X, y, theta0, s, device)
        )
    _sync(device)
    wall = time.perf_counter() - start
    return _to_host(loss_h, theta_h, gn_h, done, lrs, theta, s, device, wall)
