"""The DVC ``evaluate`` stage: every run of runs/ against the truth, the optimum and each other.

    python -m linreg.evaluate [runs] [data] [results]

Writes ``results/summary.csv`` (one row per run), ``results/metrics.json`` (DVC metrics: counts,
the best run per loss, how closely the backends agree, the walkthrough's reference runs), the
plot data ``results/plots/errors.csv``, the figures ``results/figures/*.png`` declared under
``plots:`` in dvc.yaml and the report ``results/report.md`` / ``report.html``, and attaches them
to the sweep's MLflow parent run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import report
from .core.datafiles import META, load_dataset, write_json_atomic
from .params import DATA_DIR, RUNS_DIR
from .summary import frame, sweep_figures, write_csv

RESULTS_DIR = "results"


class EvaluateError(Exception):
    """runs/ cannot be evaluated; ``str()`` is the one line to print."""


def metrics(df) -> dict:
    counts = df["status"].value_counts().to_dict()
    out: dict = {
        "runs": len(df),
        **{k: int(counts.get(k, 0)) for k in ("ok", "diverged", "skipped", "failed")},
    }
    out["backend_agreement"] = report.backend_agreement(df)
    ok = df[df["status"] == "ok"]
    best = {}
    key = "weight_error" if ok["weight_error"].notna().any() else "optimum_distance"
    for loss, group in ok.groupby("loss"):
        row = group.loc[group[key].astype(float).idxmin()]
        best[loss] = {
            "run": row["run_name"],
            key: float(row[key]),
            "optimum_distance": float(row["optimum_distance"]),
        }
    out["best"] = best
    ref = ok[(ok["backend"] == "torch") & (ok["loss"] == "mse") & (ok["lr"] == 0.01)]
    out["walkthrough"] = {
        f"epochs_{int(r['epochs'])}": {
            "weight": round(float(r["w_0"]), 4),
            "bias": round(float(r["bias"]), 4),
        }
        for _, r in ref.iterrows()
        if "w_0" in r
    }
    return out


def build(runs_dir: str = RUNS_DIR, data_dir: str = DATA_DIR, out: str = RESULTS_DIR) -> dict:
    from .sweep import read_results

    runs, data, results_dir = Path(runs_dir), Path(data_dir), Path(out)
    if not (runs / "sweep.json").is_file():
        raise EvaluateError(f"runs folder must hold sweep.json (run the train stage), got {runs}")
    manifest, results = read_results(runs)
    digest = json.loads((data / META).read_text())["digest"] if (data / META).is_file() else None
    stale = [
        r["run_name"]
        for r in results
        if r.get("data_digest") and digest and r["data_digest"] != digest
    ]
    if stale:
        raise EvaluateError(
            f"runs must be trained on the data in {data}/, got {len(stale)} run(s) "
            f"trained on other data (first: {stale[0]}); rerun the train stage"
        )
    df = frame(results)
    write_csv(df, results_dir / "summary.csv")
    m = metrics(df)
    write_json_atomic(results_dir / "metrics.json", m)
    plots = results_dir / "plots"
    errors = df[df["status"] == "ok"][
        ["run_name", "weight_error", "optimum_distance", "train_loss"]
    ]
    write_csv(errors, plots / "errors.csv")
    figures = sweep_figures(runs, results, results_dir / "figures", load_dataset(data))
    report.write(df, figures, results_dir, f"linreg · {manifest['sweep_name']}")
    _attach(manifest, results_dir)
    return m


def _attach(manifest: dict, results_dir: Path) -> None:
    """The evaluation joins the sweep's parent run in MLflow."""
    from .tracking import open_store

    store = open_store(manifest["tracking_uri"], manifest["experiment"])
    parent = manifest["parent_run_id"]
    for name in ("summary.csv", "metrics.json", "report.md", "report.html"):
        store.log_artifact(parent, results_dir / name, "evaluation")
    store.log_artifacts(parent, results_dir / "figures", "evaluation/figures")
    flat = {
        k: v
        for k, v in json.loads((results_dir / "metrics.json").read_text()).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    store.log_metrics(parent, {f"eval_{k}": v for k, v in flat.items()})


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        m = build(*argv[:3])
    except EvaluateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"evaluate: {m['runs']} runs: {m['ok']} ok, {m['diverged']} diverged, "
        f"{m['skipped']} skipped, {m['failed']} failed; backends agree to "
        f"{m['backend_agreement'] if m['backend_agreement'] is not None else 'n/a'}; "
        f"walkthrough {m['walkthrough']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
