"""The fast paths (linreg.core.fast: row blocks, sufficient statistics, the device loop) give the
plain results.

Every comparison runs the same settings twice: once forced onto the plain formula, once onto a
fast path."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from linreg.core import (
    Loss,
    TrainSettings,
    fast,
    fast_kernels,
    fit,
)
from linreg.core.backends import get_backend

LOSS_CASES = [Loss("mse"), Loss("mse_half"), Loss("mae"), Loss("huber", 0.5)]


IDS = [loss.label() for loss in LOSS_CASES]


RTOL = {"float32": 1e-5, "float64": 1e-9}


EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}


ROWS = 64  # block rows: 1000 rows make 16 blocks


@functools.cache
def problem(n=1000, m=5, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m)).astype(np.float32)
    w = rng.uniform(-2, 2, m)
    y = (X @ w + 0.7 + noise * rng.standard_normal(n)).astype(np.float32)
    theta0 = rng.uniform(-0.5, 0.5, m + 1).astype(np.float32).astype(np.float64)
    return X, y, theta0


def train(backend, s, path, data=None, **kw):
    X, y, theta0 = data or problem()
    return get_backend(backend).train(X, y, theta0, s, "cpu", path=path, **kw)


def assert_same_run(got, ref, dtype):
    """Same status and stop; values within rounding of the dtype.

    theta: ``rtol`` of the trajectory's scale (a component near zero inherits the rounding of
    the largest one, a few ulps of it).  grad_norm: near the optimum the gradient is a sum of
    O(1) terms that cancel, so two summation orders differ by a few eps times its first value.
    """
    rtol = RTOL[dtype]
    assert (got.status, got.epochs_run, got.diverged_at) == (
        ref.status,
        ref.epochs_run,
        ref.diverged_at,
    )
    np.testing.assert_allclose(got.loss, ref.loss, rtol=rtol, atol=0)
    scale = np.abs(ref.theta).max()
    np.testing.assert_allclose(got.theta, ref.theta, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(got.theta_final, ref.theta_final, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(
        got.grad_norm, ref.grad_norm, rtol=rtol, atol=32 * EPS[dtype] * ref.grad_norm[0]
    )
    np.testing.assert_array_equal(got.lr, ref.lr)


def fast_paths(loss):
    return ["blocked", "stats"] if loss.name in fast.STATS_LOSSES else ["blocked"]


# --- the same trajectory ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", LOSS_CASES, ids=IDS)
def test_fast_paths_follow_the_plain_trajectory(loss, dtype):
    s = TrainSettings(
        lr=0.1, epochs=150, loss=loss, dtype=dtype, momentum=0.5, schedule="cosine", eta_min=0.01
    )
    ref = train("numpy", s, "plain")
    assert ref.status == "ok" and np.abs(ref.theta_final - ref.theta[0]).max() > 0.5  # it moved
    for path in fast_paths(loss):
        assert_same_run(train("numpy", s, path, block_rows=ROWS, workers=2), ref, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", [Loss("mse"), Loss("mse_half")], ids=["mse", "mse_half"])
def test_divergence_is_detected_at_the_same_epoch_with_the_same_values(loss, dtype):
    s = TrainSettings(lr=2.5 if loss.name == "mse" else 5.0, epochs=200, loss=loss, dtype=dtype)
    ref = train("numpy", s, "plain")
    assert ref.status == "diverged" and 3 < ref.epochs_run < 200
    for path in ("blocked", "stats"):
        got = train("numpy", s, path, block_rows=ROWS)
        assert_same_run(got, ref, dtype)
        assert got.loss[-1] > 1e8 * got.loss[0]


@pytest.mark.parametrize("loss", LOSS_CASES, ids=IDS)
def test_blocks_on_several_threads_give_the_same_bits_as_one_thread(loss):
    s = TrainSettings(lr=0.1, epochs=40, loss=loss)
    for path in fast_paths(loss):
        one = train("numpy", s, path, block_rows=ROWS, workers=1)
        three = train("numpy", s, path, block_rows=ROWS, workers=3)
        for name in ("loss", "theta", "grad_norm", "theta_final"):
            np.testing.assert_array_equal(getattr(one, name), getattr(three, name))


def test_block_residuals_are_the_formulas_bit_for_bit():
    """The reason block rows are a multiple of 64: BLAS computes every row's X_i . w the same way
    in a block as in one call over X (mae's sign(r) then sees the same residuals)."""
    rng = np.random.default_rng(1)
    for n, m in [(1000, 5), (3001, 7), (777, 100)]:
        X = rng.standard_normal((n, m)).astype(np.float32)
        w = rng.standard_normal(m).astype(np.float32)
        rows = fast_kernels.aligned_rows(50)
        blocks = np.concatenate([X[i : i + rows] @ w for i in range(0, n, rows)])
        np.testing.assert_array_equal(blocks, X @ w)


def test_stats_keep_the_loss_precise_at_the_optimum():
    """Noiseless data: J falls 15 decades to the optimum; the stats path follows it to 1e-6.

    The textbook form theta^T A theta - 2 b^T theta + c cancels to noise there, even in float64.
    """
    data = problem(noise=0.0)
    s = TrainSettings(lr=0.3, epochs=300, loss=Loss("mse"), dtype="float64")
    ref = train("numpy", s, "plain", data)
    got = train("numpy", s, "stats", data, block_rows=ROWS)
    assert ref.loss[-1] < 1e-12 * ref.loss[0]
    np.testing.assert_allclose(got.loss, ref.loss, rtol=1e-6, atol=0)
    X, y, _ = data
    Z = np.column_stack((np.ones(len(X)), X.astype(np.float64)))
    y = y.astype(np.float64)
    t = ref.theta[-1]
    textbook = t @ (Z.T @ Z / len(y)) @ t - 2 * (Z.T @ y / len(y)) @ t + y @ y / len(y)
    assert abs(textbook - ref.loss[-1]) > 1e-3 * ref.loss[-1]  # what the test guards against


def test_stats_epochs_near_the_limit_are_decided_by_the_formula(monkeypatch):
    """With the band widened to everything, every stats epoch is recomputed by the formula:
    the run is then the row-block run, bit for bit (the fallback is wired in)."""
    s = TrainSettings(lr=0.2, epochs=60, loss=Loss("mse"))
    blocked = train("numpy", s, "blocked", block_rows=ROWS)
    monkeypatch.setattr(fast, "BAND", 1.0)
    stats = train("numpy", s, "stats", block_rows=ROWS)
    for name in ("loss", "theta", "grad_norm", "theta_final"):
        np.testing.assert_array_equal(getattr(stats, name), getattr(blocked, name))


# --- the torch backend ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", LOSS_CASES, ids=IDS)
def test_torch_fast_paths_follow_its_autograd_loop(loss, dtype):
    s = TrainSettings(lr=0.1, epochs=100, loss=loss, dtype=dtype, momentum=0.5)
    ref = train("torch", s, "plain")
    for path in fast_paths(loss):
        got = train("torch", s, path, block_rows=ROWS)
        assert got.backend == "torch"
        assert_same_run(got, ref, dtype)
    if loss.name in fast.STATS_LOSSES:  # the device implementation, run here on the cpu
        assert_same_run(train("torch", s, "stats", engine="torch"), ref, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_device_stats_detect_divergence_as_the_loop_does(dtype):
    s = TrainSettings(lr=2.5, epochs=200, loss=Loss("mse"), dtype=dtype)
    ref = train("torch", s, "plain")
    got = train("torch", s, "stats", engine="torch")
    assert ref.status == "diverged"
    assert_same_run(got, ref, dtype)


# --- which path ---------------------------------------------------------------------------------


def test_the_path_follows_the_sizes():
    long_mse = TrainSettings(epochs=100, loss=Loss("mse"))
    assert fast.choose_path(long_mse, 100, 1) == "plain"  # the walkthrough: small
    assert fast.choose_path(long_mse, 10**6, 100) == "stats"
    assert fast.choose_path(TrainSettings(epochs=10, loss=Loss("mse")), 10**6, 100) == "blocked"
    assert fast.choose_path(TrainSettings(epochs=100, loss=Loss("mae")), 10**6, 100) == "blocked"
    assert fast.choose_path(TrainSettings(epochs=100, batch_size=64), 10**6, 100) == "plain"
    with pytest.raises(ValueError, match="full-batch"):
        fast.choose_path(TrainSettings(batch_size=64), 10**6, 100, force="blocked")
    with pytest.raises(ValueError, match="stats path is for mse and mse_half"):
        fast.choose_path(TrainSettings(loss=Loss("mae")), 10**6, 100, force="stats")


def test_fit_takes_the_fast_path_by_itself_on_large_data(monkeypatch):
    monkeypatch.setattr(fast, "SMALL_ELEMENTS", 5000)  # "large" from 1000 x 5 on
    for loss, path in [(Loss("mse"), "stats"), (Loss("huber", 0.5), "blocked")]:
        s = TrainSettings(lr=0.1, epochs=30, loss=loss)
        assert fast.choose_path(s, 1000, 5) == path
        ref = train("numpy", s, "plain")
        for backend in ("numpy", "torch"):
            assert_same_run(fit(*problem(), s, backend), ref, "float32")


@pytest.mark.parametrize(
    ("backend", "path", "kw"),
    [
        ("numpy", "blocked", {}),
        ("numpy", "stats", {}),
        ("torch", "blocked", {}),
        ("torch", "stats", {}),
        ("torch", "stats", {"engine": "torch"}),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_paths_leave_their_inputs_alone(backend, path, kw, dtype):
    X, y, theta0 = (a.copy() for a in problem())
    s = TrainSettings(lr=0.1, epochs=5, loss=Loss("mse"), momentum=0.5, dtype=dtype)
    get_backend(backend).train(X, y, theta0, s, "cpu", path=path, block_rows=ROWS, **kw)
    for a, b in zip((X, y, theta0), problem(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(momentum=0.5, batch_size=250, shuffle_seed=2), dict(lr=2.5)],
    ids=["full", "minibatch", "diverging"],
)
def test_the_device_loop_run_on_the_cpu_follows_the_cpu_loop(kw):
    """The cuda/mps loop (trajectory kept on the device, divergence checked every 64 epochs,
    mini-batch indices copied once an epoch) computes what the cpu loop computes."""
    from linreg.core.backends import torch_backend

    X, y, theta0 = problem()
    s = TrainSettings(**{"lr": 0.1, "epochs": 80, "dtype": "float64", **kw})  # > 64: 2 checks
    ref = torch_backend._fit_cpu(X, y, theta0, s)
    got = torch_backend._fit_device(X, y, theta0, s, "cpu")
    assert ref.status == ("diverged" if "lr" in kw else "ok")
    assert_same_run(got, ref, "float64")


@pytest.mark.parametrize("epochs", [1, 2, 3])
def test_the_shortest_runs(epochs):
    s = TrainSettings(lr=0.1, epochs=epochs, loss=Loss("mse"), momentum=0.5)
    ref = train("numpy", s, "plain")
    for backend, kw in [("numpy", {}), ("torch", {}), ("torch", {"engine": "torch"})]:
        for path in ("blocked", "stats"):
            if path == "blocked" and kw:
                continue
            assert_same_run(train(backend, s, path, block_rows=ROWS, **kw), ref, "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_paths_without_an_intercept_follow_the_formula(dtype):
    s = TrainSettings(lr=0.1, epochs=40, loss=Loss("mse"), dtype=dtype, fit_intercept=False)
    ref = train("numpy", s, "plain")
    assert (ref.theta[:, 0] == 0).all() and ref.theta_final[0] == 0
    for backend, kw in [("numpy", {}), ("torch", {}), ("torch", {"engine": "torch"})]:
        for path in ("blocked", "stats"):
            if path == "blocked" and kw:
                continue
            got = train(backend, s, path, block_rows=ROWS, **kw)
            assert (got.theta[:, 0] == 0).all()
            assert_same_run(got, ref, dtype)
