"""The sweep figures that teach more than the walkthrough's: the loss landscape with every run's
path on it, the lr × epochs heatmap of the error, and MSE against MAE on data with outliers.

They read the sweep's results and trajectories after training, and the data itself (for the
landscape and the outliers); each returns the file it wrote, or None when the sweep does not have
what the figure needs (one feature, one dataset, two or more learning rates...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.data import Dataset
from ..core.evaluation import design, optimum
from ..core.losses import Loss
from ..record import best_runs, error_key
from .figures import _figure, _save

MAX_LANDSCAPE_ROWS = 5000  # the contours of a large dataset use a fixed subsample


def _paths_by_lr(runs: list[dict], loss: str) -> dict[float, dict]:
    """Per lr, the longest healthy run of ``loss`` (backends trace the same path)."""
    chosen: dict[float, dict] = {}
    for r in runs:
        t = r.get("trajectory")
        if t is None or r["loss"] != loss or r["status"] != "ok":
            continue
        best = chosen.get(r["lr"])
        if best is None or len(t) > len(best["trajectory"]):
            chosen[r["lr"]] = r
    return chosen


def loss_landscape(path: Path, runs: list[dict], data: Dataset) -> Path | None:
    """Contours of J(b, w) around the optimum, one panel per loss (mse and mae side by side when
    the sweep has both), with each learning rate's gradient-descent path drawn on it."""
    if data.n_features != 1:
        return None
    losses = [
        name
        for name in ("mse", "mse_half", "mae", "huber")
        if any(r["loss"] == name and r.get("trajectory") is not None for r in runs)
    ]
    if not losses:
        return None
    X, y = np.asarray(data.X, np.float64), np.asarray(data.y, np.float64)
    if len(y) > MAX_LANDSCAPE_ROWS:
        keep = np.random.default_rng(0).choice(len(y), MAX_LANDSCAPE_ROWS, replace=False)
        X, y = X[keep], y[keep]
    from matplotlib import colormaps

    fig, axes = _figure(5 * len(losses), 4.0, len(losses))
    lrs = sorted({r["lr"] for r in runs})
    colours = colormaps["plasma"](np.linspace(0, 0.85, max(len(lrs), 1)))
    for ax, name in zip(axes, losses, strict=True):
        loss = Loss(
            name, float(next((r.get("delta", 1.0) for r in runs if r["loss"] == name), 1.0) or 1.0)
        )
        paths = _paths_by_lr(runs, name)
        opt = optimum(loss, X, y)
        pts = [opt, data.theta0] + [
            p["trajectory"][["bias", "w_0"]].to_numpy() for p in paths.values()
        ]
        if data.theta_true is not None:
            pts.append(data.theta_true)
        pts = np.vstack([np.atleast_2d(p) for p in pts])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 0.5)
        b_grid = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 90)
        w_grid = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 90)
        B, W = np.meshgrid(b_grid, w_grid)
        A = design(X)
        R = B[..., None] * A[:, 0] + W[..., None] * A[:, 1] - y  # (90, 90, n)
        J = loss.values(R).mean(axis=-1)
        floor = max(float(J.min()), 1e-12)
        levels = np.unique(np.geomspace(floor, float(J.max()), 16))
        ax.contourf(B, W, J, levels=levels, cmap="Blues_r", alpha=0.55, extend="min")
        ax.contour(B, W, J, levels=levels, colors="k", linewidths=0.4, alpha=0.45)
        for lr, run in sorted(paths.items()):
            t = run["trajectory"]
            ax.plot(
                t["bias"],
                t["w_0"],
                "-",
                lw=1.4,
                c=colours[lrs.index(lr)],
                label=f"lr={lr:g} ({len(t)} ep)",
            )
        ax.plot(*data.theta0, "o", c="k", ms=4, label="θ0")
        ax.plot(*opt, "*", c="red", ms=10, label="optimum")
        if data.theta_true is not None:
            ax.plot(*data.theta_true, "x", c="green", ms=8, mew=2, label="truth")
        ax.set(xlabel="bias b", ylabel="weight w", title=f"J(b, w), loss = {loss.label()}")
        ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def error_heatmap(path: Path, runs: list[dict]) -> Path | None:
    """lr × epochs grid of the weight error (optimum distance when the truth is unknown), one
    panel per backend and loss; diverged cells are marked."""
    lrs = sorted({r["lr"] for r in runs})
    epochs = sorted({r["epochs"] for r in runs})
    if len(lrs) < 2 and len(epochs) < 2:
        return None
    key = error_key(pd.DataFrame(runs))
    panels = sorted({(r["backend"], r["loss"]) for r in runs})
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6 * cols, 2.6 * rows + 0.4), dpi=80)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.1, top=0.9, hspace=0.6, wspace=0.35)
    fig.suptitle(f"log10 {key} by lr × epochs", fontsize=10)
    for i, (backend, loss) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        grid = np.full((len(lrs), len(epochs)), np.nan)
        marks = {}
        for r in runs:
            if (r["backend"], r["loss"]) != (backend, loss):
                continue
            cell = (lrs.index(r["lr"]), epochs.index(r["epochs"]))
            if r["status"] == "ok" and r.get(key) is not None:
                grid[cell] = np.log10(max(float(r[key]), 1e-12))
            else:
                marks[cell] = r["status"]
        ax.imshow(grid, cmap="viridis_r", aspect="auto", vmin=-6, vmax=1)
        for (a, b), text in np.ndenumerate(grid):
            if (a, b) in marks:
                ax.text(b, a, marks[(a, b)], ha="center", va="center", fontsize=8, color="red")
            elif not np.isnan(text):
                ax.text(b, a, f"{text:.1f}", ha="center", va="center", fontsize=8, color="w")
        ax.set_xticks(range(len(epochs)), [str(e) for e in epochs], fontsize=8)
        ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs], fontsize=8)
        ax.set(xlabel="epochs", ylabel="lr", title=f"{backend} · {loss}")
    return _save(fig, path)


def outliers(path: Path, runs: list[dict], data: Dataset) -> Path | None:
    """The data with its outliers, the true line and the best mse and mae fits: MSE bends
    towards the outliers, MAE does not."""
    if data.n_features != 1 or not float(data.spec.get("outlier_fraction") or 0):
        return None
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "trajectory"} for r in runs])
    best = {r["loss"]: r for _, r in best_runs(table, ["loss"]).iterrows()}
    best = {k: v for k, v in best.items() if k in ("mse", "mae")}
    if len(best) < 2:
        return None
    fig, (ax,) = _figure(5.5, 3.6)
    x, y = np.asarray(data.X)[:, 0], np.asarray(data.y)
    ax.scatter(x, y, s=10, alpha=0.5, c="grey", label="data")
    if data.theta_true is not None:
        far = np.abs(y - (data.theta_true[0] + data.theta_true[1] * x)) > 5 * max(
            float(data.spec.get("noise_std") or 0), 1e-9
        )
        ax.scatter(x[far], y[far], s=22, c="red", marker="x", label="outliers")
    grid = np.linspace(x.min(), x.max(), 2)
    if data.theta_true is not None:
        ax.plot(grid, data.theta_true[0] + data.theta_true[1] * grid, "k--", lw=1.2, label="true")
    for name, colour in (("mse", "tab:blue"), ("mae", "tab:orange")):
        r = best[name]
        ax.plot(
            grid,
            r["bias"] + r["w_0"] * grid,
            c=colour,
            lw=1.6,
            label=f"{name}: w={r['w_0']:.3f}, b={r['bias']:.3f}",
        )
    ax.set(xlabel="x", ylabel="y", title="MSE against MAE with outliers")
    ax.legend(fontsize=7)
    return _save(fig, path)
