"""Synthetic data as the walkthrough draws it, datasets on disk, and bring-your-own CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from linreg.core import (
    CsvSpec,
    DataSpec,
    LinregError,
    Loss,
    TrainSettings,
    fit,
    generate,
    load_csv,
    load_dataset,
    optimum,
    save_dataset,
)
from linreg.core.data import linear_init
from linreg.core.solvers import design

# --- the walkthrough protocol --------------------------------------------------------------------


def walkthrough_snippet():
    """The blog's own code, verbatim."""
    torch.manual_seed(42)
    X = torch.randn(100, 1)
    y = 2.5 * X + 1.0 + torch.randn(100, 1) * 0.5
    model = nn.Linear(1, 1)
    return X, y, model


def test_generated_data_is_the_walkthroughs_bit_for_bit(walkthrough_data):
    X, y, model = walkthrough_snippet()
    ds = walkthrough_data
    assert ds.X.dtype == ds.y.dtype == np.float32
    assert ds.X.shape == (100, 1) and ds.y.shape == (100,)
    np.testing.assert_array_equal(ds.X, X.numpy())
    np.testing.assert_array_equal(ds.y, y.numpy()[:, 0])
    # theta0 = (b, w) is nn.Linear's draw right after the data
    assert ds.theta0.tolist() == [model.bias.item(), model.weight.item()]
    np.testing.assert_array_equal(ds.theta_true, [1.0, 2.5])
    assert ds.X_test.shape == (100, 1) and ds.y_test.shape == (100,)
    assert not np.array_equal(ds.X_test, ds.X)
    assert ds.spec["kind"] == "synthetic" and ds.spec["seed"] == 42


def test_same_spec_same_digest_other_spec_other_digest(walkthrough_data):
    again = generate(DataSpec())
    assert again.digest == walkthrough_data.digest
    np.testing.assert_array_equal(again.X_test, walkthrough_data.X_test)
    assert generate(DataSpec(seed=43)).digest != walkthrough_data.digest
    assert generate(DataSpec(noise_std=0.4)).digest != walkthrough_data.digest
    assert len(walkthrough_data.digest) == 64


def test_generate_leaves_the_global_torch_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    a = generate(DataSpec(n_samples=20, n_features=2, weights=(1.0, 2.0), outlier_fraction=0.1))
    assert torch.equal(torch.get_rng_state(), before)
    expected_next = torch.randn(3)
    torch.manual_seed(999)  # and it does not depend on the global state either
    b = generate(DataSpec(n_samples=20, n_features=2, weights=(1.0, 2.0), outlier_fraction=0.1))
    assert a.digest == b.digest
    torch.manual_seed(123)
    assert torch.equal(torch.randn(3), expected_next)


def test_multi_feature_data_and_its_linear_init():
    spec = DataSpec(
        n_samples=30, n_features=3, weights=(1.0, -2.0, 0.5), bias=-1.0, seed=7, n_test=5
    )
    ds = generate(spec)
    torch.manual_seed(7)
    X = torch.randn(30, 3)
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    y = X @ w + (-1.0) + torch.randn(30, 1) * 0.5
    layer = nn.Linear(3, 1)
    np.testing.assert_array_equal(ds.X, X.numpy())
    np.testing.assert_array_equal(ds.y, y.numpy()[:, 0])
    np.testing.assert_array_equal(ds.theta0, [layer.bias.item(), *layer.weight[0].tolist()])
    np.testing.assert_array_equal(ds.theta_true, [-1.0, 1.0, -2.0, 0.5])
    assert ds.X_test.shape == (5, 3) and ds.n_features == 3
    assert ds.feature_names == ["x_0", "x_1", "x_2"]
    # linear_init (the CSV init) is nn.Linear's draw straight after the seed, with no data drawn
    torch.manual_seed(7)
    fresh = nn.Linear(3, 1)
    np.testing.assert_array_equal(linear_init(3, 7), [fresh.bias.item(), *fresh.weight[0].tolist()])


def test_inits_and_outliers():
    base = generate(DataSpec(n_samples=40, n_test=0))
    zeros = generate(DataSpec(n_samples=40, n_test=0, init="zeros"))
    normal = generate(DataSpec(n_samples=40, n_test=0, init="normal", init_seed=3))
    np.testing.assert_array_equal(zeros.X, base.X)  # the init does not move the data
    np.testing.assert_array_equal(zeros.theta0, [0.0, 0.0])
    assert not np.array_equal(normal.theta0, base.theta0)

    def normal_init(seed):
        return generate(DataSpec(n_samples=40, n_test=0, init="normal", init_seed=seed)).theta0

    np.testing.assert_array_equal(normal.theta0, normal_init(3))
    assert not np.array_equal(normal.theta0, normal_init(4))
    out = generate(DataSpec(n_samples=40, n_test=0, outlier_fraction=0.1, outlier_magnitude=10.0))
    np.testing.assert_array_equal(out.X, base.X)
    moved = np.flatnonzero(out.y != base.y)
    assert len(moved) == 4
    np.testing.assert_allclose(np.abs(out.y[moved] - base.y[moved]), 10.0, rtol=1e-6)
    assert len(out.y_test) == 0


def test_feature_scale_scales_x():
    ds = generate(DataSpec(n_samples=10, n_test=0, feature_scale=1000.0))
    base = generate(DataSpec(n_samples=10, n_test=0))
    np.testing.assert_array_equal(ds.X, base.X * np.float32(1000.0))
    assert np.linalg.cond(design(ds.X)) > 100 * np.linalg.cond(design(base.X))


# --- noiseless data: the truth is recovered ------------------------------------------------------


def test_noiseless_data_recovers_the_truth():
    spec = DataSpec(
        n_samples=100, n_features=3, weights=(2.0, -1.0, 0.5), bias=1.0, noise_std=0.0, n_test=0
    )
    ds = generate(spec)
    t = fit(ds.X, ds.y, ds.theta0, TrainSettings(lr=0.1, epochs=400, dtype="float64"), "numpy")
    opt = optimum(Loss("mse"), ds.X, ds.y)
    np.testing.assert_allclose(t.theta_final, ds.theta_true, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t.theta_final, opt, rtol=0, atol=1e-12)  # GD reached the optimum
    # y is stored in float32 (the walkthrough's dtype), so the data itself carries the truth only
    # to float32 rounding; with the labels recomputed in float64 the optimum is exact to 1e-12.
    np.testing.assert_allclose(opt, ds.theta_true, rtol=0, atol=1e-6)
    X64 = ds.X.astype(np.float64)
    y64 = X64 @ np.array(spec.weights) + spec.bias
    np.testing.assert_allclose(optimum(Loss("mse"), X64, y64), ds.theta_true, rtol=0, atol=1e-12)


# --- datasets on disk ----------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    spec = DataSpec(n_samples=12, n_features=2, weights=(1.0, -0.5), n_test=4, seed=3)
    ds = generate(spec)
    folder = save_dataset(ds, tmp_path / "data")
    return spec, ds, folder


def test_save_load_round_trip_bit_for_bit(saved):
    spec, ds, folder = saved
    back = load_dataset(folder, expect_spec={"kind": "synthetic", **spec.to_dict()})
    for name in ("X", "y", "X_test", "y_test", "theta0", "theta_true"):
        a, b = getattr(ds, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b)
    assert back.digest == ds.digest
    assert back.spec == ds.spec and back.feature_names == ds.feature_names
    assert back.feature_mean is None and back.feature_scale is None


def test_corrupted_parquet_is_a_linreg_error(saved):
    _, _, folder = saved
    path = folder / "train.parquet"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw[: len(raw) - 5]))
    with pytest.raises(LinregError, match=r"^dir must be a readable dataset"):
        load_dataset(folder)


def test_edited_values_break_the_digest(saved):
    _, _, folder = saved
    df = pd.read_parquet(folder / "train.parquet")
    df.loc[0, "y"] += 1.0
    df.to_parquet(folder / "train.parquet", index=False)
    with pytest.raises(LinregError, match=r"^dir must be an intact dataset.*digest"):
        load_dataset(folder)


def test_edited_meta_json_is_a_linreg_error(saved):
    _, _, folder = saved
    meta = json.loads((folder / "meta.json").read_text())
    meta["theta0"][0] += 0.25
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(LinregError, match=r"^dir must be an intact dataset"):
        load_dataset(folder)
    (folder / "meta.json").write_text("{ not json")
    with pytest.raises(LinregError, match=r"^dir must be a readable dataset.*JSONDecodeError"):
        load_dataset(folder)
    (folder / "meta.json").unlink()
    with pytest.raises(LinregError, match=r"^dir must be a folder holding meta\.json"):
        load_dataset(folder)


def test_expect_spec_mismatch_names_the_key(saved):
    spec, _, folder = saved
    expect = {"kind": "synthetic", **spec.to_dict()}
    expect["noise_std"] = 0.25
    with pytest.raises(LinregError, match=r"configured spec.*differs in noise_std\)$"):
        load_dataset(folder, expect_spec=expect)
    expect = {"kind": "synthetic", **spec.to_dict(), "seed": 4, "n_test": 5}
    with pytest.raises(LinregError, match=r"differs in n_test, seed\)$"):
        load_dataset(folder, expect_spec=expect)
    # a tuple and a list of the same weights are the same spec
    same = {"kind": "synthetic", **spec.to_dict(), "weights": (1.0, -0.5)}
    load_dataset(folder, expect_spec=same)


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
