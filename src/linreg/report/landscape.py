"""The loss landscape's geometry, shared by the figures that draw gradient descent on it
(:mod:`.insight`'s landscape, :mod:`.animation`, :mod:`.scaling`): which run's path to show per
learning rate, the data subsampled for the contours, the (b, w) frame and the contours of J.
"""

from __future__ import annotations

import numpy as np

from linreg.core.data import Dataset
from linreg.core.losses import Loss

MAX_LANDSCAPE_ROWS = 5000  # the contours of a large dataset use a fixed subsample
LOSSES = ("mse", "mse_half", "mae", "huber")


def paths_by_lr(runs: list[dict], loss: str) -> dict[float, dict]:
    """Per lr, the longest finished run of ``loss`` (backends trace the same path); a diverged
    run too: its path is the lesson's last case."""
    chosen: dict[float, dict] = {}
    for r in runs:
        t = r.get("trajectory")
        if t is None or not len(t) or r["loss"] != loss or r["status"] not in ("ok", "diverged"):
            continue
        best = chosen.get(r["lr"])
        if best is None or len(t) > len(best["trajectory"]):
            chosen[r["lr"]] = r
    return chosen


def subsample(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(data.X, np.float64), np.asarray(data.y, np.float64)
    if len(y) > MAX_LANDSCAPE_ROWS:
        keep = np.random.default_rng(0).choice(len(y), MAX_LANDSCAPE_ROWS, replace=False)
        X, y = X[keep], y[keep]
    return X, y


def loss_of(runs: list[dict], name: str) -> Loss:
    delta = next((r.get("delta") for r in runs if r["loss"] == name), None)
    return Loss(name, float(delta)) if name == "huber" and delta == delta and delta else Loss(name)


def frame_of(points: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The (b, w) box around ``points`` with a margin."""
    pts = np.vstack([np.atleast_2d(p) for p in points])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * np.maximum(hi - lo, 0.5)
    return lo - pad, hi + pad


def contours(ax, loss: Loss, X, y, lo, hi, n: int = 90) -> None:
    """J(b, w) over the box [lo, hi] as filled contours (log-spaced levels: the valley's floor
    and walls both show)."""
    B, W = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    R = B[..., None] + W[..., None] * np.asarray(X)[:, 0] - y  # (n, n, rows): b + w·x − y
    J = loss.values(R).mean(axis=-1)
    levels = np.unique(np.geomspace(max(float(J.min()), 1e-12), float(J.max()), 16))
    ax.contourf(B, W, J, levels=levels, cmap="Blues_r", alpha=0.55, extend="min")
    ax.contour(B, W, J, levels=levels, colors="k", linewidths=0.4, alpha=0.45)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
