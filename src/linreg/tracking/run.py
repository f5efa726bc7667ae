"""A run in MLflow: its tags, and its metrics, per-epoch series, artifacts and dataset."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from linreg.config.typed import RunConfig
from linreg.core.data import Dataset
from linreg.run.record import metric_name, series_name
from linreg.run.thinning import thin
from linreg.tracking.describe import source_tags
from linreg.tracking.model import log_model

MAX_LOGGED_WEIGHTS = 10  # above this, the per-epoch weights are logged as their norm


def process_tags() -> dict:
    """Which process on which machine runs it: a run left RUNNING by a process that is gone is
    an orphan (:func:`linreg.sweep.parent.reap_orphans`)."""
    return {"linreg.host": socket.gethostname(), "linreg.pid": os.getpid()}


def run_tags(run: RunConfig) -> dict:
    return {
        **process_tags(),
        **source_tags(),
        "backend": run.backend,
        "loss": run.settings.loss.name,
        "device": run.settings.device,
        "dtype": run.settings.dtype,
        "status": "running",
    }


def step_series(traj, data: Dataset, rec) -> dict[str, np.ndarray]:
    """The per-epoch series: loss, bias, w_j (original units), grad_norm, lr where it varies.
    The parameters and the loss get one point more, at step = epochs: the values after the last
    step, which are the record's ``bias``, ``w_j`` and ``train_loss``; so each series' latest
    value, which MLflow shows as the run's metric, is the learned one."""
    theta = traj.theta
    if data.feature_mean is not None:
        theta = data.to_original_units(theta)
    if rec.bias is not None:
        theta = np.vstack([theta, [rec.bias, *rec.weights]])
    loss = np.append(traj.loss, rec.train_loss) if rec.train_loss is not None else traj.loss
    series = {"loss": loss, "bias": theta[:, 0]}
    m = data.n_features
    if m <= MAX_LOGGED_WEIGHTS:
        for j in range(m):
            series[f"w_{j}"] = theta[:, j + 1]
    else:
        series["weight_norm"] = np.linalg.norm(theta[:, 1:], axis=1)
    series["grad_norm"] = traj.grad_norm
    if len(set(traj.lr.tolist())) > 1:
        series["lr"] = traj.lr
    return series


def log_run(store, run_id, run: RunConfig, data: Dataset, traj, rec, out: Path, files) -> None:
    """Metrics, series, artifacts and dataset of a trained run (``job_s`` comes at its end)."""
    series = step_series(traj, data, rec)
    finals = {k: v for k, v in rec.metrics().items() if k != metric_name("job_s")}
    thinned = thin(series, run.tracking.max_points)
    series = {series_name(k): v for k, v in thinned.items()}
    store.log(run_id, metrics=finals, series=series)  # in one stream of 1,000-value batches
    if (out / "config.yaml").is_file():  # the resolved config, as the run used it
        files = [*files, out / "config.yaml"]
    for f in files:
        store.log_artifact(run_id, f)
    if (out / ".hydra").is_dir():  # Hydra's own record: the composed config and the overrides
        store.log_artifacts(run_id, out / ".hydra", "config")
    import pandas as pd  # pandas: only where a table is built

    df = pd.DataFrame(data.X, columns=data.feature_names)
    df[data.target_name] = data.y
    source = {"made_by": "linreg.core.data", "kind": data.spec.get("kind")}
    if run.data_dir:
        source["dir"] = str(Path(run.data_dir).resolve())
    if data.spec.get("kind") == "csv":
        source["csv"] = str(Path(data.spec["path"]).resolve())
    store.log_dataset(
        run_id,
        df,
        name=f"{data.spec.get('kind', 'data')}-{data.digest[:8]}",
        digest=data.digest,
        source=source,
        context="training",
    )
    if run.tracking.log_models == "all" and traj.status == "ok":  # else the sweep's best only
        log_model(store, run_id, rec, data)
