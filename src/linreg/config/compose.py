"""linreg's config composed with Hydra's public API (``initialize_config_dir`` + ``compose``), as
the command line composes it: the base config a command is checked against."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from linreg.config.hydra_errors import UsageError, explain
from linreg.config.paths import CONF_DIR


def compose(
    overrides: list[str], config_name: str = "config", config_dir: str | None = None
) -> DictConfig:
    """linreg's config composed with Hydra's public API; ``config_dir`` (Hydra's --config-dir)
    is searched first, conf/ after it, as the command line does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    first = str(Path(config_dir).resolve()) if config_dir else str(CONF_DIR)
    extra = [f"hydra.searchpath=[file://{CONF_DIR}]"] if config_dir else []
    try:
        with initialize_config_dir(first, version_base="1.3", job_name="check"):
            cfg = hydra_compose(
                config_name, overrides=[*overrides, *extra], return_hydra_config=True
            )
    except Exception as exc:
        given = next(
            (o for o in overrides if o.lstrip("+~").startswith("hydra.sweeper.params")), ""
        )
        if given and "NoneType" in str(exc):  # Hydra 1.3 cannot add to the basic sweeper's params
            raise UsageError(
                "hydra.sweeper.params must be set in a config file with hydra/sweeper=basic (a "
                "grid in a config of your own: --config-dir/--config-name, see README; linreg's "
                f"grid sweeper takes hydra.sweeper.params={{train.lr:'0.1,1'}}), got {given!r}"
            ) from None
        if given and given.partition("=")[0].lstrip("+~") != "hydra.sweeper.params":  # inside
            raise UsageError(
                "hydra.sweeper.params must be given whole, as a dict of key: values, e.g. "
                f"hydra.sweeper.params={{train.lr:'0.01,0.1',loss:'mse,mae'}}, got {given!r}"
            ) from None
        raise UsageError(explain(exc)) from None
    return cfg
