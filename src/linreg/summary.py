"""A sweep's results as one table, its comparison figures and the terminal's view of them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

LEAD = ["run_name", "backend", "device", "loss", "lr", "epochs", "status"]
ERRORS = [
    "bias_error",
    "weight_error",
    "optimum_distance",
    "train_loss",
    "test_mse",
    "r2_test",
    "converged_epoch",
    "wall_s",
    "mlflow_run_id",
]
MORE = [
    "reason",
    "momentum",
    "batch_size",
    "schedule",
    "dtype",
    "epochs_run",
    "theta_error",
    "statistical_error",
    "optimum_loss",
    "r2_train",
    "time_per_epoch_s",
    "job_s",
    "data_digest",
    "run_folder",
]


def frame(results: list[dict]):
    """One row per run: the named columns first, then bias, w_0 ... w_{m-1}, then the rest."""
    import pandas as pd

    df = pd.DataFrame(results)
    weights = sorted(
        (c for c in df.columns if c.startswith("w_") and c[2:].isdigit()), key=lambda c: int(c[2:])
    )
    cols = [*LEAD, "bias", *weights, *ERRORS, *MORE]
    for c in cols:
        if c not in df.columns:
            df[c] = None
    df["converged_epoch"] = df["converged_epoch"].astype("Int64")
    return df[cols]


def write_csv(df, path: Path) -> Path:
    """Atomically: a reader never sees half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def console_table(df) -> str:
    cols = [
        "run_name",
        "status",
        "bias",
        *[c for c in df.columns if c.startswith("w_")][:3],
        "weight_error",
        "optimum_distance",
        "converged_epoch",
        "wall_s",
    ]
    view = df[cols].copy()
    for c in cols[2:]:
        if c != "converged_epoch":
            view[c] = view[c].map(lambda v: "" if v is None or v != v else f"{v:.4g}")
    view["converged_epoch"] = (
        view["converged_epoch"].astype(object).where(view["converged_epoch"].notna(), "")
    )
    return view.to_string(index=False)


def load_trajectories(sweep_dir: Path, results: list[dict]) -> list[dict]:
    """Each finished run's result with its trajectory table attached (None if it has none)."""
    import pandas as pd

    runs = []
    for r in results:
        path = sweep_dir / r.get("run_folder", "") / "trajectory.csv"
        traj = pd.read_csv(path) if r["status"] in ("ok", "diverged") and path.is_file() else None
        runs.append({**r, "trajectory": traj})
    return runs


def sweep_figures(sweep_dir: Path, results: list[dict], out_dir: Path, data=None) -> list[Path]:
    """The comparison figures of a sweep: every run's loss curve, the parameter evolution per lr
    (one feature), and, given the sweep's one dataset, the loss landscape with the runs' paths,
    the lr × epochs error heatmap and the outliers figure (see linreg.insight)."""
    from . import figures, insight

    runs = [r for r in load_trajectories(sweep_dir, results) if r["trajectory"] is not None]
    if not runs:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    made = [figures.sweep_loss_curves(out_dir / "loss_curves.png", runs)]
    if "w_0" in runs[0]["trajectory"].columns and "w_1" not in runs[0]["trajectory"].columns:
        made.append(figures.param_evolution(out_dir / "param_evolution.png", runs, _truth(runs[0])))
    made.append(insight.error_heatmap(out_dir / "error_heatmap.png", results))
    if data is not None:
        made.append(insight.loss_landscape(out_dir / "loss_landscape.png", runs, data))
        made.append(insight.outliers(out_dir / "outliers.png", runs, data))
    return [p for p in made if p is not None]


def _truth(run: dict) -> np.ndarray | None:
    truth = run.get("theta_true")
    return None if truth is None else np.asarray(truth, dtype=np.float64)


def describe(result: dict) -> str:
    """A single run's learned parameters and evaluation, for the terminal."""
    ws = [
        result[k]
        for k in sorted(
            (k for k in result if k.startswith("w_") and k[2:].isdigit()), key=lambda k: int(k[2:])
        )
    ]
    lines = [
        f"{result['run_name']}: {result['status']}"
        + (f" ({result['reason']})" if result.get("reason") else "")
    ]
    if "bias" not in result:
        return lines[0]
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
    lines.append(
        f"  learned   bias={fmt(result['bias'])}  weights=[" + ", ".join(fmt(w) for w in ws) + "]"
    )
    if result.get("theta_true"):
        t = result["theta_true"]
        lines.append(f"  true      bias={fmt(t[0])}  weights=[" + ", ".join(map(fmt, t[1:])) + "]")
    for key in (
        "bias_error",
        "weight_error",
        "optimum_distance",
        "statistical_error",
        "train_loss",
        "optimum_loss",
        "test_mse",
        "r2_train",
        "r2_test",
        "converged_epoch",
        "epochs_run",
        "wall_s",
    ):
        v = result.get(key)
        shown = "n/a" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
        lines.append(f"  {key:<18s}{shown}")
    return "\n".join(lines)
