"""A run's result as one typed record, and the files that hold records.

:class:`RunRecord` is the single definition of what a run produces: its fields, in order, are the
columns of ``summary.csv`` (``weights`` spreads into ``w_0 … w_{m-1}``), the report's tables and
what the tests read; :func:`metric_name` and :func:`series_name` name them in MLflow, grouped by
kind (``final/``, ``error/``, ``time/``, ``epoch/``; a sweep's counts under ``sweep/``).
``result.json`` in a run folder is a record; it is written last and atomically, so its presence
means the run ended.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

RESULT = "result.json"
TRAJECTORY = "trajectory.parquet"  # a run's every epoch (MLflow's series may be a subset)
MANIFEST = "sweep.json"  # a sweep folder's manifest (linreg.sweep.parent writes it)
STATUSES = ("ok", "diverged", "skipped", "failed")


@dataclass
class RunRecord:
    # what the run is
    run_name: str
    backend: str
    device: str
    loss: str
    lr: float
    epochs: int
    status: str = "failed"  # ok | diverged | skipped | failed
    # what it learned (original units), and how far that is from the truth and the optimum
    bias: float | None = None
    weights: list[float] = field(default_factory=list)
    bias_error: float | None = None
    weight_error: float | None = None
    optimum_distance: float | None = None
    train_loss: float | None = None
    test_mse: float | None = None
    r2_test: float | None = None
    converged_epoch: int | None = None
    wall_s: float | None = None
    mlflow_run_id: str | None = None
    reused_from: str | None = None  # the MLflow run whose result this one reuses (tracking.reuse)
    # why it did not end ok, the rest of its settings, and more numbers
    reason: str | None = None
    momentum: float | None = None
    batch_size: int | None = None
    schedule: str | None = None
    dtype: str | None = None
    fit_intercept: bool | None = None  # False: no bias (b reported as 0)
    delta: float | None = None
    epochs_run: int | None = None
    theta_error: float | None = None
    statistical_error: float | None = None
    optimum_loss: float | None = None
    r2_train: float | None = None
    time_per_epoch_s: float | None = None
    final_grad_norm: float | None = None
    job_s: float | None = None
    data_digest: str | None = None
    run_folder: str | None = None
    theta_true: list[float] | None = field(default=None, metadata={"column": False})

    # --- columns and metrics -------------------------------------------------------------------
    def row(self) -> dict[str, Any]:
        """The record as one table row: column name -> value, ``weights`` spread out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if not f.metadata.get("column", True):
                continue
            value = getattr(self, f.name)
            if f.name == "weights":
                out.update({f"w_{j}": w for j, w in enumerate(value)})
            else:
                out[f.name] = value
        return out

    def metrics(self) -> dict[str, float]:
        """The numbers MLflow records as the run's final metrics: the numeric columns that are
        outcomes (settings such as lr are params), finite values only, each under its
        :func:`metric_name` (``final/w_0``, ``error/weight_error``, ``time/wall_s``)."""
        return {
            metric_name(k): float(v)
            for k, v in self.row().items()
            if k not in SETTINGS
            and isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
        }

    @property
    def finished(self) -> bool:
        return self.status in ("ok", "diverged")

    # --- files ---------------------------------------------------------------------------------
    def write(self, folder: Path) -> Path:
        return write_atomic(Path(folder) / RESULT, json.dumps(jsonable(asdict(self)), indent=2))

    @classmethod
    def read(cls, folder: Path) -> RunRecord:
        data = json.loads((Path(folder) / RESULT).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


SETTINGS = ("lr", "epochs", "momentum", "batch_size", "delta")
TEXT = (  # the columns that are not numbers
    *("run_name", "backend", "device", "loss", "status", "mlflow_run_id", "reused_from"),
    *("reason", "schedule", "dtype", "fit_intercept", "data_digest", "run_folder"),
)


# --- MLflow's names: its UI sections the charts of a run by the part of a name before "/" -------
EPOCH = "epoch/"  # the per-epoch series (line charts): epoch/loss, epoch/bias, epoch/w_0 ...
ERRORS = ("bias_error", "weight_error", "theta_error", "optimum_distance", "statistical_error")
TIMES = ("wall_s", "time_per_epoch_s", "job_s")


def metric_name(column: str) -> str:
    """A numeric column's MLflow metric: how far from the truth or the optimum under ``error/``,
    seconds under ``time/``, every other outcome (θ, losses, R², epochs) under ``final/``."""
    kind = "error" if column in ERRORS else "time" if column in TIMES else "final"
    return f"{kind}/{column.removeprefix('final_')}"  # final/grad_norm, not final/final_…


def series_name(key: str) -> str:
    """A per-epoch series' MLflow metric: ``loss`` -> ``epoch/loss``."""
    return EPOCH + key


def sweep_metrics(tally: dict[str, int]) -> dict[str, int]:
    """A sweep's counts (:func:`counts`) as its parent run's metrics: ``sweep/ok`` ..."""
    return {f"sweep/{status}": n for status, n in tally.items()}


def columns(m: int) -> list[str]:
    """The summary columns of a sweep whose widest model has ``m`` weights."""
    out = []
    for f in fields(RunRecord):
        if f.name == "weights":
            out += [f"w_{j}" for j in range(m)]
        elif f.metadata.get("column", True):
            out.append(f.name)
    return out


# the record's numbers (w_0 for the weights): what an optimising sweeper can minimise
NUMERIC = tuple(c for c in columns(1) if c not in TEXT)


def frame(records: list[RunRecord]):
    """One row per run, the columns in the record's order."""
    import pandas as pd  # pandas: only where a table is built

    m = max((len(r.weights) for r in records), default=1)
    df = pd.DataFrame([r.row() for r in records], columns=columns(m))
    df["converged_epoch"] = df["converged_epoch"].astype("Int64")
    return df


def error_key(df) -> str:
    """What "best" means: closest to the true parameters, or to the optimum where the data has
    no truth (a CSV)."""
    return "weight_error" if df["weight_error"].notna().any() else "optimum_distance"


BEST = (
    "closest to the optimum of its own loss (‖θ − θ*‖), every run that reached it (converged_epoch "
    "set: within √ε of its dtype) tied, then the one that reached it in the fewest epochs, then "
    "the fastest (wall_s)"
)


def best_runs(df, by: list[str]):
    """Per group of ``by``, the best ok run (:data:`BEST`): what the user asked of training is
    the optimum of the loss they chose; among runs that all reached it, the one that got there in
    the fewest epochs (the same in every repetition of a sweep, where wall_s differs by
    microseconds).  (The distance to the true parameters mostly measures the data's noise, the
    same for every run.)"""
    ok = df[(df["status"] == "ok") & df["optimum_distance"].notna()]
    if ok.empty:
        return ok
    reached = ok["converged_epoch"].notna()  # below √ε rounding, not training, decides
    ranked = ok.assign(
        _distance=ok["optimum_distance"].where(~reached, 0.0),
        _reached=ok["converged_epoch"].astype("Float64").fillna(math.inf),
        _time=ok["wall_s"].fillna(math.inf),
    ).sort_values(["_distance", "_reached", "_time", "run_name"], kind="stable")
    best = ranked.groupby(by, dropna=False, sort=False).head(1)
    return best.drop(columns=["_distance", "_reached", "_time"]).sort_values(by)


def counts(records: list[RunRecord]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for r in records:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Write a file whole or not at all: a reader never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(content, bytes):
        tmp.write_bytes(content)
    else:
        tmp.write_text(content if content.endswith("\n") else content + "\n")
    os.replace(tmp, path)
    return path


def jsonable(obj):
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
