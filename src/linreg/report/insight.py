"""The sweep figures that teach more than the walkthrough's: the loss landscape with every run's
path on it, and the lr × epochs heatmap of the distance to the optimum (MSE against MAE on data
with outliers is :mod:`.outliers`).

They read the sweep's results and trajectories after training, and the data itself (for the
landscape); each returns the file it wrote, or None when the sweep does not have
what the figure needs (one feature, one dataset, two or more learning rates...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linreg.core import optimum
from linreg.core.data import Dataset
from linreg.core.losses import Loss
from linreg.present.figures import figure_legend, new_figure, save, styled
from linreg.report.landscape import LOSSES, contours, frame_of, loss_of, paths_by_lr, subsample
from linreg.report.lesson import behaviours

DOTS = 40  # the first epochs of a path get a dot each: their spacing is the step size
# the heatmap's floor (log10 distance): closer than 1e-5 is at the optimum as far as float32
# resolves it; below it, rounding (the dtype, the backend's order of sums) decides, not the lr
FLOOR = -5.0


@styled
def loss_landscape(path: Path, runs: list[dict], data: Dataset) -> Path | None:
    """Contours of J(b, w) around the optimum, one panel per loss (mse and mae side by side when
    the sweep has both), with each learning rate's gradient-descent path drawn on it: a dot per
    epoch for the first epochs (close dots: a crawl; dots on alternate sides: a zigzag), and what
    the run did in the legend.  A diverged path leaves the frame, which is drawn around the rest."""
    if data.n_features != 1:
        return None
    drawn = {r["loss"] for r in runs if r.get("trajectory") is not None}
    losses = [n for n in LOSSES if n in drawn]
    if not losses:
        return None
    X, y = subsample(data)
    from matplotlib import colormaps  # matplotlib: only when drawing

    did = behaviours(runs)
    lrs = sorted({r["lr"] for r in runs})
    said: dict[float, dict[str, str]] = {}  # lr -> loss -> what it did: one legend for all panels
    for name in losses:
        for lr, run in paths_by_lr(runs, name).items():
            said.setdefault(lr, {})[name] = did.get(run["run_name"], "")
    colours = colormaps["plasma"](np.linspace(0, 0.85, max(len(lrs), 1)))
    rows = -(-(len(lrs) + 3) // 3)  # the legend: three entries a row
    height = 4.2 + 0.22 * rows
    fig, axes = new_figure(
        5.2 * len(losses), height, len(losses), top=1 - (0.4 + 0.22 * rows) / height
    )
    for ax, name in zip(axes, losses, strict=True):
        paths = paths_by_lr(runs, name)
        loss = loss_of(runs, name)
        opt = optimum(loss, X, y)
        _landscape_panel(ax, loss, opt, paths, data, X, y, did)
        for lr, run in sorted(paths.items()):
            label = _lr_label(lr, said[lr])
            _path(ax, run, colours[lrs.index(lr)], did.get(run["run_name"], ""), label)
        _marks(ax, data, opt)
    figure_legend(fig, axes[0], ncol=3)
    return save(fig, path)


def _landscape_panel(ax, loss: Loss, opt, paths: dict, data: Dataset, X, y, did: dict) -> None:
    """The panel's contours of J, in a frame around the start, the optimum, the truth and every
    path that did not diverge (a diverged one would stretch it over nothing to see)."""
    calm = [
        p["trajectory"][["bias", "w_0"]].to_numpy()
        for p in paths.values()
        if did.get(p["run_name"]) != "diverged"
    ]
    truth = [] if data.theta_true is None else [data.theta_true]
    lo, hi = frame_of([opt, data.theta0, *truth, *calm])
    contours(ax, loss, X, y, lo, hi)
    ax.set(xlabel="bias b", ylabel="weight w", title=f"J(b, w), loss = {loss.label()}")


def _path(ax, run: dict, colour, what: str, label: str) -> None:
    """One run's path, a dot per epoch for its first epochs."""
    t = run["trajectory"][["bias", "w_0"]].to_numpy()
    wild = what == "diverged"  # thin and beneath: it crosses the whole frame
    z = 2 if wild else 3
    ax.plot(
        t[:, 0],
        t[:, 1],
        "-",
        lw=0.8 if wild else 1.4,
        c=colour,
        alpha=0.6 if wild else 1,
        zorder=z,
        label=label,
    )
    ax.plot(t[:DOTS, 0], t[:DOTS, 1], "o", ms=2.8, c=colour, zorder=z)


def _marks(ax, data: Dataset, opt) -> None:
    """The start, the optimum and (when known) the true parameters."""
    ax.plot(*data.theta0, "o", c="k", ms=5, label="θ0 (start)", zorder=4)
    ax.plot(*opt, "*", c="red", ms=12, mec="k", mew=0.5, label="optimum", zorder=5)
    if data.theta_true is not None:
        ax.plot(*data.theta_true, "x", c="green", ms=8, mew=2, label="truth", zorder=4)


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
    panels = _heatmap_panels(runs, lrs, epochs)
    values = np.concatenate([g[np.isfinite(g)] for _, g, _ in panels] or [np.zeros(1)])
    vmin, vmax = FLOOR, max(float(np.ceil(values.max())), FLOOR + 1)
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig = _heatmap_figure(rows, cols, lrs, epochs)
    image = None
    for i, (title, grid, mark) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        image = ax.imshow(grid, cmap="viridis_r", aspect="auto", vmin=vmin, vmax=vmax)
        _label_cells(ax, grid, mark, vmin, vmax)
        ax.set_xticks(range(len(epochs)), [str(e) for e in epochs])
        ax.set_yticks(range(len(lrs)), [f"{lr:.4g}" for lr in lrs])
        ax.set(xlabel="epochs", ylabel="learning rate", title=title)
    colourbar = fig.colorbar(image, ax=fig.axes, fraction=0.05, pad=0.04)
    colourbar.set_label("log10 ‖θ − θ*‖")
    return save(fig, path)


def _heatmap_panels(
    runs: list[dict], lrs: list, epochs: list
) -> list[tuple[str, np.ndarray, dict]]:
    """(title, grid, marks) per panel: one per loss where its backends agree, else per backend."""
    panels = []
    for loss in sorted({r["loss"] for r in runs}):
        backends = sorted({r["backend"] for r in runs if r["loss"] == loss})
        grids, marks = {}, {}
        for backend in backends:
            mine = [r for r in runs if (r["backend"], r["loss"]) == (backend, loss)]
            grids[backend], marks[backend] = _error_grid(mine, lrs, epochs)
        if len(grids) > 1 and agreeing(grids, marks):
            b = next(iter(grids))
            panels.append((f"loss = {loss}\n{', '.join(grids)} agree", grids[b], marks[b]))
        else:
            panels += [(f"loss = {loss} · {b}", grids[b], marks[b]) for b in grids]
    return panels


def _error_grid(runs: list[dict], lrs: list, epochs: list) -> tuple[np.ndarray, dict]:
    """The runs' log10 distances to the optimum on the lr × epochs grid (at least :data:`FLOOR`),
    and the status of each cell whose run did not end ok."""
    grid, mark = np.full((len(lrs), len(epochs)), np.nan), {}
    for r in runs:
        cell = (lrs.index(r["lr"]), epochs.index(r["epochs"]))
        value = r.get("optimum_distance")
        if r["status"] == "ok" and value is not None and value == value:
            grid[cell] = max(np.log10(max(float(value), 1e-300)), FLOOR)
        else:
            mark[cell] = r["status"]
    return grid, mark


def _heatmap_figure(rows: int, cols: int, lrs: list, epochs: list):
    """The heatmap's empty figure, sized to its panels, with its title."""
    from matplotlib.figure import Figure  # matplotlib: only when drawing

    width = 1.2 + (1.4 + 0.55 * len(epochs)) * cols + 0.9
    height = (1.5 + 0.32 * len(lrs)) * rows + 1.0
    fig = Figure(figsize=(max(width, 4.5), height), dpi=100)
    fig.subplots_adjust(
        left=0.9 / max(width, 4.5),
        right=0.86,
        bottom=0.55 / height,
        top=1 - 1.25 / height,
        hspace=0.8,
        wspace=0.6,
    )
    fig.suptitle(
        "log10 distance to the optimum θ* of each run's own loss\n"
        f"(lower is closer; ≤ {FLOOR:.0f}: at it, as far as float32 resolves)"
    )
    return fig


def _label_cells(ax, grid: np.ndarray, mark: dict, vmin: float, vmax: float) -> None:
    """Each cell's value (or the status of a run that did not end ok) written on it."""
    for (a, b), v in np.ndenumerate(grid):
        if (a, b) in mark:
            ax.text(b, a, mark[(a, b)], ha="center", va="center", color="red")
        elif not np.isnan(v):
            dark = (v - vmin) / (vmax - vmin) > 0.55  # viridis_r: dark for large errors
            shown = f"≤{FLOOR:.0f}" if v <= FLOOR else f"{v:.1f}"
            ax.text(b, a, shown, ha="center", va="center", color="w" if dark else "k")
