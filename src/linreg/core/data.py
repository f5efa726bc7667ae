"""Synthetic data y = X w + b + noise, drawn as the walkthrough draws it, and bring-your-own CSV.

Walkthrough protocol (the default): ``torch.manual_seed(seed)``; X = ``torch.randn(n, m)``; noise
= ``torch.randn(n, 1) * noise_std``; y = X w + b + noise; then theta0 exactly as ``nn.Linear(m, 1)``
draws it right after the data; then the held-out test set; then the outliers, if any.  The global
torch RNG is left as it was.  theta0 travels with the data, so every backend and every run of a
sweep starts from the same point.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import LinregError, check_choice, check_number

INITS = ("walkthrough", "zeros", "normal")


@dataclass(frozen=True)
class DataSpec:
    """What to generate; the defaults are the walkthrough's problem (100 x 1, y = 2.5x + 1)."""

    n_samples: int = 100
    n_features: int = 1
    weights: tuple[float, ...] = (2.5,)
    bias: float = 1.0
    noise_std: float = 0.5
    seed: int = 42
    n_test: int = 100
    outlier_fraction: float = 0.0
    outlier_magnitude: float = 10.0  # added to (or taken from) y of each outlier
    feature_scale: float = 1.0  # X is scaled by this (plot sizes in the thousands: 1000)
    init: str = "walkthrough"  # how theta0 is drawn: walkthrough | zeros | normal
    init_seed: int = 0  # the seed of the ``normal`` init (restarts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(self.weights))
        check_number("n_samples", self.n_samples, ge=2, integer=True)
        check_number("n_features", self.n_features, ge=1, integer=True)
        if len(self.weights) != self.n_features:
            raise LinregError(
                "weights", f"a list of n_features = {self.n_features} numbers", list(self.weights)
            )
        for i, w in enumerate(self.weights):
            check_number(f"weights[{i}]", w)
        check_number("bias", self.bias)
        check_number("noise_std", self.noise_std, ge=0)
        check_number("seed", self.seed, ge=0, integer=True)
        check_number("n_test", self.n_test, ge=0, integer=True)
        check_number("outlier_fraction", self.outlier_fraction, ge=0, lt=1)
        check_number("outlier_magnitude", self.outlier_magnitude, ge=0)
        check_number("feature_scale", self.feature_scale, gt=0)
        check_choice("init", self.init, INITS)
        check_number("init_seed", self.init_seed, ge=0, integer=True)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["weights"] = list(self.weights)
        return d


@dataclass
class Dataset:
    """Training and test arrays, the truth (None for CSV data) and theta0 = (b, w).

    Synthetic data are float32 (as the walkthrough draws them), a CSV's float64.  ``X_low`` and
    ``y_low``, when known (a small CSV), hold what float64 dropped from the training decimals:
    X + X_low is the number as written to about 1e-32; the optimum is solved for it.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    theta0: np.ndarray
    theta_true: np.ndarray | None
    spec: dict
    feature_names: list[str] = field(default_factory=list)
    target_name: str = "y"
    # standardisation of CSV features: X_used = (X_raw - mean) / scale
    feature_mean: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    X_low: np.ndarray | None = None
    y_low: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.feature_names:
            self.feature_names = [f"x_{j}" for j in range(self.X.shape[1])]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @functools.cached_property
    def digest(self) -> str:
        """sha256 over the arrays' bytes and theta0: same spec, same digest."""
        h = hashlib.sha256()
        for a in self.digested_arrays():
            h.update(as_bytes(a))
        return h.hexdigest()

    def digested_arrays(self) -> tuple[np.ndarray, ...]:
        """What the digest covers, in order (X first, so a reader can hash it as rows arrive)."""
        return (self.X, self.y, self.X_test, self.y_test, self.theta0)

    def check_trainable_in(self, dtype: str) -> None:
        """float32 training of a CSV's float64 numbers: each column must fit in float32."""
        big = float(np.finfo(np.float32).max)
        if dtype != "float32" or self.X.dtype == np.float32:
            return
        columns = [*self.feature_names, self.target_name]
        for X, y in ((self.X, self.y), (self.X_test, self.y_test)):
            for j, col in enumerate(np.column_stack((X, y)).T):
                over = np.abs(col) > big
                if over.any():
                    raise LinregError(
                        f"column {columns[j]!r}",
                        "numbers that fit in float32 (|x| <= 3.4e+38) to train in float32",
                        float(col[np.argmax(over)]),
                        note="train.dtype=float64 trains on them as they are",
                    )

    def to_original_units(self, theta: np.ndarray) -> np.ndarray:
        """theta learned on standardised features, expressed for the raw features (one theta,
        or a trajectory of them: one per row)."""
        theta = np.asarray(theta, dtype=np.float64)
        if self.feature_mean is None:
            return theta
        w = theta[..., 1:] / self.feature_scale
        return np.concatenate((theta[..., :1] - (w @ self.feature_mean)[..., None], w), axis=-1)


def generate(spec: DataSpec) -> Dataset:
    """Draw the data of ``spec``; the same spec gives the same numbers, bit for bit."""
    import torch  # torch: only when data is drawn (a CSV's or a saved dataset's run skips it)
    from torch import nn

    m = spec.n_features
    w = torch.tensor(spec.weights, dtype=torch.float32).reshape(m, 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        X = _scaled(torch.randn(spec.n_samples, m), spec.feature_scale)
        y = X @ w + spec.bias + torch.randn(spec.n_samples, 1) * spec.noise_std
        layer = nn.Linear(m, 1)
        theta0 = np.concatenate(
            (layer.bias.detach().numpy(), layer.weight.detach().numpy()[0])
        ).astype(np.float64)
        X_test = _scaled(torch.randn(spec.n_test, m), spec.feature_scale)
        y_test = X_test @ w + spec.bias + torch.randn(spec.n_test, 1) * spec.noise_std
        k = round(spec.outlier_fraction * spec.n_samples)
        if k:
            idx = torch.randperm(spec.n_samples)[:k]
            sign = torch.where(torch.rand(k) < 0.5, -1.0, 1.0)
            y[idx, 0] += sign * spec.outlier_magnitude
    _check_float32(spec, X, X_test, y, y_test)
    theta0 = initial_theta(spec.init, m, spec.init_seed, theta0)
    return Dataset(
        X=X.numpy(),
        y=y.numpy()[:, 0],
        X_test=X_test.numpy(),
        y_test=y_test.numpy()[:, 0],
        theta0=theta0,
        theta_true=np.array([spec.bias, *spec.weights], dtype=np.float64),
        spec={"kind": "synthetic", **spec.to_dict()},
    )


def _check_float32(spec: DataSpec, X, X_test, y, y_test) -> None:
    """Datasets are float32: values that overflow it are bad input, named, not a failed run."""
    import torch  # torch: only when data is drawn

    def finite(a) -> bool:  # min and max in one pass, no temporary the size of X
        if a.numel() == 0:
            return True
        lo, hi = torch.aminmax(a)
        return math.isfinite(float(lo)) and math.isfinite(float(hi))

    if spec.feature_scale != 1.0 and not (finite(X) and finite(X_test)):
        raise LinregError(
            "feature_scale",
            "a number small enough that feature_scale * N(0, 1) "
            "stays finite in float32 (datasets are float32)",
            spec.feature_scale,
        )
    if not (finite(y) and finite(y_test)):
        raise LinregError(
            "weights",
            "numbers small enough that y = X w + bias stays finite in "
            "float32 (datasets are float32)",
            list(spec.weights),
            note=f"bias {spec.bias:g}, feature_scale {spec.feature_scale:g}",
        )


def _scaled(X, scale: float):
    """X * scale in place (no second copy of X; the same numbers as ``X * scale``)."""
    return X if scale == 1.0 else X.mul_(scale)


def as_bytes(a: np.ndarray) -> memoryview:
    """The bytes of ``a`` in C order, without a copy when ``a`` is C-contiguous (as ``tobytes``)."""
    return memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


def initial_theta(init: str, m: int, seed: int, linear_draw: np.ndarray | None) -> np.ndarray:
    """theta0 = (b, w): nn.Linear's draw (walkthrough), zeros, or N(0, 1) with its own seed."""
    check_choice("init", init, INITS)
    if init == "walkthrough":
        if linear_draw is None:
            raise ValueError("the walkthrough init needs nn.Linear's draw")
        return linear_draw
    if init == "zeros":
        return np.zeros(m + 1)
    return np.random.default_rng(seed).standard_normal(m + 1).astype(np.float32).astype(np.float64)


def linear_init(m: int, seed: int) -> np.ndarray:
    """nn.Linear(m, 1)'s initial (b, w) after ``torch.manual_seed(seed)``."""
    import torch  # torch: only when a run starts where nn.Linear would
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(m, 1)
    return np.concatenate((layer.bias.detach().numpy(), layer.weight.detach().numpy()[0])).astype(
        np.float64
    )
