"""The Hydra config (conf/, typed by linreg.config.typed) and params.yaml, composed in-process.

No value has two homes: every default is written once, in conf/ (the dataclasses of
linreg.config.typed hold types only), and params.yaml is DVC's composition of conf/pipeline.yaml.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import pytest
import yaml
from omegaconf import MISSING, OmegaConf

from linreg.config import params as params_mod
from linreg.config.checks import check
from linreg.config.paths import CONF_DIR
from linreg.config.schema import SECTIONS, LinregConf, schema_keys
from linreg.config.typed import RunConfig, Tracking, run_config
from linreg.core import CsvSpec, DataSpec, LinregError, Loss, TrainSettings

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"
GROUPS = ("data", "loss", "backend", "device")
# The files the default config is composed of: conf/config.yaml and its defaults list's choices.
DEFAULT_FILES = {
    "": CONF_DIR / "config.yaml",
    "data": CONF_DIR / "data" / "walkthrough.yaml",
    "loss": CONF_DIR / "loss" / "mse.yaml",
    "backend": CONF_DIR / "backend" / "torch.yaml",
    "device": CONF_DIR / "device" / "cpu.yaml",
}
WALKTHROUGH_GRID = {
    "train.lr": [0.001, 0.01, 0.1],
    "train.epochs": [100, 1000],
    "loss": ["mse", "mae"],
    "backend": ["numpy", "python", "torch"],
    "device": ["cpu"],
}


@pytest.fixture
def compose(hydra_compose):
    """``compose(*overrides, hydra=False)``: conftest's composition of linreg's real conf/."""
    return hydra_compose


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def leaves(node, prefix: str = "") -> dict:
    """A nested mapping as {dotted key: value}; lists are values."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out |= leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_conf_dir_is_the_repos():
    assert CONF_DIR == REPO / "conf"
    assert (CONF_DIR / "config.yaml").is_file() and (CONF_DIR / "pipeline.yaml").is_file()


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


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1", r"^train\.lrr must be one of the keys of train \(.*\blr\b.*\), got 'lrr'$"),
        ("train.epochs=abc", r"^train\.epochs must be an integer, got 'abc'$"),
        ("train.lr=-1", r"^train\.lr must be a number > 0, got -1"),
        ("loss=msee", r"^loss must be one of huber, mae, mse, mse_half, got 'msee'$"),
    ],
)
def test_typos_and_bad_values_are_one_line(override, message):
    from linreg.config.checks import UsageError

    with pytest.raises(UsageError, match=message) as info:
        check([override], multirun=False)
    assert "\n" not in str(info.value)


# --- no value has two homes ----------------------------------------------------------------------
def schema_fields(cls=LinregConf, prefix: str = ""):
    for f in dataclasses.fields(cls):
        yield f"{prefix}{f.name}", f
        node = SECTIONS.get(f.name) if cls is LinregConf else None
        if node is not None:
            yield from schema_fields(node, f"{f.name}.")


def test_the_schema_holds_types_only():
    seen = dict(schema_fields())
    assert {k for k in seen if "." not in k} == set(SECTIONS)
    assert len(seen) > len(SECTIONS) + 30, "the sections' fields are walked too"
    for key, f in seen.items():
        no_default = f.default is dataclasses.MISSING or f.default == MISSING
        assert no_default, f"{key} has a default ({f.default!r}): defaults live in conf/"
        assert f.default_factory is dataclasses.MISSING, f"{key} has a default_factory"
    # and the schema's dataclasses instantiate to nothing but MISSING values
    assert set(leaves(OmegaConf.to_container(OmegaConf.structured(LinregConf))).values()) == {
        MISSING
    }


def written_keys() -> list[str]:
    """Every leaf key written in the default config's files, each under its group's package."""
    out = []
    for group, path in DEFAULT_FILES.items():
        body = yaml.safe_load(path.read_text()) or {}
        body = {k: v for k, v in body.items() if k not in ("defaults", "hydra")}
        out += leaves(body, f"{group}." if group else "")
    return out


def test_each_default_is_written_in_exactly_one_file(compose):
    composed = leaves(OmegaConf.to_container(compose()))
    written = written_keys()
    twice = sorted({k for k in written if written.count(k) > 1})
    assert not twice, f"written in more than one of conf/'s files: {twice}"
    assert sorted(written) == sorted(composed)
    assert {"data.n_samples", "data.dir", "loss.name", "train.lr", "tracking.uri"} <= set(written)


def test_each_composed_default_is_its_files_value(compose):
    composed = leaves(OmegaConf.to_container(compose()))
    for group, path in DEFAULT_FILES.items():
        body = yaml.safe_load(path.read_text())
        body = {k: v for k, v in body.items() if k not in ("defaults", "hydra")}
        for key, value in leaves(body, f"{group}." if group else "").items():
            assert composed[key] == value, key


def test_every_composed_key_is_a_schema_key(compose):
    for group in GROUPS:
        for choice in choices(group):
            cfg = OmegaConf.to_container(compose(f"{group}={choice}"))
            for key in leaves(cfg):
                section, _, name = key.partition(".")
                assert name in schema_keys(section), f"{group}={choice}: {key}"


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
    ],
)
def test_run_name_and_folder(compose, overrides, name, folder):
    cfg = compose(*overrides, hydra=True)
    assert run_config(cfg).run_name() == name
    assert re.fullmatch(
        rf"outputs/runs/\d{{4}}-\d\d-\d\d_\d\d-\d\d-\d\d-{re.escape(folder)}", cfg.hydra.run.dir
    )
    hydra = OmegaConf.to_container(cfg.hydra, resolve=False)
    assert hydra["sweep"]["subdir"] == "${hydra.job.num}-${linreg.run_folder:}"
    assert hydra["sweep"]["dir"] == "outputs/sweeps/${now:%Y-%m-%d_%H-%M-%S}"
    assert cfg.hydra.job.chdir is False


def test_run_name_adds_the_other_swept_keys(compose):
    run = run_config(compose("backend=numpy", "train.momentum=0.5"))
    vary = {"train.momentum": "0.5", "data": "multi"}
    assert run.run_name(vary) == "numpy · mse · lr=0.01 · ep=100 · cpu · momentum=0.5 · data=multi"


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
