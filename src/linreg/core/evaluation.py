"""How good is a learned theta?  Against the truth, and against the exact optimum of the same loss.

The optimum comes from :mod:`linreg.core.solvers` (solved directly, never by gradient descent),
always in float64 from the data as read.  theta = (b, w) throughout.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .data import Dataset
from .errors import LinregError
from .losses import Loss
from .optim import Trajectory
from .solvers import Optimum, design, solve

LOSS_RTOL = 1e-6  # loss_converged_epoch: the loss within this (relative) of the optimum's
CHUNK = 1 << 16  # epochs of a trajectory compared with the optimum at a time


def converged_rtol(dtype: str) -> float:
    """How close (relative distance) parameters trained in ``dtype`` count as at the optimum:
    sqrt(eps), 3.5e-4 in float32 and 1.5e-8 in float64, what rounding lets descent resolve."""
    return math.sqrt(float(np.finfo(np.dtype(dtype)).eps))


def r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2:
        return None
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - pred) ** 2).sum())
    return None if ss_tot == 0 else 1.0 - ss_res / ss_tot


def converged_epoch(thetas, theta_final, theta_opt, rtol: float) -> int | None:
    """First epoch from which the parameters stay within ``rtol`` (relative distance
    ||theta - theta*|| / ||theta*||) of the optimum; ``len(thetas)`` when only the final
    parameters are; None when they end farther.  ``thetas[e]``: the start of epoch e."""
    tol = rtol * float(np.linalg.norm(theta_opt))
    thetas = np.asarray(thetas, dtype=np.float64).reshape(-1, len(theta_opt))
    close = np.empty(len(thetas) + 1, dtype=bool)
    along = close[:-1]
    for i in range(0, len(thetas), CHUNK):  # in chunks: no copy of a long trajectory
        along[i : i + CHUNK] = np.linalg.norm(thetas[i : i + CHUNK] - theta_opt, axis=1) <= tol
    close[-1] = np.linalg.norm(np.asarray(theta_final, dtype=np.float64) - theta_opt) <= tol
    return _first_of_the_last_run(close)


def loss_converged_epoch(loss_traj, optimum_loss: float) -> int | None:
    """First epoch from which the loss stays within LOSS_RTOL (relative) of the optimum's loss
    (the parameters may still be far: a flat valley has many near-optimal points)."""
    tol = LOSS_RTOL * abs(optimum_loss)
    return _first_of_the_last_run(
        np.abs(np.asarray(loss_traj, dtype=np.float64) - optimum_loss) <= tol
    )


def _first_of_the_last_run(close: np.ndarray) -> int | None:
    if close.size == 0 or not close[-1]:
        return None
    far = np.flatnonzero(~close)
    return int(far[-1] + 1) if far.size else 0


@dataclass
class Evaluation:
    """Every number the pipeline reports for one trained theta (parameters in original units)."""

    bias: float
    weights: list[float]
    optimum_bias: float
    optimum_weights: list[float]
    optimum_distance: float | None  # ||theta - theta*||: optimisation error (None: not unique)
    train_loss: float
    optimum_loss: float
    r2_train: float | None
    test_mse: float | None
    r2_test: float | None
    converged_epoch: int | None  # parameters within converged_rtol(dtype) of theta* from here on
    truth_known: bool
    optimum_unique: bool = True  # False: a rank-deficient design, theta* the minimum-norm one
    loss_converged_epoch: int | None = None  # the loss within LOSS_RTOL of the optimum's
    bias_error: float | None = None  # |b - b_true|
    weight_errors: list[float] | None = None  # |w_j - w_true_j|
    weight_error: float | None = None  # ||w - w_true||
    theta_error: float | None = None  # ||theta - theta_true||
    statistical_error: float | None = None  # ||theta* - theta_true||

    def to_dict(self) -> dict:
        return asdict(self)


def _parameters(param: str, theta, m: int) -> np.ndarray:
    """``theta`` as (b, w_0..w_{m-1}) in float64; its length checked (NaN is allowed: a diverged
    run's parameters evaluate to an infinite loss)."""
    a = np.asarray(theta)
    if a.dtype.kind not in "biuf":
        raise LinregError(
            param, f"n_features + 1 = {m + 1} numbers (bias first)", f"<an array of {a.dtype.name}>"
        )
    a = a.astype(np.float64).reshape(-1) if a.ndim <= 1 else a
    if a.shape != (m + 1,):
        given = a.tolist() if a.size <= 8 else f"<an array of shape {a.shape}>"
        raise LinregError(param, f"n_features + 1 = {m + 1} numbers (bias first)", given)
    return a


def find_optimum(data: Dataset, loss: Loss, fit_intercept: bool = True) -> Optimum:
    """The exact optimum of ``loss`` on the training data, from the numbers as read."""
    return solve(
        loss,
        data.X,
        data.y,
        fit_intercept=fit_intercept,
        X_low=data.X_low,
        y_low=data.y_low,
        names=data.feature_names,
    )


def evaluate(
    theta: np.ndarray,
    data: Dataset,
    loss: Loss,
    trajectory: Trajectory | None = None,
    theta_opt: np.ndarray | Optimum | None = None,
    *,
    fit_intercept: bool = True,
) -> Evaluation:
    """Compare ``theta`` (as trained, in the data's training units) with the truth and the optimum.

    ``theta_opt`` may be passed when it is already known (one optimum serves every run of a sweep):
    an :class:`Optimum`, or a plain theta taken as the unique optimum.  All in float64.
    """
    theta = _parameters("theta", theta, data.n_features)
    if theta_opt is None:
        theta_opt = find_optimum(data, loss, fit_intercept)
    opt = theta_opt if isinstance(theta_opt, Optimum) else Optimum(theta_opt)
    theta_opt = _parameters("theta_opt", opt.theta, data.n_features)
    A = design(data.X)  # b = 0 without an intercept: the bias column adds nothing then
    train_loss = loss.mean(A @ theta - data.y) if np.isfinite(theta).all() else math.inf
    opt_loss = loss.mean(A @ theta_opt - data.y)
    pred = A @ theta
    test_mse, r2_test = _test_scores(data, theta)
    th = data.to_original_units(theta)
    th_opt = data.to_original_units(theta_opt)
    conv, loss_conv = _convergence(trajectory, opt.unique, theta_opt, opt_loss)
    ev = Evaluation(
        bias=float(th[0]),
        weights=th[1:].tolist(),
        optimum_bias=float(th_opt[0]),
        optimum_weights=th_opt[1:].tolist(),
        optimum_distance=float(np.linalg.norm(th - th_opt)) if opt.unique else None,
        train_loss=float(train_loss),
        optimum_loss=float(opt_loss),
        r2_train=r2(data.y, pred),
        test_mse=test_mse,
        r2_test=r2_test,
        converged_epoch=conv,
        truth_known=data.theta_true is not None,
        optimum_unique=opt.unique,
        loss_converged_epoch=loss_conv,
    )
    if data.theta_true is not None:
        _add_truth_errors(ev, th, th_opt, data.theta_true)
    return ev


def _test_scores(data: Dataset, theta: np.ndarray) -> tuple[float | None, float | None]:
    """The test set's mse and R^2 at ``theta``; None, None without a test set."""
    if not len(data.y_test):
        return None, None
    pred_test = design(data.X_test) @ theta
    return float(np.mean((pred_test - data.y_test) ** 2)), r2(data.y_test, pred_test)


def _convergence(trajectory: Trajectory | None, unique: bool, theta_opt, opt_loss):
    """(the epoch the parameters reached the optimum, the epoch the loss did): None where there
    is no trajectory, and the first where the optimum is not unique."""
    if trajectory is None:
        return None, None
    loss_conv = loss_converged_epoch(trajectory.loss, opt_loss)
    if not unique:
        return None, loss_conv
    rtol = converged_rtol(trajectory.dtype)
    return converged_epoch(trajectory.theta, trajectory.theta_final, theta_opt, rtol), loss_conv


def _add_truth_errors(ev: Evaluation, th: np.ndarray, th_opt: np.ndarray, truth) -> None:
    """The distances from the true parameters (original units), when the data knows them."""
    ev.bias_error = float(abs(th[0] - truth[0]))
    ev.weight_errors = np.abs(th[1:] - truth[1:]).tolist()
    ev.weight_error = float(np.linalg.norm(th[1:] - truth[1:]))
    ev.theta_error = float(np.linalg.norm(th - truth))
    ev.statistical_error = float(np.linalg.norm(th_opt - truth)) if ev.optimum_unique else None
