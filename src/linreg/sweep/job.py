"""One run: train, evaluate, write the run folder, record it in MLflow.

Whatever happens, the run ends in one of four states and says so in its :class:`RunRecord`
(``result.json``, written last and atomically) and in its MLflow run, which is never left RUNNING:
``ok``, ``diverged`` (trajectory kept up to the blow-up), ``skipped`` (the combination cannot run
here: numpy on cuda, an absent device) or ``failed`` (an exception, or a check that needs the
data; MLflow status FAILED, the error in ``error.txt``).  A failure never escapes: the sweep goes
on.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from linreg.config.data import load_data
from linreg.config.paths import resolve_uri
from linreg.config.typed import RunConfig, naming
from linreg.core.backends import fit
from linreg.core.data import Dataset
from linreg.core.device import resolve_device
from linreg.core.errors import LinregError, UnsupportedCombination
from linreg.core.evaluation import evaluate, find_optimum
from linreg.present.run_folder import write_run_files
from linreg.run import signals
from linreg.run.record import RunRecord, metric_name
from linreg.tracking.describe import NOTE, applicable_params, run_note
from linreg.tracking.reuse import FROM_TAG, KEY_TAG, adopt, run_key
from linreg.tracking.run import log_run, run_tags
from linreg.tracking.store import open_store

log = logging.getLogger("linreg")


@dataclass(frozen=True)
class Place:
    """Where a run sits: its folder, its name, its parent run and its index in the sweep."""

    folder: Path
    name: str
    parent_run_id: str | None = None
    index: int | None = None  # 0-based
    total: int | None = None


_OPTIMA: dict = {}


def _optimum(data: Dataset, loss, fit_intercept: bool = True):
    """The exact optimum, solved once per (data, loss, intercept) in a process: one serves every
    run."""
    key = (data.digest, loss, fit_intercept)
    if key not in _OPTIMA:
        _OPTIMA[key] = find_optimum(data, loss, fit_intercept)
    return _OPTIMA[key]


def execute(run: RunConfig, place: Place) -> RunRecord:
    """Carry out ``run`` into ``place.folder``; returns (and writes) its record.  Never raises,
    but for a signal (:class:`linreg.run.signals.Interrupted`, Ctrl-C): the run is then recorded as
    interrupted and its MLflow run ended KILLED before the signal goes on.  The record says
    ``ok`` (or ``diverged``) only once everything about the run is recorded."""
    out = place.folder
    out.mkdir(parents=True, exist_ok=True)
    rec = new_record(run, place)
    store = run_id = key = None
    killed = False
    started = time.perf_counter()
    try:
        store = open_store(resolve_uri(run.tracking.uri), run.tracking.experiment)
        tags = {**run_tags(run), "linreg.folder": out.name}
        with signals.deferred():  # a signal meanwhile: the run is created, then ended KILLED
            run_id = store.start_run(place.name, place.parent_run_id, tags=tags)
        rec.mlflow_run_id = run_id
        store.log(run_id, params=applicable_params(run))
        data = load_data(run)
        rec.data_digest = data.digest
        rec.theta_true = None if data.theta_true is None else data.theta_true.tolist()
        try:
            resolve_device(run.settings.device, run.backend)
        except UnsupportedCombination as err:
            rec.status, rec.reason = "skipped", str(err)
            return rec
        with naming("train."):  # a check that needs the data (batch_size > n): this run fails
            run.settings.check_against(len(data.y))
        key = run_key(run.params, data.digest)
        earlier = adopt(store, key, out) if run.tracking.reuse else None
        if earlier is not None:  # the same config, data and code finished before: its result
            status, rec = earlier.status, reused(earlier, rec)
            store.log(run_id, metrics=rec.metrics())
            if run.tracking.log_models == "all" and status == "ok":  # as a run that trains
                from linreg.tracking.model import log_model

                log_model(store, run_id, rec, data)
            rec.status = status  # only now: everything about the run is recorded
            return rec
        traj = fit(data.X, data.y, data.theta0, run.settings, run.backend)
        theta_opt = _optimum(data, run.settings.loss, run.settings.fit_intercept)
        ev = evaluate(traj.theta_final, data, run.settings.loss, traj, theta_opt,
                      fit_intercept=run.settings.fit_intercept)  # fmt: skip
        fill(rec, traj, ev)
        files = write_run_files(out, run, place.name, data, traj, ev)
        log_run(store, run_id, run, data, traj, rec, out, files)
        signals.check()  # a signal whose exception a library swallowed: not ok after all
        rec.status = traj.status  # only now: everything about the run is recorded
    except Exception as err:  # recorded, never raised: the sweep goes on
        rec = new_record(run, place, keep=rec)
        rec.reason = str(err) if isinstance(err, LinregError) else f"{type(err).__name__}: {err}"
        (out / "error.txt").write_text(traceback.format_exc())
        if store is not None and run_id is not None:
            with contextlib.suppress(Exception):  # the error itself is already recorded
                store.log_artifact(run_id, out / "error.txt")
    except BaseException as err:  # Ctrl-C, SIGTERM: recorded as interrupted, then passed on
        signals.handled()
        rec = new_record(run, place, keep=rec)
        rec.reason, killed = signals.describe(err), True
        raise
    finally:
        rec.job_s = time.perf_counter() - started
        try:
            if store is not None and run_id is not None:
                _close(store, run_id, rec, "KILLED" if killed else None, key)
        finally:
            rec.write(out)  # last: its presence means the run ended, its MLflow run too
        log.info(progress_line(rec, place))
    return rec


def new_record(run: RunConfig, place: Place, keep: RunRecord | None = None) -> RunRecord:
    s = run.settings
    rec = RunRecord(
        run_name=place.name,
        backend=run.backend,
        device=s.device,
        loss=s.loss.name,
        lr=s.lr,
        epochs=s.epochs,
        momentum=s.momentum,
        batch_size=s.batch_size,
        schedule=s.schedule,
        dtype=s.dtype,
        fit_intercept=s.fit_intercept,
        delta=s.loss.delta if s.loss.name == "huber" else None,
        run_folder=place.folder.name,
    )
    if keep is not None:
        rec.mlflow_run_id, rec.data_digest = keep.mlflow_run_id, keep.data_digest
        rec.theta_true = keep.theta_true
    return rec


def fill(rec: RunRecord, traj, ev) -> None:
    """The numbers of a trained run: learned parameters, errors, losses, timing (its status is
    set once the run is recorded)."""
    if traj.status == "diverged":
        rec.reason = f"loss exploded at epoch {traj.diverged_at}"
    rec.bias, rec.weights = ev.bias, [float(w) for w in ev.weights]
    for name in ("bias_error", "weight_error", "theta_error", "optimum_distance",
                 "statistical_error", "train_loss", "optimum_loss", "test_mse", "r2_train",
                 "r2_test", "converged_epoch"):  # fmt: skip
        setattr(rec, name, getattr(ev, name))
    rec.epochs_run, rec.wall_s, rec.time_per_epoch_s = (
        traj.epochs_run,
        traj.wall_s,
        traj.time_per_epoch_s,
    )
    rec.final_grad_norm = float(traj.grad_norm[-1]) if len(traj.grad_norm) else None


def reused(earlier: RunRecord, rec: RunRecord) -> RunRecord:
    """``earlier``'s result as this run's: its name, folder and MLflow run are this run's."""
    earlier.run_name, earlier.run_folder = rec.run_name, rec.run_folder
    earlier.mlflow_run_id = rec.mlflow_run_id
    earlier.status = "failed"  # until this run is recorded
    return earlier


def _close(store, run_id: str, rec: RunRecord, status=None, key=None) -> None:
    """The run's last words in MLflow: its time, status, reason, key (and, once it trained and
    is recorded, its record as an artifact, which a later run with its key reuses)."""
    try:
        tags = {"status": "interrupted" if status == "KILLED" else rec.status, NOTE: run_note(rec)}
        if rec.reason:
            tags["reason"] = rec.reason[:5000]
        if key:
            tags[KEY_TAG] = key
        if rec.reused_from:
            tags[FROM_TAG] = rec.reused_from
        store.log(run_id, metrics={metric_name("job_s"): rec.job_s}, tags=tags)  # one call
        if rec.finished and status is None:
            with tempfile.TemporaryDirectory() as tmp:
                store.log_artifact(run_id, rec.write(Path(tmp)))
    finally:
        store.end_run(run_id, status or ("FAILED" if rec.status == "failed" else "FINISHED"))


def progress_line(r: RunRecord, place: Place) -> str:
    """One short line per run: index of N, status, name, θ, error, seconds."""
    num = ""
    if place.index is not None:
        width = len(str(place.total or place.index + 1))
        num = (
            f"[{place.index + 1:>{width}}/{place.total}] "
            if place.total
            else f"[{place.index + 1}] "
        )
    if r.finished and r.bias is not None:
        ws = ", ".join(f"{w:.4f}" for w in r.weights[:3]) + (", …" if len(r.weights) > 3 else "")
        detail = f"w=[{ws}] b={r.bias:.4f}"
        if r.weight_error is not None:
            detail += f"  weight_error={r.weight_error:.2e}"
        detail += f"  {r.wall_s:.2f}s" + ("  (reused)" if r.reused_from else "")
    else:
        detail = r.reason or ""
    return fit_line(f"{num}{r.status:<8s} ", r.run_name, f"  {detail}")


def fit_line(head: str, name: str, tail: str, width: int = 160) -> str:
    """head + name + tail in ``width`` characters: the name shortened in its middle first, then
    the tail at its end (the whole reason is in result.json and MLflow)."""
    over = len(head) + len(name) + len(tail) - width
    if over > 0 and len(name) > 60:
        cut = min(over + 1, len(name) - 59)
        name = name[: (len(name) - cut) // 2] + "…" + name[(len(name) - cut) // 2 + cut :]
    line = head + name + tail
    return line if len(line) <= width else line[: width - 1] + "…"
