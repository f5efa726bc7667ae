"""The exact optima (least squares, least absolute deviations, Huber) and the evaluation report."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from linreg.core import CsvSpec, Dataset, Loss, TrainSettings, evaluate, fit, load_csv, optimum
from linreg.core.evaluation import (
    LOSS_RTOL,
    converged_epoch,
    converged_rtol,
    loss_converged_epoch,
)
from linreg.core.losses import loss_and_gradient
from linreg.core.solvers import design, huber_minimiser, least_absolute_deviations, least_squares

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


# --- converged_epoch -----------------------------------------------------------------------------


def test_loss_converged_epoch_semantics():
    assert LOSS_RTOL == 1e-6
    opt = 2.0
    near, far = opt * (1 + 1e-7), opt * (1 + 1e-5)
    assert loss_converged_epoch([5.0, 3.0, near, near, opt], opt) == 2
    assert loss_converged_epoch([5.0, near, far, near, near], opt) == 3  # it must *stay* close
    assert loss_converged_epoch([near, opt, near], opt) == 0
    assert loss_converged_epoch([5.0, near, far], opt) is None  # ends far: never converged
    assert loss_converged_epoch([], opt) is None
    assert loss_converged_epoch([opt * (1 - 1e-7)], opt) == 0  # below the optimum counts too
    assert loss_converged_epoch([1e-12, 0.0], 0.0) == 1  # a zero optimum: only exact zero


@pytest.mark.parametrize("chunk", [1 << 16, 2])
def test_converged_epoch_is_on_the_parameters(chunk, monkeypatch):
    from linreg.core import evaluation

    monkeypatch.setattr(evaluation, "CHUNK", chunk)  # a long trajectory is read in chunks
    assert converged_rtol("float32") == pytest.approx(3.4527e-4, rel=1e-4)
    assert converged_rtol("float64") == pytest.approx(1.4901e-8, rel=1e-4)
    opt = np.array([3.0, 4.0])  # norm 5: within 1e-3 means a distance <= 5e-3
    near, far = opt + np.array([3e-3, 0.0]), opt + np.array([0.0, 6e-3])
    assert converged_epoch([far, near, near], near, opt, 1e-3) == 1
    assert converged_epoch([near, far, near], opt, opt, 1e-3) == 2  # it must *stay* close
    assert converged_epoch([near, near], far, opt, 1e-3) is None  # the final parameters count
    assert converged_epoch([far, far], near, opt, 1e-3) == 2  # only after the last step
    assert converged_epoch(np.zeros((0, 2)), opt, opt, 1e-3) == 0


def test_converged_epoch_means_the_coefficients_are_there():
    """A flat valley: the loss is within 1e-6 of the optimum's long before the parameters are."""
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal(40)
    X = np.column_stack((x1, x1 + 0.2 * rng.standard_normal(40)))
    y = X @ [1.0, 2.0] + 0.5 + 0.1 * rng.standard_normal(40)
    ds = Dataset(X=X, y=y, X_test=X[:0], y_test=y[:0], theta0=np.zeros(3), theta_true=None, spec={})
    t = fit(X, y, ds.theta0, TrainSettings(lr=0.3, epochs=3000, dtype="float64"))
    ev = evaluate(t.theta_final, ds, Loss("mse"), trajectory=t)
    e, e_loss = ev.converged_epoch, ev.loss_converged_epoch
    assert e is not None and e_loss is not None and e_loss < e < 3000
    opt = np.array([ev.optimum_bias, *ev.optimum_weights])
    distance = np.linalg.norm(t.theta - opt, axis=1) / np.linalg.norm(opt)
    assert distance[e_loss] > 100 * converged_rtol("float64")  # the loss said converged: it was not
    assert distance[e - 1] > converged_rtol("float64") >= distance[e:].max()
    assert evaluate(t.theta_final, ds, Loss("mse")).converged_epoch is None  # no trajectory
    assert ev.test_mse is None and ev.r2_test is None  # no test set


# --- the evaluation fields ----------------------------------------------------------------------


def test_evaluation_fields_by_hand():
    """X = (0, 1, 2), y = (1, 3, 6): least squares b = 5/6, w = 5/2; truth (1, 2); theta (0, 3)."""
    ds = Dataset(
        X=np.array([[0.0], [1.0], [2.0]], dtype=np.float32),
        y=np.array([1.0, 3.0, 6.0], dtype=np.float32),
        X_test=np.array([[3.0], [4.0]], dtype=np.float32),
        y_test=np.array([7.0, 9.0], dtype=np.float32),
        theta0=np.zeros(2),
        theta_true=np.array([1.0, 2.0]),
        spec={},
    )
    ev = evaluate(np.array([0.0, 3.0]), ds, Loss("mse"))
    assert ev.truth_known
    assert (ev.bias, ev.weights) == (0.0, [3.0])
    assert ev.optimum_bias == pytest.approx(5 / 6, rel=1e-15)
    assert ev.optimum_weights == pytest.approx([5 / 2], rel=1e-15)
    assert ev.optimum_distance == pytest.approx(math.sqrt(34) / 6, rel=1e-15)
    assert ev.train_loss == pytest.approx(1 / 3, rel=1e-15)  # residuals (-1, 0, 0)
    assert ev.optimum_loss == pytest.approx(1 / 18, rel=1e-14)  # residuals (-1/6, 1/3, -1/6)
    assert ev.r2_train == pytest.approx(1 - 9 / 114, rel=1e-15)
    assert ev.test_mse == pytest.approx(6.5, rel=1e-15)  # predictions (9, 12)
    assert ev.r2_test == pytest.approx(1 - 13 / 2, rel=1e-15)
    assert ev.bias_error == pytest.approx(1.0, rel=1e-15)
    assert ev.weight_errors == pytest.approx([1.0], rel=1e-15)
    assert ev.weight_error == pytest.approx(1.0, rel=1e-15)
    assert ev.theta_error == pytest.approx(math.sqrt(2), rel=1e-15)
    assert ev.statistical_error == pytest.approx(math.sqrt(10) / 6, rel=1e-15)
    assert ev.converged_epoch is None
    d = ev.to_dict()
    assert d["statistical_error"] == ev.statistical_error and d["weights"] == [3.0]
    # a given optimum is used as is (one optimum serves a whole sweep)
    ev2 = evaluate(np.array([0.0, 3.0]), ds, Loss("mse"), theta_opt=np.array([1.0, 2.0]))
    assert ev2.optimum_distance == pytest.approx(math.sqrt(2)) and ev2.statistical_error == 0.0
    # other losses evaluate with their own optimum and loss
    ev_mae = evaluate(np.array([0.0, 3.0]), ds, Loss("mae"))
    assert ev_mae.train_loss == pytest.approx(1 / 3) and ev_mae.optimum_loss < ev_mae.train_loss


def test_evaluate_a_diverged_theta_does_not_raise():
    ds = Dataset(
        X=np.array([[0.0], [1.0], [2.0]], dtype=np.float32),
        y=np.array([1.0, 3.0, 6.0], dtype=np.float32),
        X_test=np.zeros((0, 1)),
        y_test=np.zeros(0),
        theta0=np.zeros(2),
        theta_true=np.array([1.0, 2.0]),
        spec={},
    )
    ev = evaluate(np.array([np.nan, np.nan]), ds, Loss("mse"))
    assert ev.train_loss == math.inf
    assert ev.optimum_loss == pytest.approx(1 / 18, rel=1e-14)


def test_truth_unknown_csv_gives_none_truth_fields(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0,1\n1,3\n2,6\n3,6.5\n4,9\n5,11.5\n")
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0, standardize=True))
    raw = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    opt = optimum(Loss("mse"), ds.X, ds.y)
    ev = evaluate(opt, ds, Loss("mse"))
    assert not ev.truth_known
    for name in ("bias_error", "weight_errors", "weight_error", "theta_error", "statistical_error"):
        assert getattr(ev, name) is None, name
    assert ev.test_mse is None and ev.r2_test is None
    # reported in the CSV's own units
    raw_opt = optimum(Loss("mse"), raw.X, raw.y)
    assert [ev.bias, *ev.weights] == pytest.approx(raw_opt.tolist(), rel=1e-6)
    assert ev.optimum_distance == pytest.approx(0.0, abs=1e-12)


def test_least_squares_on_large_data_refines_in_long_double(monkeypatch):
    """Beyond EXACT_ELEMENTS values the refinement's residuals are summed in long double."""
    from linreg.core import solvers

    rng = np.random.default_rng(4)
    X = rng.standard_normal((15, 3))
    y = X @ rng.standard_normal(3) + 0.7 + rng.standard_normal(15)
    exact = exact_least_squares(design(X), y)
    monkeypatch.setattr(solvers, "EXACT_ELEMENTS", 0)  # these 60 values count as large
    assert max(relative_errors(least_squares(design(X), y), exact)) < 1e-14
