"""Where things are (linreg.config.paths): conf/ is the repository's."""

from __future__ import annotations

from linreg.config.paths import CONF_DIR
from tests.helpers.cli import REPO


def test_conf_dir_is_the_repos():
    assert CONF_DIR == REPO / "conf"
    assert (CONF_DIR / "config.yaml").is_file() and (CONF_DIR / "pipeline.yaml").is_file()
