"""The pictures of a run and of a sweep (matplotlib, Agg).  They read trajectories after training.

Per run: the loss per epoch (log scale), the parameters per epoch with the true values dashed, and
for one feature the data with the true and the fitted lines: the walkthrough's three plots.  The
sweep's figures are in :mod:`linreg.report`.

Every figure is drawn to be read at the size it is saved: 100 dpi, text of 9.5 pt or more (about
13 px, 9 pt once a browser shows it at 96 px per inch), axes named with their symbols, and legends
in a row above the axes, where they cannot cover the data.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

DPI = 100
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "figure.titlesize": 11,
    "axes.formatter.limits": (-3, 4),  # 10000 and up as ×10^n: tick labels stay short
}


def styled(draw):
    """Draw (and save) under :data:`STYLE`: tick labels are made when the figure is saved, so
    the whole call runs inside the style, and nothing global is changed."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        from matplotlib import rc_context  # matplotlib: only when drawing

        with rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width: float = 5, height: float = 3.4, ncols: int = 1, top: float = 0.8):
    """A bare Agg figure (no pyplot figure manager: cheaper, and nothing global to close), with
    room above the axes for a title and a legend row."""
    from matplotlib.figure import Figure  # matplotlib: only when drawing

    fig = Figure(figsize=(width, height), dpi=DPI)
    left = min(0.85 / width, 0.2)  # about 0.85 in for the y tick labels and the y label
    fig.subplots_adjust(left=left, right=0.97, bottom=0.5 / height, top=top, wspace=0.28)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


class ReusedFigures:
    """The per-run figures, one per kind, made once per process and wiped of their data before
    each use, and the lock that has one run draw on them at a time.  A run's three figures then
    cost their lines and their pixels, not a new figure's axes and tick labels (most of the time
    of a small figure); what differs between runs (lines, points, legend, title, limits) is drawn
    anew each time."""

    def __init__(self) -> None:
        self._made: dict[str, tuple] = {}
        self.lock = threading.Lock()

    def get(self, kind: str, make):
        """The figure and axes of ``kind`` (``make()`` draws them the first time), wiped."""
        if kind not in self._made:
            self._made[kind] = make()
        fig, axes = self._made[kind]
        for ax in axes:
            for artist in [*ax.lines, *ax.collections, *ax.texts]:
                artist.remove()
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            ax.relim()
            ax.set_prop_cycle(None)  # the first line blue again, as on a fresh figure
        return fig, axes

    def clear(self) -> None:
        """Forget the figures: the next use of each kind makes a fresh one."""
        self._made.clear()


_REUSED = ReusedFigures()


def _title(ax, text: str) -> None:
    """A title above the legend row; at a fixed height (matplotlib's automatic placement measures
    every tick label: a third of a small figure's drawing time)."""
    ax.set_title(text, y=1.13 if ax.get_legend_handles_labels()[0] else 1.0, pad=4)


def legend_above(ax, ncol: int | None = None) -> None:
    """The legend as a row just above the axes: it never covers a line or a point."""
    handles, _ = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(
        loc="lower right",  # right: the y axis' ×10^n sits at the left
        bbox_to_anchor=(1, 1.0),
        ncol=ncol or len(handles),
        frameon=False,
        borderaxespad=0.2,
        handlelength=1.6,
        columnspacing=1.0,
    )


def figure_legend(fig, ax, ncol: int) -> None:
    """One legend for every panel, in rows at the top of the figure (above the panels' titles)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="upper center",
            ncol=ncol,
            frameon=False,
            borderaxespad=0.3,
            handlelength=1.8,
            columnspacing=1.2,
        )


def log_y(ax) -> None:
    """Log scale with plain-number tick labels: mathtext labels cost more than the whole plot."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # matplotlib: drawing

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: short(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def short(v: float) -> str:
    """A number as a short tick label: 0.5, 20, 1e9, 2e-7."""
    return f"{v:g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def save(fig, path: Path) -> Path:
    fig.savefig(path)
    return path


def param_labels(m: int) -> list[str]:
    return ["bias"] + [f"w_{j}" for j in range(m)]


def _log_figure():
    fig, axes = new_figure()
    log_y(axes[0])
    return fig, axes


def _per_run(draw):
    """A per-run figure: drawn in :data:`STYLE` on its reused figure, one at a time."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with _REUSED.lock:
            return styled(draw)(*args, **kwargs)

    return wrapper


@_per_run
def loss_curve(
    path: Path,
    loss: np.ndarray,
    title: str,
    optimum_loss: float | None = None,
    epochs: np.ndarray | None = None,
):
    """``epochs``: the epoch of each value (a long run's figure draws a shape-keeping subset)."""
    fig, (ax,) = _REUSED.get("loss", _log_figure)
    x = np.arange(len(loss)) if epochs is None else epochs
    ax.plot(x, loss, lw=1.5, label="J(θ) per epoch")
    if optimum_loss is not None:
        ax.axhline(optimum_loss, ls="--", c="k", lw=1, label="J at the optimum")
    return _finished(fig, ax, path, title, "loss J(θ)")


def _finished(fig, ax, path: Path, title: str, ylabel: str) -> Path:
    """A per-epoch figure's axes fitted to its new lines, labelled and titled, then saved."""
    ax.autoscale_view()
    ax.set(xlabel="epoch", ylabel=ylabel)
    legend_above(ax)
    _title(ax, title)
    return save(fig, path)


@_per_run
def param_trajectory(
    path: Path,
    theta: np.ndarray,
    truth: np.ndarray | None,
    title: str,
    epochs: np.ndarray | None = None,
):
    m = theta.shape[1] - 1
    x = np.arange(len(theta)) if epochs is None else epochs
    shown = min(m + 1, 6)  # more would make the legend a wall of text; the CSV has them all
    fig, (ax,) = _REUSED.get("params", new_figure)
    for j, label in enumerate(param_labels(m)[:shown]):
        line = ax.plot(x, theta[:, j], lw=1.5, label=label)[0]
        if truth is not None:
            ax.axhline(truth[j], ls="--", lw=1, c=line.get_color())
    if truth is not None:
        ax.plot([], [], "k--", lw=1, label="true")
    return _finished(fig, ax, path, title, "parameter value")


@_per_run
def data_fit(path: Path, X, y, theta: np.ndarray, truth: np.ndarray | None, title: str):
    """Scatter of the data with the true (dashed) and the fitted line; one feature only."""
    fig, (ax,) = _REUSED.get("fit", new_figure)
    x = np.asarray(X)[:, 0]
    ax.scatter(x, y, s=9, alpha=0.6, lw=0, label="data")
    grid = np.linspace(x.min(), x.max(), 2)
    if truth is not None:
        ax.plot(grid, truth[0] + truth[1] * grid, "k--", lw=1.2, label="true line")
    ax.plot(grid, theta[0] + theta[1] * grid, "r", lw=1.5, label="fitted line")
    ax.autoscale_view()
    ax.set(xlabel="feature x", ylabel="target y")
    legend_above(ax)
    _title(ax, title)
    return save(fig, path)
