"""A sweep whose launcher lost a worker goes on: only the lost run is lost.

A joblib/loky worker killed by the OOM killer (or ``kill -9``) breaks loky's whole pool: the
launcher raises, the runs in flight on the other workers die with it and the runs not yet started
never start.  Which of the runs in flight killed its worker cannot be told from outside, so
:func:`resume` launches the same sweep again into the same folder, where every run that already
has its ``result.json`` returns it at once, and:

1. tries each run that was in flight again, **alone** (every other job of that pass returns at
   once): a run whose worker dies again is the one that kills it and is recorded ``failed`` with
   the reason; one that finishes was only collateral (or a one-off kill) and is kept;
2. then runs what never started, as the sweep would have.

Each pass is a real Hydra multirun over the same overrides (the same jobs, numbers and folders);
the pass's instructions are in the sweep's manifest, which every job reads.  The MLflow runs the
dead workers left RUNNING are ended KILLED (:func:`linreg.sweep.orphans.reap_orphans`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from linreg.run import signals
from linreg.run.names import progress_line
from linreg.run.record import MANIFEST, RESULT, RunRecord, write_atomic
from linreg.sweep.folder import interrupted, read_manifest
from linreg.tracking.describe import NOTE, run_note
from linreg.tracking.redact import unredact
from linreg.tracking.store import open_store

log = logging.getLogger("linreg")
STARTED = "config.yaml"  # a job that began to run saved its config (.hydra/ alone: never began)


@dataclass(frozen=True)
class JobPlan:
    """What a job of a resumed sweep does in this pass: ``run`` it, or return ``record`` (the
    record it already has; None when another pass runs it)."""

    run: bool
    record: RunRecord | None = None


def job_plan(sweep_dir: Path, num: int, folder: Path) -> JobPlan:
    """For a job of a sweep: run it (a sweep that is not resumed runs every job), return the
    record it already has, or leave it to another pass."""
    plan = read_manifest(sweep_dir).get("pass")
    if plan is None:
        return JobPlan(run=True)
    if (folder / RESULT).is_file():
        try:
            return JobPlan(run=False, record=RunRecord.read(folder))
        except (OSError, ValueError):
            pass
    return JobPlan(run=plan.get("only") is None or num in plan["only"])


def _folders(sweep_dir: Path) -> dict[int, Path]:
    out = {}
    for hydra_dir in Path(sweep_dir).glob("*/.hydra"):
        head = hydra_dir.parent.name.split("-", 1)[0]
        if head.isdigit():
            out[int(head)] = hydra_dir.parent
    return out


def _state(sweep_dir: Path) -> tuple[set[int], set[int]]:
    """(jobs with a result, jobs that began but have none: lost with their worker)."""
    done, lost = set(), set()
    for num, folder in _folders(sweep_dir).items():
        if (folder / RESULT).is_file():
            done.add(num)
        elif (folder / STARTED).is_file():
            lost.add(num)
    return done, lost


def _plan(sweep_dir: Path, only: list[int] | None) -> None:
    manifest = read_manifest(sweep_dir)
    if only is False:
        manifest.pop("pass", None)
    else:
        manifest["pass"] = {"only": only}
    write_atomic(Path(sweep_dir) / MANIFEST, json.dumps(manifest, indent=2))


def resume(sweep_dir: Path, launch, why: BaseException) -> bool:
    """Run what the broken launch left: ``launch()`` runs the sweep again into ``sweep_dir``;
    False when the launcher cannot go on.  Raises :class:`linreg.run.signals.Interrupted` if a
    signal comes meanwhile."""
    n_runs = read_manifest(sweep_dir).get("n_runs")
    if not n_runs:  # a search (Optuna) chooses its runs as it goes: nothing to replay
        first = str(why).strip().splitlines()[0] if str(why).strip() else ""
        log.error("error: the launcher stopped the sweep: %s: %s", type(why).__name__, first)
        return False
    log.warning(
        "note: the launcher lost a worker (%s): the runs in flight run again one at a time, "
        "then the rest",
        type(why).__name__,
    )
    warnings.filterwarnings("ignore", message="A worker stopped while some jobs")  # loky's
    isolated: set[int] = set()
    try:
        for _ in range(2 * n_runs + 2):  # each pass isolates a run or makes progress
            done, lost = _state(sweep_dir)
            if len(done) >= n_runs:
                break
            suspects = sorted(lost - isolated)
            if suspects:
                num = suspects[0]
                isolated.add(num)
                _run_pass(sweep_dir, [num], launch)
                if num not in _state(sweep_dir)[0]:
                    _record_lost(sweep_dir, num, n_runs)
                else:
                    log.warning("note: run %d was run again alone and ended", num + 1)
                continue
            before = done
            _run_pass(sweep_dir, None, launch)
            done, lost = _state(sweep_dir)
            if done == before and not (lost - isolated):  # the launcher fails on its own
                log.error("error: the launcher fails without a run to blame; stopping here")
                return False
    finally:
        _plan(sweep_dir, False)
    return True


def _run_pass(sweep_dir: Path, only: list[int] | None, launch) -> None:
    signals.check()
    _plan(sweep_dir, only)
    with contextlib.suppress(Exception, SystemExit):  # a worker died again: the next pass
        launch()
    signals.check()


def _record_lost(sweep_dir: Path, num: int, n_runs: int) -> None:
    """The run whose worker died twice, the second time alone: failed, with the reason, in its
    folder and in MLflow (its runs, which the reaper ended KILLED, become FAILED)."""
    folder = _folders(sweep_dir)[num]
    rec = interrupted(folder)
    rec.reason = (
        "its worker process died while running it, twice (the second time alone): killed "
        "from outside, e.g. by the OOM killer; see the machine's log (dmesg)"
    )
    manifest = read_manifest(sweep_dir)
    try:
        store = open_store(unredact(manifest["tracking_uri"]), manifest["experiment"])
        for run in store.client.search_runs(
            [store.experiment_id],
            f"tags.mlflow.parentRunId = '{manifest['parent_run_id']}' "
            f"and tags.`linreg.folder` = '{folder.name}'",
        ):
            tags = {"status": "failed", "reason": rec.reason, NOTE: run_note(rec)}
            store.log(run.info.run_id, tags=tags)
            store.client.set_terminated(run.info.run_id, "FAILED")
            rec.mlflow_run_id = rec.mlflow_run_id or run.info.run_id
    except Exception as err:  # the folder's record is what counts; MLflow is told if it answers
        log.warning("note: could not mark run %d failed in MLflow: %s", num + 1, err)
    rec.write(folder)
    log.warning(progress_line(rec, num, n_runs))
