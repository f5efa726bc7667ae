"""Gradient-descent settings, the learning-rate schedule, the batch plan and the trajectory.

Everything a backend needs besides its arithmetic lives here, so the three backends follow one
plan: the same lr per epoch (the formulas of ``torch.optim.lr_scheduler``, stepped once an epoch),
the same mini-batch order (a seeded permutation per epoch), the same momentum rule as
``torch.optim.SGD`` (v = g on the first step, then v = momentum * v + g; theta -= lr * v) and the
same divergence rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import LinregError, check_choice, check_number
from .losses import Loss

SCHEDULES = ("constant", "step", "exponential", "cosine")
DTYPES = ("float32", "float64")
# A loss this many times the first epoch's loss (or non-finite) means the run diverged.
EXPLODE_FACTOR = 1e8
TINY = float(np.finfo(np.float64).tiny)  # a first loss of 0 still gives a limit above 0


def divergence_limit(first_loss: float) -> float:
    """The divergence rule, the one place it is written: a run has diverged once its loss is
    above this (EXPLODE_FACTOR times the first epoch's) or not finite."""
    return EXPLODE_FACTOR * max(float(first_loss), TINY)


def diverged(loss: float, limit: float) -> bool:
    """Whether ``loss`` breaks the rule (NaN does: it is not <= anything)."""
    return not (loss <= limit)


def starting_point(theta0, s: TrainSettings) -> np.ndarray:
    """theta0 as float64 (a copy); b = 0 without an intercept, where it stays."""
    theta = np.array(theta0, dtype=np.float64).reshape(-1)
    if not s.fit_intercept:
        theta[0] = 0.0
    return theta


def drop_bias_gradient(grad, s: TrainSettings):
    """Without an intercept b is 0 and stays 0: its gradient is dropped (in place; returned)."""
    if not s.fit_intercept:
        grad[0] = 0
    return grad


@dataclass(frozen=True)
class TrainSettings:
    """Plain, typed training settings; validated on construction."""

    lr: float = 0.01
    epochs: int = 100
    loss: Loss = field(default_factory=Loss)
    momentum: float = 0.0
    batch_size: int | None = None  # None: full batch, as the walkthrough
    schedule: str = "constant"
    step_size: int = 100  # step schedule: epochs between decays
    gamma: float = 0.1  # step / exponential schedules: decay factor
    eta_min: float = 0.0  # cosine schedule: final lr
    shuffle_seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    fit_intercept: bool = True  # False: theta = (0, w), b held at 0 (regression through the origin)

    def __post_init__(self) -> None:
        check_number("lr", self.lr, gt=0)
        check_number("epochs", self.epochs, ge=1, integer=True)
        check_number("momentum", self.momentum, ge=0, lt=1)
        if self.batch_size is not None:
            check_number("batch_size", self.batch_size, ge=1, integer=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_number("step_size", self.step_size, ge=1, integer=True)
        check_number("gamma", self.gamma, gt=0, le=1)
        check_number("eta_min", self.eta_min, ge=0)
        check_number("shuffle_seed", self.shuffle_seed, ge=0, integer=True)
        check_choice("dtype", self.dtype, DTYPES)
        if not isinstance(self.fit_intercept, bool):
            raise LinregError("fit_intercept", "true or false", self.fit_intercept)
        if not isinstance(self.loss, Loss):
            raise TypeError("loss must be a linreg.Loss")

    def check_against(self, n_samples: int) -> None:
        """Checks that need the data: a batch cannot exceed the training set."""
        if self.batch_size is not None:
            check_number("batch_size", self.batch_size, ge=1, le=n_samples, integer=True)

    def full_batch(self, n_samples: int) -> bool:
        return self.batch_size is None or self.batch_size >= n_samples


def lr_schedule(s: TrainSettings) -> np.ndarray:
    """The lr used in each epoch (float64, one per epoch), as ``torch.optim.lr_scheduler`` closed
    forms (T_max = epochs).

    Built as an array, never a list of Python floats (a long run would not fit).  The values are
    bit for bit those of the scalar formulas ``lr * gamma ** (e // step_size)``, ``lr * gamma **
    e`` and ``eta_min + (lr - eta_min) * (1 + cos(pi * e / epochs)) / 2``: the arithmetic is
    numpy's (IEEE, the same operations in the same order), but ``**`` and ``cos`` are the C
    library's through Python, as before, since numpy's SIMD power and cosine may round otherwise.
    """
    n = s.epochs
    if s.schedule == "constant":
        return np.full(n, float(s.lr))
    if s.schedule == "step":
        k = (n - 1) // s.step_size + 1  # one value per step, then each repeated
        per_step = np.fromiter((s.lr * s.gamma**i for i in range(k)), np.float64, count=k)
        counts = np.full(k, s.step_size)
        counts[-1] = n - (k - 1) * s.step_size
        return np.repeat(per_step, counts)
    if s.schedule == "exponential":
        return np.fromiter((s.lr * s.gamma**e for e in range(n)), np.float64, count=n)
    angle = math.pi * np.arange(n, dtype=np.float64) / s.epochs
    cos = np.fromiter(map(math.cos, angle), np.float64, count=n)
    return s.eta_min + (s.lr - s.eta_min) * (1 + cos) / 2


def batch_plan(s: TrainSettings, n: int):
    """Yield, per epoch, the list of index arrays of its mini-batches (None: the full batch)."""
    if s.full_batch(n):
        for _ in range(s.epochs):
            yield None
        return
    rng = np.random.default_rng(s.shuffle_seed)
    for _ in range(s.epochs):
        perm = rng.permutation(n)
        yield [perm[i : i + s.batch_size] for i in range(0, n, s.batch_size)]


@dataclass
class Trajectory:
    """What a training call returns: the whole run as arrays, read after training.

    ``loss[e]``, ``theta[e]`` and ``grad_norm[e]`` are taken at the start of epoch ``e`` over the
    full training set (before the step, as the walkthrough logs them); ``theta_final`` is the
    parameters after the last step.  theta = (b, w_0, ..., w_{m-1}).  On divergence the arrays end
    at the epoch whose loss blew up (non-finite values are never kept) and ``status`` says so.
    """

    loss: np.ndarray
    theta: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray
    theta_final: np.ndarray
    status: str  # "ok" | "diverged"
    backend: str
    device: str
    dtype: str
    wall_s: float
    diverged_at: int | None = None

    @property
    def epochs_run(self) -> int:
        return len(self.loss)

    @property
    def time_per_epoch_s(self) -> float:
        return self.wall_s / max(self.epochs_run, 1)


def first_bad_epoch(loss: np.ndarray, theta: np.ndarray) -> int | None:
    """The first epoch whose loss or parameters are non-finite or whose loss exploded."""
    if len(loss) == 0:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        limit = divergence_limit(loss[0])
        bad = ~np.isfinite(loss) | ~np.isfinite(theta).all(axis=1) | (loss > limit)
    idx = np.flatnonzero(bad)
    return int(idx[0]) if idx.size else None


def finish(
    loss, theta, grad_norm, lrs, theta_final, *, backend, device, dtype, wall_s
) -> Trajectory:
    """Build the trajectory, cutting it at divergence so no NaN leaks out."""
    loss = np.asarray(loss, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    grad_norm = np.asarray(grad_norm, dtype=np.float64)
    theta_final = np.asarray(theta_final, dtype=np.float64)
    bad = first_bad_epoch(loss, theta)
    if bad is None and np.isfinite(theta_final).all():
        status, cut = "ok", len(loss)
    else:
        status = "diverged"
        if bad is None:
            bad = len(loss)
        keep_bad = bad < len(loss) and np.isfinite(loss[bad]) and np.isfinite(theta[bad]).all()
        cut = bad + 1 if keep_bad else bad
        # the last healthy parameters; theta0 when even the first epoch's loss blew up
        theta_final = theta[cut - 1] if cut else (theta[0] if len(theta) else theta_final)
    n = cut
    return Trajectory(
        loss=loss[:n],
        theta=theta[:n],
        grad_norm=np.nan_to_num(grad_norm[:n], nan=np.inf),
        lr=np.asarray(lrs[:n], dtype=np.float64),
        theta_final=theta_final,
        status=status,
        backend=backend,
        device=device,
        dtype=dtype,
        wall_s=wall_s,
        diverged_at=None if status == "ok" else bad,
    )
