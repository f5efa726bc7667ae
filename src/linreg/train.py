"""Train: one run, a Hydra multirun, or (``--params``) the DVC pipeline's grid.

    linreg train.lr=0.01 train.epochs=100 loss=mse backend=torch device=cpu
    linreg -m train.lr=0.001,0.01,0.1 loss=mse,mae backend=numpy,torch
    linreg --params params.yaml data.dir=data hydra.sweep.dir=runs    # the DVC train stage

(``python -m linreg.train`` is the same command.)  :func:`main` checks the command line first
(:mod:`linreg.config.checks`: one line and exit 2 on a bad value anywhere in a grid); then Hydra
runs it, its sweeper and launcher choosing how, :class:`linreg.sweep.callback.SweepCallback`
opening and closing the sweep's parent MLflow run, and :func:`train` carrying out each job
(:func:`linreg.sweep.job.execute`).  What the command learns on the way lives in one
:class:`linreg.sweep.state.Sweep`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from linreg.config import params
from linreg.config.checks import check
from linreg.config.paths import CONF_DIR, resolve_uri
from linreg.config.typed import run_config
from linreg.core.errors import UsageError
from linreg.present.summary import describe
from linreg.run import signals
from linreg.run.record import RunRecord
from linreg.sweep import resume
from linreg.sweep.folder import read_manifest
from linreg.sweep.job import Place, execute
from linreg.sweep.state import Sweep, current
from linreg.tracking.health import require_server

MULTIRUN_FLAGS = {"-m", "--multirun"}
CONFIG_FLAGS = {
    "-cn": "config_name",
    "--config-name": "config_name",
    "-cd": "config_dir",
    "--config-dir": "config_dir",
}


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def train(cfg: DictConfig) -> RunRecord | float | None:
    """One Hydra job: the config as typed arguments, then the run (which never raises).  Returns
    the record, or with ``tracking.objective`` set (Optuna) that field of it as a float."""
    signals.check()  # no job starts after a signal
    hc = HydraConfig.get()
    run = run_config(cfg)
    folder = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        plan = resume.job_plan(Path(hc.sweep.dir), hc.job.num, folder)
        if not plan.run:  # a resumed sweep: the job has its record, or another pass runs it
            return plan.record
        manifest = read_manifest(Path(hc.sweep.dir))
        vary = {k: _choice(cfg, hc, k) for k in manifest["vary"]}
        name = run.run_name(vary)
        place = Place(folder, name, manifest["parent_run_id"], hc.job.num, manifest["n_runs"])
    else:
        place = Place(folder, run.run_name())
        current().single_run = folder
    OmegaConf.save(cfg, folder / "config.yaml", resolve=True)
    record = execute(run, place)
    key = run.tracking.objective
    return objective(record, key) if key else record


def _choice(cfg: DictConfig, hc, key: str) -> str:
    if key in hc.runtime.choices:
        return str(hc.runtime.choices[key])
    value = OmegaConf.select(cfg, key.lstrip("+~"))
    return "null" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def objective(record: RunRecord, key: str) -> float:
    """``record.<key>`` for a sweeper that minimises it; inf where the run has no finite value
    (failed, skipped, diverged), so the search goes on and never picks it."""
    value = record.row().get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("inf")
    return value if math.isfinite(value) else float("inf")


def ray_worker_setup() -> None:
    """Ray's ``worker_process_setup_hook`` (conf/hydra/launcher/ray_cluster.yaml): run linreg's
    jobs in the driver's folder with its MLflow store, as every other launcher does."""
    os.chdir(os.environ["LINREG_WORKDIR"])
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ.pop("MLFLOW_TRACKING_URI", None)


def parse(argv: list[str]) -> tuple[bool, list[str], dict, bool]:
    """(multirun, overrides, config name/dir, other flags): Hydra's --help, --cfg, --info,
    --shell-completion ... are Hydra's alone."""
    multirun, overrides, where, other = False, [], {}, False
    args = iter(argv)
    for a in args:
        flag, _, value = a.partition("=")
        if a in MULTIRUN_FLAGS:
            multirun = True
        elif flag in CONFIG_FLAGS:
            where[CONFIG_FLAGS[flag]] = value or next(args, "")
        elif a.startswith("-"):
            other = True
        else:
            overrides.append(a)
    return multirun, overrides, where, other


def launch(argv: list[str]) -> None:
    """Hydra's entry point with ``argv`` as its command line: the one place linreg sets
    ``sys.argv`` (``hydra.main`` reads it; Hydra's public API has no other multirun entry)."""
    sys.argv = [sys.argv[0], *argv]
    train()


def main(argv: list[str] | None = None) -> int:
    """The ``linreg`` command: check, run through Hydra, sum up; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    signals.install()
    sweep = Sweep()
    with sweep.active():
        try:
            argv, checked = _checked(argv, sweep)
        except UsageError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except signals.Interrupted as stop:  # before anything ran
            return stop.code
        if checked is None:  # Hydra's own flags (--help, --cfg job ...): Hydra answers
            launch(argv)
            return 0
        if "-m" not in argv and "--multirun" not in argv:
            return _single(argv, sweep, checked.run.tracking.experiment)
        return _multirun(argv, sweep)


def _checked(argv: list[str], sweep: Sweep):
    """(the command line Hydra gets, the checked config or None for Hydra's own flags); raises
    UsageError.  ``--params FILE``: the DVC train stage's multirun of FILE."""
    stage_params = None
    if argv[:1] == ["--params"]:
        stage_params, argv = argv[1] if len(argv) > 1 else "", params.stage_argv(argv[1:])
        sweep.stage = "train"  # the evaluate stage draws the sweep's figures
    multirun, overrides, where, other = parse(argv)
    if other:
        return argv, None
    checked = check(overrides, multirun, **where)
    require_server(resolve_uri(checked.run.tracking.uri))
    if stage_params is not None:
        params.note_stale(stage_params)
    return argv, checked


def _single(argv: list[str], sweep: Sweep, experiment: str) -> int:
    try:
        launch(argv)
        signals.check()
    except signals.Interrupted as stop:
        return stop.code
    return _summary(sweep.single_run, experiment) if sweep.single_run else 1


def _multirun(argv: list[str], sweep: Sweep) -> int:
    """The sweep, resumed if its launcher lost a worker, then summed up once; the exit status:
    the signal's, else 1 if a run failed or the launcher gave up."""
    stop, broken = None, False
    try:
        with _launcher_errors_raised():
            try:
                launch(argv)
            except Exception as err:  # the launcher lost a worker: the rest of the sweep goes on
                broken = _after_launcher_error(argv, sweep, err)
        stop = signals.received()
    except signals.Interrupted as err:
        stop = err
    finally:
        signals.handled()  # summing up what finished is not to be interrupted by the first signal
        code = sweep.close(stop.name if stop else None)
    return stop.code if stop else max(code, int(broken))


@contextlib.contextmanager
def _launcher_errors_raised() -> Iterator[None]:
    """Hydra prints a launcher's exception as a traceback and exits 1 unless HYDRA_FULL_ERROR is
    set; set, the exception comes here, where the sweep is resumed or the cause named.  Hydra's
    own setting, restored after the sweep."""
    shown = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if shown is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = shown


def _after_launcher_error(argv: list[str], sweep: Sweep, err: Exception) -> bool:
    """A sweep that never opened: its cause in one line.  One that did: resumed; True if the
    launcher gave up (the command then exits 1)."""
    if sweep.opened is None:  # the cause is why the parent run did not open
        why = sweep.not_opened or err
        first = str(why).splitlines()[0] if str(why) else ""
        print(f"error: the sweep did not start: {type(why).__name__}: {first}", file=sys.stderr)
        return False
    return not _resume(sweep, argv, err)


def _resume(sweep: Sweep, argv: list[str], err: Exception) -> bool:
    """Launch the sweep again into its folder until every run has its record
    (:mod:`linreg.sweep.resume`); False if the launcher gave up."""
    sweep_dir = sweep.opened
    kept = [a for a in argv if a.partition("=")[0].lstrip("+~") != "hydra.sweep.dir"]
    place = str(sweep_dir.resolve()).replace("\\", "\\\\").replace("'", "\\'")
    again = [*kept, f"hydra.sweep.dir='{place}'"]
    sweep.resuming = sweep_dir
    try:
        return resume.resume(sweep_dir, lambda: launch(again), err)
    finally:
        sweep.resuming = None


def _summary(folder: Path, experiment: str) -> int:
    try:
        record = RunRecord.read(folder)
    except (OSError, ValueError):
        return 1
    print(describe(record))
    here = Path.cwd()
    print(f"run folder: {folder.relative_to(here) if folder.is_relative_to(here) else folder}")
    if record.mlflow_run_id:
        print(f"mlflow: run {record.mlflow_run_id} in experiment {experiment!r} (make ui)")
    return 1 if record.status == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
