"""The exact optima (linreg.core.solvers, linreg.core.exact): least squares to ten digits and NIST's
certified values, least absolute deviations, Huber for every delta, rank deficiency named."""

from __future__ import annotations

import itertools
import logging
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from linreg.core import (
    CsvSpec,
    Loss,
    TrainSettings,
    fit,
    load_csv,
    optimum,
)
from linreg.core.losses import loss_and_gradient
from linreg.core.solvers import (
    design,
    huber_minimiser,
    least_absolute_deviations,
    least_squares,
    solve,
)
from scripts.accuracy import certified, lre, names, write_design_csv
from tests.helpers.cli import REPO

# --- least squares against exact rational arithmetic ---------------------------------------------


def exact_least_squares(A: np.ndarray, y: np.ndarray) -> list[Fraction]:
    """Solve the normal equations A^T A x = A^T y exactly in Fraction arithmetic (Gauss-Jordan)."""
    A = [[Fraction(float(v)) for v in row] for row in A]
    y = [Fraction(float(v)) for v in y]
    n, p = len(A), len(A[0])
    M = [[sum(A[k][i] * A[k][j] for k in range(n)) for j in range(p)] for i in range(p)]
    rhs = [sum(A[k][i] * y[k] for k in range(n)) for i in range(p)]
    for c in range(p):
        piv = next(i for i in range(c, p) if M[i][c] != 0)
        M[c], M[piv] = M[piv], M[c]
        rhs[c], rhs[piv] = rhs[piv], rhs[c]
        for i in range(p):
            if i != c and M[i][c] != 0:
                f = M[i][c] / M[c][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[c], strict=True)]
                rhs[i] -= f * rhs[c]
    return [rhs[i] / M[i][i] for i in range(p)]


def relative_errors(x: np.ndarray, exact: list[Fraction]) -> list[float]:
    """|x_i - x*_i| / |x*_i|, the difference taken exactly."""
    return [float(abs(Fraction(float(a)) - e) / abs(e)) for a, e in zip(x, exact, strict=True)]


def ill_conditioned(kind: str, seed: int):
    rng = np.random.default_rng(seed)
    n = 20
    if kind == "offset":  # x far from 0: nearly collinear with the bias column
        X = 1e4 + rng.uniform(0, 1, (n, 1))
        truth = [1.0, 2.5]
    elif kind == "offset-2":
        X = 1e4 + rng.uniform(0, 1, (n, 2))
        truth = [1.0, 2.5, -1.0]
    else:  # two almost identical features
        x1 = rng.standard_normal(n)
        X = np.column_stack((x1, x1 + 1e-7 * rng.standard_normal(n)))
        truth = [1.0, 2.5, -1.0]
    X = X.astype(np.float32).astype(np.float64)  # data as a Dataset holds it
    y = design(X) @ np.array(truth) + 0.1 * rng.standard_normal(n)
    return X, y


def condition_number(X: np.ndarray) -> float:
    return float(np.linalg.cond(design(X)))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["offset", "offset-2", "collinear"])
def test_least_squares_ten_digits_when_ill_conditioned(kind, seed):
    X, y = ill_conditioned(kind, seed)
    assert condition_number(X) >= 1e7
    exact = exact_least_squares(design(X), y)
    got = least_squares(design(X), y)
    assert max(relative_errors(got, exact)) < 1e-14  # every digit, every component


@pytest.mark.parametrize("m", [1, 3])
def test_least_squares_exact_on_a_well_conditioned_design(m):
    rng = np.random.default_rng(m)
    X = rng.standard_normal((15, m))
    y = X @ rng.standard_normal(m) + 0.7 + rng.standard_normal(15)
    assert condition_number(X) < 10
    exact = exact_least_squares(design(X), y)
    assert max(relative_errors(least_squares(design(X), y), exact)) < 1e-14
    np.testing.assert_array_equal(optimum(Loss("mse"), X, y), optimum(Loss("mse_half"), X, y))


def test_least_squares_rank_deficient_still_gives_an_optimum():
    x = np.arange(6.0)
    A = np.column_stack((np.ones(6), x, 2 * x))  # third column = 2 * second
    y = 1.0 + 3.0 * x + np.array([0.1, -0.1, 0.0, 0.2, -0.2, 0.0])
    got = least_squares(A, y)
    assert np.isfinite(got).all()
    exact = exact_least_squares(A[:, :2], y)  # the optimum of the full-rank problem
    assert got[0] == pytest.approx(float(exact[0]), rel=1e-12)
    assert got[1] + 2 * got[2] == pytest.approx(float(exact[1]), rel=1e-12)


# --- least absolute deviations against brute force over vertices --------------------------------


def lad_problem(m: int, seed: int, n: int = 9):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    y = X @ rng.standard_normal(m) + 0.5 + rng.standard_t(2, n)  # heavy tails
    return X, y


def brute_force_lad(A, y):
    """The best of all exact fits through m + 1 points: an LAD optimum is such a vertex."""
    best = None
    for idx in itertools.combinations(range(len(y)), A.shape[1]):
        sub = A[list(idx)]
        if abs(np.linalg.det(sub)) < 1e-9:
            continue
        theta = np.linalg.solve(sub, y[list(idx)])
        obj = np.abs(A @ theta - y).sum()
        if best is None or obj < best[0]:
            best = (obj, theta)
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("m", [1, 2])
def test_lad_is_the_brute_force_vertex(m, seed):
    X, y = lad_problem(m, seed)
    A = design(X)
    best_obj, best_theta = brute_force_lad(A, y)
    got = least_absolute_deviations(A, y)
    obj = np.abs(A @ got - y).sum()
    np.testing.assert_allclose(got, best_theta, rtol=0, atol=1e-12)
    assert obj <= best_obj * (1 + 1e-14)
    assert np.sum(np.abs(A @ got - y) < 1e-12) >= m + 1  # it sits on a vertex
    np.testing.assert_array_equal(optimum(Loss("mae"), X, y), got)
    # no worse than scipy, by an LP of its own or by a derivative-free search
    c = np.concatenate((np.zeros(m + 1), np.ones(2 * len(y))))
    A_eq = np.hstack((A, np.eye(len(y)), -np.eye(len(y))))
    lp = linprog(c, A_eq=A_eq, b_eq=y, bounds=[(None, None)] * (m + 1) + [(0, None)] * 2 * len(y))
    nm = minimize(
        lambda t: np.abs(A @ t - y).sum(),
        np.zeros(m + 1),
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000},
    )
    assert obj <= np.abs(A @ lp.x[: m + 1] - y).sum() + 1e-12
    assert obj <= nm.fun + 1e-12


# --- Huber ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("m", [1, 2])
def test_huber_minimiser_is_stationary_and_no_worse_than_scipy(m, delta):
    X, y = lad_problem(m, seed=10 + m, n=25)
    loss = Loss("huber", delta)
    got = huber_minimiser(design(X), y, delta)
    r = design(X) @ got - y
    assert (np.abs(r) < delta).sum() >= m + 1 and (np.abs(r) > delta).any()  # both pieces used
    value, g = loss_and_gradient(loss, X, y, got)
    assert np.abs(g).max() < 1e-12
    res = minimize(
        lambda t: loss_and_gradient(loss, X, y, t)[0],
        np.zeros(m + 1),
        jac=lambda t: loss_and_gradient(loss, X, y, t)[1],
        method="BFGS",
        options={"gtol": 1e-12},
    )
    scipy_best = res.fun * (1 + 4 * np.finfo(float).eps)
    assert value <= scipy_best
    np.testing.assert_allclose(got, res.x, atol=1e-6)
    np.testing.assert_array_equal(optimum(loss, X, y), got)
    # far from least squares on heavy-tailed data: the test is not a least-squares one
    assert np.abs(got - least_squares(design(X), y)).max() > 1e-3


def test_least_squares_on_large_data_refines_in_long_double(monkeypatch):
    """Beyond EXACT_ELEMENTS values the refinement's residuals are summed in long double."""
    from linreg.core import solvers

    rng = np.random.default_rng(4)
    X = rng.standard_normal((15, 3))
    y = X @ rng.standard_normal(3) + 0.7 + rng.standard_normal(15)
    exact = exact_least_squares(design(X), y)
    monkeypatch.setattr(solvers, "EXACT_ELEMENTS", 0)  # these 60 values count as large
    assert max(relative_errors(least_squares(design(X), y), exact)) < 1e-14


# --- NIST StRD linear least squares ---------------------------------------------------------------


@pytest.mark.parametrize("name", names())
def test_nist_least_squares_to_ten_digits_or_more(name, tmp_path):
    """The user's CSV (design columns), the optimum as the pipeline solves it: LRE >= 10."""
    meta = certified(name)
    path = tmp_path / f"{name}.csv"
    write_design_csv(name, path)
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    theta = solve(
        Loss("mse"), ds.X, ds.y, fit_intercept=meta["intercept"], X_low=ds.X_low, y_low=ds.y_low
    ).theta
    got = theta if meta["intercept"] else theta[1:]
    assert lre(got, meta["certified"]) >= 10
    assert solve(Loss("mse_half"), ds.X, ds.y, fit_intercept=meta["intercept"]).unique


def test_filip_is_limited_by_float64_data_not_by_the_solver(tmp_path):
    """Solving Filip's float64 numbers exactly gives only ~7.7 digits: the decimals matter."""
    path = tmp_path / "Filip.csv"
    write_design_csv("Filip", path)
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    cert = certified("Filip")["certified"]
    assert lre(solve(Loss("mse"), ds.X, ds.y).theta, cert) < 9
    assert lre(solve(Loss("mse"), ds.X, ds.y, X_low=ds.X_low, y_low=ds.y_low).theta, cert) >= 13


def test_the_accuracy_document_is_the_scripts_output():
    doc = (REPO / "docs" / "accuracy.md").read_text()
    assert "Written by `python scripts/accuracy.py`" in doc
    assert names()  # NIST's data sets: the loop below checks each one's row
    for name in names():
        row = next(line for line in doc.splitlines() if line.startswith(f"| {name} |"))
        assert float(row.split("|")[5]) >= 10, row


# --- Huber, exact for every delta ----------------------------------------------------------------


def huber_by_irls(A, y, delta, iters=20000):
    """An independent solver: iteratively reweighted least squares (Holland and Welsch), weights
    min(1, delta / |r|), from least squares until the iterates stop moving."""
    x = np.linalg.lstsq(A, y, rcond=None)[0]
    for _ in range(iters):
        r = A @ x - y
        sw = np.sqrt(np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300)))
        new = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)[0]
        if np.array_equal(new, x):
            break
        x = new
    return x


@pytest.mark.parametrize("delta", [1e-6, 1e-4, 1.0, 5.0])
def test_huber_optimum_is_exact_for_every_delta(delta):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 2))
    y = X @ [2.0, -1.0] + 0.5 + 20.0 * rng.standard_normal(60)
    A = design(X)
    r_start = A @ np.linalg.lstsq(A, y, rcond=None)[0] - y
    assert delta > 1 or not (np.abs(r_start) <= delta).any()  # no residual starts inside delta
    loss = Loss("huber", delta)
    got = solve(loss, X, y).theta
    reference = huber_by_irls(A, y, delta)
    np.testing.assert_allclose(got, reference, rtol=1e-12, atol=0)
    assert loss.mean(A @ got - y) <= loss.mean(A @ reference - y) * (1 + 1e-14)
    # stationary: the slopes clip(r) are orthogonal to every column, to the rounding of r
    slopes = np.clip(A @ got - y, -delta, delta)
    rounding = np.finfo(float).eps * np.abs(A).T @ (np.abs(A @ got) + np.abs(y))
    assert (np.abs(A.T @ slopes) <= 10 * rounding).all()


@pytest.mark.parametrize("delta", [1e-6, 1e-4, 1.0, 5.0])
def test_huber_optimum_is_no_worse_than_gradient_descent(delta):
    """The issue's case: the outliers data, where descent used to beat the 'exact' optimum."""
    from linreg.core import DataSpec, generate

    ds = generate(DataSpec(outlier_fraction=0.1))
    loss = Loss("huber", delta)
    s = TrainSettings(lr=0.1, epochs=3000, loss=loss, dtype="float64")
    t = fit(ds.X, ds.y, ds.theta0, s, "numpy")
    best = solve(loss, ds.X, ds.y).theta
    assert loss.mean(design(ds.X) @ best - ds.y) <= t.loss.min() * (1 + 1e-14)


# --- rank deficiency ------------------------------------------------------------------------------


def rank_deficient(kind: str):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20, 2))
    if kind == "constant":
        X = np.column_stack((x, np.full(20, 3.0)))  # a constant column: the intercept again
    else:
        X = np.column_stack((x, x[:, 1]))  # a duplicated column
    y = x @ [1.5, -2.0] + 0.7 + 0.1 * rng.standard_normal(20)
    return X, y


@pytest.mark.parametrize(("kind", "named"), [("constant", "intercept, c"), ("duplicated", "b, c")])
def test_rank_deficiency_is_named_and_the_optimum_is_the_minimum_norm_one(kind, named, caplog):
    from linreg.core import Dataset, evaluate

    X, y = rank_deficient(kind)
    with caplog.at_level(logging.WARNING, logger="linreg"):
        opt = solve(Loss("mse"), X, y, names=["a", "b", "c"])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert f"rank 3 < 4 columns ({named} are linearly dependent)" in lines[0]
    assert not opt.unique and opt.dependent == tuple(named.split(", "))
    np.testing.assert_allclose(opt.theta, np.linalg.pinv(design(X)) @ y, rtol=1e-12, atol=1e-13)
    # the evaluation says so: no distance to one optimum among many
    ds = Dataset(X=X, y=y, X_test=X[:0], y_test=y[:0], theta0=np.zeros(4), theta_true=None, spec={})
    t = fit(X, y, ds.theta0, TrainSettings(lr=0.02, epochs=2000, dtype="float64"))
    ev = evaluate(t.theta_final, ds, Loss("mse"), t, opt)
    assert not ev.optimum_unique and ev.optimum_distance is None and ev.converged_epoch is None
    assert ev.train_loss == pytest.approx(ev.optimum_loss, rel=1e-9)  # descent did get there
    assert ev.loss_converged_epoch is not None


@pytest.mark.parametrize("loss", [Loss("mae"), Loss("huber", 0.05)])
def test_rank_deficient_robust_losses_give_the_minimum_norm_optimum(loss):
    X, y = rank_deficient("duplicated")
    A = design(X)
    opt = solve(loss, X, y)
    reduced = solve(loss, X[:, :2], y).theta  # the same fits, the duplicate left out
    assert loss.mean(A @ opt.theta - y) == pytest.approx(
        loss.mean(A[:, :3] @ reduced - y), rel=1e-12
    )
    null = np.array([0.0, 0.0, 1.0, -1.0])  # w_b - w_c moves nothing: the minimum norm has none
    assert abs(opt.theta @ null) <= 1e-12 * np.linalg.norm(opt.theta)
