"""The sweep's comparison figures: every run's loss curve, the parameter evolution per learning
rate (the walkthrough's ``plot_param_evolution``), and those of :mod:`.insight`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linreg.present.figures import figure_legend, legend_above, log_y, new_figure, save, styled
from linreg.report import animation, insight, outliers
from linreg.report.lesson import behaviours
from linreg.report.scaling import scaling
from linreg.run.record import TRAJECTORY, RunRecord


def load_trajectories(folder: Path, records: list[RunRecord]) -> list[dict]:
    """Each record as a dict with its trajectory table attached (None where it has none)."""
    import pandas as pd  # pandas: only when a sweep's trajectories are read

    runs = []
    for r in records:
        path = Path(folder) / (r.run_folder or "") / TRAJECTORY
        traj = pd.read_parquet(path) if r.finished and path.is_file() else None
        runs.append({**r.row(), "theta_true": r.theta_true, "trajectory": traj})
    return runs


def sweep_figures(
    folder: Path, records: list[RunRecord], out_dir: Path, data=None, loaded=None
) -> list[Path]:
    """The comparison figures of a sweep: every run's loss curve, the parameter evolution per lr
    (one feature), the lr × epochs error heatmap, and, given the sweep's one dataset, the loss
    landscape with the runs' paths (see :mod:`.insight`), the outliers figure (:mod:`.outliers`),
    unscaled features before and after standardisation (:mod:`.scaling`, for a long valley) and
    gradient descent animated (``descent.gif``, :mod:`.animation`).  ``loaded``: the records'
    trajectories already read (:func:`load_trajectories`), not read again."""
    everything = load_trajectories(folder, records) if loaded is None else loaded
    runs = [r for r in everything if r["trajectory"] is not None]
    if not runs:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    made = [sweep_loss_curves(out_dir / "loss_curves.png", runs)]
    columns = runs[0]["trajectory"].columns
    if "w_0" in columns and "w_1" not in columns:
        truth = runs[0]["theta_true"]
        truth = None if truth is None else np.asarray(truth, dtype=np.float64)
        made.append(param_evolution(out_dir / "param_evolution.png", runs, truth))
    made.append(insight.error_heatmap(out_dir / "error_heatmap.png", everything))
    if data is not None:
        made.append(insight.loss_landscape(out_dir / "loss_landscape.png", runs, data))
        made.append(outliers.outliers(out_dir / "outliers.png", runs, data))
        made.append(scaling(out_dir / "scaling.png", data))
        made.append(animation.descent_gif(out_dir / "descent.gif", runs, data))
    return [p for p in made if p is not None]


@styled
def sweep_loss_curves(path: Path, runs: list[dict]):
    """One panel per loss; a line per run, coloured by lr, styled by backend."""
    from matplotlib import colormaps  # matplotlib: only when drawing

    losses = sorted({r["loss"] for r in runs})
    lrs = sorted({r["lr"] for r in runs})
    styles = {"numpy": "-", "python": ":", "torch": "--"}
    colours = colormaps["viridis"](np.linspace(0, 0.9, max(len(lrs), 1)))
    entries = len(lrs) + len({r["backend"] for r in runs})
    ncol = min(entries, 3 * len(losses))
    rows = -(-entries // ncol)
    height = 3.4 + 0.22 * rows
    fig, axes = new_figure(
        5.2 * len(losses), height, len(losses), top=1 - (0.4 + 0.22 * rows) / height
    )
    for ax, loss in zip(axes, losses, strict=True):
        for r in runs:
            if r["loss"] != loss or r.get("trajectory") is None:
                continue
            t = r["trajectory"]
            ax.plot(
                t["epoch"],
                t["loss"],
                styles.get(r["backend"], "-"),
                lw=1.2,
                c=colours[lrs.index(r["lr"])],
            )
        log_y(ax)
        ax.set(xlabel="epoch", ylabel="loss J(θ)", title=f"loss = {loss}")
    for lr, c in zip(lrs, colours, strict=False):
        axes[0].plot([], [], c=c, label=f"lr={lr:.4g}")
    for b in sorted({r["backend"] for r in runs}):
        axes[0].plot([], [], styles.get(b, "-"), c="grey", label=b)
    figure_legend(fig, axes[0], ncol)
    return save(fig, path)


@styled
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
    wild = behaviours(list(by_lr.values()))
    fig, axes = new_figure(10.4, 3.8, 2, top=0.78)
    for ax, key, j in ((axes[0], "w_0", 1), (axes[1], "bias", 0)):
        calm = [] if truth is None else [truth[j]]
        for lr in sorted(by_lr):
            t = by_lr[lr]["trajectory"]
            ax.plot(t["epoch"], t[key], lw=1.5, label=f"lr={lr:.4g}")
            if wild.get(by_lr[lr]["run_name"]) != "diverged":
                calm += [t[key].min(), t[key].max()]
        if "diverged" in wild.values() and len(calm) > 1:  # frame the rest; it leaves the frame
            lo, hi = min(calm), max(calm)
            ax.set_ylim(lo - 0.1 * (hi - lo or 1), hi + 0.1 * (hi - lo or 1))
        if truth is not None:
            ax.axhline(truth[j], ls="--", c="k", lw=1, label="true")
        ax.set(xlabel="epoch", ylabel="weight w" if key == "w_0" else "bias b")
        legend_above(ax, ncol=min(len(by_lr) + 1, 4))
        ax.set_title(f"{key} per epoch (loss = {loss})", y=1.0 + 0.11 * (-(-(len(by_lr) + 1) // 4)))
    return save(fig, path)
