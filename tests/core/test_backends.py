"""The three backends (linreg.core.backends: numpy, python, torch) follow one trajectory and
reproduce the walkthrough."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from linreg.core import BACKENDS, DataSpec, Loss, TrainSettings, fit, generate
from linreg.core.losses import loss_and_gradient

LOSS_CASES = [Loss("mse"), Loss("mse_half"), Loss("mae"), Loss("huber", 0.5), Loss("huber", 1.0)]


LOSS_IDS = [loss.label() for loss in LOSS_CASES]


SMOOTH = [loss for loss in LOSS_CASES if loss.smooth]


OTHERS = ("python", "torch")  # compared with numpy, the reference


@functools.cache
def _data():
    return generate(DataSpec())


@functools.cache
def run(backend: str, settings: TrainSettings):
    """One training run on the walkthrough's problem (cached: settings are frozen, hashable)."""
    ds = _data()
    return fit(ds.X, ds.y, ds.theta0, settings, backend)


def grad_norm_atol(traj, eps: float) -> float:
    """The absolute floor of grad_norm agreement.

    Near the optimum the gradient mean(slope_i * x_i) is a sum of O(1) terms that cancel, so its
    rounding error is a few eps times the size of the terms, whatever its own size: two correct
    implementations that sum in a different order differ there by more than rtol allows.  Observed
    on this problem: float64 mse, 2.2e-15 at grad_norm 3.6e-8 (1.3e-9 relative, above 1e-9);
    float32, up to 5 eps * grad_norm[0] (2.4e-3 relative at the end of the mse run).  So the floor
    is 32 eps times the first epoch's gradient norm, which bounds the size of the terms here.
    """
    return 32 * eps * float(traj.grad_norm[0])


def assert_same_trajectory(got, ref, rtol, eps):
    assert got.status == ref.status == "ok"
    assert got.epochs_run == ref.epochs_run
    np.testing.assert_allclose(got.loss, ref.loss, rtol=rtol, atol=0)
    np.testing.assert_allclose(got.theta, ref.theta, rtol=rtol, atol=0)
    np.testing.assert_allclose(got.theta_final, ref.theta_final, rtol=rtol, atol=0)
    np.testing.assert_allclose(
        got.grad_norm, ref.grad_norm, rtol=rtol, atol=grad_norm_atol(ref, eps)
    )
    np.testing.assert_array_equal(got.lr, ref.lr)


@pytest.mark.parametrize("loss", LOSS_CASES, ids=LOSS_IDS)
@pytest.mark.parametrize("backend", OTHERS)
def test_float64_trajectories_agree_over_1000_epochs(backend, loss):
    s = TrainSettings(lr=0.01, epochs=1000, loss=loss, dtype="float64")
    ref, got = run("numpy", s), run(backend, s)
    assert ref.epochs_run == 1000
    assert_same_trajectory(got, ref, rtol=1e-9, eps=np.finfo(np.float64).eps)
    # the run moved: a trajectory that never left theta0 would agree trivially
    assert np.abs(ref.theta_final - ref.theta[0]).max() > 0.1


@pytest.mark.parametrize("loss", SMOOTH, ids=[x.label() for x in SMOOTH])
def test_float32_numpy_and_torch_agree(loss):
    s = TrainSettings(lr=0.01, epochs=1000, loss=loss, dtype="float32")
    ref, got = run("numpy", s), run("torch", s)
    assert ref.dtype == got.dtype == "float32"
    assert_same_trajectory(got, ref, rtol=1e-5, eps=np.finfo(np.float32).eps)


VARIANTS = {
    "momentum": dict(momentum=0.9),
    "minibatch": dict(batch_size=16, shuffle_seed=3),
    "momentum+minibatch": dict(momentum=0.5, batch_size=16, shuffle_seed=3),
    "constant": dict(schedule="constant"),
    "step": dict(schedule="step", step_size=40, gamma=0.5),
    "exponential": dict(schedule="exponential", gamma=0.99),
    "cosine": dict(schedule="cosine", eta_min=0.001),
}


@pytest.mark.parametrize(
    "loss", [Loss("mse"), Loss("mae"), Loss("huber", 0.5)], ids=["mse", "mae", "huber"]
)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("backend", OTHERS)
def test_momentum_minibatch_and_schedules_agree(backend, variant, loss):
    s = TrainSettings(lr=0.05, epochs=200, loss=loss, dtype="float64", **VARIANTS[variant])
    ref, got = run("numpy", s), run(backend, s)
    assert_same_trajectory(got, ref, rtol=1e-9, eps=np.finfo(np.float64).eps)


def test_float32_minibatch_momentum_numpy_and_torch_agree():
    s = TrainSettings(lr=0.05, epochs=200, momentum=0.5, batch_size=16, dtype="float32")
    assert_same_trajectory(
        run("torch", s), run("numpy", s), rtol=1e-5, eps=np.finfo(np.float32).eps
    )


def test_variants_change_the_trajectory():
    """Momentum, mini-batches and schedules really reach the backends (else agreement is empty)."""
    base = run("numpy", TrainSettings(lr=0.05, epochs=200, dtype="float64"))
    for kw in VARIANTS.values():
        if kw.get("schedule") == "constant":
            continue
        s = TrainSettings(lr=0.05, epochs=200, dtype="float64", **kw)
        for backend in BACKENDS:
            assert not np.allclose(run(backend, s).theta[1:], base.theta[1:], rtol=1e-6), (
                backend,
                kw,
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_trajectory_is_logged_before_each_step(backend, walkthrough_data):
    """theta[0] is theta0, loss[e] and grad_norm[e] are J and |grad J| at theta[e]."""
    ds = walkthrough_data
    s = TrainSettings(lr=0.01, epochs=5, dtype="float64")
    t = fit(ds.X, ds.y, ds.theta0, s, backend)
    np.testing.assert_array_equal(t.theta[0], ds.theta0)
    X = ds.X.astype(np.float64)
    for e in range(5):
        J, g = loss_and_gradient(Loss(), X, ds.y.astype(np.float64), t.theta[e])
        assert t.loss[e] == pytest.approx(J, rel=1e-14)
        assert t.grad_norm[e] == pytest.approx(np.linalg.norm(g), rel=1e-13)
        nxt = t.theta[e + 1] if e < 4 else t.theta_final
        np.testing.assert_allclose(nxt, t.theta[e] - 0.01 * g, rtol=1e-14)
    assert t.backend == backend and t.device == "cpu" and t.epochs_run == 5
    assert t.wall_s >= 0 and t.time_per_epoch_s == t.wall_s / 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_leaves_its_inputs_alone(backend, walkthrough_data):
    ds = walkthrough_data
    X, y, theta0 = ds.X.copy(), ds.y.copy(), ds.theta0.copy()
    fit(X, y, theta0, TrainSettings(epochs=3, momentum=0.5, dtype="float64"), backend)
    np.testing.assert_array_equal(X, ds.X)
    np.testing.assert_array_equal(y, ds.y)
    np.testing.assert_array_equal(theta0, ds.theta0)


# --- the walkthrough's printed numbers ------------------------------------------------------


@pytest.mark.parametrize(
    ("epochs", "weight", "bias"), [(100, "2.2193", "1.0283"), (1000, "2.5059", "1.0178")]
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_walkthrough_numbers(backend, epochs, weight, bias, walkthrough_data):
    ds = walkthrough_data
    t = fit(ds.X, ds.y, ds.theta0, TrainSettings(lr=0.01, epochs=epochs), backend)
    assert t.status == "ok" and t.epochs_run == epochs
    assert (f"{t.theta_final[1]:.4f}", f"{t.theta_final[0]:.4f}") == (weight, bias)


def test_walkthrough_torch_loop_is_reproduced_exactly(walkthrough_data):
    """The torch backend in float32 is the walkthrough's own loop: same bits after 100 epochs."""
    import torch
    from torch import nn

    torch.manual_seed(42)
    X = torch.randn(100, 1)
    y = 2.5 * X + 1.0 + torch.randn(100, 1) * 0.5
    model = nn.Linear(1, 1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(100):
        loss = criterion(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    ds = walkthrough_data
    t = fit(ds.X, ds.y, ds.theta0, TrainSettings(lr=0.01, epochs=100), "torch")
    assert t.theta_final[1] == model.weight.item()
    assert t.theta_final[0] == model.bias.item()
    assert f"{model.weight.item():.4f}" == "2.2193"


# --- divergence ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_divergence_is_a_status_not_an_exception(dtype, walkthrough_data):
    ds = walkthrough_data
    s = TrainSettings(lr=10, epochs=100, dtype=dtype)
    runs = {b: fit(ds.X, ds.y, ds.theta0, s, b) for b in BACKENDS}
    stops = {b: t.epochs_run for b, t in runs.items()}
    assert len(set(stops.values())) == 1, stops
    for t in runs.values():
        assert t.status == "diverged"
        assert t.epochs_run < 100
        assert t.diverged_at is not None and t.diverged_at < 100
        for a in (t.loss, t.theta, t.grad_norm, t.lr, t.theta_final):
            assert np.isfinite(a).all()
        assert len(t.loss) == len(t.theta) == len(t.grad_norm) == len(t.lr) == t.epochs_run
        assert t.loss[-1] > 1e8 * t.loss[0]  # it really blew up
        assert (np.diff(t.loss) > 0).all()
    assert len({t.diverged_at for t in runs.values()}) == 1


# --- regression through the origin ---------------------------------------------------------------


def torch_sgd_without_bias(X, y, w0, lr, epochs, momentum=0.0):
    """torch.optim.SGD on nn.Linear(m, 1, bias=False) in float64: the weights after each epoch."""
    import torch
    from torch import nn

    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    model = nn.Linear(X.shape[1], 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(w0).reshape(1, -1))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    out = []
    for _ in range(epochs):
        out.append(model.weight.detach().numpy()[0].copy())
        loss = nn.MSELoss()(model(Xt)[:, 0], yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(out), model.weight.detach().numpy()[0].copy()


@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("backend", BACKENDS)
def test_no_intercept_follows_torch_and_reaches_the_closed_form(backend, momentum):
    ds = generate(DataSpec(n_samples=40, n_features=2, weights=(2.0, -1.0), bias=3.0, n_test=0))
    X, y = ds.X.astype(np.float64), ds.y.astype(np.float64)
    s = TrainSettings(lr=0.1, epochs=400, dtype="float64", momentum=momentum, fit_intercept=False)
    t = fit(X, y, ds.theta0, s, backend)
    assert t.status == "ok"
    assert (t.theta[:, 0] == 0).all() and t.theta_final[0] == 0  # b is 0 throughout
    thetas, final = torch_sgd_without_bias(X, y, ds.theta0[1:], 0.1, 400, momentum)
    np.testing.assert_allclose(t.theta[:, 1:], thetas, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t.theta_final[1:], final, rtol=1e-12)
    closed_form = np.linalg.lstsq(X, y, rcond=None)[0]  # y = X w, no intercept
    np.testing.assert_allclose(t.theta_final[1:], closed_form, rtol=1e-9)
    with_bias = fit(X, y, ds.theta0, TrainSettings(lr=0.1, epochs=400, dtype="float64"), backend)
    assert abs(with_bias.theta_final[0] - 3.0) < 0.5  # the data has a bias: the fits differ


@pytest.mark.parametrize("kw", [dict(batch_size=8, shuffle_seed=1), dict(loss=Loss("huber", 0.5))])
def test_no_intercept_agrees_across_backends(kw):
    ds = _data()
    s = TrainSettings(lr=0.05, epochs=200, dtype="float64", fit_intercept=False, **kw)
    ref = fit(ds.X, ds.y, ds.theta0, s, "numpy")
    assert (ref.theta[:, 0] == 0).all()
    for backend in OTHERS:
        got = fit(ds.X, ds.y, ds.theta0, s, backend)
        assert_same_trajectory(got, ref, rtol=1e-9, eps=np.finfo(np.float64).eps)
