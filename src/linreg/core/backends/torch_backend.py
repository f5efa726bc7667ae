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
device (:mod:`linreg.core.backends.torch_stats`), other losses the loop above.  What the loops
and that path share (the loss modules, the device-side history) is in
:mod:`linreg.core.backends.torch_common`.

Without an intercept the model is ``nn.Linear(m, 1, bias=False)``: b is 0 throughout.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from .. import fast
from ..optim import (
    TrainSettings,
    Trajectory,
    batch_plan,
    diverged,
    divergence_limit,
    finish,
    lr_schedule,
    starting_point,
)
from .numpy_backend import train as numpy_train
from .torch_common import DEFAULT_CHECK_EVERY, DeviceHistory, criterion, name, sync
from .torch_stats import fit_stats


def fit(X, y, theta0, s: TrainSettings, device: str = "cpu") -> Trajectory:
    return train(X, y, theta0, s, device)


def train(
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
    """:func:`fit` with a fast path forced (``path``, ``block_rows``, ``workers``: tests,
    benchmarks); ``engine`` ("numpy" or "torch") which implementation runs it (default: numpy on
    the cpu, torch elsewhere)."""
    n, m = X.shape
    theta0 = starting_point(theta0, s)
    how = fast.choose_path(s, n, m, path)
    engine = engine or ("numpy" if device == "cpu" else "torch")
    if how != "plain" and engine == "numpy":
        if device != "cpu":
            raise ValueError("the numpy engine runs on the cpu")
        return numpy_train(
            X, y, theta0, s, path=how, block_rows=block_rows, workers=workers, backend=name
        )
    if how == "stats":
        # None: the formula could overflow below the divergence limit; the plain loop decides
        done = fit_stats(X, y, theta0, s, device)
        if done is not None:
            return done
    if device == "cpu":
        return _fit_cpu(X, y, theta0, s)
    return _fit_device(X, y, theta0, s, device)


def _setup(X, y, theta0, s: TrainSettings, device: str):
    dtype = getattr(torch, s.dtype)
    n, m = X.shape
    Xt = torch.as_tensor(np.ascontiguousarray(X), device=device).to(dtype)
    yt = torch.as_tensor(np.ascontiguousarray(y), device=device).to(dtype).reshape(n, 1)
    model = nn.Linear(m, 1, bias=s.fit_intercept, device=device, dtype=dtype)
    with torch.no_grad():
        if s.fit_intercept:
            model.bias.copy_(torch.as_tensor(theta0[:1]))
        model.weight.copy_(torch.as_tensor(theta0[1:]).reshape(1, m))
    return Xt, yt, model


def _bias(model) -> torch.Tensor:
    """b as a 1-element tensor: the model's, or a constant 0 without an intercept."""
    if model.bias is not None:
        return model.bias
    return torch.zeros(1, device=model.weight.device, dtype=model.weight.dtype)


def _fit_cpu(X, y, theta0, s: TrainSettings) -> Trajectory:
    n, m = X.shape
    Xt, yt, model = _setup(X, y, theta0, s, "cpu")
    forward, loss_fn = model.forward, criterion(s.loss).forward  # no hooks: skip Module.__call__
    bias, weight = _bias(model), model.weight
    params = tuple(p for p in (model.bias, weight) if p is not None)
    b_view, w_view = bias.detach().numpy(), weight.detach().numpy()[0]  # live views
    bufs = [None, None]
    lrs = lr_schedule(s)
    loss_h, theta_h, gn_h = np.empty(s.epochs), np.empty((s.epochs, m + 1)), np.empty(s.epochs)
    limit = math.inf
    done = 0
    start = time.perf_counter()
    for e, batches in enumerate(batch_plan(s, n)):
        loss = loss_fn(forward(Xt), yt)
        loss.backward()
        J = loss.item()
        gb = model.bias.grad.numpy() if model.bias is not None else np.zeros(1, w_view.dtype)
        gw = weight.grad.numpy()[0]
        loss_h[e] = J
        theta_h[e, 0] = b_view[0]
        theta_h[e, 1:] = w_view
        gn_h[e] = math.sqrt(float(gb @ gb) + float(gw @ gw))
        done = e + 1
        if e == 0:
            limit = divergence_limit(J)
        if diverged(J, limit):
            break
        if batches is None:
            _sgd_step(params, bufs, float(lrs[e]), s.momentum)
            _clear(params)
            continue
        _clear(params)
        for idx in batches:
            idx_t = torch.from_numpy(idx)
            loss_fn(forward(Xt[idx_t]), yt[idx_t]).backward()
            _sgd_step(params, bufs, float(lrs[e]), s.momentum)
            _clear(params)
    wall = time.perf_counter() - start
    final = np.concatenate((b_view, w_view)).astype(np.float64)
    kept = (loss_h[:done], theta_h[:done], gn_h[:done])
    return finish(*kept, lrs, final, backend=name, device="cpu", dtype=s.dtype, wall_s=wall)


def _clear(params) -> None:
    for p in params:
        p.grad = None


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
    Xt, yt, model = _setup(X, y, theta0, s, device)
    loss_fn = criterion(s.loss)
    optimizer = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum)
    lrs = lr_schedule(s)
    history = DeviceHistory(s.epochs, m, device, getattr(torch, s.dtype))
    loss_h = history.loss
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
            history.theta[e, 0] = _bias(model)[0]
            history.theta[e, 1:] = model.weight[0]
            grads = [p.grad.reshape(-1) for p in model.parameters()]
            history.grad_norm[e] = torch.cat(grads).norm()
        done = e + 1
        if e == 0:
            limit = divergence_limit(loss_h[0].item())
        if (e + 1) % every == 0 or e == 0:
            checked = loss_h[e + 1 - min(every, e + 1) : e + 1]  # one sync per check
            if not bool((checked <= limit).all()):  # the rule of optim.diverged, on the device
                break
        if batches is None:
            optimizer.step()
        else:
            _device_batches(model, loss_fn, optimizer, Xt, yt, batches, device)
    sync(device)
    wall = time.perf_counter() - start
    with torch.no_grad():
        final = torch.cat((_bias(model), model.weight[0]))
    return history.to_host(done, lrs, final, s, device, wall)


def _device_batches(model, loss_fn, optimizer, Xt, yt, batches, device: str) -> None:
    """One epoch's mini-batch steps: one host-to-device copy of the epoch's row order
    (asynchronous from pinned memory), the batches sliced from it on the device."""
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
