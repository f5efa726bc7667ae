"""linreg.config.hydra_errors and linreg.config.plugins against the real Hydra and OmegaConf: each
text pattern the adapter keeps still matches the error it was written for, each attribute it reads
is still there, and each plugin ``_target_`` linreg knows is still the one the plugin writes.  A
Hydra or OmegaConf release that rewords one of these errors (or moves a plugin) fails here, not in
a user's terminal."""

from __future__ import annotations

import importlib
import importlib.util

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError, ValidationError

from linreg.config import hydra_errors, plugins
from linreg.config.paths import CONF_DIR
from linreg.config.schema import LinregConf
from linreg.core.losses import LOSSES


def hydra_error(*overrides: str) -> BaseException:
    """The exception Hydra's own compose raises for ``overrides`` on conf/ (no linreg between)."""
    with (
        initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="test"),
        pytest.raises(Exception) as info,
    ):
        compose("config", overrides=list(overrides), return_hydra_config=True)
    return info.value


def omegaconf_error(given: dict) -> BaseException:
    """The exception OmegaConf raises merging ``given`` into linreg's schema."""
    with pytest.raises(Exception) as info:
        OmegaConf.merge(OmegaConf.structured(LinregConf), given)
    return info.value


# --- the text patterns -----------------------------------------------------------------------
def test_deleting_an_absent_key_matches_delete_absent():
    exc = hydra_error("~data.dir")  # null in conf/data/walkthrough.yaml
    match = hydra_errors.DELETE_ABSENT.match(str(exc))
    assert match, str(exc)
    assert match.group(1) == "data.dir"
    assert hydra_errors.explain(exc) == (
        "~data.dir must name a key that is set (to delete it), got ~data.dir where it is null "
        "or absent"
    )


@pytest.mark.parametrize(
    ("given", "value", "kind", "line"),
    [
        (
            {"train": {"lr": "abc"}},
            "abc",
            "Float",
            "train.lr must be a number, got 'abc'",
        ),
        (
            {"train": {"epochs": 1.5}},
            "1.5",
            "Integer",
            "train.epochs must be an integer, got '1.5'",
        ),
    ],
)
def test_a_value_of_another_type_matches_not_converted(given, value, kind, line):
    exc = omegaconf_error(given)
    assert isinstance(exc, ValidationError)
    match = hydra_errors.NOT_CONVERTED.search(str(exc).splitlines()[0])
    assert match, str(exc)
    assert match.groups() == (value, kind)
    assert hydra_errors.explain(exc) == line


def test_a_single_value_for_a_list_matches_not_a_list():
    exc = omegaconf_error({"data": {"weights": 3}})
    assert isinstance(exc, ValidationError)
    assert hydra_errors.NOT_A_LIST in str(exc).splitlines()[0], str(exc)
    assert hydra_errors.explain(exc) == (
        "data.weights must be a list such as [2.5, -1.0], got a single value"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        ("hydra/sweeper=basic", "hydra.sweeper.params={train.lr:'0.1,1'}"),
        ("hydra/sweeper=basic", "+hydra.sweeper.params.x=1"),
    ],
)
def test_the_basic_sweepers_params_on_the_command_line_match_sweeper_params_none(
    overrides,
):
    exc = hydra_error(*overrides)
    assert hydra_errors.SWEEPER_PARAMS_NONE in str(exc), str(exc)
    line = str(hydra_errors.composition_error(exc, list(overrides)))
    assert line.startswith("hydra.sweeper.params must be set in a config file with hydra/sweeper")


# --- the structure the adapter reads ---------------------------------------------------------
def test_an_unknown_key_is_hydras_error_caused_by_omegaconfs_with_its_full_key():
    exc = hydra_error("train.lrr=1")
    assert isinstance(exc.__cause__, ConfigAttributeError)
    assert exc.__cause__.full_key == "train.lrr"
    assert hydra_errors.explain(exc).startswith("train.lrr must be one of the keys of train (")


def test_an_unparsable_override_is_named_by_hydras_override_attribute():
    with pytest.raises(OverrideParseException) as info:
        OverridesParser.create().parse_overrides(["train.lr=[1"])
    assert info.value.override == "train.lr=[1"
    assert hydra_errors.explain(info.value).startswith(
        "train.lr must be given as key=value in Hydra's override grammar"
    )


def test_an_unknown_choice_carries_its_options_and_file():
    exc = hydra_error("loss=msee")
    assert isinstance(exc, MissingConfigException)
    assert exc.missing_cfg_file == "loss/msee"
    assert "mse" in exc.options
    choices = ", ".join(sorted(LOSSES))  # conf/loss/'s files, as Hydra lists them
    assert hydra_errors.explain(exc) == f"loss must be one of {choices}, got 'msee'"


# --- the plugins linreg knows ----------------------------------------------------------------
def composed_target(group: str, choice: str) -> str:
    """The ``_target_`` Hydra's own composition writes for ``group=choice`` (public compose)."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="plugins"):
        cfg = compose("config", overrides=[f"{group}={choice}"], return_hydra_config=True)
    return OmegaConf.select(cfg, f"{group.replace('/', '.')}._target_")


@pytest.mark.parametrize(
    ("known", "group", "choice", "plugin"),
    [
        (plugins.BASIC_SWEEPER, "hydra/sweeper", "basic", "hydra"),
        (plugins.OPTUNA_SWEEPER, "hydra/sweeper", "optuna", "hydra_plugins.hydra_optuna_sweeper"),
        (
            plugins.JOBLIB_LAUNCHER,
            "hydra/launcher",
            "joblib",
            "hydra_plugins.hydra_joblib_launcher",
        ),
    ],
)
def test_each_known_target_is_the_one_its_plugin_writes(known, group, choice, plugin):
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} is not installed")
    assert composed_target(group, choice) == known


def test_linregs_grid_sweeper_is_the_one_conf_selects():
    grid = OmegaConf.load(CONF_DIR / "hydra" / "sweeper" / "grid.yaml")
    assert grid._target_ == plugins.GRID_SWEEPER
    module, _, name = plugins.GRID_SWEEPER.rpartition(".")
    assert hasattr(importlib.import_module(module), name)


def test_the_composed_sweeper_is_found_in_the_table():
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="test"):
        default = compose("config", return_hydra_config=True)
        basic = compose("config", overrides=["hydra/sweeper=basic"], return_hydra_config=True)
    assert plugins.sweeper_target(default) == plugins.GRID_SWEEPER
    assert plugins.sweeper_target(basic) == plugins.BASIC_SWEEPER
    assert plugins.sweeper(default).lists_values and plugins.sweeper(basic).lists_values
