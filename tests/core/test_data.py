"""Synthetic data as the walkthrough draws it (linreg.core.data): generate, inits, outliers, and a
trajectory taken back to the data's original units."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from linreg.core import (
    DataSpec,
    Loss,
    TrainSettings,
    fit,
    generate,
    optimum,
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


def test_a_trajectory_goes_to_original_units_row_by_row_at_once(walkthrough_data):
    import dataclasses

    data = dataclasses.replace(
        walkthrough_data, feature_mean=np.array([3.0]), feature_scale=np.array([2.0])
    )
    thetas = np.random.default_rng(1).standard_normal((50, 2))
    rows = np.array([data.to_original_units(t) for t in thetas])
    np.testing.assert_array_equal(data.to_original_units(thetas), rows)
    assert data.to_original_units(thetas[0]).shape == (2,)
