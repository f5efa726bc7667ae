"""The losses, defined once: per-sample value and slope of the residual r = prediction - target.

Every backend reads these definitions (numpy arrays and plain Python floats), and the torch backend
uses the matching ``torch.nn`` module; the tests hold the three to PyTorch autograd.  The gradient
with respect to theta = (b, w) is the chain rule the walkthrough derives:
``dJ/db = sum_i slope(r_i) / n`` and ``dJ/dw = X^T slope(r) / n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import check_choice, check_number

LOSSES = ("mse", "mse_half", "mae", "huber")


@dataclass(frozen=True)
class Loss:
    """A loss by name; ``delta`` is used by ``huber`` alone (PyTorch's default 1.0)."""

    name: str = "mse"
    delta: float = 1.0

    def __post_init__(self) -> None:
        check_choice("loss", self.name, LOSSES)
        if self.name == "huber":
            check_number("delta", self.delta, gt=0)

    # --- numpy ---------------------------------------------------------------------------
    def values(self, r: np.ndarray) -> np.ndarray:
        """Per-sample loss of residuals ``r`` (the mean of this is J)."""
        if self.name == "mse":
            return r * r
        if self.name == "mse_half":
            return 0.5 * (r * r)
        if self.name == "mae":
            return np.abs(r)
        small = np.abs(r) < self.delta
        return np.where(small, 0.5 * (r * r), self.delta * (np.abs(r) - 0.5 * self.delta))

    def slopes(self, r: np.ndarray) -> np.ndarray:
        """d(per-sample loss)/dr; at r = 0 the MAE slope is 0, as PyTorch's subgradient."""
        if self.name == "mse":
            return 2 * r
        if self.name == "mse_half":
            return r
        if self.name == "mae":
            return np.sign(r)
        return np.clip(r, -self.delta, self.delta)

    def mean(self, r: np.ndarray) -> float:
        """J = mean per-sample loss, as a Python float."""
        return float(np.mean(self.values(r)))

    # --- plain Python (the loop backend) -------------------------------------------------
    def value(self, r: float) -> float:
        if self.name == "mse":
            return r * r
        if self.name == "mse_half":
            return 0.5 * (r * r)
        if self.name == "mae":
            return abs(r)
        if abs(r) < self.delta:
            return 0.5 * (r * r)
        return self.delta * (abs(r) - 0.5 * self.delta)

    def slope(self, r: float) -> float:
        if self.name == "mse":
            return 2 * r
        if self.name == "mse_half":
            return r
        if self.name == "mae":
            return (r > 0) - (r < 0) + 0.0
        return min(max(r, -self.delta), self.delta)

    @property
    def smooth(self) -> bool:
        """Differentiable everywhere (mae is not at r = 0)."""
        return self.name != "mae"

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


def gradient_norm(grad) -> float:
    return math.sqrt(float(np.dot(grad, grad)))
