"""The sweep figures that teach more than the walkthrough's: the loss landscape with every run's
path on it, the lr × epochs heatmap of the distance to the optimum, and MSE against MAE on data
with outliers.

They read the sweep's results and trajectories after training, and the data itself (for the
landscape and the outliers); each returns the file it wrote, or None when the sweep does not have
what the figure needs (one feature, one dataset, two or more learning rates...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from linreg.core import optimum
from linreg.core.data import Dataset
from linreg.core.losses import Loss
from linreg.present.figures import _figure, _figure_legend, _legend_above, _save, styled
from linreg.report.lesson import behaviours
from linreg.run.record import best_runs

MAX_LANDSCAPE_ROWS = 5000  # the contours of a large dataset use a fixed subsample
LOSSES = ("mse", "mse_half", "mae", "huber")
DOTS = 40  # the first epochs of a path get a dot each: their spacing is the step size
# the heatmap's floor (log10 distance): closer than 1e-5 is at the optimum as far as float32
# resolves it; below it, rounding (the dtype, the backend's order of sums) decides, not the lr
FLOOR = -5.0


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


@styled
def loss_landscape(path: Path, runs: list[dict], data: Dataset) -> Path | None:
    """Contours of J(b, w) around the optimum, one panel per loss (mse and mae side by side when
    the sweep has both), with each learning rate's gradient-descent path drawn on it: a dot per
    epoch for the first epochs (close dots: a crawl; dots on alternate sides: a zigzag), and what
    the run did in the legend.  A diverged path leaves the frame, which is drawn around the rest."""
    if data.n_features != 1:
        return None
    losses = [n for n in LOSSES if any(r["loss"] == n and r.get("trajectory") is not None
                                       for r in runs)]  # fmt: skip
    if not losses:
        return None
    X, y = subsample(data)
    from matplotlib import colormaps

    did = behaviours(runs)
    lrs = sorted({r["lr"] for r in runs})
    said: dict[float, dict[str, str]] = {}  # lr -> loss -> what it did: one legend for all panels
    for name in losses:
        for lr, run in paths_by_lr(runs, name).items():
            said.setdefault(lr, {})[name] = did.get(run["run_name"], "")
    colours = colormaps["plasma"](np.linspace(0, 0.85, max(len(lrs), 1)))
    rows = -(-(len(lrs) + 3) // 3)  # the legend: three entries a row
    height = 4.2 + 0.22 * rows
    fig, axes = _figure(
        5.2 * len(losses), height, len(losses), top=1 - (0.4 + 0.22 * rows) / height
    )
    for ax, name in zip(axes, losses, strict=True):
        loss = loss_of(runs, name)
        paths = paths_by_lr(runs, name)
        opt = optimum(loss, X, y)
        calm = [p["trajectory"][["bias", "w_0"]].to_numpy() for p in paths.values()
                if did.get(p["run_name"]) != "diverged"]  # fmt: skip
        truth = [] if data.theta_true is None else [data.theta_true]
        lo, hi = frame_of([opt, data.theta0, *truth, *calm])
        contours(ax, loss, X, y, lo, hi)
        for lr, run in sorted(paths.items()):
            t = run["trajectory"][["bias", "w_0"]].to_numpy()
            c = colours[lrs.index(lr)]
            what = did.get(run["run_name"], "")
            wild = what == "diverged"  # thin and beneath: it crosses the whole frame
            ax.plot(t[:, 0], t[:, 1], "-", lw=0.8 if wild else 1.4, c=c, alpha=0.6 if wild else 1,
                    zorder=2 if wild else 3, label=_lr_label(lr, said[lr]))  # fmt: skip
            ax.plot(t[:DOTS, 0], t[:DOTS, 1], "o", ms=2.8, c=c, zorder=2 if wild else 3)
        ax.plot(*data.theta0, "o", c="k", ms=5, label="θ0 (start)", zorder=4)
        ax.plot(*opt, "*", c="red", ms=12, mec="k", mew=0.5, label="optimum", zorder=5)
        if data.theta_true is not None:
            ax.plot(*data.theta_true, "x", c="green", ms=8, mew=2, label="truth", zorder=4)
        ax.set(xlabel="bias b", ylabel="weight w", title=f"J(b, w), loss = {loss.label()}")
    _figure_legend(fig, axes[0], ncol=3)
    return _save(fig, path)


def _lr_label(lr: float, did: dict[str, str]) -> str:
    """``lr=0.1: converged``, or what it did under each loss where they differ."""
    if len(set(did.values())) == 1:
        return f"lr={lr:.4g}: {next(iter(did.values()))}"
    return f"lr={lr:.4g}: " + ", ".join(f"{what} ({name})" for name, what in did.items())


def agreeing(grids: dict[str, np.ndarray], marks: dict[str, dict]) -> bool:
    """Whether every backend's grid is the same picture: equal marks, log10 values within 0.2 of
    each other (a factor 1.6, one shade; both at or under :data:`FLOOR` counts as equal).  MAE's
    constant-step descent ends wherever its last step around the kink lands: such noise is one
    picture, not three."""
    first = next(iter(grids))
    return all(
        marks[b] == marks[first] and np.allclose(g, grids[first], atol=0.2, equal_nan=True)
        for b, g in grids.items()
    )


@styled
def error_heatmap(path: Path, runs: list[dict]) -> Path | None:
    """lr × epochs grid of log10 of the distance to the optimum of the run's own loss, one panel
    per loss (one per backend only where the backends disagree), one colour bar; runs that did
    not end ok are marked."""
    lrs = sorted({r["lr"] for r in runs})
    epochs = sorted({r["epochs"] for r in runs})
    if len(lrs) < 2 and len(epochs) < 2:
        return None
    key = "optimum_distance"
    panels: list[tuple[str, np.ndarray, dict]] = []
    for loss in sorted({r["loss"] for r in runs}):
        grids, marks = {}, {}
        for backend in sorted({r["backend"] for r in runs if r["loss"] == loss}):
            grid, mark = np.full((len(lrs), len(epochs)), np.nan), {}
            for r in runs:
                if (r["backend"], r["loss"]) != (backend, loss):
                    continue
                cell = (lrs.index(r["lr"]), epochs.index(r["epochs"]))
                value = r.get(key)
                if r["status"] == "ok" and value is not None and value == value:
                    grid[cell] = max(np.log10(max(float(value), 1e-300)), FLOOR)
                else:
                    mark[cell] = r["status"]
            grids[backend], marks[backend] = grid, mark
        if len(grids) > 1 and agreeing(grids, marks):
            b = next(iter(grids))
            panels.append((f"loss = {loss}\n{', '.join(grids)} agree", grids[b], marks[b]))
        else:
            panels += [(f"loss = {loss} · {b}", grids[b], marks[b]) for b in grids]
    values = np.concatenate([g[np.isfinite(g)] for _, g, _ in panels] or [np.zeros(1)])
    vmin, vmax = FLOOR, max(float(np.ceil(values.max())), FLOOR + 1)
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    from matplotlib.figure import Figure

    width = 1.2 + (1.4 + 0.55 * len(epochs)) * cols + 0.9
    height = (1.5 + 0.32 * len(lrs)) * rows + 1.0
    fig = Figure(figsize=(max(width, 4.5), height), dpi=100)
    fig.subplots_adjust(left=0.9 / max(width, 4.5), right=0.86, bottom=0.55 / height,
                        top=1 - 1.25 / height, hspace=0.8, wspace=0.6)  # fmt: skip
    fig.suptitle(f"log10 distance to the optimum θ* of each run's own loss\n(lower is closer; "
                 f"≤ {FLOOR:.0f}: at it, as far as float32 resolves)")  # fmt: skip
    image = None
    for i, (title, grid, mark) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        image = ax.imshow(grid, cmap="viridis_r", aspect="auto", vmin=vmin, vmax=vmax)
        for (a, b), v in np.ndenumerate(grid):
            if (a, b) in mark:
                ax.text(b, a, mark[(a, b)], ha="center", va="center", color="red")
            elif not np.isnan(v):
                dark = (v - vmin) / (vmax - vmin) > 0.55  # viridis_r: dark for large errors
                shown = f"≤{FLOOR:.0f}" if v <= FLOOR else f"{v:.1f}"
                ax.text(b, a, shown, ha="center", va="center", color="w" if dark else "k")
        ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
        ax.set_yticks(range(len(lrs)), [f"{lr:.4g}" for lr in lrs])
        ax.set(xlabel="epochs", ylabel="learning rate", title=title)
    colourbar = fig.colorbar(image, ax=fig.axes, fraction=0.05, pad=0.04)
    colourbar.set_label("log10 ‖θ − θ*‖")
    return _save(fig, path)


@styled
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
    fig, (ax,) = _figure(6, 4.2, top=0.78)
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
    ax.set(xlabel="feature x", ylabel="target y")
    _legend_above(ax, ncol=2)
    ax.set_title("MSE against MAE with outliers", y=1.28)
    return _save(fig, path)
