"""A sweep's records as one table, its comparison figures and the terminal's view of them."""

from __future__ import annotations

from pathlib import Path

from ..record import RunRecord, frame, write_atomic

CONSOLE = ["status", "bias", "w_0", "w_1", "w_2", "weight_error", "optimum_distance", "wall_s"]


def write(records: list[RunRecord], folder: Path, figures: bool = True, data=None) -> list[Path]:
    """``summary.csv`` (one row per run) and, with ``figures``, the comparison figures in
    ``folder``; returns the files written."""
    written = [write_csv(frame(records), Path(folder) / "summary.csv")]
    if figures:
        written += sweep_figures(Path(folder), records, Path(folder), data)
    return written


def write_csv(df, path: Path) -> Path:
    return write_atomic(path, df.to_csv(index=False))


def console_table(records: list[RunRecord]) -> str:
    """The summary as the terminal shows it: the run's name, then a few rounded columns."""
    df = frame(records)
    cols = ["run_name", *[c for c in CONSOLE if c in df.columns]]
    view = df[cols].astype(object)
    for c in cols[2:]:
        view[c] = view[c].map(lambda v: "" if v is None or v != v else f"{v:.4g}")
    return view.to_string(index=False)


def load_trajectories(folder: Path, records: list[RunRecord]) -> list[dict]:
    """Each record as a dict with its trajectory table attached (None where it has none)."""
    import pandas as pd

    runs = []
    for r in records:
        path = Path(folder) / (r.run_folder or "") / "trajectory.csv"
        traj = pd.read_csv(path) if r.finished and path.is_file() else None
        runs.append({**r.row(), "theta_true": r.theta_true, "trajectory": traj})
    return runs


def sweep_figures(folder: Path, records: list[RunRecord], out_dir: Path, data=None) -> list[Path]:
    """The comparison figures of a sweep: every run's loss curve, the parameter evolution per lr
    (one feature), the lr × epochs error heatmap, and, given the sweep's one dataset, the loss
    landscape with the runs' paths and the outliers figure (see :mod:`.insight`)."""
    import numpy as np

    from . import insight

    everything = load_trajectories(folder, records)
    runs = [r for r in everything if r["trajectory"] is not None]
    if not runs:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    made = [insight.sweep_loss_curves(out_dir / "loss_curves.png", runs)]
    columns = runs[0]["trajectory"].columns
    if "w_0" in columns and "w_1" not in columns:
        truth = runs[0]["theta_true"]
        truth = None if truth is None else np.asarray(truth, dtype=np.float64)
        made.append(insight.param_evolution(out_dir / "param_evolution.png", runs, truth))
    made.append(insight.error_heatmap(out_dir / "error_heatmap.png", everything))
    if data is not None:
        made.append(insight.loss_landscape(out_dir / "loss_landscape.png", runs, data))
        made.append(insight.outliers(out_dir / "outliers.png", runs, data))
    return [p for p in made if p is not None]


def describe(r: RunRecord) -> str:
    """A single run's learned parameters and evaluation, for the terminal."""
    head = f"{r.run_name}: {r.status}" + (f" ({r.reason})" if r.reason else "")
    if r.bias is None:
        return head
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
    lines = [head, f"  learned   bias={fmt(r.bias)}  weights=[{', '.join(map(fmt, r.weights))}]"]
    if r.theta_true:
        t = r.theta_true
        lines.append(f"  true      bias={fmt(t[0])}  weights=[{', '.join(map(fmt, t[1:]))}]")
    row = r.row()
    for key in ("bias_error", "weight_error", "optimum_distance", "statistical_error",
                "train_loss", "optimum_loss", "test_mse", "r2_train", "r2_test",
                "converged_epoch", "epochs_run", "wall_s"):  # fmt: skip
        v = row[key]
        shown = "n/a" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
        lines.append(f"  {key:<18s}{shown}")
    return "\n".join(lines)
