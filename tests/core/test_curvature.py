"""The critical step size 2/λ_max of the mse Hessian (linreg.core.curvature), checked against a
Hessian measured numerically and against gradient descent itself."""

from __future__ import annotations

import numpy as np
import pytest

from linreg.core import DataSpec, Loss, TrainSettings, fit, generate
from linreg.core.curvature import curvature


def mse(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((theta[0] + X @ theta[1:] - y) ** 2))


def numerical_hessian(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Central second differences of the mse itself (exact up to rounding: it is quadratic),
    each step scaled to its feature's spread so that plot sizes in the thousands lose no digits."""
    p = X.shape[1] + 1
    h = 1.0 / np.r_[1.0, np.maximum(X.std(axis=0), 1.0)]  # large: exact for a quadratic
    H = np.empty((p, p))
    at = np.zeros(p)
    for i in range(p):
        for j in range(p):
            ei, ej = np.eye(p)[i] * h[i], np.eye(p)[j] * h[j]
            corners = mse(at + ei + ej, X, y) - mse(at + ei - ej, X, y)
            corners += mse(at - ei - ej, X, y) - mse(at - ei + ej, X, y)
            H[i, j] = corners / (4 * h[i] * h[j])
    return H


@pytest.mark.parametrize(
    "spec",
    [DataSpec(), DataSpec(feature_scale=1000.0), DataSpec(n_samples=300, n_features=3,
                                                           weights=(1.0, -2.0, 0.5))],
    ids=["walkthrough", "plot_sizes", "three_features"],
)  # fmt: skip
def test_critical_lr_is_two_over_the_largest_eigenvalue_of_the_measured_hessian(spec):
    data = generate(spec)
    X = np.asarray(data.X, np.float64)
    measured = np.linalg.eigvalsh(numerical_hessian(X, np.asarray(data.y, np.float64)))
    c = curvature(X, "mse")
    assert c.lambda_max == pytest.approx(measured[-1], rel=1e-6)
    assert c.critical_lr == pytest.approx(2 / measured[-1], rel=1e-6)
    assert c.condition_number == pytest.approx(measured[-1] / measured[0], rel=1e-4)
    assert curvature(X, "mse_half").critical_lr == pytest.approx(2 * c.critical_lr)


def test_unscaled_features_make_the_valley_long_and_the_step_tiny():
    walkthrough = curvature(generate(DataSpec()).X)
    plot_sizes = curvature(generate(DataSpec(feature_scale=1000.0)).X)
    assert walkthrough.condition_number < 2 < 1e5 < plot_sizes.condition_number
    assert plot_sizes.critical_lr < walkthrough.critical_lr * 1e-5


@pytest.mark.parametrize("multiple, ends", [(0.98, "lower"), (1.02, "higher")])
def test_gradient_descent_turns_at_the_critical_lr(multiple, ends):
    data = generate(DataSpec())
    lr = multiple * curvature(data.X).critical_lr
    s = TrainSettings(lr=lr, epochs=1500, loss=Loss("mse"), dtype="float64")
    traj = fit(data.X, data.y, data.theta0, s, "numpy")
    finite = traj.loss[np.isfinite(traj.loss)]
    assert (finite[-1] < finite[0]) == (ends == "lower")
    assert (traj.status == "ok") == (ends == "lower")


def test_with_the_bias_held_at_zero_the_hessian_is_of_x_alone():
    X = np.asarray(generate(DataSpec()).X, np.float64)
    held = curvature(X, "mse", fit_intercept=False)
    assert held.lambda_max == pytest.approx(2 * np.mean(X[:, 0] ** 2), rel=1e-12)
    assert held.condition_number == 1.0  # one parameter: one direction
