"""The sweep's comparison figures: every run's loss curve, the parameter evolution per learning
rate (the walkthrough's ``plot_param_evolution``), and those of :mod:`.insight`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..record import RunRecord
from . import insight
from .figures import _figure, _log_y, _save


def load_trajectories(folder: Path, records: list[RunRecord]) -> list[dict]:
    """Each record as a dict with its trajectory table attached (None where it has none)."""
    import pandas as pd

    runs = []
    for r in records:
        path = Path(folder) / (r.run_folder or "") / "trajectory.csv"
        traj = pd.read_csv(path) if r.finished and path.is_file() else None
        runs.append({**r.row(), "theta_true": r.theta_true, "trajectory": traj})
    return runs


def sweep_figures(
    folder: Path, records: list[RunRecord], out_dir: Path, data=None, loaded=None
) -> list[Path]:
    """The comparison figures of a sweep: every run's loss curve, the parameter evolution per lr
    (one feature), the lr × epochs error heatmap, and, given the sweep's one dataset, the loss
    landscape with the runs' paths and the outliers figure (see :mod:`.insight`).  ``loaded``:
    the records' trajectories already read (:func:`load_trajectories`), not read again."""
    import numpy as np

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
        made.append(insight.outliers(out_dir / "outliers.png", runs, data))
    return [p for p in made if p is not None]


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
