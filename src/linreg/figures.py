"""The pictures of a run and of a sweep (matplotlib, Agg).  They read trajectories after training.

Per run: the loss per epoch (log scale), the parameters per epoch with the true values dashed, and
for one feature the data with the true and the fitted lines: the walkthrough's three plots.  Per
sweep: the loss curves side by side and the parameter evolution per learning rate (the
walkthrough's ``plot_param_evolution``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DPI = 80


def _figure(width: float = 5, height: float = 3.2, ncols: int = 1):
    """A bare Agg figure (no pyplot figure manager: cheaper, and nothing global to close)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(left=0.17 / ncols**0.5, right=0.97, bottom=0.15, top=0.89, wspace=0.3)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _log_y(ax) -> None:
    """Log scale with plain-number tick labels: mathtext labels cost more than the whole plot."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save(fig, path: Path) -> Path:
    fig.savefig(path)
    return path


def param_labels(m: int) -> list[str]:
    return ["bias"] + [f"w_{j}" for j in range(m)]


def loss_curve(path: Path, loss: np.ndarray, title: str, optimum_loss: float | None = None):
    fig, (ax,) = _figure()
    ax.plot(np.arange(len(loss)), loss, lw=1.5, label="loss")
    if optimum_loss is not None:
        ax.axhline(optimum_loss, ls="--", c="k", lw=1, label="optimum")
    _log_y(ax)
    ax.set(xlabel="epoch", ylabel="J(θ)", title=title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def param_trajectory(path: Path, theta: np.ndarray, truth: np.ndarray | None, title: str):
    m = theta.shape[1] - 1
    fig, (ax,) = _figure()
    for j, label in enumerate(param_labels(m)[: min(m + 1, 11)]):
        line = ax.plot(np.arange(len(theta)), theta[:, j], lw=1.5, label=label)[0]
        if truth is not None:
            ax.axhline(truth[j], ls="--", lw=1, c=line.get_color())
    ax.set(xlabel="epoch", ylabel="value", title=title)
    ax.legend(fontsize=8, ncol=2)
    return _save(fig, path)


def data_fit(path: Path, X, y, theta: np.ndarray, truth: np.ndarray | None, title: str):
    """Scatter of the data with the true (dashed) and the fitted line; one feature only."""
    fig, (ax,) = _figure()
    x = np.asarray(X)[:, 0]
    ax.scatter(x, y, s=10, alpha=0.6, label="data")
    grid = np.linspace(x.min(), x.max(), 2)
    if truth is not None:
        ax.plot(grid, truth[0] + truth[1] * grid, "k--", lw=1.2, label="true")
    ax.plot(grid, theta[0] + theta[1] * grid, "r", lw=1.5, label="fitted")
    ax.set(xlabel="x", ylabel="y", title=title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def sweep_loss_curves(path: Path, runs: list[dict]):
    """One panel per loss; a line per run, coloured by lr, styled by backend."""
    from matplotlib import colormaps

    losses = sorted({r["loss"] for r in runs})
    lrs = sorted({r["lr"] for r in runs})
    styles = {"numpy": "-", "python": ":", "torch": "--"}
    colours = colormaps["viridis"](np.linspace(0, 0.9, max(len(lrs), 1)))
    fig, axes = _figure(5 * len(losses), 3.4, len(losses))
    for ax, loss in zip(axes, losses, strict=True):
        for r in runs:
            if r["loss"] != loss or r.get("trajectory") is None:
                continue
            t = r["trajectory"]
            ax.plot(
                t["epoch"],
                t["loss"],
                styles.get(r["backend"], "-"),
                lw=1,
                c=colours[lrs.index(r["lr"])],
            )
        _log_y(ax)
        ax.set(xlabel="epoch", ylabel="J(θ)", title=f"loss = {loss}")
        for lr, c in zip(lrs, colours, strict=False):
            ax.plot([], [], c=c, label=f"lr={lr:g}")
        for b, s in styles.items():
            ax.plot([], [], s, c="grey", label=b)
        ax.legend(fontsize=7)
    return _save(fig, path)


def param_evolution(path: Path, runs: list[dict], truth: np.ndarray | None):
    """The walkthrough's plot_param_evolution: weight and bias per epoch for each lr, true values
    dashed.  One loss (mse when the sweep has it) and, per lr, its longest run."""
    losses = sorted({r["loss"] for r in runs if r.get("trajectory") is not None})
    loss = "mse" if "mse" in losses else losses[0]
    by_lr: dict[float, dict] = {}
    for r in runs:
        t = r.get("trajectory")
        if t is None or r["loss"] != loss:
            continue
        best = by_lr.get(r["lr"])
        if best is None or len(t["epoch"]) > len(best["trajectory"]["epoch"]):
            by_lr[r["lr"]] = r
    fig, axes = _figure(10, 3.4, 2)
    for ax, key, j in ((axes[0], "w_0", 1), (axes[1], "bias", 0)):
        for lr in sorted(by_lr):
            t = by_lr[lr]["trajectory"]
            ax.plot(t["epoch"], t[key], lw=1.5, label=f"lr={lr:g}")
        if truth is not None:
            ax.axhline(truth[j], ls="--", c="k", lw=1, label="true")
        ax.set(xlabel="epoch", ylabel=key, title=f"{key} per epoch (loss = {loss})")
        ax.legend(fontsize=8)
    return _save(fig, path)
