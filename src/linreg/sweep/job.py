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

from linreg.config.data import load_data, optimum_of
from linreg.config.paths import resolve_uri
from linreg.config.typed import RunConfig, naming
from linreg.core.backends import fit
from linreg.core.data import Dataset
from linreg.core.device import resolve_device
from linreg.core.errors import LinregError, UnsupportedCombination
from linreg.core.evaluation import evaluate
from linreg.present.run_folder import write_run_files
from linreg.run import signals
from linreg.run.names import progress_line
from linreg.run.record import RunRecord, metric_name
from linreg.tracking.describe import NOTE, applicable_params, run_note
from linreg.tracking.model import log_model
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


def execute(run: RunConfig, place: Place) -> RunRecord:
    """Carry out ``run`` into ``place.folder``; returns (and writes) its record.  Never raises,
    but for a signal (:class:`linreg.run.signals.Interrupted`, Ctrl-C): the run is then recorded
    as interrupted and its MLflow run ended KILLED before the signal goes on.  The record says
    ``ok`` (or ``diverged``) only once everything about the run is recorded."""
    place.folder.mkdir(parents=True, exist_ok=True)
    job = Job(run, place)
    try:
        job.carry_out()
    except Exception as err:  # recorded, never raised: the sweep goes on
        job.failed(err)
    except BaseException as err:  # Ctrl-C, SIGTERM: recorded as interrupted, then passed on
        job.interrupted(err)
        raise
    finally:
        job.finish()
    return job.rec


class Job:
    """One run's lifecycle: its MLflow run opened, the run trained (or reused), and, whatever
    happens, its MLflow run ended and its record written last."""

    def __init__(self, run: RunConfig, place: Place) -> None:
        self.run, self.place, self.out = run, place, place.folder
        self.rec = new_record(run, place)
        self.store = self.run_id = self.key = None
        self.killed = False
        self.started = time.perf_counter()

    def carry_out(self) -> None:
        run, rec = self.run, self.rec
        self.store = open_store(resolve_uri(run.tracking.uri), run.tracking.experiment)
        tags = {**run_tags(run), "linreg.folder": self.out.name}
        with signals.deferred():  # a signal meanwhile: the run is created, then ended KILLED
            self.run_id = self.store.start_run(self.place.name, self.place.parent_run_id, tags=tags)
        rec.mlflow_run_id = self.run_id
        self.store.log(self.run_id, params=applicable_params(run))
        data = load_data(run)
        rec.data_digest = data.digest
        rec.theta_true = None if data.theta_true is None else data.theta_true.tolist()
        try:
            resolve_device(run.settings.device, run.backend)
        except UnsupportedCombination as err:
            rec.status, rec.reason = "skipped", str(err)
            return
        with naming("train."):  # a check that needs the data (batch_size > n): this run fails
            run.settings.check_against(len(data.y))
        self.key = run_key(run.params, data.digest)
        earlier = adopt(self.store, self.key, self.out) if run.tracking.reuse else None
        if earlier is not None:  # the same config, data and code finished before: its result
            self.reuse(earlier, data)
        else:
            self.train(data)

    def reuse(self, earlier: RunRecord, data: Dataset) -> None:
        status, self.rec = earlier.status, reused(earlier, self.rec)
        self.store.log(self.run_id, metrics=self.rec.metrics())
        if self.run.tracking.log_models == "all" and status == "ok":  # as a run that trains
            log_model(self.store, self.run_id, self.rec, data)
        self.rec.status = status  # only now: everything about the run is recorded

    def train(self, data: Dataset) -> None:
        run, rec = self.run, self.rec
        traj = fit(data.X, data.y, data.theta0, run.settings, run.backend)
        theta_opt = optimum_of(data, run.settings.loss, run.settings.fit_intercept)
        ev = evaluate(
            traj.theta_final,
            data,
            run.settings.loss,
            traj,
            theta_opt,
            fit_intercept=run.settings.fit_intercept,
        )
        fill(rec, traj, ev)
        files = write_run_files(self.out, run, self.place.name, data, traj, ev)
        log_run(self.store, self.run_id, run, data, traj, rec, self.out, files)
        signals.check()  # a signal whose exception a library swallowed: not ok after all
        rec.status = traj.status  # only now: everything about the run is recorded

    def failed(self, err: Exception) -> None:
        self.rec = new_record(self.run, self.place, keep=self.rec)
        self.rec.reason = (
            str(err) if isinstance(err, LinregError) else f"{type(err).__name__}: {err}"
        )
        (self.out / "error.txt").write_text(traceback.format_exc())
        if self.store is not None and self.run_id is not None:
            with contextlib.suppress(Exception):  # the error itself is already recorded
                self.store.log_artifact(self.run_id, self.out / "error.txt")

    def interrupted(self, err: BaseException) -> None:
        signals.handled()
        self.rec = new_record(self.run, self.place, keep=self.rec)
        self.rec.reason, self.killed = signals.describe(err), True

    def finish(self) -> None:
        rec = self.rec
        rec.job_s = time.perf_counter() - self.started
        try:
            if self.store is not None and self.run_id is not None:
                status = "KILLED" if self.killed else None
                _close(self.store, self.run_id, rec, status, self.key)
        finally:
            rec.write(self.out)  # last: its presence means the run ended, its MLflow run too
        log.info(progress_line(rec, self.place.index, self.place.total))


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


FROM_EVALUATION = (  # the record's fields that the core's Evaluation holds under the same name
    *("bias_error", "weight_error", "theta_error", "optimum_distance", "statistical_error"),
    *("train_loss", "optimum_loss", "test_mse", "r2_train", "r2_test", "converged_epoch"),
)


def fill(rec: RunRecord, traj, ev) -> None:
    """The numbers of a trained run: learned parameters, errors, losses, timing (its status is
    set once the run is recorded)."""
    if traj.status == "diverged":
        rec.reason = f"loss exploded at epoch {traj.diverged_at}"
    rec.bias, rec.weights = ev.bias, [float(w) for w in ev.weights]
    for name in FROM_EVALUATION:
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
