"""The DVC ``evaluate`` stage: every run of runs/ against the truth, the optimum and each other.

    python -m linreg.evaluate [runs] [data] [results]

Writes ``results/summary.csv`` (one row per run), ``results/metrics.json`` (DVC metrics: runs per
status, the best run per loss, how closely the backends agree, the walkthrough's reference runs),
the plot data ``results/plots/`` (errors per run, every run's loss per epoch), the figures
``results/figures/*.png`` and the report ``results/report.md`` / ``report.html``, and attaches
them to the sweep's MLflow parent run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from linreg.config.paths import DATA_DIR, RESULTS_DIR, RUNS_DIR
from linreg.config.typed import naming
from linreg.config.writable import check_folder
from linreg.core.data import DataSpec
from linreg.core.datafiles import load_dataset
from linreg.core.errors import UsageError
from linreg.present.findings import backend_agreement
from linreg.present.summary import write_csv
from linreg.report import report
from linreg.report.comparison import load_trajectories, sweep_figures
from linreg.run.record import MANIFEST, best_runs, error_key, frame, write_atomic
from linreg.sweep.folder import read_manifest, records
from linreg.tracking.redact import unredact
from linreg.tracking.store import open_store


def metrics(df, walkthrough_data: bool = False) -> dict:
    """What ``dvc metrics show`` and ``dvc exp show`` list: numbers that read well."""
    counts = df["status"].value_counts().to_dict()
    out: dict = {
        "n_runs": len(df),
        **{f"n_{k}": int(counts.get(k, 0)) for k in ("ok", "diverged", "skipped", "failed")},
        "backend_agreement": _rounded(backend_agreement(df)),
    }
    best = best_runs(df, ["loss"])
    if len(best):
        key = error_key(best)
        out[f"best_{key}"] = {r["loss"]: _rounded(r[key]) for _, r in best.iterrows()}
        out["best_run"] = {r["loss"]: r["run_name"] for _, r in best.iterrows()}
    ref = walkthrough_runs(df)
    if walkthrough_data and "w_0" in ref.columns and len(ref):
        out["walkthrough"] = {
            f"epochs_{int(r['epochs'])}": {
                "weight": round(float(r["w_0"]), 4),
                "bias": round(float(r["bias"]), 4),
            }
            for _, r in ref.iterrows()
        }
    return out


def walkthrough_runs(df):
    """The walkthrough's own runs among those that finished: torch, mse, lr 0.01, plain
    full-batch descent in float32."""
    ok = df[df["status"] == "ok"]
    return ok[
        (ok["backend"] == "torch")
        & (ok["loss"] == "mse")
        & (ok["lr"] == 0.01)
        & (ok["momentum"] == 0)
        & (ok["schedule"] == "constant")
        & ok["batch_size"].isna()
        & (ok["dtype"] == "float32")
    ]


def _rounded(x: float | None) -> float | None:
    return None if x is None else float(f"{float(x):.4g}")


def is_walkthrough(meta: dict) -> bool:
    """Whether the data is the walkthrough's own (the core's default spec)."""
    return meta.get("spec") == {"kind": "synthetic", **json.loads(json.dumps(DataSpec().to_dict()))}


def build(runs_dir: str = RUNS_DIR, data_dir: str = DATA_DIR, out: str = RESULTS_DIR) -> dict:
    """Read and check everything first (runs/, data/, every run's trajectory, results/'s place),
    then write results/ from a scratch folder beside it, each output moved into place whole: bad
    input leaves results/ as it was."""
    runs, data_path, results_dir = Path(runs_dir), Path(data_dir), Path(out)
    manifest, recs = read_runs(runs)
    with naming("data."):  # missing, corrupt, not JSON: the core names dir, the user data.dir
        data = load_dataset(data_path)
    stale = [r.run_name for r in recs if r.data_digest and r.data_digest != data.digest]
    if stale:
        raise UsageError(
            f"runs must be trained on the data in {data_path}/, got {len(stale)} run(s) "
            f"trained on other data (first: {stale[0]}); rerun the train stage"
        )
    trajectories = read_trajectories(runs, recs)
    check_results_place(results_dir)
    df = frame(recs)
    m = metrics(df, is_walkthrough({"spec": data.spec}))
    results_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=results_dir.parent, prefix=".evaluate-") as tmp:
        scratch = Path(tmp)
        write_csv(df, scratch / "summary.csv")
        write_atomic(scratch / "metrics.json", json.dumps(m, indent=2, ensure_ascii=False))
        plots = scratch / "plots"
        ok = df[df["status"] == "ok"]
        write_csv(
            ok[["run_name", "weight_error", "optimum_distance", "train_loss"]],
            plots / "errors.csv",
        )
        write_loss_curves(trajectories, plots / "loss.csv")
        figures = sweep_figures(runs, recs, scratch / "figures", data, loaded=trajectories)
        (scratch / "figures").mkdir(parents=True, exist_ok=True)  # a DVC output, even if empty
        title = f"linreg · {manifest['sweep_name']}"
        report.write(df, figures, scratch, title, runs=trajectories, X=data.X)
        results_dir.mkdir(exist_ok=True)
        for entry in sorted(scratch.iterdir()):
            _replace(entry, results_dir / entry.name)
    _attach(manifest, results_dir, m)
    return m


MANIFEST_KEYS = ("sweep_name", "parent_run_id", "tracking_uri", "experiment")


def read_runs(runs: Path) -> tuple[dict, list]:
    """The sweep's manifest and its runs' records, checked."""
    if not (runs / MANIFEST).is_file():
        raise UsageError(f"runs folder must hold {MANIFEST} (run the train stage), got {runs}")
    try:
        manifest = read_manifest(runs)
    except (OSError, ValueError) as exc:  # ValueError: JSON's and UTF-8's errors
        raise UsageError(
            f"{runs / MANIFEST} must be the sweep's JSON manifest (rerun the train stage), "
            f"got {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    missing = [k for k in MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise UsageError(
            f"{runs / MANIFEST} must hold {', '.join(MANIFEST_KEYS)} (rerun the train stage), "
            f"got no {missing[0]}"
        )
    return manifest, records(runs, manifest)


def read_trajectories(runs: Path, recs) -> list[dict]:
    """Each record with its trajectory table (None where it has none); a run folder whose
    trajectory.parquet cannot be read is named."""
    out = []
    for rec in recs:
        try:
            out.extend(load_trajectories(runs, [rec]))
        except Exception as exc:  # pandas' parser errors, a bad encoding, an unreadable file
            where = runs / (rec.run_folder or "") / "trajectory.parquet"
            raise UsageError(
                f"{where} must be a readable trajectory table (rerun the train stage), got "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
    return out


def check_results_place(results_dir: Path) -> None:
    if results_dir.exists() and not results_dir.is_dir():
        raise UsageError(f"results must be a folder, got {str(results_dir)!r} (a file)")
    check_folder("results", str(results_dir))


def _replace(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` in one rename (a folder replaces the old one)."""
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst)
    os.replace(src, dst)


PLOT_POINTS = 200  # per run in the DVC plot: a chart's shape, not every epoch (runs/ has those)


def write_loss_curves(trajectories: list[dict], path: Path) -> None:
    """Every finished run's loss per epoch in one long table (run, epoch, loss): ``dvc plots
    show`` overlays them (.dvc/plots/loss_by_run.json), ``dvc plots diff`` compares them across
    experiments.  A long run keeps about PLOT_POINTS epochs, evenly spaced on a log scale of the
    epoch (where the loss moves), its first and last among them.  ``trajectories``: as
    :func:`read_trajectories` returns them."""
    import pandas as pd  # pandas: only when writing the plot data

    parts = []
    for r in trajectories:
        t = r["trajectory"]
        if t is None:
            continue
        if len(t) > PLOT_POINTS:
            keep = np.unique(np.geomspace(1, len(t), PLOT_POINTS).astype(int) - 1)
            t = t.iloc[np.union1d(keep, [0, len(t) - 1])]
        parts.append(t[["epoch", "loss"]].assign(run=r["run_name"])[["run", "epoch", "loss"]])
    table = pd.concat(parts) if parts else pd.DataFrame(columns=["run", "epoch", "loss"])
    write_csv(table, path)


def _attach(manifest: dict, results_dir: Path, m: dict) -> None:
    """The evaluation joins the sweep's parent run in MLflow."""
    store = open_store(unredact(manifest["tracking_uri"]), manifest["experiment"])
    parent = manifest["parent_run_id"]
    for name in ("summary.csv", "metrics.json", "report.md", "report.html"):
        store.log_artifact(parent, results_dir / name, "evaluation")
    store.log_artifacts(parent, results_dir / "figures", "evaluation/figures")
    flat = {k: v for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    store.log(parent, metrics={f"evaluate/{k}": v for k, v in flat.items()})  # its own section


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(argv) > 3:
            raise UsageError(f"arguments must be [runs] [data] [results], got {argv!r}")
        m = build(*argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    agree = m["backend_agreement"]
    print(
        f"evaluate: {m['n_runs']} runs: {m['n_ok']} ok, {m['n_diverged']} diverged, "
        f"{m['n_skipped']} skipped, {m['n_failed']} failed; backends agree to "
        f"{'n/a' if agree is None else f'{agree:.1e}'}"
    )
    for epochs, wb in m.get("walkthrough", {}).items():
        print(
            f"  walkthrough (torch · mse · lr=0.01, {epochs.replace('_', ' ')}): "
            f"weight={wb['weight']} bias={wb['bias']}"
        )
    out = argv[2] if len(argv) > 2 else RESULTS_DIR
    print(f"  results: {out}/report.html, summary.csv, metrics.json; the runs: make ui")
    return 0


if __name__ == "__main__":
    sys.exit(main())
