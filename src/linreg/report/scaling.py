"""Why unscaled features need a tiny learning rate, and what standardisation does: one figure,
before and after (``scaling.png``), drawn when the data's mse valley is long (condition number
over :data:`LONG`), as plot sizes in the thousands make it.

Both panels show mse's contours and plain gradient descent from the same θ0 at 0.9 × its own
critical lr (the largest step that is safe *there*).  Unscaled, the steepest direction (the
weight, times x in the thousands) caps the step at about 1/x², so the flat direction (the bias)
barely moves: the path drops to the valley floor and stops far from the optimum.  Standardised,
x' = (x − mean)/std, the valley is round, the critical lr about 1, and the same epochs arrive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linreg.core.curvature import curvature, standardised
from linreg.core.data import Dataset
from linreg.core.losses import Loss
from linreg.present.figures import legend_above, new_figure, save, styled
from linreg.report.landscape import contours, frame_of, subsample
from linreg.report.lesson import LONG

STEP = 0.9  # each panel descends at this multiple of its own critical lr
EPOCHS = 100


def descend(X: np.ndarray, y: np.ndarray, theta0: np.ndarray, lr: float, epochs: int):
    """Plain full-batch gradient descent on mse in float64: θ per epoch, θ0 first."""
    A = np.column_stack((np.ones(len(X)), X))
    theta = np.empty((epochs + 1, A.shape[1]))
    theta[0] = theta0
    for e in range(epochs):
        theta[e + 1] = theta[e] - lr * (2 / len(A)) * (A.T @ (A @ theta[e] - y))
    return theta


@styled
def scaling(path: Path, data: Dataset, epochs: int = EPOCHS) -> Path | None:
    """Before and after standardisation, side by side; None unless one feature and a long
    valley."""
    if data.n_features != 1:
        return None
    X, y = subsample(data)
    if curvature(X).condition_number <= LONG:
        return None
    fig, axes = new_figure(10.4, 4.4, 2, top=0.8)
    theta0 = np.asarray(data.theta0, np.float64)
    for ax, (name, features) in zip(
        axes, (("unscaled x", X), ("standardised (x − mean)/std", standardised(X))), strict=True
    ):
        c = curvature(features)
        lr = STEP * c.critical_lr
        path_ = descend(features[:, 0], y, theta0, lr, epochs)
        opt = np.linalg.lstsq(np.column_stack((np.ones(len(y)), features)), y, rcond=None)[0]
        lo, hi = frame_of([opt, path_])
        round_ = c.condition_number <= LONG
        if round_:  # a square frame at equal scales: a round valley looks round
            mid, half = (lo + hi) / 2, (hi - lo).max() / 2
            lo, hi = mid - half, mid + half
        contours(ax, Loss("mse"), features, y, lo, hi)
        if round_:
            ax.set_aspect("equal")
        walked = f"{epochs} epochs at lr = {lr:.2g}"
        ax.plot(path_[:, 0], path_[:, 1], "-o", ms=2.5, lw=1.2, c="tab:orange", label=walked)
        ax.plot(*theta0, "o", c="k", ms=5, label="θ0")
        ax.plot(*opt, "*", c="red", ms=12, mec="k", mew=0.5, label="optimum")
        left = np.linalg.norm(path_[-1] - opt)
        ax.set(xlabel="bias b", ylabel="weight w")
        legend_above(ax, ncol=3)
        ax.set_title(
            f"{name}: κ = {c.condition_number:.2g}, critical lr {c.critical_lr:.2g}\n"
            f"after {epochs} epochs, {left:.2g} from the optimum",
            y=1.12,
        )
    return save(fig, path)
