"""params.yaml (linreg.config.params): DVC's composition of conf/, the grid it adds, the train
stage's multirun it becomes, values that round-trip through Hydra's grammar, `dvc exp run -S`,
and the note when params.yaml is behind conf/."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from linreg.config import params as params_mod
from linreg.config.checks import check
from linreg.config.paths import CONF_DIR
from linreg.config.typed import run_config
from linreg.core import DataSpec
from tests.helpers.cli import REPO

PARAMS = REPO / "params.yaml"


WALKTHROUGH_GRID = {
    "train.lr": [0.001, 0.01, 0.1],
    "train.epochs": [100, 1000],
    "loss": ["mse", "mae"],
    "backend": ["numpy", "python", "torch"],
    "device": ["cpu"],
}


def test_pipeline_yaml_adds_the_grid_and_nothing_else():
    body = yaml.safe_load((CONF_DIR / "pipeline.yaml").read_text())
    assert body["defaults"] == ["config", "_self_"]
    assert set(body) == {"defaults", "grid"}


def test_params_yaml_is_dvcs_composition_of_conf(tmp_path):
    """params.yaml is generated (dvc exp run composes it), never hand-kept."""
    from dvc.utils.hydra import compose_and_dump

    dvc_config = (REPO / ".dvc" / "config").read_text()
    assert "config_dir = conf" in dvc_config and "config_name = pipeline" in dvc_config
    out = tmp_path / "params.yaml"
    compose_and_dump(out, str(CONF_DIR), None, "pipeline", str(REPO), [])
    assert out.read_text() == PARAMS.read_text()


def test_params_yaml_holds_the_composed_config_and_the_grid(compose):
    params = params_mod.load(PARAMS)
    assert list(params) == ["data", "loss", "backend", "device", "train", "tracking", "grid"]
    body = {k: v for k, v in params.items() if k != "grid"}
    assert body == OmegaConf.to_container(compose())


def test_default_grid_is_the_walkthroughs():
    assert params_mod.grid(params_mod.load(PARAMS)) == WALKTHROUGH_GRID


# --- params.yaml -> the DVC train stage's multirun -----------------------------------------------
def test_params_yaml_is_the_36_run_grid():
    from linreg.config.compose import compose

    args, grid = params_mod.split(PARAMS)
    assert grid == WALKTHROUGH_GRID
    assert "data=walkthrough" in args
    assert not [a for a in args if a.split("=")[0] in {*grid, "loss", "backend", "device"}]
    overrides = params_mod.overrides(PARAMS)
    checked = check(overrides, multirun=True)
    # one list per swept key, not one entry per combination (device=cpu is a single value)
    assert checked.sweeps == {k: v for k, v in WALKTHROUGH_GRID.items() if k != "device"}
    plain = [o for o in overrides if o.split("=")[0] not in grid]
    seen = set()
    for lr, epochs, loss, backend, device in itertools.product(*grid.values()):
        combo = [f"train.lr={lr}", f"train.epochs={epochs}", f"loss={loss}"]
        run = run_config(compose([*plain, *combo, f"backend={backend}", f"device={device}"]))
        s = run.settings
        seen.add((s.lr, s.epochs, s.loss.name, run.backend, s.device))
        assert run.data == DataSpec() and run.data_dir is None
        assert (s.momentum, s.batch_size, s.schedule, s.dtype) == (0.0, None, "constant", "float32")
    assert len(seen) == 36


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, 3, 0.001, 1e-4, -1.5, "mse", "a b", "it's", "1abc", "x=y", [1, 2.5]],
    ids=repr,
)
def test_param_values_round_trip_through_hydras_grammar(value):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    (override,) = OverridesParser.create().parse_overrides([f"k={params_mod.value(value)}"])
    assert override.value() == value
    assert type(override.value()) is type(value)


# --- dvc exp run -S: DVC composes conf/pipeline.yaml with the overrides into params.yaml --------
def dvc_params(tmp_path: Path, *overrides: str) -> Path:
    from dvc.utils.hydra import compose_and_dump

    out = tmp_path / "params.yaml"
    compose_and_dump(out, str(CONF_DIR), None, "pipeline", str(REPO), list(overrides))
    return out


def test_dvc_set_grid_changes_the_grid(tmp_path):
    path = dvc_params(tmp_path, "grid.train.lr=[0.05,0.5]")
    checked = check(params_mod.overrides(path), multirun=True)
    assert checked.sweeps["train.lr"] == [0.05, 0.5]
    assert params_mod.split(path)[1] == WALKTHROUGH_GRID | {"train.lr": [0.05, 0.5]}


def test_dvc_set_value_and_dataset_reach_the_run(tmp_path):
    path = dvc_params(tmp_path, "train.momentum=0.9", "data=multi")
    run = check(params_mod.overrides(path), multirun=True).run
    assert run.settings.momentum == 0.9
    assert run.data.n_features == 5 and run.data.n_samples == 500


def test_dvc_set_of_a_swept_key_is_an_error(tmp_path):
    from linreg.config.checks import UsageError

    path = dvc_params(tmp_path, "train.lr=0.05")
    with pytest.raises(UsageError, match=r"^train\.lr must be left to the grid \(grid\.train\.lr"):
        params_mod.split(path)


def test_a_params_file_behind_conf_is_noted_except_under_dvc_exp_run(tmp_path, caplog, monkeypatch):
    """params.yaml differing from conf/ (an edit of conf/pipeline.yaml not yet composed): the
    stage says so in one note, and conf/pipeline.yaml is a dependency of the train stage, so
    `dvc repro` runs it and the note is seen; under `dvc exp run`, which has just composed
    params.yaml from conf/ and its -S, no note."""
    import logging

    from linreg.config.params import note_stale

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["grid"]["train"]["lr"] = [0.001, 0.01, 0.1, 0.3]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with caplog.at_level(logging.WARNING, logger="linreg"):
        note_stale(tmp_path / "params.yaml")
    assert [r.getMessage() for r in caplog.records] == [
        "note: params.yaml differs from conf/ in grid.train.lr ([0.001, 0.01, 0.1, 0.3] here, "
        "[0.001, 0.01, 0.1] in conf/): dvc repro runs params.yaml as it is; dvc exp run composes "
        "it from conf/ and -S"
    ]
    caplog.clear()
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")
    with caplog.at_level(logging.WARNING, logger="linreg"):
        note_stale(tmp_path / "params.yaml")
    assert caplog.records == []
    train = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train"]
    assert "conf/pipeline.yaml" in train["deps"]
