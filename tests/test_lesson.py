"""The learning-rate lesson: the critical step size 2/λ_max of the mse Hessian, checked against a
Hessian measured numerically and against gradient descent itself; what each run did, on
constructed trajectories; and the preset, run for real (``linreg -m +lesson=lr``)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from conftest import Cli
from linreg.core import DataSpec, Loss, TrainSettings, fit, generate
from linreg.core import curvature as curvature_mod
from linreg.core.curvature import curvature
from linreg.report.lesson import classify


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


def path(factors: tuple[float, float], epochs: int = 40, start=(1.0, 1.0)) -> tuple:
    """θ_t = θ* + diag(factors)^t (θ0 − θ*) with θ* = 0, and the loss of an isotropic bowl."""
    theta = np.array([[start[0] * factors[0] ** t, start[1] * factors[1] ** t]
                      for t in range(epochs)])  # fmt: skip
    return 1.0 + (theta**2).sum(axis=1), theta


def test_runs_are_classified_by_what_their_path_did():
    assert classify(*path((0.5, 0.6)), optimum_loss=1.0) == "converged"
    assert classify(*path((0.99, 0.98)), optimum_loss=1.0) == "too slow"
    assert classify(*path((-0.8, 0.5)), optimum_loss=1.0) == "oscillating"  # a zigzag...
    assert classify(*path((-0.3, -0.2)), optimum_loss=1.0) == "oscillating"  # ...even arriving
    assert classify(*path((-1.2, 0.5)), optimum_loss=1.0) == "diverged"
    loss, theta = path((0.5, 0.6))
    assert classify(loss, theta, 1.0, diverged=True) == "diverged"  # the run's own verdict
    assert classify(np.r_[loss[:5], np.inf], theta[:6], 1.0) == "diverged"
    assert classify(loss, theta, 1.0, converged=False) == "too slow"  # the record's verdict wins


def test_float_noise_after_arriving_is_not_a_zigzag():
    loss, theta = path((0.5, 0.6), epochs=60)
    noise = np.random.default_rng(0).normal(scale=1e-9, size=theta.shape)
    assert classify(loss, theta + noise * (np.arange(60) > 30)[:, None], 1.0) == "converged"


@pytest.mark.slow
def test_the_lesson_preset_shows_the_four_behaviours_around_the_critical_lr(tmp_path):
    proc = Cli(tmp_path).linreg("-m", "+lesson=lr", "hydra.sweep.dir=outputs/sweeps/lesson")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "outputs" / "sweeps" / "lesson"
    critical = curvature(generate(DataSpec()).X).critical_lr
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    multiples = sorted(float(r["lr"]) / critical for r in rows)
    assert multiples == pytest.approx([0.1, 0.5, 0.9, 1.05], rel=1e-5)
    assert {r["loss"] for r in rows} == {"mse"} and {r["backend"] for r in rows} == {"numpy"}
    report = (sweep / "report.md").read_text()
    assert f"2/λ_max = {critical:.4g}" in report
    table = dict(re.findall(r"\| ([\d.]+) \| (converged|too slow|oscillating|diverged) \|", report))
    assert table == {"0.1": "too slow", "0.5": "converged", "0.9": "oscillating",
                     "1.05": "diverged"}  # fmt: skip
    assert (sweep / "descent.gif").is_file() and (sweep / "loss_landscape.png").is_file()


def test_the_resolver_scales_the_critical_lr_of_the_configs_own_data():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({
        "data": {"kind": "synthetic", "n_samples": 100, "n_features": 1, "weights": [2.5],
                 "bias": 1.0, "noise_std": 0.5, "seed": 42, "n_test": 100,
                 "outlier_fraction": 0.0, "outlier_magnitude": 10.0, "feature_scale": 1000.0,
                 "init": "walkthrough", "init_seed": 0, "dir": None},
        "loss": {"name": "mse"},
        "train": {"lr": "${linreg.critical_lr:0.5}"},
    })  # fmt: skip
    import linreg.config.typed  # noqa: F401 (registers the resolver)

    expected = 0.5 * curvature(generate(DataSpec(feature_scale=1000.0)).X).critical_lr
    assert cfg.train.lr == pytest.approx(expected, rel=1e-12)
    assert curvature_mod.CURVATURE["mse"] == 2.0


def test_with_the_bias_held_at_zero_the_hessian_is_of_x_alone():
    X = np.asarray(generate(DataSpec()).X, np.float64)
    held = curvature(X, "mse", fit_intercept=False)
    assert held.lambda_max == pytest.approx(2 * np.mean(X[:, 0] ** 2), rel=1e-12)
    assert held.condition_number == 1.0  # one parameter: one direction
