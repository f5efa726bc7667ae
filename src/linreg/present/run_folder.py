"""A run's folder: its trajectory table, evaluation, computation graph and figures."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from linreg.config.typed import RunConfig
from linreg.core.data import Dataset
from linreg.present import figures, graphs
from linreg.run.record import TRAJECTORY, jsonable
from linreg.run.thinning import chosen_steps

CSV_EPOCHS = 100_000  # above, trajectory.parquet alone (a CSV of 10^6 rows takes seconds)
FIGURE_POINTS = 2000  # per line of a run's figure


def trajectory_table(traj, m: int):
    import pandas as pd  # pandas: only when a run's table is written

    cols = {"epoch": np.arange(traj.epochs_run), "loss": traj.loss}
    for j, label in enumerate(figures.param_labels(m)):
        cols[label] = traj.theta[:, j]
    cols["grad_norm"] = traj.grad_norm
    cols["lr"] = traj.lr
    return pd.DataFrame(cols)


def write_run_files(out: Path, run: RunConfig, title: str, data: Dataset, traj, ev) -> list[Path]:
    """The run folder: trajectory table, evaluation, graph, figures."""
    m = data.n_features
    table = trajectory_table(traj, m)
    table.to_parquet(out / TRAJECTORY, index=False)  # every epoch, typed: what readers read
    files = [out / TRAJECTORY, out / "evaluation.json"]
    if traj.epochs_run <= CSV_EPOCHS:  # the same, for a look in any editor
        table.to_csv(out / "trajectory.csv", index=False)
        files.insert(1, out / "trajectory.csv")
    (out / "evaluation.json").write_text(json.dumps(jsonable(ev.to_dict()), indent=2))
    if run.tracking.graph:
        if run.backend == "torch":
            dot = graphs.torch_dot(data.X, data.y, data.theta0, run.settings.loss)
        else:
            dot = graphs.formula_dot(run.backend, run.settings.loss, len(data.y), m)
        files += graphs.write_graph(out, dot)
        _hint_once()
    if run.tracking.figures and traj.epochs_run:
        truth = data.theta_true
        loss_at = chosen_steps(traj.loss, FIGURE_POINTS)  # a few thousand points draw the shape
        at = np.unique(np.concatenate([chosen_steps(c, FIGURE_POINTS) for c in traj.theta.T]))
        theta_hist = data.to_original_units(traj.theta[at])
        losses = traj.loss[loss_at]
        files.append(
            figures.loss_curve(out / "loss.png", losses, title, ev.optimum_loss, epochs=loss_at)
        )
        files.append(
            figures.param_trajectory(out / "params.png", theta_hist, truth, title, epochs=at)
        )
        if m == 1:
            theta = np.array([ev.bias, *ev.weights])
            X_raw = data.X
            if data.feature_mean is not None:
                X_raw = data.X * data.feature_scale + data.feature_mean
            files.append(figures.data_fit(out / "fit.png", X_raw, data.y, theta, truth, title))
    return files


def _hint_once() -> None:
    """Without Graphviz's dot the graph is DOT source only: say how to install it, once."""
    if not graphs.dot_available():
        _warn_no_dot()


@functools.lru_cache(maxsize=1)
def _warn_no_dot() -> None:
    """The install hint, logged the first time only (the cache remembers it was)."""
    logging.getLogger("linreg").warning("warning: %s", graphs.INSTALL_HINT)
