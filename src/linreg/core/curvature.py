"""How curved the loss is on a dataset, and the largest step gradient descent can take there.

For J(θ) = mean((Aθ − y)²) with A = [1, X], the Hessian is H = (2/n)·AᵀA, the same everywhere (the
loss is quadratic).  Plain gradient descent multiplies the error along H's eigenvector i by
(1 − lr·λ_i) each epoch, so it converges only while |1 − lr·λ_max| < 1: lr < 2/λ_max, the critical
learning rate.  λ_max/λ_min, the condition number of H, says how much slower the flattest
direction is than the steepest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LinregError

# H = curvature · AᵀA / n: mse doubles the residual's square, the others halve it (huber near its
# optimum, where residuals are below δ); mae has no curvature at all
CURVATURE = {"mse": 2.0, "mse_half": 1.0, "huber": 1.0}


@dataclass(frozen=True)
class Curvature:
    """The Hessian's extreme eigenvalues on a dataset, and what they allow."""

    loss: str
    lambda_max: float
    lambda_min: float

    @property
    def critical_lr(self) -> float:
        """The largest stable step size of plain gradient descent: 2/λ_max."""
        return 2.0 / self.lambda_max

    @property
    def condition_number(self) -> float:
        return self.lambda_max / self.lambda_min if self.lambda_min > 0 else float("inf")


def standardised(X: np.ndarray) -> np.ndarray:
    """(x − mean)/std per feature (a constant feature left centred)."""
    X = np.asarray(X, dtype=np.float64)
    spread = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def hessian(X: np.ndarray, loss: str = "mse", fit_intercept: bool = True) -> np.ndarray:
    """The Hessian of the loss in θ = (b, w): (2/n)·AᵀA for mse, (1/n)·AᵀA for mse_half; A is
    [1, X], or X alone when the bias is held at 0 (train.fit_intercept=false)."""
    if loss not in CURVATURE:
        raise LinregError("loss", f"one of {', '.join(CURVATURE)} (mae has no curvature)", loss)
    X = np.asarray(X, dtype=np.float64)
    A = np.column_stack((np.ones(len(X)), X)) if fit_intercept else X  # θ = (b, w)
    return CURVATURE[loss] * (A.T @ A) / len(A)


def curvature(X: np.ndarray, loss: str = "mse", fit_intercept: bool = True) -> Curvature:
    eigenvalues = np.linalg.eigvalsh(hessian(X, loss, fit_intercept))  # symmetric: ascending
    return Curvature(loss, float(eigenvalues[-1]), float(max(eigenvalues[0], 0.0)))
