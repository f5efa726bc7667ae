"""The losses, defined once: one row per loss in ``KINDS`` holds everything that differs.

Each row gives the per-sample value and slope of the residual r = prediction - target (numpy
arrays, and plain Python floats for the loop backend), the fused form the row-block kernel sums,
the ``torch.nn`` module the torch backend trains with, and the exact solver of its optimum.  The
tests hold the three implementations to PyTorch autograd.  The gradient with respect to
theta = (b, w) is the chain rule the walkthrough derives: ``dJ/db = sum_i slope(r_i) / n`` and
``dJ/dw = X^T slope(r) / n``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import check_choice, check_number


def _huber_values(r, d):
    return np.where(np.abs(r) < d, 0.5 * (r * r), d * (np.abs(r) - 0.5 * d))


def _huber_value(r, d):
    return 0.5 * (r * r) if abs(r) < d else d * (abs(r) - 0.5 * d)


@dataclass(frozen=True)
class LossKind:
    """What one loss is, everywhere it is used (``d`` is Huber's delta, ignored by the others)."""

    values: Callable  # (r array, d) -> per-sample loss; J is their mean
    slopes: Callable  # (r array, d) -> d(per-sample loss)/dr; MAE's is 0 at r = 0, as torch's
    value: Callable  # (r float, d) -> float: the plain-Python backend's
    slope: Callable
    unit: Callable  # (r, d, out) -> u with slope = slope_scale * u (the row-block kernel)
    unit_sum: Callable  # (r, u, d) -> the sum of the values, from r and u (no second pass over X)
    torch_module: str  # a torch.nn loss, or linreg's own in torch_common.OWN_MODULES (HalfMSELoss)
    solver: str  # linreg.core.solvers's exact minimiser; least_squares: the stats path too
    slope_scale: float = 1.0  # applied once to the row-block kernel's summed gradient
    smooth: bool = True  # differentiable everywhere


KINDS = {
    "mse": LossKind(
        values=lambda r, d: r * r,
        slopes=lambda r, d: 2 * r,
        value=lambda r, d: r * r,
        slope=lambda r, d: 2 * r,
        unit=lambda r, d, out: r,
        unit_sum=lambda r, u, d: float(np.dot(r, r)),
        torch_module="MSELoss",
        solver="least_squares",
        slope_scale=2.0,
    ),
    "mse_half": LossKind(
        values=lambda r, d: 0.5 * (r * r),
        slopes=lambda r, d: r,
        value=lambda r, d: 0.5 * (r * r),
        slope=lambda r, d: r,
        unit=lambda r, d, out: r,
        unit_sum=lambda r, u, d: 0.5 * float(np.dot(r, r)),
        torch_module="HalfMSELoss",
        solver="least_squares",
    ),
    "mae": LossKind(
        values=lambda r, d: np.abs(r),
        slopes=lambda r, d: np.sign(r),
        value=lambda r, d: abs(r),
        slope=lambda r, d: (r > 0) - (r < 0) + 0.0,
        unit=lambda r, d, out: np.sign(r, out=out),
        unit_sum=lambda r, u, d: float(np.dot(u, r)),
        torch_module="L1Loss",
        solver="least_absolute_deviations",
        smooth=False,
    ),
    "huber": LossKind(  # slope clip(r); value c r - c^2 / 2 with c = clip(r): both pieces at once
        values=_huber_values,
        slopes=lambda r, d: np.clip(r, -d, d),
        value=_huber_value,
        slope=lambda r, d: min(max(r, -d), d),
        unit=lambda r, d, out: np.clip(r, -d, d, out=out),
        unit_sum=lambda r, u, d: float(np.dot(u, r)) - 0.5 * float(np.dot(u, u)),
        torch_module="HuberLoss",
        solver="huber_minimiser",
    ),
}
LOSSES = tuple(KINDS)


@dataclass(frozen=True)
class Loss:
    """A loss by name; ``delta`` is used by ``huber`` alone (PyTorch's default 1.0)."""

    name: str = "mse"
    delta: float = 1.0

    def __post_init__(self) -> None:
        check_choice("loss", self.name, LOSSES)
        if self.name == "huber":
            check_number("delta", self.delta, gt=0)

    @property
    def kind(self) -> LossKind:
        return KINDS[self.name]

    def values(self, r: np.ndarray) -> np.ndarray:
        """Per-sample loss of residuals ``r`` (the mean of this is J)."""
        return self.kind.values(r, self.delta)

    def slopes(self, r: np.ndarray) -> np.ndarray:
        """d(per-sample loss)/dr."""
        return self.kind.slopes(r, self.delta)

    def mean(self, r: np.ndarray) -> float:
        """J = mean per-sample loss, as a Python float."""
        return float(np.mean(self.values(r)))

    def value(self, r: float) -> float:
        return self.kind.value(r, self.delta)

    def slope(self, r: float) -> float:
        return self.kind.slope(r, self.delta)

    @property
    def smooth(self) -> bool:
        return self.kind.smooth

    def label(self) -> str:
        return f"huber(delta={self.delta:g})" if self.name == "huber" else self.name


def loss_and_gradient(loss: Loss, X: np.ndarray, y: np.ndarray, theta: np.ndarray):
    """J(theta) and its gradient for theta = (b, w), vectorised: grad_w = X^T slope(r) / n.

    For ``mse_half`` this is exactly the walkthrough's (1/n) X^T (X theta - y).
    """
    n = X.shape[0]
    r = X @ theta[1:] + theta[0] - y
    d = loss.slopes(r) / n
    grad = np.empty_like(theta)
    grad[0] = d.sum()
    grad[1:] = X.T @ d
    return loss.mean(r), grad
