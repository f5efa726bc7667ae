"""What the torch backend's loops (:mod:`.torch_backend`) and its sufficient-statistics path
(:mod:`.torch_stats`) share: the backend's name, the loss modules, how often the host checks a
device's losses, the per-epoch history kept on the device and its one copy to the host.
"""

from __future__ import annotations

import torch
from torch import nn

from ..losses import Loss
from ..optim import TrainSettings, Trajectory, finish

name = "torch"
DEFAULT_CHECK_EVERY = 64


class HalfMSELoss(nn.Module):
    """(1/2n) sum r^2: the course convention the walkthrough uses for its derivation."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * nn.functional.mse_loss(pred, target)


# linreg's own loss modules, by the name a row of linreg.core.losses.KINDS gives as its
# ``torch_module``; any other name is torch.nn's
OWN_MODULES: dict[str, type[nn.Module]] = {"HalfMSELoss": HalfMSELoss}


def criterion(loss: Loss) -> nn.Module:
    """The loss's torch module, as the loss registry names it: linreg's own (``OWN_MODULES``)
    first, else torch.nn's."""
    module_name = loss.kind.torch_module
    module = OWN_MODULES.get(module_name) or getattr(nn, module_name)
    return module(delta=loss.delta) if module_name == "HuberLoss" else module()


class DeviceHistory:
    """Each epoch's loss, parameters (b, w) and gradient norm, preallocated on the device so the
    loop never waits on the host; copied to the host once, at the end."""

    def __init__(self, epochs: int, m: int, device: str, dtype: torch.dtype) -> None:
        self.loss = torch.empty(epochs, device=device, dtype=torch.float64)
        self.theta = torch.empty(epochs, m + 1, device=device, dtype=dtype)
        self.grad_norm = torch.empty(epochs, device=device, dtype=torch.float64)

    def to_host(
        self, done: int, lrs, final, s: TrainSettings, device: str, wall: float
    ) -> Trajectory:
        """The first ``done`` epochs as a trajectory ending at ``final``."""
        kept = (self.loss[:done], self.theta[:done].double(), self.grad_norm[:done])
        host = [a.cpu().numpy() for a in kept]
        final = final.double().cpu().numpy()
        return finish(*host, lrs, final, backend=name, device=device, dtype=s.dtype, wall_s=wall)


def sync(device: str) -> None:
    """Wait for the device's queued work (a wall time measured without it would be short)."""
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()
