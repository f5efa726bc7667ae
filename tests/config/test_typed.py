"""The Hydra config composed in-process and typed (linreg.config.compose, linreg.config.typed):
every group's choices compose, the defaults are the walkthrough run, RunConfig gives the core's
types, and fit_intercept is a train setting."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from linreg.config.typed import RunConfig, Tracking, run_config
from linreg.core import (
    CsvSpec,
    DataSpec,
    LinregError,
    Loss,
    TrainSettings,
)
from scripts.accuracy import write_design_csv
from tests.helpers.conf import GROUPS, choices, leaves


def test_the_documented_choices_exist():
    assert set(choices("data")) >= {"walkthrough", "multi", "outliers", "plot_sizes", "csv"}
    assert set(choices("loss")) >= {"mse", "mse_half", "mae", "huber"}
    assert set(choices("backend")) == {"numpy", "python", "torch"}
    assert set(choices("device")) == {"cpu", "cuda", "mps", "auto"}


@pytest.mark.parametrize(("group", "choice"), [(g, c) for g in GROUPS for c in choices(g)])
def test_every_group_choice_composes_and_adapts(compose, group, choice):
    extra = ["data.path=some.csv", "data.target=y"] if (group, choice) == ("data", "csv") else []
    cfg = compose(f"{group}={choice}", *extra)
    run = run_config(cfg)
    assert isinstance(run, RunConfig)
    if group == "data":
        assert cfg.data.kind == ("csv" if choice == "csv" else "synthetic")
        assert type(run.data) is (CsvSpec if choice == "csv" else DataSpec)
    elif group == "loss":
        assert run.settings.loss.name == choice
    elif group == "backend":
        assert run.backend == choice
    else:
        assert run.settings.device == choice


def test_csv_preset_without_path_is_a_one_line_error(compose):
    with pytest.raises(LinregError, match=r"^data\.path must be set for csv data"):
        run_config(compose("data=csv"))


def test_defaults_compose_to_the_walkthrough_run(compose):
    run = run_config(compose())
    assert run.data == DataSpec()
    assert run.data_dir is None
    assert run.settings == TrainSettings(loss=Loss("mse"), device="cpu")
    assert run.backend == "torch"
    assert run.tracking == Tracking("linreg", None, True, True, None, "best", 1000, True)
    assert run.run_name() == "torch · mse · lr=0.01 · ep=100 · cpu"


def test_run_config_gives_the_cores_types(compose):
    cfg = compose(
        "data=multi",
        "loss=huber",
        "loss.delta=2.5",
        "backend=numpy",
        "train.lr=0.05",
        "train.epochs=7",
        "train.batch_size=50",
        "train.momentum=0.9",
        "train.schedule=cosine",
        "train.dtype=float64",
        "tracking.figures=false",
    )
    run = run_config(cfg)
    assert type(run.data) is DataSpec
    assert run.data.n_features == 5 and run.data.weights == (2.5, -1.0, 0.5, 3.0, 0.0)
    s = run.settings
    assert type(s) is TrainSettings
    assert s.loss == Loss("huber", 2.5)
    assert (s.lr, s.epochs, s.batch_size) == (0.05, 7, 50)
    assert type(s.epochs) is int and type(s.lr) is float
    assert (s.momentum, s.schedule, s.dtype) == (0.9, "cosine", "float64")
    assert run.backend == "numpy"
    assert type(run.tracking) is Tracking and run.tracking.figures is False
    # no DictConfig leaks past the adapter: params are the composed config, flat, as strings
    assert type(run.params) is dict
    assert all(type(k) is str and type(v) is str for k, v in run.params.items())
    expected = {k: str(v) for k, v in leaves(OmegaConf.to_container(cfg)).items()}
    assert run.params == expected
    assert run.params["train.lr"] == "0.05" and run.params["loss.name"] == "huber"
    assert run.params["loss.delta"] == "2.5" and run.params["backend.name"] == "numpy"


def test_unset_keys_are_left_out_of_the_params(compose):
    run = run_config(compose())  # loss=mse has no delta
    assert "loss.delta" not in run.params and "data.path" not in run.params
    assert "???" not in run.params.values()


def test_csv_run_is_a_csvspec(compose):
    run = run_config(
        compose(
            "data=csv",
            "data.path=houses.csv",
            "data.target=price",
            "data.standardize=true",
            "data.features=[a,b]",
        )
    )
    assert run.data == CsvSpec(
        path="houses.csv", target="price", features=("a", "b"), standardize=True
    )


# --- train.fit_intercept in the config -----------------------------------------------------------


def test_fit_intercept_is_a_train_setting_and_refuses_standardised_data(hydra_compose, tmp_path):
    from linreg.config.typed import run_config
    from linreg.core import LinregError

    assert run_config(hydra_compose()).settings.fit_intercept is True
    path = tmp_path / "d.csv"
    write_design_csv("NoInt1", path)
    csv = ("data=csv", f"data.path={path}", "data.target=y", "train.fit_intercept=false")
    assert run_config(hydra_compose(*csv)).settings.fit_intercept is False
    with pytest.raises(LinregError, match=r"^data.standardize must be false when train\.fit_"):
        run_config(hydra_compose(*csv, "data.standardize=true"))
