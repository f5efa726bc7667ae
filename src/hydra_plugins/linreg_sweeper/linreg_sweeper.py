"""Hydra's basic sweeper, minus its second composition of every job.

``linreg.train`` composes and checks every combination of a sweep before Hydra starts (and stops
with one line on a bad one), so re-composing each job just to validate it again would cost about
80 ms a run for nothing.  Everything else is Hydra's ``BasicSweeper``: the same expansion, batches
and launchers.  Selected by ``hydra/sweeper: linreg`` in conf/config.yaml.
"""

# No ``from __future__ import annotations`` here: Hydra imports plugins in a way that leaves the
# module out of sys.modules while dataclasses resolve string annotations.
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore


@dataclass
class LinregSweeperConf:
    _target_: str = "hydra_plugins.linreg_sweeper.linreg_sweeper.LinregSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045 (OmegaConf needs typing.Optional here)
    params: Optional[dict[str, str]] = None  # noqa: UP045


ConfigStore.instance().store(
    group="hydra/sweeper", name="linreg", node=LinregSweeperConf, provider="linreg"
)


class LinregSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Already done by linreg.sweep.prepare for every combination."""
