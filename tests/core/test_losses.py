"""Every loss's value and gradient (linreg.core.losses), numpy and plain Python, held to PyTorch
autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from linreg.core.backends.python_backend import _loss_and_grad
from linreg.core.backends.torch_backend import criterion
from linreg.core.losses import LOSSES, Loss, loss_and_gradient

LOSS_CASES = [
    Loss("mse"),
    Loss("mse_half"),
    Loss("mae"),
    Loss("huber", 0.5),
    Loss("huber", 1.0),
    Loss("huber", 2.5),
]


IDS = [loss.label() for loss in LOSS_CASES]


def torch_module(loss: Loss):
    """The torch.nn module each loss names, built here independently of the backend."""
    if loss.name == "mse":
        return nn.MSELoss()
    if loss.name == "mse_half":
        return lambda pred, target: 0.5 * nn.MSELoss()(pred, target)
    if loss.name == "mae":
        return nn.L1Loss()
    return nn.HuberLoss(delta=loss.delta)


def autograd_loss_and_grad(loss: Loss, X, y, theta):
    """J and dJ/d(b, w) by torch autograd in float64."""
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64).reshape(-1, 1)
    b = torch.tensor(theta[:1], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(theta[1:], dtype=torch.float64).reshape(-1, 1).requires_grad_(True)
    J = torch_module(loss)(Xt @ w + b, yt)
    J.backward()
    grad = np.concatenate((b.grad.numpy(), w.grad.numpy()[:, 0]))
    return J.item(), grad


def random_problem(m: int, seed: int, n: int = 13):
    """Residuals of size ~0 to ~4, so both Huber branches (|r| < delta and >= delta) occur."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    theta = rng.standard_normal(m + 1)
    y = X @ theta[1:] + theta[0] + rng.standard_normal(n) * np.geomspace(0.05, 4.0, n)
    theta_eval = theta + 0.05 * rng.standard_normal(m + 1)
    return X, y, theta_eval


def python_loss_and_grad(loss, X, y, theta):
    rows = [[float(v) for v in row] for row in X]
    J, grad = _loss_and_grad(
        loss, rows, [float(v) for v in y], [float(v) for v in theta], range(len(rows))
    )
    return J, np.array(grad)


@pytest.mark.parametrize("m", [1, 3])
@pytest.mark.parametrize("loss", LOSS_CASES, ids=IDS)
@pytest.mark.parametrize("impl", ["numpy", "python"])
def test_loss_and_gradient_match_torch_autograd(impl, loss, m):
    X, y, theta = random_problem(m, seed=7 * m + len(loss.label()))
    r = X @ theta[1:] + theta[0] - y
    if loss.name == "huber":  # the test must exercise both pieces of the Huber loss
        assert (np.abs(r) < loss.delta).any() and (np.abs(r) > loss.delta).any()
    J_ref, g_ref = autograd_loss_and_grad(loss, X, y, theta)
    assert np.abs(g_ref).min() > 1e-6  # a real gradient, not a trivially zero one
    if impl == "numpy":
        J, g = loss_and_gradient(loss, X, y, theta)
    else:
        J, g = python_loss_and_grad(loss, X, y, theta)
    assert isinstance(J, float)
    np.testing.assert_allclose(J, J_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
    assert g.shape == (m + 1,)


@pytest.mark.parametrize("loss", LOSS_CASES, ids=IDS)
def test_per_sample_values_and_slopes_match_torch(loss):
    """values(r) against reduction='none'; slopes(r) against autograd of the per-sample sum."""
    r = np.array([-3.0, -1.2, -0.7, -0.2, 0.05, 0.4, 0.9, 1.6, 4.0])
    rt = torch.tensor(r, requires_grad=True)
    zeros = torch.zeros_like(rt)
    if loss.name == "mse_half":
        per = 0.5 * nn.MSELoss(reduction="none")(rt, zeros)
    else:
        per = type(torch_module(loss))(
            reduction="none", **({"delta": loss.delta} if loss.name == "huber" else {})
        )(rt, zeros)
    per.sum().backward()
    np.testing.assert_allclose(loss.values(r), per.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(loss.slopes(r), rt.grad.numpy(), rtol=1e-15)
    # the scalar (python backend) versions agree with the vectorised ones
    assert [loss.value(float(v)) for v in r] == pytest.approx(loss.values(r).tolist(), rel=1e-15)
    assert [loss.slope(float(v)) for v in r] == pytest.approx(loss.slopes(r).tolist(), rel=1e-15)
    assert loss.mean(r) == pytest.approx(per.mean().item(), rel=1e-14)


def test_mae_slope_is_zero_at_a_zero_residual_as_torch():
    """PyTorch's L1Loss subgradient at r = 0 is 0; numpy, python and torch must agree there."""
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([1.0, 3.0, 4.0, 9.0])
    theta = np.array([1.0, 2.0])  # residuals (0, 0, 1, -2): two exactly zero
    _, g_ref = autograd_loss_and_grad(Loss("mae"), X, y, theta)
    _, g_np = loss_and_gradient(Loss("mae"), X, y, theta)
    _, g_py = python_loss_and_grad(Loss("mae"), X, y, theta)
    expected = np.array([(0 + 0 + 1 - 1) / 4, (0 + 0 + 2 - 3) / 4])
    np.testing.assert_array_equal(g_ref, expected)
    np.testing.assert_array_equal(g_np, expected)
    np.testing.assert_array_equal(g_py, expected)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_huber_at_the_kink_matches_torch(delta):
    """At |r| = delta both pieces meet: value delta^2 / 2 and slope +-delta, as torch."""
    r = np.array([-delta, delta])
    rt = torch.tensor(r, requires_grad=True)
    per = nn.HuberLoss(reduction="none", delta=delta)(rt, torch.zeros(2, dtype=torch.float64))
    per.sum().backward()
    loss = Loss("huber", delta)
    np.testing.assert_array_equal(loss.values(r), per.detach().numpy())
    np.testing.assert_array_equal(loss.slopes(r), rt.grad.numpy())
    assert [loss.slope(-delta), loss.slope(delta)] == [-delta, delta]
    assert loss.value(delta) == 0.5 * delta * delta


def test_mse_half_gradient_is_the_walkthrough_formula():
    """For mse_half the gradient is exactly (1/n) A^T (A theta - y) with A = [1, X]."""
    X, y, theta = random_problem(3, seed=11)
    A = np.column_stack((np.ones(len(X)), X))
    _, g = loss_and_gradient(Loss("mse_half"), X, y, theta)
    np.testing.assert_allclose(g, A.T @ (A @ theta - y) / len(X), rtol=1e-13)


@pytest.mark.parametrize("loss", LOSS_CASES, ids=IDS)
def test_torch_backend_criterion_is_the_same_loss(loss):
    X, y, theta = random_problem(2, seed=5)
    pred = torch.tensor(X @ theta[1:] + theta[0]).reshape(-1, 1)
    value = criterion(loss)(pred, torch.tensor(y).reshape(-1, 1)).item()
    assert value == pytest.approx(loss_and_gradient(loss, X, y, theta)[0], rel=1e-14)


def test_losses_listed_and_labelled():
    assert LOSSES == ("mse", "mse_half", "mae", "huber")
    assert Loss("huber", 0.5).label() == "huber(delta=0.5)"
    assert Loss("mse").label() == "mse"
    assert [Loss(n).smooth for n in LOSSES] == [True, True, False, True]
