"""Train: one run, a Hydra multirun, or (``--params``) the DVC pipeline's grid.

    linreg train.lr=0.01 train.epochs=100 loss=mse backend=torch device=cpu
    linreg -m train.lr=0.001,0.01,0.1 loss=mse,mae backend=numpy,torch
    linreg --params params.yaml data.dir=data hydra.sweep.dir=runs    # the DVC train stage

(``python -m linreg.train`` is the same command.)  The command line is checked first
(:mod:`linreg.config.checks`: one line and exit 2 on a bad value anywhere in a grid); then Hydra runs it,
its sweeper and launcher choosing how, :class:`linreg.tracking.SweepCallback` opening and closing
the sweep's parent MLflow run, and :func:`train` carrying out each job.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from linreg.config.paths import CONF_DIR
from linreg.config.typed import run_config
from linreg.run import signals
from linreg.run.record import RunRecord

OURS = {"-m", "--multirun"}
RAN: list[Path] = []  # the folders of the single runs of this process, for main


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def train(cfg: DictConfig) -> RunRecord | float | None:
    """One Hydra job: the config as typed arguments, then the run (which never raises).  Returns
    the record, or with ``tracking.objective`` set (Optuna) that field of it as a float."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from linreg.sweep.folder import read_manifest
    from linreg.sweep.job import Place, execute
    from linreg.sweep.resume import job_pass

    signals.check()  # no job starts after a signal
    hc = HydraConfig.get()
    run = run_config(cfg)
    folder = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        manifest = read_manifest(Path(hc.sweep.dir))
        todo = job_pass(Path(hc.sweep.dir), hc.job.num, folder)
        if todo is not True:  # a resumed sweep: the job has its record, or another pass runs it
            return todo or None
        vary = {k: _choice(cfg, hc, k) for k in manifest["vary"]}
        place = Place(folder, run.run_name(vary), manifest["parent_run_id"], hc.job.num,
                      manifest["n_runs"])  # fmt: skip
    else:
        place = Place(folder, run.run_name())
        RAN.append(folder)
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
        if a in OURS:
            multirun = True
        elif flag in CONFIG_FLAGS:
            where[CONFIG_FLAGS[flag]] = value or next(args, "")
        elif a.startswith("-"):
            other = True
        else:
            overrides.append(a)
    return multirun, overrides, where, other


CONFIG_FLAGS = {"-cn": "config_name", "--config-name": "config_name",
                "-cd": "config_dir", "--config-dir": "config_dir"}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """The ``linreg`` command: check, run through Hydra, sum up; the exit status."""
    from linreg.config import params
    from linreg.config.checks import UsageError, check
    from linreg.sweep import parent as sweep

    argv = list(sys.argv[1:] if argv is None else argv)
    signals.install()
    try:
        stage = argv[:1] == ["--params"]
        if stage:
            path, argv = argv[1] if len(argv) > 1 else "", params.stage_argv(argv[1:])
            os.environ["LINREG_STAGE"] = "train"  # the evaluate stage draws the sweep's figures
        multirun, overrides, where, other = parse(argv)
        if other:
            sys.argv = [sys.argv[0], *argv]
            train()
            return 0
        checked = check(overrides, multirun, **where)
        reach(checked.run.tracking.uri)
        if stage:
            params.note_stale(path)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except signals.Interrupted as stop:  # before anything ran
        return stop.code
    sys.argv = [sys.argv[0], *argv]
    if not multirun:
        ran = len(RAN)
        try:
            train()
            signals.check()
        except signals.Interrupted as stop:
            return stop.code
        return _single(RAN[-1], checked.run.tracking.experiment) if len(RAN) > ran else 1
    opened, stop, broken = len(sweep.OPENED), None, False
    shown = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # a launcher's error comes here, not as a traceback
    try:
        try:
            train()
        except Exception as err:  # the launcher lost a worker: the rest of the sweep goes on
            if len(sweep.OPENED) == opened:  # the cause is why the parent run did not open
                why = sweep.NOT_OPENED[-1] if sweep.NOT_OPENED else err
                first = str(why).splitlines()[0] if str(why) else ""
                print(f"error: the sweep did not start: {type(why).__name__}: {first}",
                      file=sys.stderr)  # fmt: skip
            else:
                broken = not _resume(sweep.OPENED[-1], argv, err)
        stop = signals.received()
    except signals.Interrupted as err:
        stop = err
    finally:
        if shown is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = shown
        signals.handled()  # summing up what finished is not to be interrupted by the first signal
        name = stop.name if stop else None
        code = sweep.close(sweep.OPENED[-1], name) if len(sweep.OPENED) > opened else 1
    return stop.code if stop else max(code, int(broken))  # a launcher that gave up: not 0


def _resume(sweep_dir: Path, argv: list[str], err: Exception) -> bool:
    """Launch the sweep again into its folder until every run has its record
    (:mod:`linreg.sweep.resume`); False if the launcher gave up."""
    from linreg.sweep import parent as sweep
    from linreg.sweep import resume

    kept = [a for a in argv if a.partition("=")[0].lstrip("+~") != "hydra.sweep.dir"]
    place = str(Path(sweep_dir).resolve()).replace("\\", "\\\\").replace("'", "\\'")
    sys.argv = [sys.argv[0], *kept, f"hydra.sweep.dir='{place}'"]
    sweep.RESUMING.append(Path(sweep_dir))
    try:
        return resume.resume(Path(sweep_dir), train, err)
    finally:
        sweep.RESUMING.clear()


def reach(configured: str | None) -> None:
    """The tracking server answers, or the command stops here with one line."""
    from linreg.config.checks import UsageError
    from linreg.config.paths import resolve_uri
    from linreg.tracking.health import check_server

    uri = resolve_uri(configured)
    why = check_server(uri)
    if why:
        from linreg.tracking.redact import redact

        raise UsageError(
            f"tracking.uri must name an MLflow server that answers, got {redact(uri)} ({why})"
        )


def _single(folder: Path, experiment: str) -> int:
    from linreg.present.summary import describe

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
