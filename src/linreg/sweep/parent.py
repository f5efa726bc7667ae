"""A sweep's parent MLflow run: opened before the first job, summed up and closed after the last.

:func:`open_sweep` (called by the Hydra callback in the process that launches the sweep, before
any job) opens the parent run and writes the sweep's manifest, ``sweep.json``, in the sweep
folder; every job reads its parent run from there, whatever the launcher.  :func:`close` sums the
runs up (the summary table, the counts, the description, the best run per loss registered as a
model: :mod:`linreg.tracking.registry`, where to look) and ends the parent run; the command's
:class:`~linreg.sweep.state.Sweep` calls it once, after the sweep, or after an interrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from linreg.config.data import load_data
from linreg.config.paths import resolve_uri
from linreg.config.typed import run_config
from linreg.present import summary
from linreg.run import signals
from linreg.run.record import MANIFEST, RESULT, counts, sweep_metrics, write_atomic
from linreg.sweep.folder import read_manifest, records
from linreg.sweep.orphans import end_dead_children, reap_orphans
from linreg.tracking.describe import NOTE, dvc_experiment, source_tags, sweep_note
from linreg.tracking.redact import redact, unredact
from linreg.tracking.registry import register_best
from linreg.tracking.run import process_tags
from linreg.tracking.store import open_store

IN_EVERY_NAME = ("backend", "loss", "train.lr", "train.epochs", "device")  # run/names.py
log = logging.getLogger("linreg")


def swept(config: DictConfig) -> tuple[list[str], int | None]:
    """The keys a sweep varies (command line and ``hydra.sweeper.params``) and its number of
    runs (None when a sweeper chooses them as it goes, as Optuna does)."""
    lines = list(config.hydra.overrides.task)
    grid = OmegaConf.select(config, "hydra.sweeper.params") or {}
    lines += [f"{k}={v}" for k, v in grid.items()]
    keys, n = [], 1
    for o in OverridesParser.create().parse_overrides(lines):
        if not o.is_sweep_override():
            continue
        keys.append(o.key_or_group)
        try:
            n *= len(list(o.sweep_iterator()))
        except Exception:  # interval(), tag(): a search, not a grid
            n = None if n is None else 0
    return keys, (n or None)


def open_sweep(config: DictConfig, stage: str | None, resuming: bool) -> Path:
    """Open the parent run and write the manifest (``resuming``, a pass of a resumed sweep: the
    parent run is open, and the runs its dead workers left RUNNING are ended); returns the sweep
    folder.  ``stage``: the DVC stage the command runs as (its manifest says so)."""
    sweep_dir = Path(config.hydra.sweep.dir)
    if resuming:
        manifest = read_manifest(sweep_dir)
        reap_orphans(open_store(unredact(manifest["tracking_uri"]), manifest["experiment"]))
        return sweep_dir
    sweep_dir.mkdir(parents=True, exist_ok=True)
    for stale in sweep_dir.glob(f"*/{RESULT}"):
        stale.unlink()  # a result from an earlier sweep must never pass for this one's
    store = open_store(resolve_uri(config.tracking.uri), config.tracking.experiment)
    reap_orphans(store)
    # a signal waits until the parent run is open and written down: close() then ends it KILLED
    with signals.deferred():
        manifest = _manifest(config, sweep_dir, stage)
        manifest["parent_run_id"] = _start_parent(store, config, sweep_dir, manifest)
        manifest["tracking_uri"] = redact(store.uri)
        write_atomic(sweep_dir / MANIFEST, json.dumps(_in_order(manifest), indent=2))
    return sweep_dir


MANIFEST_ORDER = (
    "sweep_name",
    "parent_run_id",
    "tracking_uri",
    "experiment",
    "overrides",
    "vary",
    "n_runs",
    "started",
    "stage",
    "log_models",
    "closed",
)


def _in_order(manifest: dict) -> dict:
    return {k: manifest[k] for k in MANIFEST_ORDER}


def _manifest(config: DictConfig, sweep_dir: Path, stage: str | None) -> dict:
    """What every job and the sweep's end read: the sweep's name, what it varies, its size."""
    keys, n_runs = swept(config)
    dvc = os.environ.get("DVC_ROOT")  # set by DVC for the stage it runs
    return {
        "sweep_name": f"dvc · {dvc_experiment() or 'repro'}" if dvc else sweep_dir.name,
        "experiment": config.tracking.experiment,
        "overrides": list(config.hydra.overrides.task),
        "vary": [k for k in keys if k not in IN_EVERY_NAME and not k.startswith("hydra")],
        "n_runs": n_runs,
        "started": time.time(),
        "stage": stage,
        "log_models": config.tracking.log_models,
        "closed": False,
    }


def _start_parent(store, config: DictConfig, sweep_dir: Path, manifest: dict) -> str:
    """The sweep's parent MLflow run, with its tags and params; its id."""
    name, n_runs = manifest["sweep_name"], manifest["n_runs"]
    tags = {
        "kind": "sweep",
        **source_tags(),
        "sweep_dir": str(sweep_dir.resolve()),
        "status": "running",
        **process_tags(),
    }
    parent = store.start_run(f"{name} · {n_runs} runs" if n_runs else f"{name} · search", tags=tags)
    overrides = manifest["overrides"]
    store.log(parent, params={"overrides": " ".join(overrides) or "(none)", "n_runs": n_runs})
    return parent


def _data(sweep_dir: Path, recs):
    """The sweep's dataset when all its runs share one (for the landscape and outliers
    figures), read as its first run read it; None otherwise."""
    digests = {r.data_digest for r in recs if r.data_digest}
    if len(digests) != 1:
        return None
    first = next(r for r in recs if r.data_digest)
    try:
        return load_data(
            run_config(OmegaConf.load(sweep_dir / first.run_folder / ".hydra" / "config.yaml"))
        )
    except Exception:  # a figure less, never a failed summary
        return None


def close(sweep_dir: Path, interrupted: str | None = None) -> int:
    """Sum the sweep up into its folder and its parent run; the exit status (1 if a run failed
    or the sweep could not be recorded).  ``interrupted`` (a signal's name): the sweep was
    stopped; what finished is summed up and the parent run ended KILLED.  Called once, by the
    command's :class:`~linreg.sweep.state.Sweep`."""
    sweep_dir = Path(sweep_dir)
    try:
        manifest = read_manifest(sweep_dir)
    except (OSError, ValueError):
        log.error("error: the sweep's parent run was not opened (no %s in %s)", MANIFEST, sweep_dir)
        return 1
    recs = records(sweep_dir, manifest)
    c = counts(recs)
    files = _summary_files(sweep_dir, manifest, recs)
    models = _record_parent(sweep_dir, manifest, recs, files, interrupted)
    print(summary.console_table(recs))
    print(_closing_lines(sweep_dir, manifest, recs, interrupted, models), flush=True)
    best = sweep_dir / "optimization_results.yaml"  # an optimising sweeper's answer (Optuna)
    if best.is_file():
        print(_best_line(best))
    return 1 if c["failed"] else 0


def _summary_files(sweep_dir: Path, manifest: dict, recs: list) -> list[Path]:
    """summary.csv, and the sweep's figures and report unless the evaluate stage draws them."""
    files = [summary.write(recs, sweep_dir)]
    if manifest.get("stage") != "train":  # the evaluate stage draws the pipeline's figures
        from linreg.report import write_sweep_report  # matplotlib: only where a sweep draws

        files += write_sweep_report(recs, sweep_dir, _data(sweep_dir, recs))
    return files


def _record_parent(sweep_dir: Path, manifest: dict, recs, files, interrupted) -> list[str]:
    """The parent run's artifacts, counts, description and models; then it ends (whatever
    happens), and the manifest says the sweep is closed.  The models registered."""
    store = open_store(unredact(manifest["tracking_uri"]), manifest["experiment"])
    parent, c = manifest["parent_run_id"], counts(recs)
    status = "interrupted" if interrupted else "failed" if c["failed"] else "ok"
    models: list[str] = []
    try:
        end_dead_children(store, parent)
        for path in files:
            store.log_artifact(parent, path, None if path.suffix == ".csv" else "figures")
        store.log(parent, metrics=sweep_metrics(c), tags={"status": status, NOTE: sweep_note(recs)})
        if manifest.get("log_models", "best") != "none" and not interrupted:
            models = register_best(store, sweep_dir, manifest, recs)
        store.client.update_run(parent, name=f"{manifest['sweep_name']} · {len(recs)} runs")
    finally:
        store.end_run(parent, {"interrupted": "KILLED", "failed": "FAILED"}.get(status, "FINISHED"))
        manifest["closed"] = True
        write_atomic(sweep_dir / MANIFEST, json.dumps(manifest, indent=2))
    return models


def _closing_lines(sweep_dir: Path, manifest: dict, recs, interrupted, models) -> str:
    """The sweep's last lines: its counts, and where its runs, MLflow run and models are."""
    tally = ", ".join(f"{v} {k}" for k, v in counts(recs).items())
    stopped = f" (interrupted by {interrupted})" if interrupted else ""
    lines = [
        f"{manifest['sweep_name']}: {len(recs)} runs{stopped}: {tally}",
        f"  runs:    {sweep_dir}/ (summary.csv, one folder per run)",
        f"  mlflow:  parent run {manifest['parent_run_id']} in experiment "
        f"{manifest['experiment']!r} at {manifest['tracking_uri']} (make ui)",
    ]
    if models:
        lines.append(f"  models:  {', '.join(models)} (models:/<name>/latest)")
    return "\n".join(lines)


def _best_line(best: Path) -> str:
    """An optimising sweeper's answer (Optuna's optimization_results.yaml) in one line."""
    found = OmegaConf.load(best)
    params = found.get("best_params", {}).items()
    chosen = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params)
    value = found.get("best_value")
    shown = f"{value:.4g}" if isinstance(value, float) else value
    return f"  best:    {chosen} -> {shown} (the objective; {best.name})"
