"""A sweep's parent MLflow run, opened and closed by a Hydra callback.

``on_multirun_start`` (in the process that launches the sweep, before any job) opens the parent
run and writes the sweep's manifest, ``sweep.json``, in the sweep folder; every job reads its
parent run from there, whatever the launcher.  ``on_multirun_end`` sums the runs up (the summary
table, the counts, the description, the best run per loss registered as a model: :mod:`.registry`,
where to look) and closes the parent run.  Hydra turns a callback's exception
into a warning, so :func:`close` is idempotent and ``linreg.train`` calls it again after the sweep
(and after an interrupted one) to learn the exit status.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from linreg.config.paths import resolve_uri
from linreg.run import signals
from linreg.run.record import MANIFEST, RESULT, counts, sweep_metrics, write_atomic
from linreg.sweep.folder import read_manifest, records
from linreg.tracking.describe import NOTE, dvc_experiment, source_tags, sweep_note
from linreg.tracking.redact import redact, unredact
from linreg.tracking.registry import register_best
from linreg.tracking.run import process_tags
from linreg.tracking.store import open_store

NAMED = {"backend", "loss", "train.lr", "train.epochs", "device"}  # always in a run's name
log = logging.getLogger("linreg")
OPENED: list[Path] = []  # the sweep folders opened in this process, for linreg.train
RESUMING: list[Path] = []  # a sweep launched again into its folder (linreg.sweep.resume)
NOT_OPENED: list[Exception] = []  # why on_multirun_start could not open a sweep
GONE = "**interrupted**: its process ended before the run did (a signal, a killed worker)."


def _end_gone(store, run_id: str) -> None:
    """A run whose process is gone: ended KILLED, saying so."""
    store.log(run_id, tags={"status": "interrupted", NOTE: GONE})
    store.end_run(run_id, "KILLED")


def end_dead_children(store, parent: str) -> None:
    """Children of ``parent`` still RUNNING once the sweep is over lost their process (a killed
    worker, a signal): end them KILLED, never leave them RUNNING."""
    for run in store.client.search_runs(
        [store.experiment_id],
        f"tags.mlflow.parentRunId = '{parent}' and attributes.status = 'RUNNING'",
    ):
        _end_gone(store, run.info.run_id)


def reap_orphans(store) -> int:
    """Runs of this store left RUNNING by a process of this machine that is gone (SIGKILL, the
    OOM killer, a power cut) are ended KILLED, with a one-line notice; the number of them."""
    host, ended = socket.gethostname(), 0
    for run in store.client.search_runs(
        [store.experiment_id], f"attributes.status = 'RUNNING' and tags.`linreg.host` = '{host}'"
    ):
        pid = int(run.data.tags.get("linreg.pid", "0") or 0)
        if pid and not _alive(pid):
            _end_gone(store, run.info.run_id)
            ended += 1
    if ended:
        log.warning(
            "note: ended %d run(s) KILLED that a process killed earlier left RUNNING", ended
        )
    return ended


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def swept(config: DictConfig) -> tuple[list[str], int | None]:
    """The keys a sweep varies (command line and ``hydra.sweeper.params``) and its number of
    runs (None when a sweeper chooses them as it goes, as Optuna does)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

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


def open_sweep(config: DictConfig) -> dict:
    """Open the parent run and write the manifest; returns it."""
    sweep_dir = Path(config.hydra.sweep.dir)
    if RESUMING and RESUMING[-1].resolve() == sweep_dir.resolve():  # its parent run is open
        manifest = read_manifest(sweep_dir)
        reap_orphans(open_store(unredact(manifest["tracking_uri"]), manifest["experiment"]))
        return manifest
    sweep_dir.mkdir(parents=True, exist_ok=True)
    for stale in sweep_dir.glob(f"*/{RESULT}"):
        stale.unlink()  # a result from an earlier sweep must never pass for this one's
    keys, n_runs = swept(config)
    name = f"dvc · {dvc_experiment() or 'repro'}" if os.environ.get("DVC_ROOT") else sweep_dir.name
    store = open_store(resolve_uri(config.tracking.uri), config.tracking.experiment)
    reap_orphans(store)
    # a signal waits until the parent run is open and written down: close() then ends it KILLED
    with signals.deferred():
        parent = store.start_run(
            f"{name} · {n_runs or 'search'} runs" if n_runs else f"{name} · search",
            tags={
                "kind": "sweep",
                **source_tags(),
                "sweep_dir": str(sweep_dir.resolve()),
                "status": "running",
                **process_tags(),
            },
        )
        overrides = list(config.hydra.overrides.task)
        store.log(parent, params={"overrides": " ".join(overrides) or "(none)", "n_runs": n_runs})
        manifest = {
            "sweep_name": name,
            "parent_run_id": parent,
            "tracking_uri": redact(store.uri),
            "experiment": config.tracking.experiment,
            "overrides": overrides,
            "vary": [k for k in keys if k not in NAMED and not k.startswith("hydra")],
            "n_runs": n_runs,
            "started": time.time(),
            "stage": os.environ.get("LINREG_STAGE"),
            "log_models": config.tracking.log_models,
            "closed": False,
        }
        write_atomic(sweep_dir / MANIFEST, json.dumps(manifest, indent=2))
        OPENED.append(sweep_dir)
    return manifest


def _data(sweep_dir: Path, recs):
    """The sweep's dataset when all its runs share one (for the landscape and outliers
    figures), read as its first run read it; None otherwise."""
    from linreg.config.data import load_data
    from linreg.config.typed import run_config

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
    """Sum the sweep up into its folder and its parent run, once; the exit status (1 if a run
    failed or the sweep could not be recorded).  ``interrupted`` (a signal's name): the sweep
    was stopped; what finished is summed up and the parent run ended KILLED."""
    from linreg.present import summary

    sweep_dir = Path(sweep_dir)
    try:
        manifest = read_manifest(sweep_dir)
    except (OSError, ValueError):
        log.error("error: the sweep's parent run was not opened (no %s in %s)", MANIFEST, sweep_dir)
        return 1
    recs = records(sweep_dir, manifest)
    c = counts(recs)
    if manifest.get("closed"):
        return 1 if c["failed"] else 0
    drawn = manifest.get("stage") != "train"  # the evaluate stage draws the pipeline's figures
    table = [summary.write(recs, sweep_dir)]
    if drawn:
        from linreg.report import write_sweep_report  # matplotlib: only where a sweep draws

        table += write_sweep_report(recs, sweep_dir, _data(sweep_dir, recs))
    store = open_store(unredact(manifest["tracking_uri"]), manifest["experiment"])
    parent = manifest["parent_run_id"]
    status = "interrupted" if interrupted else "failed" if c["failed"] else "ok"
    models: list[str] = []
    try:
        end_dead_children(store, parent)
        for path in table:
            store.log_artifact(parent, path, None if path.suffix == ".csv" else "figures")
        store.log(parent, metrics=sweep_metrics(c), tags={"status": status, NOTE: sweep_note(recs)})
        if manifest.get("log_models", "best") != "none" and not interrupted:
            models = register_best(store, sweep_dir, manifest, recs)
        store.client.update_run(parent, name=f"{manifest['sweep_name']} · {len(recs)} runs")
    finally:
        store.end_run(parent, {"interrupted": "KILLED", "failed": "FAILED"}.get(status, "FINISHED"))
        manifest["closed"] = True
        write_atomic(sweep_dir / MANIFEST, json.dumps(manifest, indent=2))
    print(summary.console_table(recs))
    print(
        f"{manifest['sweep_name']}: {len(recs)} runs"
        + (f" (interrupted by {interrupted})" if interrupted else "")
        + ": "
        + ", ".join(f"{v} {k}" for k, v in c.items())
        + f"\n  runs:    {sweep_dir}/ (summary.csv, one folder per run)"
        + f"\n  mlflow:  parent run {parent} in experiment {manifest['experiment']!r}"
        + f" at {manifest['tracking_uri']} (make ui)"
        + (f"\n  models:  {', '.join(models)} (models:/<name>/latest)" if models else ""),
        flush=True,
    )
    best = sweep_dir / "optimization_results.yaml"  # an optimising sweeper's answer (Optuna)
    if best.is_file():
        found = OmegaConf.load(best)
        chosen = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in found.get("best_params", {}).items())  # fmt: skip
        value = found.get("best_value")
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"  best:    {chosen} -> {shown} (the objective; {best.name})")
    return 1 if c["failed"] else 0
