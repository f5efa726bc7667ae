"""The Hydra callback that opens and closes a sweep's parent MLflow run (conf/config.yaml:
``hydra.callbacks.sweep``), whatever the launcher."""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from linreg.run import signals
from linreg.sweep.parent import NOT_OPENED, RESUMING, close, open_sweep


class SweepCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if "optuna" in str(OmegaConf.select(config, "hydra.sweeper._target_") or ""):
            import optuna  # its own INFO lines (a study created...) stay out of the terminal

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            open_sweep(config)
        except Exception as err:  # Hydra makes it a warning: linreg.train names it instead
            NOT_OPENED.append(err)
            raise

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if not RESUMING:  # a pass of a resumed sweep: linreg.train closes it after the last
            # every run ended: a first signal waits until the sweep is summed up (cut short, the
            # summary and the parent's end would be lost), then ends the command (130 / 143)
            with signals.deferred():
                close(Path(config.hydra.sweep.dir))
