"""linreg's grid sweeper: Hydra's basic sweeper without its second composition of every job.

Hydra's basic sweeper composes each job's config once to validate it and its launcher composes it
again to run it: about 90 ms a job, twice.  ``linreg.train`` has already composed and checked
every combination of the sweep before Hydra starts (one line and exit 2 on a bad one), so this
sweeper launches the same jobs, in the same order, numbers and batches, without the first
composition.  It is Hydra's public plugin interface (:class:`hydra.plugins.sweeper.Sweeper`),
selected by ``override hydra/sweeper: grid`` in conf/config.yaml (its settings in
conf/hydra/sweeper/grid.yaml, so composing the config, as ``dvc exp run`` does, needs no import of
this module); ``hydra/sweeper=basic`` brings Hydra's own back, and any other sweeper
(``hydra/sweeper=optuna_lr``) replaces it.
"""

import itertools
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf


class GridSweeper(Sweeper):
    """Every combination of the swept values (``a=1,2 b=x,y``: 4 jobs, the last key varying
    fastest, as Hydra's basic sweeper orders them), launched in batches of ``max_batch_size``."""

    def __init__(self, max_batch_size: int | None = None, params: dict | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.config = self.launcher = self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def jobs(self, arguments: list[str]) -> list[list[str]]:
        """Each job's overrides: ``hydra.sweeper.params`` first, then the command line's (a key
        given in both takes the command line's values)."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        given = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        choices: dict[str, list[str]] = {}
        for o in parser.parse_overrides(given):
            key = o.get_key_element()
            if not o.is_sweep_override():
                choices[key] = [f"{key}={o.get_value_element_as_str()}"]
            elif o.is_discrete_sweep():
                choices[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
            else:
                raise HydraException(
                    f"{type(self).__name__} does not support sweep type : {o.value_type.name}"
                )
        return [list(job) for job in itertools.product(*choices.values())]

    def sweep(self, arguments: list[str]) -> Any:
        jobs = self.jobs(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        size = self.max_batch_size or max(len(jobs), 1)
        returns = []
        for start in range(0, len(jobs), size):
            results = self.launcher.launch(jobs[start : start + size], initial_job_idx=start)
            for r in results:
                _ = r.return_value  # a job's exception is raised here, as the basic sweeper does
            returns.append(results)
        return returns
