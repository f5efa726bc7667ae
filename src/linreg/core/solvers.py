"""The optimum's solvers: each loss's exact minimiser, solved directly (never by descent).

Least squares: QR of the column-equilibrated design, refined on the augmented system with
residuals summed exactly (:mod:`linreg.core.exact`) and, for a CSV's decimals, the low parts float64
dropped: NIST's hardest certified sets come out to 14 digits or more (docs/accuracy.md).
Least absolute deviations: a linear programme, snapped to the vertex it lies on.  Huber: Newton's
method on its piecewise-quadratic loss, started at the better of those two, each step landing on
the minimiser of the current piece or stopped at the exact minimum along it.

A design whose rank is below its column count has a line (or more) of optima: it is named in one
warning line, and the optimum reported is the one of minimum norm.  theta = (b, w) throughout; b
is 0 without an intercept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import exact
from .losses import Loss

log = logging.getLogger("linreg")
EXACT_ELEMENTS = 1 << 18  # n * p up to this: residuals summed exactly (milliseconds)
ILL_CONDITIONED = 1e8  # and up to 8 times more when the equilibrated R's diagonal spans this
MAX_REFINE = 30


@dataclass(frozen=True)
class Optimum:
    """theta* = (b, w); when the design is rank deficient, the minimum-norm one of many."""

    theta: np.ndarray
    unique: bool = True
    dependent: tuple[str, ...] = ()  # the columns taking part in a linear dependence


def design(X: np.ndarray, fit_intercept: bool = True) -> np.ndarray:
    """[1, X] in float64 (the bias column first, as theta = (b, w)); X alone without intercept."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack((np.ones(len(X)), X)) if fit_intercept else X


def _pow2_scale(A: np.ndarray) -> np.ndarray:
    """Column scales that are powers of two: A / scale is exactly the same problem."""
    norms = np.linalg.norm(A, axis=0)
    norms[norms == 0] = 1.0
    return np.exp2(np.frexp(norms)[1].astype(np.float64))


def least_squares(A, y, A_low=None, y_low=None) -> np.ndarray:
    """argmin ||(A + A_low) x - (y + y_low)||, to the last digit float64 holds when cheap.

    Columns are scaled by powers of two, solved by QR, then refined on the augmented system
    [I A; A^T 0] [r; x] = [y; 0] (Bjorck): refining x alone stalls at about 1e-16 cond(A)^2 ||r||.
    The refinement's residuals are exact when n * p is small or A ill-conditioned, else summed
    in long double.  A rank-deficient A gets the minimum-norm solution (SVD).
    """
    from scipy.linalg import solve_triangular  # scipy: only when an optimum is solved

    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    scale = _pow2_scale(A)
    As = A / scale
    Q, R = np.linalg.qr(As)
    diag = np.abs(np.diag(R))
    if diag.min() <= max(A.shape) * np.finfo(np.float64).eps * diag.max():
        return np.linalg.lstsq(As, y, rcond=None)[0] / scale
    x = solve_triangular(R, Q.T @ y)
    r = y - As @ x
    ill = diag.max() > ILL_CONDITIONED * diag.min()
    exactly = A.size <= (8 * EXACT_ELEMENTS if ill else EXACT_ELEMENTS)
    if exactly:
        A_int = exact.as_integers(As, None if A_low is None else A_low / scale)
        y_int = exact.as_integers(y, y_low)
    prev = np.inf
    for _ in range(MAX_REFINE if exactly else 3):
        if exactly:
            f, g = exact.augmented_residuals(A_int, y_int, x, r)
        else:
            f, g = _long_double_residuals(As, y, x, r)
        h = solve_triangular(R, g, trans="T")
        d = Q.T @ f - h
        dx = solve_triangular(R, d)
        x, r = x + dx, r + (f - Q @ d)
        size = float(np.linalg.norm(dx))
        if size <= np.finfo(np.float64).eps * np.linalg.norm(x) or size >= prev:
            break  # at float64's resolution, or no longer shrinking
        prev = size
    return x / scale


def _long_double_residuals(A, y, x, r):
    Al, yl, xl, rl = (a.astype(np.longdouble) for a in (A, y, x, r))
    return (yl - rl - Al @ xl).astype(np.float64), (-(Al.T @ rl)).astype(np.float64)


def least_absolute_deviations(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin sum |A x - y|, through the dual LP: max y'd s.t. A'd = 0, -1 <= d <= 1.

    The dual has p rows whatever n (the primal, n rows and 2n + p columns, takes minutes at
    n = 10^5); x is the multiplier of its p equations.  An optimum lies on a vertex where (at
    least) p residuals vanish; the answer is snapped to that vertex by solving those p equations.
    """
    from scipy.optimize import linprog  # scipy: only when an optimum is solved

    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = A.shape[1]
    res = linprog(-y, A_eq=A.T, b_eq=np.zeros(p), bounds=(-1, 1), method="highs")
    if not res.success:
        raise RuntimeError(f"LAD linear programme failed: {res.message}")
    marginals = res.eqlin.marginals  # x up to the sign convention of the solver's multipliers
    x = min((marginals, -marginals), key=lambda v: np.abs(A @ v - y).sum())
    best = np.abs(A @ x - y).sum()
    for idx in _vertex_candidates(A, y, x, p):
        sub = A[idx]
        if abs(np.linalg.det(sub)) < 1e-12 * np.prod(np.linalg.norm(sub, axis=1)):
            continue
        cand = np.linalg.solve(sub, y[idx])
        if np.abs(A @ cand - y).sum() <= best * (1 + 1e-12):
            return cand
    return x


def _vertex_candidates(A, y, x, p):
    order = np.argsort(np.abs(A @ x - y))
    yield order[:p]
    # if the p smallest are degenerate, try swapping in the next few
    for k in range(p, min(len(order), p + 4)):
        for drop in range(p):
            yield np.concatenate((np.delete(order[:p], drop), [order[k]]))


def huber_minimiser(A: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
    """argmin mean huber_delta(A x - y), for any delta > 0.

    On the set of x whose residuals split the same way (|r| <= delta, or beyond on either side)
    the loss is one quadratic; a Newton step lands on its minimiser.  If that point splits the
    residuals otherwise, the step is cut where the loss along it is least (a convex 1-d problem:
    bisection on its slope); the loss falls each step and there are finitely many splits.  The
    start is the better of least squares (large delta) and least absolute deviations (small
    delta, asked for only when fewer than p residuals of least squares lie within delta: p
    residuals exactly 0, so the first quadratic is never empty).
    """
    A = np.asarray(A, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    loss = Loss("huber", delta)
    n = len(y)
    x = least_squares(A, y)
    if np.sum(np.abs(A @ x - y) <= delta) < A.shape[1]:
        x = min((x, least_absolute_deviations(A, y)), key=lambda v: loss.mean(A @ v - y))
    for _ in range(100 + 10 * A.shape[1]):
        r = A @ x - y
        inside = np.abs(r) <= delta
        g = A.T @ np.clip(r, -delta, delta) / n
        H = A[inside].T @ A[inside] / n
        step = np.linalg.lstsq(H, g, rcond=None)[0]
        if not np.any(step):
            break
        Ad = A @ step
        new = x - step
        r_new = r - Ad
        if np.array_equal(np.abs(r_new) <= delta, inside):
            x = new  # the minimiser of this piece lies on it: the minimum, to rounding
            break
        t = _exact_line_minimum(r, Ad, delta)
        if t == 0.0:
            break
        x = x - t * step
    return x


def _exact_line_minimum(r, Ad, delta) -> float:
    """argmin over t in [0, 1] of sum huber(r - t Ad): bisection on the (increasing) slope."""

    def slope(t):
        return -float(Ad @ np.clip(r - t * Ad, -delta, delta))

    if slope(1.0) <= 0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    return lo


# LossKind.solver -> (A, y, A_low, y_low, delta) -> x; least squares alone reads the decimals
SOLVERS = {
    "least_squares": lambda A, y, A_low, y_low, delta: least_squares(A, y, A_low, y_low),
    "least_absolute_deviations": lambda A, y, A_low, y_low, delta: least_absolute_deviations(A, y),
    "huber_minimiser": lambda A, y, A_low, y_low, delta: huber_minimiser(A, y, delta),
}


def _minimise(loss: Loss, A, y, A_low=None, y_low=None) -> np.ndarray:
    """The loss's own solver on a full-rank design."""
    return SOLVERS[loss.kind.solver](A, y, A_low, y_low, loss.delta)


def solve(loss: Loss, X, y, *, fit_intercept=True, X_low=None, y_low=None, names=None) -> Optimum:
    """The exact minimiser of ``loss`` on (X, y) as an :class:`Optimum`.

    ``X_low``/``y_low``: what float64 dropped from the data's decimals (least squares uses them).
    ``names``: the feature names, for the warning of a rank-deficient design.
    """
    from scipy.linalg import qr  # scipy: only when an optimum is solved

    A = design(X, fit_intercept)
    A_low = None if X_low is None else design(X_low, fit_intercept)
    if A_low is not None and fit_intercept:
        A_low[:, 0] = 0.0  # the bias column is exactly 1
    n, p = A.shape
    scale = _pow2_scale(A)
    _, R, piv = qr(A / scale, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > max(n, p) * np.finfo(np.float64).eps * diag[0]))
    if rank == p:
        x = _minimise(loss, A, y, A_low, y_low)
        return Optimum(_theta(x, fit_intercept))
    basis = piv[:rank]
    x = np.zeros(p)
    x[basis] = _minimise(loss, A[:, basis], y)
    # the null space of A: [-R11^-1 R12; I] in pivoted, scaled coordinates
    N = np.zeros((p, p - rank))
    N[basis] = -np.linalg.solve(R[:rank, :rank], R[:rank, rank:])
    N[piv[rank:]] = np.eye(p - rank)
    N /= scale[:, None]
    x -= N @ np.linalg.lstsq(N, x, rcond=None)[0]  # the minimum-norm point of x + null(A)
    labels = (["intercept"] if fit_intercept else []) + [
        str(c) for c in (names or [f"x_{j}" for j in range(A.shape[1] - fit_intercept)])
    ]
    involved = np.abs(N).max(axis=1) > 1e-9 * np.abs(N).max()
    dependent = tuple(lab for lab, k in zip(labels, involved, strict=True) if k)
    said = "warning: the design has rank %d < %d columns (%s are linearly dependent): the optimum"
    log.warning(
        said + " is not unique; the minimum-norm one is reported", rank, p, ", ".join(dependent)
    )
    return Optimum(_theta(x, fit_intercept), unique=False, dependent=dependent)


def _theta(x: np.ndarray, fit_intercept: bool) -> np.ndarray:
    return x if fit_intercept else np.concatenate(([0.0], x))


def optimum(loss: Loss, X, y, *, fit_intercept: bool = True, X_low=None, y_low=None) -> np.ndarray:
    """The exact minimiser of ``loss`` on (X, y), as theta = (b, w) in float64."""
    return solve(loss, X, y, fit_intercept=fit_intercept, X_low=X_low, y_low=y_low).theta
