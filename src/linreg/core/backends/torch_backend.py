"""The walkthrough's PyTorch loop: nn.Linear + the loss module + torch.optim.SGD + autograd.

The trajectory stays on the device in preallocated tensors and is copied to the host once at the
end; divergence is checked every ``CHECK_EVERY`` epochs (every epoch on the cpu, where a check
costs what the walkthrough's ``loss.item()`` costs), so cuda runs never wait on the host per epoch.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..losses import Loss
from ..optim import EXPLODE_FACTOR, TrainSettings, Trajectory, batch_plan, finish, lr_schedule

name = "torch"
CHECK_EVERY = {"cpu": 1}
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


def fit(X, y, theta0, s: TrainSettings, device: str = "cpu") -> Trajectory:
    dtype = getattr(torch, s.dtype)
    n, m = X.shape
    Xt = torch.as_tensor(np.ascontiguousarray(X), device=device).to(dtype)
    yt = torch.as_tensor(np.ascontiguousarray(y), device=device).to(dtype).reshape(n, 1)
    model = nn.Linear(m, 1, device=device, dtype=dtype)
    with torch.no_grad():
        model.bias.copy_(torch.as_tensor(theta0[:1]))
        model.weight.copy_(torch.as_tensor(theta0[1:]).reshape(1, m))
    loss_fn = criterion(s.loss)
    optimizer = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum)
    lrs = lr_schedule(s)
    loss_h = torch.empty(s.epochs, device=device, dtype=torch.float64)
    theta_h = torch.empty(s.epochs, m + 1, device=device, dtype=dtype)
    gn_h = torch.empty(s.epochs, device=device, dtype=torch.float64)
    every = CHECK_EVERY.get(device, DEFAULT_CHECK_EVERY)
    limit = None
    done = 0
    start = time.perf_counter()
    for e, batches in enumerate(batch_plan(s, n)):
        optimizer.param_groups[0]["lr"] = lrs[e]
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
            if not bool((loss_h[e + 1 - min(every, e + 1) : e + 1] <= limit).all()):
                break
        if batches is None:
            optimizer.step()
            continue
        for idx in batches:
            idx_t = torch.as_tensor(idx, device=device)
            batch_loss = loss_fn(model(Xt[idx_t]), yt[idx_t])
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
    if device != "cpu":
        torch.cuda.synchronize() if device == "cuda" else None
    wall = time.perf_counter() - start
    with torch.no_grad():
        final = torch.cat((model.bias, model.weight[0])).double().cpu().numpy()
    return finish(
        loss_h[:done].cpu().numpy(), theta_h[:done].double().cpu().numpy(),
        gn_h[:done].cpu().numpy(), lrs, final,
        backend=name, device=device, dtype=s.dtype, wall_s=wall,
    )
