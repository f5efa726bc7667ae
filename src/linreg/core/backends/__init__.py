"""Interchangeable training backends behind one small interface, picked by name.

Adding a backend means one module here and one line in ``_MODULES`` (plus its conf/backend file).
Each backend's module is imported only when asked for, so the numpy path never loads torch.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from ..device import resolve_device
from ..errors import LinregError, check_choice, check_finite, check_number
from ..optim import TrainSettings, Trajectory, starting_point

_MODULES = {
    "numpy": "linreg.core.backends.numpy_backend",
    "python": "linreg.core.backends.python_backend",
    "torch": "linreg.core.backends.torch_backend",
}
BACKENDS = tuple(_MODULES)


class Backend(Protocol):
    """Full-batch or mini-batch gradient descent from ``theta0`` = (b, w) on one device; without
    an intercept (``fit_intercept=False``) b's gradient is dropped, so b stays at theta0's 0."""

    def fit(
        self, X: np.ndarray, y: np.ndarray, theta0: np.ndarray, s: TrainSettings, device: str
    ) -> Trajectory: ...


def check_fits_float32(param: str, a: np.ndarray) -> None:
    """float32 training of float64 data (a CSV's): every value must fit in float32."""
    big = float(np.finfo(np.float32).max)
    if a.dtype.itemsize > 4 and a.size and float(np.abs(a).max()) > big:
        first = float(a.reshape(-1)[np.argmax(np.abs(a).reshape(-1) > big)])
        raise LinregError(
            param,
            "numbers that fit in float32 (|x| <= 3.4e+38) to train in float32",
            first,
            note="train.dtype=float64 trains on them as they are",
        )


def get_backend(name: str) -> Backend:
    check_choice("backend", name, BACKENDS)
    return importlib.import_module(_MODULES[name])  # type: ignore[return-value]


def fit(
    X: np.ndarray,
    y: np.ndarray,
    theta0: np.ndarray,
    settings: TrainSettings,
    backend: str = "numpy",
) -> Trajectory:
    """Train from ``theta0`` and return the whole trajectory.  Checks everything before work."""
    impl = get_backend(backend)
    X = np.asarray(X)
    y = np.asarray(y).reshape(-1)
    theta0 = np.asarray(theta0).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise LinregError(
            "X", "a 2-d array (n, m) with n = len(y)", f"<X of shape {X.shape}, y of {y.shape}>"
        )
    n, m = X.shape
    check_number("n_samples", n, ge=2, integer=True)
    if theta0.shape != (m + 1,):
        raise LinregError(
            "theta0", f"m + 1 = {m + 1} values (bias first)", f"<{theta0.size} values>"
        )
    check_finite("X", X)
    check_finite("y", y)
    check_finite("theta0", theta0)
    if settings.dtype == "float32":
        for param, a in (("X", X), ("y", y)):
            check_fits_float32(param, a)
    theta0 = starting_point(theta0, settings)  # b = 0 without an intercept
    settings.check_against(n)
    device = resolve_device(settings.device, backend)
    # A diverging run overflows on its way to being stopped: that is reported as its status,
    # not as floating-point warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        return impl.fit(X, y, theta0, settings, device)
