"""The pictures of a run and of a sweep (matplotlib, Agg).  They read trajectories after training.

Per run: the loss per epoch (log scale), the parameters per epoch with the true values dashed, and
for one feature the data with the true and the fitted lines: the walkthrough's three plots.  The
sweep's figures are in :mod:`.insight`.
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
