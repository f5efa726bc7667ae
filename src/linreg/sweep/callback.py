"""The Hydra callback that opens and closes a sweep's parent MLflow run (conf/config.yaml:
``hydra.callbacks.sweep``), whatever the launcher: it runs in the process that launches the
jobs, before the first and after the last, and tells the command's :class:`~.state.Sweep`."""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from linreg.config.plugins import OPTUNA_SWEEPER, sweeper_target
from linreg.run import signals
from linreg.sweep.parent import open_sweep
from linreg.sweep.state import Sweep, current


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.sweep: Sweep | None = None  # the command's, found when the sweep starts

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.sweep = current()
        if sweeper_target(config) == OPTUNA_SWEEPER:
            import optuna  # its own INFO lines (a study created...) stay out of the terminal

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            folder = Path(config.hydra.sweep.dir)
            resuming = self.sweep.is_resuming(folder)
            self.sweep.opened = open_sweep(config, self.sweep.stage, resuming)
        except Exception as err:  # Hydra makes it a warning: linreg.train names it instead
            self.sweep.not_opened = err
            raise

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep = self.sweep or current()
        if (
            sweep.resuming is None
        ):  # a pass of a resumed sweep: linreg.train closes it after the last
            # every run ended: a first signal waits until the sweep is summed up (cut short, the
            # summary and the parent's end would be lost), then ends the command (130 / 143)
            with signals.deferred():
                sweep.close()
