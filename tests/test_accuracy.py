"""Exact answers: the CSV read in float64, NIST's certified least squares, Huber for every delta,
rank deficiency named."""

from __future__ import annotations

import logging
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from linreg.core import CsvSpec, Loss, TrainSettings, fit, load_csv, save_dataset
from linreg.core.datafiles import load_dataset
from linreg.core.solvers import design, solve

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from scripts.accuracy import certified, linreg_optimum, lre, names, write_design_csv  # noqa: E402

# --- float64 end to end ---------------------------------------------------------------------------


def test_csv_is_float64_bit_for_bit_and_keeps_its_decimals(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2)) * 10.0 ** rng.integers(-20, 20, (50, 2))
    X[:, 1] = 1.7e9 + 60.0 * np.arange(50)  # unix timestamps a minute apart
    y = rng.standard_normal(50)
    path = tmp_path / "d.csv"
    rows = [f"{float(a)!r},{float(b)!r},{float(c)!r}" for (a, b), c in zip(X, y, strict=True)]
    path.write_text("a,t,y\n" + "\n".join(rows) + "\n")
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    assert ds.X.dtype == ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert len(np.unique(ds.X[:, 1])) == 50  # float32 would keep about half of them
    assert not ds.X_low[:, 1].any()  # whole numbers: float64 dropped nothing
    back = load_dataset(save_dataset(ds, tmp_path / "data"))  # the DVC pipeline's data/
    assert back.X.dtype == np.float64
    np.testing.assert_array_equal(back.X, X)
    np.testing.assert_array_equal(back.y, y)
    assert back.digest == ds.digest


def test_csv_decimals_beyond_float64_are_kept_in_the_low_parts(tmp_path):
    path = tmp_path / "d.csv"
    texts = ["0.1", "-6.860120914", "0.246781078275479E-02", ".11019"]
    path.write_text("x,y\n" + "".join(f"{t},{t}\n" for t in texts))
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    for t, hi, low in zip(texts, ds.X[:, 0], ds.X_low[:, 0], strict=True):
        assert hi == float(t)  # correctly rounded
        error = Fraction(t) - Fraction(float(hi)) - Fraction(float(low))
        assert abs(error) <= abs(Fraction(t)) * Fraction(1, 10**31)
    std = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0, standardize=True))
    assert std.X_low is None  # standardised numbers are not the text's


def test_float32_training_of_float64_data_keeps_the_evaluation_in_float64(tmp_path):
    path = tmp_path / "d.csv"
    write_design_csv("Longley", path)
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    t = fit(ds.X, ds.y, ds.theta0, TrainSettings(epochs=2, lr=1e-20, dtype="float32"))
    assert t.dtype == "float32" and ds.X.dtype == np.float64
    theta = solve(Loss("mse"), ds.X, ds.y, X_low=ds.X_low, y_low=ds.y_low).theta
    assert lre(theta, certified("Longley")["certified"]) >= 13


def test_float32_training_of_numbers_beyond_float32_is_named_before_any_work(tmp_path):
    from linreg.core import LinregError

    path = tmp_path / "big.csv"
    path.write_text("x,y\n0.5,2\n-1,-1\n1e300,3\n2,5\n")
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    ds.check_trainable_in("float64")  # float64 holds them
    with pytest.raises(
        LinregError, match=r"^column 'x' must be numbers that fit in float32 .*1e\+300"
    ):
        ds.check_trainable_in("float32")


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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Filip", "NoInt1"])
def test_nist_through_the_linreg_command(name, tmp_path):
    """The whole user path: `linreg data=csv ...`, the optimum read from evaluation.json."""
    meta = certified(name)
    path = tmp_path / f"{name}.csv"
    write_design_csv(name, path)
    got = linreg_optimum(path, meta["intercept"], tmp_path)
    assert lre(got, meta["certified"]) >= 10


def test_the_accuracy_document_is_the_scripts_output():
    doc = (REPO / "docs" / "accuracy.md").read_text()
    assert "Written by `python scripts/accuracy.py`" in doc
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


# --- train.fit_intercept in the config -----------------------------------------------------------


def test_fit_intercept_is_a_train_setting_and_refuses_standardised_data(hydra_compose, tmp_path):
    from linreg.config.typed import run_config
    from linreg.core import LinregError

    assert run_config(hydra_compose()).settings.fit_intercept is True
    path = tmp_path / "d.csv"
    write_design_csv("NoInt1", path)
    csv = ("data=csv", f"data.path={path}", "data.target=y", "train.fit_intercept=false")
    assert run_config(hydra_compose(*csv)).settings.fit_intercept is False
    with pytest.raises(LinregError, match=r"^data.standardize must be false when train\.fit_"):
        run_config(hydra_compose(*csv, "data.standardize=true"))
