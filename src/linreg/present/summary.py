"""A sweep's records as one table (``summary.csv``) and the terminal's view of it."""

from __future__ import annotations

from pathlib import Path

from linreg.run.record import RunRecord, frame, write_atomic

CONSOLE = ["status", "bias", "w_0", "w_1", "w_2", "weight_error", "optimum_distance", "wall_s"]


# a run's numbers, in the order describe() lists them
DESCRIBED = (
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
)


def write(records: list[RunRecord], folder: Path) -> Path:
    """``summary.csv`` in ``folder``: one row per run, the columns of the run's record."""
    return write_csv(frame(records), Path(folder) / "summary.csv")


def write_csv(df, path: Path) -> Path:
    return write_atomic(path, df.to_csv(index=False))


def console_table(records: list[RunRecord]) -> str:
    """The summary as the terminal shows it: the run's name, then a few rounded columns."""
    df = frame(records)
    cols = ["run_name", *[c for c in CONSOLE if c in df.columns]]
    view = df[cols].astype(object)
    view["run_name"] = view["run_name"].map(lambda n: n if len(n) <= 90 else n[:44] + "…" + n[-45:])
    for c in cols[2:]:
        view[c] = view[c].map(lambda v: "" if v is None or v != v else f"{v:.4g}")
    return view.to_string(index=False)


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
    for key in DESCRIBED:
        v = row[key]
        shown = "n/a" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
        lines.append(f"  {key:<18s}{shown}")
    return "\n".join(lines)
