"""The Hydra launchers and sweepers linreg knows, each by the full ``_target_`` its plugin's config
writes (``hydra.launcher._target_``, ``hydra.sweeper._target_``), and what linreg checks or does
for each: the one place that knows a plugin by name.  A sweeper not listed here is taken to sample
(a search space is its to draw, and it needs ``tracking.objective``), with no settings checked."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

# the _target_ strings each plugin's config writes (tests/config/test_hydra_errors.py composes
# each with Hydra's public compose and compares); strings only, nothing of Hydra is imported
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"  # hydra/sweeper=basic
GRID_SWEEPER = "hydra_plugins.linreg_sweeper.linreg_sweeper.GridSweeper"  # linreg's default
OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


@dataclass(frozen=True)
class Sweeper:
    """What linreg knows of one sweeper."""

    lists_values: bool  # runs each listed value (a grid): no search space, nothing to minimise
    counts: tuple[tuple[str, str], ...] = ()  # (setting, what it counts): integers >= 1


SWEEPERS = {
    BASIC_SWEEPER: Sweeper(lists_values=True),
    GRID_SWEEPER: Sweeper(lists_values=True),
    OPTUNA_SWEEPER: Sweeper(
        lists_values=False,
        counts=(("n_trials", "the trials of the search"), ("n_jobs", "the trials of a batch")),
    ),
}
UNKNOWN_SWEEPER = Sweeper(lists_values=False)

# launchers whose n_jobs is the number of parallel jobs (-1: one per CPU; 0 is refused)
LAUNCHERS_WITH_N_JOBS = (JOBLIB_LAUNCHER,)


def sweeper_target(cfg: DictConfig) -> str:
    """The composed config's ``hydra.sweeper._target_`` ("" where there is none)."""
    return str(OmegaConf.select(cfg, "hydra.sweeper._target_") or "")


def launcher_target(cfg: DictConfig) -> str:
    """The composed config's ``hydra.launcher._target_`` ("" where there is none)."""
    return str(OmegaConf.select(cfg, "hydra.launcher._target_") or "")


def sweeper(cfg: DictConfig) -> Sweeper:
    """What linreg knows of the config's sweeper."""
    return SWEEPERS.get(sweeper_target(cfg), UNKNOWN_SWEEPER)


def class_name(target: str) -> str:
    """A ``_target_``'s class name, as a message names the plugin (``OptunaSweeper``)."""
    return target.rsplit(".", 1)[-1]
