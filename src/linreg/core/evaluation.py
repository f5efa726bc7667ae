"""How good is a learned theta?  Against the truth, and against the exact optimum of the same loss.

The optimum is solved exactly, never by gradient descent: least squares by column-equilibrated QR
in float64 with a step of iterative refinement on an extended-precision residual (never the normal
equations); least absolute deviations as a linear programme, polished to the vertex it lies on;
Huber by Newton's method on its piecewise-quadratic loss.  theta = (b, w) throughout.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .data import Dataset
from .errors import LinregError
from .losses import Loss
from .optim import Trajectory

CONVERGED_RTOL = 1e-6


def design(X: np.ndarray) -> np.ndarray:
    """[1, X] in float64: the bias column first, as theta = (b, w)."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack((np.ones(len(X)), X))


def least_squares(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ||A x - y||, stable to about 1e-15 * cond(A) and refined beyond it.

    Columns are scaled by powers of two (exact, so the scaled problem is the same problem), solved
    by QR, then refined on the augmented system [I A; A^T 0] [r; x] = [y; 0] with its residuals in
    extended precision (Bjorck): refining x alone stalls at about 1e-16 * cond(A)^2 * ||r||.
    """
    from scipy.linalg import solve_triangular

    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    norms = np.linalg.norm(A, axis=0)
    norms[norms == 0] = 1.0
    scale = np.exp2(np.frexp(norms)[1].astype(np.float64))
    As = A / scale
    Q, R = np.linalg.qr(As)
    if np.min(np.abs(np.diag(R))) <= 1e-14 * np.max(np.abs(np.diag(R))):
        # rank deficient: the minimum-norm solution by SVD
        return np.linalg.lstsq(As, y, rcond=None)[0] / scale
    x = solve_triangular(R, Q.T @ y)
    r = y - As @ x
    Al, yl = As.astype(np.longdouble), y.astype(np.longdouble)
    for _ in range(3):
        xl, rl = x.astype(np.longdouble), r.astype(np.longdouble)
        f = (yl - rl - Al @ xl).astype(np.float64)  # r + A x = y
        g = (-(Al.T @ rl)).astype(np.float64)  # A^T r = 0
        h = solve_triangular(R, g, trans="T")
        d = Q.T @ f - h
        x = x + solve_triangular(R, d)
        r = r + (f - Q @ d)
    return x / scale


def least_absolute_deviations(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin sum |A x - y|: the LP min 1'(u + v) s.t. A x + u - v = y, u, v >= 0.

    An optimum lies on a vertex where (at least) p = A.shape[1] residuals vanish; the LP's answer
    is snapped to that vertex by solving those p equations exactly.
    """
    from scipy.optimize import linprog

    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, p = A.shape
    c = np.concatenate((np.zeros(p), np.ones(2 * n)))
    A_eq = np.hstack((A, np.eye(n), -np.eye(n)))
    bounds = [(None, None)] * p + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"LAD linear programme failed: {res.message}")
    x = res.x[:p]
    best = np.abs(A @ x - y).sum()
    for idx in _vertex_candidates(A, y, x, p):
        sub = A[idx]
        if abs(np.linalg.det(sub)) < 1e-12 * np.prod(np.linalg.norm(sub, axis=1)):
            continue
        cand = np.linalg.solve(sub, y[idx])
        obj = np.abs(A @ cand - y).sum()
        if obj <= best * (1 + 1e-12):
            return cand
    return x


def _vertex_candidates(A, y, x, p):
    order = np.argsort(np.abs(A @ x - y))
    yield order[:p]
    # if the p smallest are degenerate, try swapping in the next few
    for k in range(p, min(len(order), p + 4)):
        for drop in range(p):
            idx = np.concatenate((np.delete(order[:p], drop), [order[k]]))
            yield idx


def huber_minimiser(A: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
    """argmin mean huber_delta(A x - y) by Newton's method with backtracking (exact in the end:
    once the set of small residuals stops changing, one Newton step lands on the minimiser)."""
    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    loss = Loss("huber", delta)
    n, p = A.shape
    x = least_squares(A, y)

    def J(v):
        return loss.mean(A @ v - y)

    for _ in range(200):
        r = A @ x - y
        g = A.T @ loss.slopes(r) / n
        small = np.abs(r) < delta
        H = (A[small].T @ A[small]) / n + 1e-12 * np.eye(p) * max(1.0, np.trace(A.T @ A) / n)
        if not small.any():
            H = A.T @ A / n * 1e-3
        step = np.linalg.solve(H, g)
        t, f0 = 1.0, J(x)
        while J(x - t * step) > f0 - 1e-4 * t * (g @ step) and t > 1e-12:
            t *= 0.5
        x_new = x - t * step
        if np.allclose(x_new, x, rtol=0, atol=1e-15 * (1 + np.abs(x).max())):
            x = x_new
            break
        x = x_new
    return x


def optimum(loss: Loss, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The exact minimiser of ``loss`` on (X, y), as theta = (b, w) in float64."""
    A = design(X)
    if loss.name in ("mse", "mse_half"):
        return least_squares(A, y)
    if loss.name == "mae":
        return least_absolute_deviations(A, y)
    return huber_minimiser(A, y, loss.delta)


def r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2:
        return None
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - pred) ** 2).sum())
    return None if ss_tot == 0 else 1.0 - ss_res / ss_tot


def converged_epoch(loss_traj: np.ndarray, optimum_loss: float) -> int | None:
    """First epoch from which the loss stays within 1e-6 (relative) of the optimum's loss."""
    tol = CONVERGED_RTOL * max(abs(optimum_loss), 1e-300)
    close = np.abs(np.asarray(loss_traj, dtype=np.float64) - optimum_loss) <= tol
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
    optimum_distance: float  # ||theta - theta*||: optimisation error
    train_loss: float
    optimum_loss: float
    r2_train: float | None
    test_mse: float | None
    r2_test: float | None
    converged_epoch: int | None
    truth_known: bool
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


def evaluate(
    theta: np.ndarray,
    data: Dataset,
    loss: Loss,
    trajectory: Trajectory | None = None,
    theta_opt: np.ndarray | None = None,
) -> Evaluation:
    """Compare ``theta`` (as trained, in the data's training units) with the truth and the optimum.

    ``theta_opt`` may be passed when it is already known (one optimum serves every run of a sweep).
    """
    theta = _parameters("theta", theta, data.n_features)
    if theta_opt is not None:
        theta_opt = _parameters("theta_opt", theta_opt, data.n_features)
    if theta_opt is None:
        theta_opt = optimum(loss, data.X, data.y)
    A = design(data.X)
    train_loss = loss.mean(A @ theta - data.y) if np.isfinite(theta).all() else math.inf
    opt_loss = loss.mean(A @ theta_opt - data.y)
    pred = A @ theta
    test_mse = r2_test = None
    if len(data.y_test):
        pred_test = design(data.X_test) @ theta
        test_mse = float(np.mean((pred_test - data.y_test) ** 2))
        r2_test = r2(data.y_test, pred_test)
    th = data.to_original_units(theta)
    th_opt = data.to_original_units(theta_opt)
    ev = Evaluation(
        bias=float(th[0]),
        weights=th[1:].tolist(),
        optimum_bias=float(th_opt[0]),
        optimum_weights=th_opt[1:].tolist(),
        optimum_distance=float(np.linalg.norm(th - th_opt)),
        train_loss=float(train_loss),
        optimum_loss=float(opt_loss),
        r2_train=r2(data.y, pred),
        test_mse=test_mse,
        r2_test=r2_test,
        converged_epoch=None if trajectory is None else converged_epoch(trajectory.loss, opt_loss),
        truth_known=data.theta_true is not None,
    )
    if data.theta_true is not None:
        t = data.theta_true
        ev.bias_error = float(abs(th[0] - t[0]))
        ev.weight_errors = np.abs(th[1:] - t[1:]).tolist()
        ev.weight_error = float(np.linalg.norm(th[1:] - t[1:]))
        ev.theta_error = float(np.linalg.norm(th - t))
        ev.statistical_error = float(np.linalg.norm(th_opt - t))
    return ev
