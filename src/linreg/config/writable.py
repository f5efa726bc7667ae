"""Where a command will write, checked before anything runs: the folders Hydra will create
(``hydra.run.dir``, ``hydra.sweep.dir``), the launcher's settings and the MLflow store's file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from linreg.config.hydra_errors import explained
from linreg.config.paths import resolve_uri, sqlite_path
from linreg.config.plugins import LAUNCHERS_WITH_N_JOBS, launcher_target, sweeper
from linreg.config.typed import RunConfig
from linreg.core.errors import UsageError


def check_hydra(cfg: DictConfig, multirun: bool) -> None:
    """What Hydra would meet only once it starts: the output folder it must create
    (``hydra.run.dir``, or ``hydra.sweep.dir`` for a multirun) and the launcher's settings."""
    check_output_folder(cfg, multirun)
    if multirun:
        check_launcher(cfg)
        check_sweeper(cfg)


def check_output_folder(cfg: DictConfig, multirun: bool) -> None:
    """The folder Hydra creates for the run (or the sweep) can be created and written."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    try:
        folder = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except Exception as exc:
        raise explained(exc, key) from None
    if folder is not None:
        check_folder(key, str(folder))


def check_launcher(cfg: DictConfig) -> None:
    """A launcher's number of parallel jobs: an integer, not 0."""
    launcher = OmegaConf.select(cfg, "hydra.launcher")
    if launcher is None or launcher_target(cfg) not in LAUNCHERS_WITH_N_JOBS:
        return
    n_jobs = launcher.get("n_jobs")
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0
    ):
        raise UsageError(
            "hydra.launcher.n_jobs must be an integer other than 0 (the number of parallel "
            f"jobs; -1: one per CPU), got {n_jobs!r}"
        )


def check_sweeper(cfg: DictConfig) -> None:
    """The sweeper's counts: integers >= 1 (``max_batch_size`` may be null: all at once)."""
    counts = (("max_batch_size", "the jobs handed to the launcher at once"),)
    for key, what in counts + sweeper(cfg).counts:
        value = OmegaConf.select(cfg, f"hydra.sweeper.{key}", default=None)
        if (value is None and key == "max_batch_size") or (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            continue
        null = " or null (all)" if key == "max_batch_size" else ""
        raise UsageError(
            f"hydra.sweeper.{key} must be an integer >= 1 ({what}){null}, got {value!r}"
        )


def check_store(run: RunConfig) -> None:
    """A local MLflow store (``sqlite:///path``) must be a file that can be created."""
    key = "tracking.uri" if run.tracking.uri else "MLFLOW_TRACKING_URI"
    if not run.tracking.uri and not os.environ.get("MLFLOW_TRACKING_URI"):
        key = "tracking.uri"  # the default store, sqlite:///<project>/mlflow.db
    uri = resolve_uri(run.tracking.uri)
    path = sqlite_path(uri)
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{key} must name a sqlite database file, got {uri!r} (a folder)")
    check_folder(key, str(path.parent), given=uri)


def check_folder(key: str, folder: str, given: str | None = None) -> None:
    """``folder`` must be (or be creatable as) a folder this process can write in.  Proven by
    creating and removing an empty folder in its nearest existing ancestor: nothing is left."""
    path = Path(folder)
    path = path if path.is_absolute() else Path.cwd() / path
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    given = folder if given is None else given
    what = "a folder that" if given == folder else "a path whose folder"
    allowed = f"{what} can be created and written"
    if not probe.is_dir():
        raise UsageError(f"{key} must be {allowed}, got {given!r} ({probe} is a file)")
    try:
        os.rmdir(tempfile.mkdtemp(dir=probe, prefix=".linreg-check-"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"{key} must be {allowed}, got {given!r} ({probe} refuses a new folder: {reason})"
        ) from None
