"""Bring-your-own CSV (linreg.core.csvfile): split and columns, standardised features reported
in the original units, read in float64 bit for bit with its decimals kept."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from linreg.core import (
    CsvSpec,
    Loss,
    TrainSettings,
    fit,
    load_csv,
    load_dataset,
    optimum,
    save_dataset,
)
from linreg.core.data import linear_init
from linreg.core.solvers import solve
from scripts.accuracy import certified, lre, write_design_csv

# --- bring-your-own CSV --------------------------------------------------------------------------


def _write_csv(path, n=30, seed=0):
    """Values on a 1/8 grid (exact in float32) with a large offset and spread: raw units."""
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(500.0, 40.0, n) * 8) / 8
    b = np.round(rng.normal(-3.0, 0.5, n) * 8) / 8
    y = np.round((0.03 * a - 4.0 * b + 7.0 + rng.normal(0, 0.5, n)) * 8) / 8
    pd.DataFrame({"a": a, "target": y, "b": b}).to_csv(path, index=False)
    return a, b, y


def test_load_csv_split_and_columns(tmp_path):
    path = tmp_path / "d.csv"
    a, b, y = _write_csv(path, n=30)
    ds = load_csv(CsvSpec(path=str(path), target="target", test_fraction=0.2, seed=1))
    assert ds.feature_names == ["a", "b"] and ds.target_name == "target"
    assert ds.X.shape == (24, 2) and ds.X_test.shape == (6, 2)
    assert ds.theta_true is None and ds.spec["kind"] == "csv"
    rows = {(float(p), float(q), float(t)) for p, q, t in zip(a, b, y, strict=True)}
    got = {(float(r[0]), float(r[1]), float(t)) for r, t in zip(ds.X, ds.y, strict=True)}
    got |= {(float(r[0]), float(r[1]), float(t)) for r, t in zip(ds.X_test, ds.y_test, strict=True)}
    assert got == rows  # a split, nothing lost or duplicated
    only_b = load_csv(CsvSpec(path=str(path), target="target", features=("b",)))
    assert only_b.feature_names == ["b"] and only_b.X.shape[1] == 1
    np.testing.assert_array_equal(only_b.theta0, linear_init(1, 42))


def test_standardised_csv_reports_original_units(tmp_path):
    path = tmp_path / "d.csv"
    _write_csv(path, n=40)
    raw = load_csv(CsvSpec(path=str(path), target="target", test_fraction=0.25))
    std = load_csv(CsvSpec(path=str(path), target="target", test_fraction=0.25, standardize=True))
    np.testing.assert_array_equal(std.y, raw.y)  # the same split
    np.testing.assert_allclose(std.X.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(std.X.std(axis=0), 1, rtol=1e-5)
    raw_opt = optimum(Loss("mse"), raw.X, raw.y)
    std_opt = optimum(Loss("mse"), std.X, std.y)
    assert not np.allclose(std_opt, raw_opt, rtol=1e-2)  # the units really differ
    # the standardised X is float64 (a CSV's numbers are), so the two problems agree closely
    np.testing.assert_allclose(std.to_original_units(std_opt), raw_opt, rtol=1e-10)
    # gradient descent in float64 on the standardised (well conditioned) problem reaches it too
    t = fit(std.X, std.y, std.theta0, TrainSettings(lr=0.1, epochs=400, dtype="float64"), "numpy")
    np.testing.assert_allclose(t.theta_final, std_opt, rtol=1e-10)
    np.testing.assert_allclose(std.to_original_units(t.theta_final), raw_opt, rtol=1e-8)
    # and raw data passes through to_original_units unchanged
    np.testing.assert_array_equal(raw.to_original_units(raw_opt), raw_opt)


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
