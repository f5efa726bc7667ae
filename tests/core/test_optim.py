"""The lr schedule, the batch plan and momentum (linreg.core.optim), held to torch.optim and its
lr_scheduler; the schedule as a float64 array, bit for bit the scalar formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from linreg.core import (
    SCHEDULES,
    Loss,
    TrainSettings,
    fit,
)
from linreg.core.optim import EXPLODE_FACTOR, batch_plan, finish, first_bad_epoch, lr_schedule
from tests.helpers.commands import FAST_S, cpu_s


def torch_scheduler_lrs(s: TrainSettings, make_scheduler) -> np.ndarray:
    """The lr torch uses in each epoch, the scheduler stepped once per epoch."""
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=s.lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(s.epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


SCHEDULE_CASES = {
    "constant": (
        dict(schedule="constant"),
        lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=1.0, total_iters=0),
    ),
    "step": (
        dict(schedule="step", step_size=30, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5),
    ),
    "step-7": (
        dict(schedule="step", step_size=7, gamma=0.3),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3),
    ),
    "exponential": (
        dict(schedule="exponential", gamma=0.97),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.97),
    ),
    "cosine": (
        dict(schedule="cosine"),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=250),
    ),
    "cosine-eta_min": (
        dict(schedule="cosine", eta_min=0.01),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=250, eta_min=0.01),
    ),
}


@pytest.mark.parametrize("case", SCHEDULE_CASES)
def test_lr_schedule_matches_torch_lr_scheduler(case):
    kw, make = SCHEDULE_CASES[case]
    s = TrainSettings(lr=0.1, epochs=250, **kw)
    ours = np.array(lr_schedule(s))
    assert ours.shape == (250,)
    # torch steps recursively, we use the closed form: equal up to accumulated rounding
    np.testing.assert_allclose(ours, torch_scheduler_lrs(s, make), rtol=1e-12, atol=0)
    assert ours[0] == 0.1
    if kw["schedule"] != "constant":
        assert ours[-1] < 0.1 * 0.5  # it really decays


def test_schedules_listed():
    assert SCHEDULES == ("constant", "step", "exponential", "cosine")


def test_cosine_ends_at_eta_min_after_the_last_epoch():
    s = TrainSettings(lr=0.2, epochs=10, schedule="cosine", eta_min=0.02)
    lrs = lr_schedule(s)
    assert lrs[0] == 0.2 and lrs[5] == pytest.approx(0.11)
    assert min(lrs) > 0.02  # T_max = epochs: the lr reaches eta_min after the last step


# --- batch plan -------------------------------------------------------------------------------


def test_batch_plan_full_batch_yields_none_each_epoch():
    assert list(batch_plan(TrainSettings(epochs=4), 10)) == [None] * 4
    assert list(batch_plan(TrainSettings(epochs=2, batch_size=10), 10)) == [None] * 2


def test_batch_plan_is_a_seeded_permutation_per_epoch():
    s = TrainSettings(epochs=3, batch_size=16, shuffle_seed=5)
    plan = list(batch_plan(s, 100))
    assert len(plan) == 3
    for batches in plan:
        assert [len(b) for b in batches] == [16] * 6 + [4]
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(100))
    assert not np.array_equal(np.concatenate(plan[0]), np.concatenate(plan[1]))
    again = list(batch_plan(s, 100))
    for a, b in zip(plan, again, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    other = list(batch_plan(TrainSettings(epochs=1, batch_size=16, shuffle_seed=6), 100))
    assert not np.array_equal(np.concatenate(other[0]), np.concatenate(plan[0]))


# --- momentum and mini-batches against a hand-written torch.optim.SGD loop ---------------------


def torch_sgd_reference(X, y, theta0, s: TrainSettings, scheduler=None):
    """The reference loop: plain tensors, torch.optim.SGD, indexing by the same batch plan.

    Logs (J, theta) over the full set at the start of each epoch, as a Trajectory does.
    """
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64).reshape(-1, 1)
    b = torch.tensor(theta0[:1], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(theta0[1:], dtype=torch.float64).reshape(-1, 1).requires_grad_(True)
    opt = torch.optim.SGD([b, w], lr=s.lr, momentum=s.momentum)
    sched = scheduler(opt) if scheduler else None
    mse = nn.MSELoss()
    losses, thetas = [], []
    for batches in batch_plan(s, len(X)):
        with torch.no_grad():
            losses.append(mse(Xt @ w + b, yt).item())
            thetas.append(np.concatenate((b.numpy(), w.numpy()[:, 0])))
        for idx in [slice(None)] if batches is None else batches:
            opt.zero_grad()
            mse(Xt[idx] @ w + b, yt[idx]).backward()
            opt.step()
        if sched:
            sched.step()
    final = np.concatenate((b.detach().numpy(), w.detach().numpy()[:, 0]))
    return np.array(losses), np.array(thetas), final


def _problem(m=2, n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    y = X @ np.array([1.5, -2.0][:m]) + 0.5 + 0.3 * rng.standard_normal(n)
    return X, y, np.array([0.2, -0.1, 0.3][: m + 1])


REFERENCE_CASES = {
    "momentum": (dict(momentum=0.9), None),
    "minibatch": (dict(batch_size=8, shuffle_seed=1), None),
    "momentum+minibatch": (dict(momentum=0.7, batch_size=7, shuffle_seed=2), None),
    "momentum+minibatch+step": (
        dict(momentum=0.5, batch_size=16, schedule="step", step_size=10, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.5),
    ),
    "momentum+cosine": (
        dict(momentum=0.8, schedule="cosine"),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=60),
    ),
}


@pytest.mark.parametrize("case", REFERENCE_CASES)
@pytest.mark.parametrize("backend", ["numpy", "python", "torch"])
def test_backends_match_a_hand_written_torch_sgd_loop(backend, case):
    kw, scheduler = REFERENCE_CASES[case]
    X, y, theta0 = _problem()
    s = TrainSettings(lr=0.05, epochs=60, dtype="float64", loss=Loss("mse"), **kw)
    losses, thetas, final = torch_sgd_reference(X, y, theta0, s, scheduler)
    t = fit(X, y, theta0, s, backend)
    assert t.status == "ok" and t.epochs_run == 60
    np.testing.assert_allclose(t.loss, losses, rtol=1e-9)
    np.testing.assert_allclose(t.theta, thetas, rtol=1e-9)
    np.testing.assert_allclose(t.theta_final, final, rtol=1e-9)


def test_momentum_buffer_starts_as_the_first_gradient():
    """v = g on the first step (torch.optim.SGD), not v = momentum * 0 + g ... nor g / (1 - mu)."""
    X, y, theta0 = _problem(m=1)
    t1 = fit(X, y, theta0, TrainSettings(lr=0.1, epochs=1, momentum=0.9, dtype="float64"))
    t0 = fit(X, y, theta0, TrainSettings(lr=0.1, epochs=1, dtype="float64"))
    np.testing.assert_array_equal(t1.theta_final, t0.theta_final)
    t2 = fit(X, y, theta0, TrainSettings(lr=0.1, epochs=2, momentum=0.9, dtype="float64"))
    t2p = fit(X, y, theta0, TrainSettings(lr=0.1, epochs=2, dtype="float64"))
    assert not np.allclose(t2.theta_final, t2p.theta_final)


# --- settings and the trajectory ---------------------------------------------------------------


def test_default_settings_are_the_walkthrough():
    s = TrainSettings()
    assert (s.lr, s.epochs, s.loss, s.momentum, s.batch_size) == (0.01, 100, Loss("mse"), 0.0, None)
    assert (s.schedule, s.dtype, s.device) == ("constant", "float32", "cpu")
    assert s.full_batch(100) and not TrainSettings(batch_size=16).full_batch(100)


def test_first_bad_epoch():
    theta = np.zeros((4, 2))
    assert first_bad_epoch(np.array([1.0, 2.0, 3.0, 4.0]), theta) is None
    assert first_bad_epoch(np.array([1.0, 2.0, np.nan, 4.0]), theta) == 2
    assert first_bad_epoch(np.array([1.0, 2.0, 2 * EXPLODE_FACTOR, np.inf]), theta) == 2
    theta[1, 1] = np.inf
    assert first_bad_epoch(np.array([1.0, 2.0, 3.0, 4.0]), theta) == 1
    assert first_bad_epoch(np.array([]), np.zeros((0, 2))) is None


def test_finish_cuts_at_divergence_and_keeps_no_nan():
    loss = [1.0, 10.0, np.inf, np.nan]
    theta = [[0.0, 1.0], [1.0, 2.0], [np.inf, 3.0], [np.nan, np.nan]]
    gn = [1.0, 2.0, np.inf, np.nan]
    t = finish(
        loss,
        theta,
        gn,
        [0.1] * 4,
        [np.nan, np.nan],
        backend="numpy",
        device="cpu",
        dtype="float64",
        wall_s=0.0,
    )
    assert t.status == "diverged" and t.diverged_at == 2 and t.epochs_run == 2
    np.testing.assert_array_equal(t.theta_final, [1.0, 2.0])
    np.testing.assert_array_equal(t.loss, [1.0, 10.0])
    ok = finish(
        [2.0, 1.0],
        [[0.0, 0.0], [0.5, 0.5]],
        [1.0, 0.5],
        [0.1, 0.1],
        [0.7, 0.7],
        backend="numpy",
        device="cpu",
        dtype="float64",
        wall_s=1.0,
    )
    assert ok.status == "ok" and ok.diverged_at is None
    np.testing.assert_array_equal(ok.theta_final, [0.7, 0.7])
    # a finite but exploded loss is kept as the last logged epoch
    big = finish(
        [1.0, 2e8 * 1.0],
        [[0.0, 0.0], [5.0, 5.0]],
        [1.0, 1.0],
        [0.1, 0.1],
        [9.0, 9.0],
        backend="numpy",
        device="cpu",
        dtype="float64",
        wall_s=1.0,
    )
    assert big.status == "diverged" and big.epochs_run == 2 and big.diverged_at == 1
    np.testing.assert_array_equal(big.theta_final, [5.0, 5.0])


# --- the lr schedule: an array, the same values bit for bit -----------------------------------


def scalar_lr_schedule(s: TrainSettings) -> list[float]:
    """The schedule as it was computed before: a Python float per epoch (the reference)."""
    out = []
    for e in range(s.epochs):
        if s.schedule == "constant":
            lr = s.lr
        elif s.schedule == "step":
            lr = s.lr * s.gamma ** (e // s.step_size)
        elif s.schedule == "exponential":
            lr = s.lr * s.gamma**e
        else:
            lr = s.eta_min + (s.lr - s.eta_min) * (1 + math.cos(math.pi * e / s.epochs)) / 2
        out.append(lr)
    return out


@pytest.mark.parametrize(
    "kw",
    [
        dict(schedule="constant", lr=0.1),
        dict(schedule="step", lr=0.3, step_size=7, gamma=0.93),
        dict(schedule="step", lr=0.3, step_size=1, gamma=0.999),
        dict(schedule="step", lr=0.3, step_size=5000, gamma=0.5),  # one step past the end
        dict(schedule="exponential", lr=0.05, gamma=0.9999993),
        dict(schedule="exponential", lr=0.7, gamma=0.1),  # underflows to 0
        dict(schedule="cosine", lr=0.2, eta_min=0.013),
        dict(schedule="cosine", lr=1e-3, eta_min=0.0),
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_lr_schedule_is_a_float64_array_equal_bit_for_bit_to_the_scalar_formulas(kw):
    s = TrainSettings(epochs=4099, **kw)
    ours = lr_schedule(s)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float64 and ours.shape == (4099,)
    ref = np.array(scalar_lr_schedule(s), dtype=np.float64)
    np.testing.assert_array_equal(ours.view(np.int64), ref.view(np.int64))


def test_lr_schedule_of_a_long_run_is_8_bytes_an_epoch():
    start = cpu_s()
    lrs = lr_schedule(TrainSettings(epochs=10**7, schedule="step", step_size=1000, gamma=0.9))
    assert cpu_s() - start < FAST_S
    assert lrs.nbytes == 8 * 10**7 and lrs[0] == 0.01 and lrs[-1] == 0.01 * 0.9**9999
    # a step longer than the run costs nothing beyond the run's own epochs
    assert lr_schedule(TrainSettings(epochs=5, schedule="step", step_size=10**12)).shape == (5,)
