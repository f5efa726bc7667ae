"""linreg's config composed with Hydra's public API (``initialize_config_dir`` + ``compose``), as
the command line composes it: the base config a command is checked against."""

from __future__ import annotations

from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig

from linreg.config.hydra_errors import composition_error
from linreg.config.paths import CONF_DIR


def compose(
    overrides: list[str], config_name: str = "config", config_dir: str | None = None
) -> DictConfig:
    """linreg's config composed with Hydra's public API; ``config_dir`` (Hydra's --config-dir)
    is searched first, conf/ after it, as the command line does."""
    first = str(Path(config_dir).resolve()) if config_dir else str(CONF_DIR)
    extra = [f"hydra.searchpath=[file://{CONF_DIR}]"] if config_dir else []
    try:
        with initialize_config_dir(first, version_base="1.3", job_name="check"):
            return hydra_compose(
                config_name, overrides=[*overrides, *extra], return_hydra_config=True
            )
    except Exception as exc:
        raise composition_error(exc, overrides) from None
