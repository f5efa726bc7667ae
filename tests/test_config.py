"""The Hydra config (conf/ + the schema in linreg.config) and params.yaml, composed in-process.

No value may have two homes that drift apart: the core's defaults (DataSpec, TrainSettings), the
schema, conf/data/walkthrough.yaml and params.yaml must agree.
"""

from __future__ import annotations

import itertools
from dataclasses import fields

import pytest
import yaml
from omegaconf import OmegaConf

from conftest import REPO
from linreg.config import CONF_DIR, DataConf, Job, TrainConf, job_from_cfg
from linreg.core import CsvSpec, DataSpec, Loss, TrainSettings
from linreg.params import argv_from_params, data_overrides, load_params
from linreg.sweep import expand

PARAMS = REPO / "params.yaml"
CSV_ONLY = {"path", "target", "features", "standardize", "test_fraction"}
GROUPS = ("data", "loss", "backend", "device")


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def test_conf_dir_is_the_repos():
    assert CONF_DIR == REPO / "conf"
    assert (CONF_DIR / "config.yaml").is_file()


def test_the_documented_choices_exist():
    assert set(choices("data")) >= {"walkthrough", "multi", "outliers", "plot_sizes", "csv"}
    assert set(choices("loss")) >= {"mse", "mse_half", "mae", "huber"}
    assert set(choices("backend")) == {"numpy", "python", "torch"}
    assert set(choices("device")) == {"cpu", "cuda", "mps", "auto"}


@pytest.mark.parametrize(("group", "choice"), [(g, c) for g in GROUPS for c in choices(g)])
def test_every_group_choice_composes_and_adapts(hydra_compose, group, choice):
    extra = ["data.path=some.csv", "data.target=y"] if (group, choice) == ("data", "csv") else []
    cfg = hydra_compose(f"{group}={choice}", *extra)
    job = job_from_cfg(cfg)
    assert isinstance(job, Job)
    if group == "data":
        assert cfg.data.kind == ("csv" if choice == "csv" else "synthetic")
        assert isinstance(job.data, CsvSpec if choice == "csv" else DataSpec)
    elif group == "loss":
        assert job.settings.loss.name == choice
    elif group == "backend":
        assert job.backend == choice
    else:
        assert job.settings.device == choice


def test_csv_preset_without_path_is_a_one_line_error(hydra_compose):
    from linreg.core import LinregError

    with pytest.raises(LinregError, match=r"^data\.path must be set for csv data"):
        job_from_cfg(hydra_compose("data=csv"))


def test_defaults_compose_to_the_walkthrough_run(hydra_compose):
    job = job_from_cfg(hydra_compose())
    assert job.data == DataSpec()
    assert job.data_dir is None
    assert job.settings == TrainSettings(loss=Loss("mse"), device="cpu")
    assert job.backend == "torch"


def test_job_from_cfg_gives_the_cores_types(hydra_compose):
    cfg = hydra_compose(
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
    )
    job = job_from_cfg(cfg)
    assert type(job.data) is DataSpec
    assert job.data.n_features == 5 and job.data.weights == (2.5, -1.0, 0.5, 3.0, 0.0)
    assert type(job.settings) is TrainSettings
    assert job.settings.loss == Loss("huber", 2.5)
    assert (job.settings.lr, job.settings.epochs, job.settings.batch_size) == (0.05, 7, 50)
    assert type(job.settings.epochs) is int and type(job.settings.lr) is float
    assert (job.settings.momentum, job.settings.schedule, job.settings.dtype) == (
        0.9,
        "cosine",
        "float64",
    )
    assert job.backend == "numpy"
    # no DictConfig leaks past the adapter
    assert type(job.tracking) is dict and type(job.params) is dict
    assert all(type(k) is str and type(v) is str for k, v in job.params.items())
    assert job.params["train.lr"] == "0.05" and job.params["loss.name"] == "huber"
    assert job.params["backend.name"] == "numpy" and job.params["device.name"] == "cpu"
    assert not any(k.startswith("tracking.") and k != "tracking.experiment" for k in job.params)


def test_csv_job_is_a_csvspec(hydra_compose):
    job = job_from_cfg(
        hydra_compose(
            "data=csv",
            "data.path=houses.csv",
            "data.target=price",
            "data.standardize=true",
            "data.features=[a,b]",
        )
    )
    assert job.data == CsvSpec(
        path="houses.csv", target="price", features=("a", "b"), standardize=True
    )


# --- one home per default ------------------------------------------------------------------------
def spec_dict() -> dict:
    return {"kind": "synthetic", **DataSpec().to_dict()}


def test_walkthrough_preset_equals_dataspec_defaults():
    preset = yaml.safe_load((CONF_DIR / "data" / "walkthrough.yaml").read_text())
    assert preset == spec_dict()


def test_schema_data_defaults_equal_dataspec_defaults():
    conf = DataConf()
    assert {f.name: getattr(conf, f.name) for f in fields(DataSpec)} == DataSpec().to_dict()


def test_params_yaml_data_equals_composed_default_and_dataspec(hydra_compose):
    params = load_params(PARAMS)["data"]
    composed = OmegaConf.to_container(hydra_compose().data, resolve=True)
    composed.pop("dir")
    assert composed.keys() >= CSV_ONLY
    for key in CSV_ONLY:
        composed.pop(key)
    assert params == composed
    assert params == spec_dict()
    assert list(params) == list(spec_dict()), "params.yaml lists the keys in DataSpec's order"


def test_params_yaml_data_goes_through_hydra_unchanged(hydra_compose):
    params = load_params(PARAMS)
    job = job_from_cfg(hydra_compose(*data_overrides(params)))
    assert job.data == DataSpec(**{k: v for k, v in params["data"].items() if k != "kind"})


def test_params_yaml_train_equals_trainconf_defaults(hydra_compose):
    train = load_params(PARAMS)["train"]
    assert train, "params.yaml has a train section"
    defaults = TrainConf()
    composed = hydra_compose().train
    for key, value in train.items():
        assert hasattr(defaults, key), f"params.yaml train.{key} is not a schema key"
        assert value == getattr(defaults, key) == composed[key], key
    assert TrainConf().lr == TrainSettings().lr and TrainConf().epochs == TrainSettings().epochs


# --- run names -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "name", "folder"),
    [
        ((), "torch · mse · lr=0.01 · ep=100 · cpu", "torch-mse-lr=0.01-ep=100-cpu"),
        (
            ("train.lr=0.01", "train.epochs=100", "loss=mse", "backend=torch", "device=cpu"),
            "torch · mse · lr=0.01 · ep=100 · cpu",
            "torch-mse-lr=0.01-ep=100-cpu",
        ),
        (
            ("backend=numpy", "loss=mae", "train.lr=0.001", "train.epochs=1000"),
            "numpy · mae · lr=0.001 · ep=1000 · cpu",
            "numpy-mae-lr=0.001-ep=1000-cpu",
        ),
        (
            ("backend=python", "loss=mse_half", "train.lr=1e-4", "device=auto"),
            "python · mse_half · lr=0.0001 · ep=100 · auto",
            "python-mse_half-lr=0.0001-ep=100-auto",
        ),
        (
            ("loss=huber", "loss.delta=1.5"),
            "torch · huber δ=1.5 · lr=0.01 · ep=100 · cpu",
            "torch-huber_delta=1.5-lr=0.01-ep=100-cpu",
        ),
        (
            ("tracking.vary=[train.momentum,backend]", "train.momentum=0.9"),
            "torch · mse · lr=0.01 · ep=100 · cpu · momentum=0.9",
            "torch-mse-lr=0.01-ep=100-cpu-momentum=0.9",
        ),
    ],
)
def test_run_name_and_folder(hydra_compose, overrides, name, folder):
    cfg = hydra_compose(*overrides, hydra=True)
    assert cfg.run_name == name
    assert cfg.run_folder == folder
    job = job_from_cfg(cfg)
    assert (job.run_name, job.run_folder) == (name, folder)
    assert cfg.hydra.run.dir == f"outputs/runs/{folder}"
    assert cfg.hydra.sweep.subdir == folder
    assert cfg.hydra.sweep.dir == f"outputs/sweeps/{cfg.tracking.sweep_name}"
    assert cfg.hydra.job.chdir is False


# --- params.yaml -> the DVC train stage's multirun -----------------------------------------------
def test_argv_from_real_params_is_the_36_run_grid(hydra_compose, monkeypatch):
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    params = load_params(PARAMS)
    argv = argv_from_params(PARAMS)
    assert argv[0] == "-m"
    assert "data.dir=data" in argv and "hydra.sweep.dir=runs" in argv
    assert "tracking.sweep_name=dvc" in argv
    combos = expand(argv[1:], multirun=True)
    assert len(combos) == 36

    grid = params["sweep"]
    expected = set(
        itertools.product(grid["lr"], grid["epochs"], grid["loss"], grid["backend"], grid["device"])
    )
    assert len(expected) == 36
    seen, folders = set(), set()
    for combo in combos:
        job = job_from_cfg(hydra_compose(*combo))
        s = job.settings
        seen.add((s.lr, s.epochs, s.loss.name, job.backend, s.device))
        folders.add(job.run_folder)
        assert job.data == DataSpec() and job.data_dir == "data"
        assert (s.momentum, s.batch_size, s.schedule, s.dtype) == (0.0, None, "constant", "float32")
        assert job.tracking["experiment"] == params["tracking"]["experiment"]
    assert seen == expected
    assert len(folders) == 36


def test_argv_from_params_names_the_dvc_experiment(monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "ready-plow")
    argv = argv_from_params(PARAMS)
    assert "tracking.sweep_name=dvc-ready-plow" in argv
    assert not [a for a in argv if a.startswith("tracking.sweep_name=") and a.endswith("=dvc")]


def test_default_grid_is_the_walkthroughs():
    grid = load_params(PARAMS)["sweep"]
    assert grid == {
        "lr": [0.001, 0.01, 0.1],
        "epochs": [100, 1000],
        "loss": ["mse", "mae"],
        "backend": ["numpy", "python", "torch"],
        "device": ["cpu"],
    }
