"""The walkthrough's PyTorch loop: nn.Linear + the loss module + torch.optim.SGD's step + autograd.

On the cpu the loop is the walkthrough's own, bit for bit (``loss.item()`` each epoch, as it
prints the loss), with its bookkeeping trimmed: the trajectory is copied into numpy arrays through
views of the parameters, and the SGD step is ``torch.optim.SGD``'s single-tensor update written
out (the same tensor operations, without the optimizer's per-step dispatch).

On cuda/mps the trajectory stays on the device in preallocated tensors and is copied to the host
once at the end; divergence is checked every ``DEFAULT_CHECK_EVERY`` epochs, so the device never
waits on the host per epoch.

Large full-batch data takes a fast path of :mod:`linreg.core.fast` (same trajectory to rounding):
on the cpu the shared numpy kernels, which work on the tensors' own memory (a cpu tensor and its
numpy view are the same bytes; the row-block kernels run on the BLAS numpy ships, measured faster
here than torch's); on a device, mse and mse_half use the sufficient statistics in float64 on the
device, other losses the loop above.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from .. import fast
from ..losses import Loss
from ..optim import EXPLODE_FACTOR, TrainSettings, Trajectory, batch_plan, finish, lr_schedule

name = "torch"
DEFAULT_CHECK_EVERY = 64


class HalfMSELoss(nn.Module):
    """(1/2n) sum r^2: the course convention the walkthrough uses for its derivation."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * nn.functional.mse_loss(pred, target)


def criterion(loss: Loss) -> nn.Module:
    if loss.name == "mse":
        return nn.MSELoss()
    if loss.name == "mse_half":
        return HalfMSELoss()
    if loss.name == "mae":
        return nn.L1Loss()
    return nn.HuberLoss(delta=loss.delta)


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
    engine: str | None = None,
) -> Trajectory:
    """``path``, ``block_rows``, ``workers`` force a fast path (tests, benchmarks); ``engine``
    ("numpy" or "torch") which implementation runs it (default: numpy on the cpu, torch elsewhere).
    """
    n, m = X.shape
    how = fast.choose_path(s, n, m, path)
    engine = engine or ("numpy" if device == "cpu" else "torch")
    if how != "plain" and engine == "numpy":
        if device != "cpu":
            raise ValueError("the numpy engine runs on the cpu")
        from .numpy_backend import train

        return train(
            X, y, theta0, s, path=how, block_rows=block_rows, workers=workers, backend=name
        )
    if how == "stats":
        return _fit_stats(X, y, theta0, s, device)
    if device == "cpu":
        return _fit_cpu(X, y, theta0, s)
    return _fit_device(X, y, theta0, s, device)


def _setup(X, y, theta0, s: TrainSettings, device: str):
    dtype = getattr(torch, s.dtype)
    n, m = X.shape
    Xt = torch.as_tensor(np.ascontiguousarray(X), device=device).to(dtype)
    yt = torch.as_tensor(np.ascontiguousarray(y), device=device).to(dtype).reshape(n, 1)
    model = nn.Linear(m, 1, device=device, dtype=dtype)
    with torch.no_grad():
        model.bias.copy_(torch.as_tensor(theta0[:1]))
        model.weight.copy_(torch.as_tensor(theta0[1:]).reshape(1, m))
    return Xt, yt, model


def _fit_cpu(X, y, theta0, s: TrainSettings) -> Trajectory:
    n, m = X.shape
    Xt, yt, model = _setup(X, y, theta0, s, "cpu")
    forward, loss_fn = model.forward, criterion(s.loss).forward  # no hooks: skip Module.__call__
    bias, weight = model.bias, model.weight
    params = (bias, weight)
    b_view, w_view = bias.detach().numpy(), weight.detach().numpy()[0]  # live views
    bufs = [None, None]
    lrs = lr_schedule(s)
    loss_h = np.empty(s.epochs)
    theta_h = np.empty((s.epochs, m + 1))
    gn_h = np.empty(s.epochs)
    limit = math.inf
    done = 0
    start = time.perf_counter()
    for e, batches in enumerate(batch_plan(s, n)):
        loss = loss_fn(forward(Xt), yt)
        loss.backward()
        J = loss.item()
        gb, gw = bias.grad.numpy(), weight.grad.numpy()[0]
        loss_h[e] = J
        theta_h[e, 0] = b_view[0]
        theta_h[e, 1:] = w_view
        gn_h[e] = math.sqrt(float(gb @ gb) + float(gw @ gw))
        done = e + 1
        if e == 0:
            limit = EXPLODE_FACTOR * max(J, np.finfo(np.float64).tiny)
        if not (limit >= J):  # also catches NaN
            break
        if batches is None:
            _sgd_step(params, bufs, float(lrs[e]), s.momentum)
            bias.grad = weight.grad = None
            continue
        bias.grad = weight.grad = None
        for idx in batches:
            idx_t = torch.from_numpy(idx)
            loss_fn(forward(Xt[idx_t]), yt[idx_t]).backward()
            _sgd_step(params, bufs, float(lrs[e]), s.momentum)
            bias.grad = weight.grad = None
    wall = time.perf_counter() - start
    final = np.concatenate((b_view, w_view)).astype(np.float64)
    return finish(
        loss_h[:done],
        theta_h[:done],
        gn_h[:done],
        lrs,
        final,
        backend=name,
        device="cpu",
        dtype=s.dtype,
        wall_s=wall,
    )


@torch.no_grad()
def _sgd_step(params, bufs, lr: float, momentum: float) -> None:
    """``torch.optim.SGD.step`` for weight_decay = dampening = 0, no nesterov, no maximize: the
    operations of its single-tensor update (torch/optim/sgd.py, ``_single_tensor_sgd``), in order.
    """
    for i, p in enumerate(params):
        grad = p.grad
        if momentum != 0:
            buf = bufs[i]
            if buf is None:
                buf = bufs[i] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1)
            grad = buf
        p.add_(grad, alpha=-lr)


def _fit_device(X, y, theta0, s: TrainSettings, device: str) -> Trajectory:
    n, m = X.shape
    dtype = getattr(torch, s.dtype)
    Xt, yt, model = _setup(X, y, theta0, s, device)
    loss_fn = criterion(s.loss)
    optimizer = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum)
    lrs = lr_schedule(s)
    loss_h = torch.empty(s.epochs, device=device, dtype=torch.float64)
    theta_h = torch.empty(s.epochs, m + 1, device=device, dtype=dtype)
    gn_h = torch.empty(s.epochs, device=device, dtype=torch.float64)
    every = DEFAULT_CHECK_EVERY
    limit = None
    done = 0
    start = time.perf_counter()
    for e, batches in enumerate(batch_plan(s, n)):
        optimizer.param_groups[0]["lr"] = float(lrs[e])
        loss = loss_fn(model(Xt), yt)
        optimizer.zero_grad()
        loss.backward()
        with torch.no_grad():
            loss_h[e] = loss.detach()
            theta_h[e, 0] = model.bias[0]
            theta_h[e, 1:] = model.weight[0]
            gn_h[e] = torch.cat((model.bias.grad, model.weight.grad[0])).norm()
        done = e + 1
        if e == 0:
            limit = EXPLODE_FACTOR * max(loss_h[0].item(), np.finfo(np.float64).tiny)
        if (e + 1) % every == 0 or e == 0:
            checked = loss_h[e + 1 - min(every, e + 1) : e + 1]  # one sync per check
            if not bool((checked <= limit).all()):
                break
        if batches is None:
            optimizer.step()
            continue
        # one host-to-device copy an epoch (asynchronous from pinned memory), batches sliced there
        order = torch.from_numpy(np.concatenate(batches))
        if device == "cuda":
            order = order.pin_memory().to(device, non_blocking=True)
        else:
            order = order.to(device)
        at = 0
        for idx in batches:
            idx_t = order[at : at + len(idx)]
            at += len(idx)
            batch_loss = loss_fn(model(Xt[idx_t]), yt[idx_t])
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
    _sync(device)
    wall = time.perf_counter() - start
    with torch.no_grad():
        final = torch.cat((model.bias, model.weight[0]))
    return _to_host(loss_h, theta_h, gn_h, done, lrs, final, s, device, wall)


def _to_host(loss_h, theta_h, gn_h, done, lrs, final, s, device, wall) -> Trajectory:
    """The device-side history, copied to the host once, as a trajectory."""
    return finish(
        loss_h[:done].cpu().numpy(),
        theta_h[:done].double().cpu().numpy(),
        gn_h[:done].cpu().numpy(),
        lrs,
        final.double().cpu().numpy(),
        backend=name,
        device=device,
        dtype=s.dtype,
        wall_s=wall,
    )


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


# --- sufficient statistics on the device ---------------------------------------------------------

STATS_ROWS = 1 << 20  # rows converted to float64 at a time when summing W^T W


def formula(Xt, yt, theta, loss: Loss):
    """The plain formula in torch (what the autograd loop computes): J and grad, both tensors."""
    n = Xt.shape[0]
    r = Xt @ theta[1:] + theta[0] - yt
    if loss.name in ("mse", "mse_half"):
        values, slopes = r * r, 2 * r
        if loss.name == "mse_half":
            values, slopes = 0.5 * values, r
    elif loss.name == "mae":
        values, slopes = r.abs(), torch.sign(r)
    else:
        small = r.abs() < loss.delta
        values = torch.where(small, 0.5 * (r * r), loss.delta * (r.abs() - 0.5 * loss.delta))
        slopes = r.clamp(-loss.delta, loss.delta)
    d = slopes / n
    grad = torch.cat((d.sum().reshape(1), Xt.T @ d))
    return values.mean(), grad


class DeviceStats:
    """:class:`linreg.core.fast.Stats` in torch, float64 on the device (one pass of W^T W in
    chunks, one of residuals at the reference point)."""

    def __init__(self, Xt, yt, half: bool) -> None:
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
        self.half = half

    def __call__(self, theta):
        d = theta.double() - self.ref
        Ad = self.A @ d
        J = self.J_ref + 2.0 * (d @ self.g_ref) + d @ Ad
        g = self.g_ref + Ad
        return (0.5 * J, g) if self.half else (J, 2.0 * g)


def _fit_stats(X, y, theta0, s: TrainSettings, device: str) -> Trajectory:
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

    J0, g0 = formula(Xt, yt, theta, s.loss)
    loss_h[0], theta_h[0], gn_h[0] = J0, theta, g0.double().norm()
    loss0 = float(J0)
    limit = EXPLODE_FACTOR * max(loss0, np.finfo(np.float64).tiny)
    done = 1
    stats = None
    if loss0 <= limit:
        step(g0, 0)
        if s.epochs > 1 and fast.stats_safe(limit, n, np.dtype(s.dtype)):
            stats = DeviceStats(Xt, yt, s.loss.name == "mse_half")
    e = 1
    while stats is not None and e < s.epochs:
        stop = min(s.epochs, (e // DEFAULT_CHECK_EVERY + 1) * DEFAULT_CHECK_EVERY)
        first = e
        for e in range(first, stop):
            J, g = stats(theta)
            loss_h[e], theta_h[e], gn_h[e] = J, theta, g.norm()
            step(g.to(dtype), e)
        e = stop
        done = stop
        losses = loss_h[first:stop]
        suspect = ~(losses < limit * (1 - fast.BAND))
        if bool(suspect.any()):  # rare: near the limit or diverged; the formula decides
            for k in (torch.nonzero(suspect)[:, 0] + first).tolist():
                Jk, gk = formula(Xt, yt, theta_h[k].clone(), s.loss)
                loss_h[k], gn_h[k] = Jk, gk.double().norm()
                if not (float(Jk) <= limit):
                    done = k + 1
                    break
            else:
                continue
            break
    if stats is None and done == 1 and s.epochs > 1 and loss0 <= limit:
        # the formula could overflow below the limit here: the plain loop, from the start
        return (
            _fit_cpu(X, y, theta0, s) if device == "cpu" else _fit_device(X, y, theta0, s, device)
        )
    _sync(device)
    wall = time.perf_counter() - start
    return _to_host(loss_h, theta_h, gn_h, done, lrs, theta, s, device, wall)
