"""Every bad input is one line naming the parameter, what is allowed and what was given.

The core raises LinregError; the pipeline's commands (``python -m linreg.train``, ``--params``,
``python -m linreg.generate``) print that line as ``error: ...`` and exit 2 before anything is
trained or recorded: a bad value anywhere in a grid, in params.yaml or on the command line.
"""

from __future__ import annotations

import copy
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from linreg.core import (
    BACKENDS,
    DEVICES,
    LOSSES,
    SCHEDULES,
    CsvSpec,
    DataSpec,
    LinregError,
    Loss,
    TrainSettings,
    UnsupportedCombination,
    fit,
    get_backend,
    load_csv,
    resolve_device,
)
from linreg.core.data import INITS
from linreg.core.device import available_devices


def _tiny():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    return X, 1.0 + 2.0 * X[:, 0], np.zeros(2)


# --- training settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(lr=0), r"^lr must be a number > 0, got 0$"),
        (dict(lr=-0.1), r"^lr must be a number > 0, got -0\.1$"),
        (dict(lr="abc"), r"^lr must be a number > 0, got 'abc'$"),
        (dict(lr=None), r"^lr must be a number > 0, got None$"),
        (dict(lr=float("nan")), r"^lr must be a number > 0, got nan$"),
        (dict(lr=float("inf")), r"^lr must be a number > 0, got inf$"),
        (dict(lr=True), r"^lr must be a number > 0, got True$"),
        (dict(epochs=0), r"^epochs must be an integer >= 1, got 0$"),
        (dict(epochs=-5), r"^epochs must be an integer >= 1, got -5$"),
        (dict(epochs=1.5), r"^epochs must be an integer >= 1, got 1\.5$"),
        (dict(epochs="10"), r"^epochs must be an integer >= 1, got '10'$"),
        (dict(momentum=1.0), r"^momentum must be a number >= 0 and < 1, got 1\.0$"),
        (dict(momentum=-0.1), r"^momentum must be a number >= 0 and < 1, got -0\.1$"),
        (dict(batch_size=0), r"^batch_size must be an integer >= 1, got 0$"),
        (dict(batch_size=2.5), r"^batch_size must be an integer >= 1, got 2\.5$"),
        (
            dict(schedule="linear"),
            r"^schedule must be one of constant, step, exponential, cosine, got 'linear'$",
        ),
        (dict(step_size=0), r"^step_size must be an integer >= 1, got 0$"),
        (dict(gamma=0), r"^gamma must be a number > 0 and <= 1, got 0$"),
        (dict(gamma=1.5), r"^gamma must be a number > 0 and <= 1, got 1\.5$"),
        (dict(eta_min=-1.0), r"^eta_min must be a number >= 0, got -1\.0$"),
        (dict(dtype="float16"), r"^dtype must be one of float32, float64, got 'float16'$"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_bad_train_settings(kw, message):
    with pytest.raises(LinregError, match=message) as info:
        TrainSettings(**kw)
    name = next(iter(kw))
    assert info.value.param == name
    assert info.value.given is kw[name]


def test_good_settings_pass_and_integers_are_accepted_as_numbers():
    s = TrainSettings(lr=1, epochs=np.int64(3), momentum=0, batch_size=4)
    assert s.lr == 1 and s.epochs == 3


@pytest.mark.parametrize("batch_size", [5, 100])
def test_batch_size_larger_than_the_data(batch_size):
    X, y, theta0 = _tiny()
    with pytest.raises(
        LinregError, match=rf"^batch_size must be an integer >= 1 and <= 4, got {batch_size}$"
    ):
        fit(X, y, theta0, TrainSettings(batch_size=batch_size))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Loss("l2"), r"^loss must be one of mse, mse_half, mae, huber, got 'l2'$"),
        (lambda: Loss("huber", 0), r"^delta must be a number > 0, got 0$"),
        (lambda: Loss("huber", -1.0), r"^delta must be a number > 0, got -1\.0$"),
        (lambda: Loss("huber", "big"), r"^delta must be a number > 0, got 'big'$"),
        (lambda: get_backend("jax"), r"^backend must be one of numpy, python, torch, got 'jax'$"),
        (
            lambda: fit(*_tiny(), TrainSettings(), "jax"),
            r"^backend must be one of numpy, python, torch, got 'jax'$",
        ),
        (lambda: resolve_device("tpu"), r"^device must be one of cpu, cuda, mps, auto, got 'tpu'$"),
        (
            lambda: fit(*_tiny(), TrainSettings(device="tpu"), "torch"),
            r"^device must be one of cpu, cuda, mps, auto, got 'tpu'$",
        ),
    ],
    ids=[
        "loss",
        "delta-0",
        "delta-neg",
        "delta-str",
        "backend",
        "fit-backend",
        "device",
        "fit-device",
    ],
)
def test_unknown_choices_list_the_choices(make, message):
    with pytest.raises(LinregError, match=message):
        make()


def test_choice_lists_are_the_documented_ones():
    assert BACKENDS == ("numpy", "python", "torch")
    assert DEVICES == ("cpu", "cuda", "mps", "auto")
    assert LOSSES == ("mse", "mse_half", "mae", "huber")
    assert SCHEDULES == ("constant", "step", "exponential", "cosine")
    assert INITS == ("walkthrough", "zeros", "normal")


# --- devices -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_absent_device_is_an_unsupported_combination(device):
    present = available_devices()
    if device in present:
        pytest.skip(f"{device} is present here")
    msg = (
        rf"^device must be a device present on this machine \({', '.join(present)}\), "
        rf"got '{device}'$"
    )
    with pytest.raises(UnsupportedCombination, match=msg):
        resolve_device(device)
    with pytest.raises(UnsupportedCombination, match=msg):
        fit(*_tiny(), TrainSettings(device=device, epochs=1), "torch")


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_cpu_only_backends_refuse_accelerators(backend, device):
    msg = (
        rf"^device must be cpu or auto for the {backend} backend "
        rf"\(only torch runs on {device}\), got '{device}'$"
    )
    with pytest.raises(UnsupportedCombination, match=msg):
        fit(*_tiny(), TrainSettings(device=device, epochs=1), backend)


def test_auto_and_cpu_resolve():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto", "numpy") == "cpu"
    assert resolve_device("auto") in available_devices()


# --- data spec -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(n_samples=1), r"^n_samples must be an integer >= 2, got 1$"),
        (dict(n_samples=10.5), r"^n_samples must be an integer >= 2, got 10\.5$"),
        (dict(n_features=0), r"^n_features must be an integer >= 1, got 0$"),
        (dict(n_features=2), r"^weights must be a list of n_features = 2 numbers, got \[2\.5\]$"),
        (
            dict(weights=(1.0, 2.0)),
            r"^weights must be a list of n_features = 1 numbers, got \[1\.0, 2\.0\]$",
        ),
        (dict(weights=("a",)), r"^weights\[0\] must be a number, got 'a'$"),
        (dict(noise_std=-0.5), r"^noise_std must be a number >= 0, got -0\.5$"),
        (dict(outlier_fraction=1.0), r"^outlier_fraction must be a number >= 0 and < 1, got 1\.0$"),
        (
            dict(outlier_fraction=-0.1),
            r"^outlier_fraction must be a number >= 0 and < 1, got -0\.1$",
        ),
        (dict(init="he"), r"^init must be one of walkthrough, zeros, normal, got 'he'$"),
        (dict(seed=-1), r"^seed must be an integer >= 0, got -1$"),
        (dict(feature_scale=0), r"^feature_scale must be a number > 0, got 0$"),
        (dict(bias=float("nan")), r"^bias must be a number, got nan$"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_bad_data_spec(kw, message):
    with pytest.raises(LinregError, match=message):
        DataSpec(**kw)


def test_bad_csv_spec():
    with pytest.raises(
        LinregError, match=r"^test_fraction must be a number >= 0 and < 1, got 1\.0$"
    ):
        CsvSpec(path="x.csv", target="y", test_fraction=1.0)
    with pytest.raises(LinregError, match=r"^init must be one of walkthrough, zeros, normal"):
        CsvSpec(path="x.csv", target="y", init="uniform")


# --- CSV files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kw", "message"),
    [
        (
            "",
            {},
            r"^path must be a CSV with a header and rows, got '.*e\.csv' "
            r"\(the file is empty\)$",
        ),
        (
            "x,y\n",
            {},
            r"^path must be a CSV with at least 2 training rows \(one per "
            r"parameter\), got '0 training rows'",
        ),
        (
            "x,y\n1,2\n2,4\n3,6\n",
            dict(target="z"),
            r"^target must be a column of the CSV \(x, y\), got 'z'$",
        ),
        (
            "x,y\n1,2\n2,4\n3,6\n",
            dict(features=("x", "w")),
            r"^features must be columns of the CSV \(x, y\), got \['w'\]$",
        ),
        (
            "x,y\n1,2\nabc,4\n3,6\n",
            {},
            r"^column 'x' must be finite numbers in every row, got 'abc' \(.*e\.csv, data row 2\)$",
        ),
        (
            "x,y\n1,2\n2,4\n3,six\n",
            {},
            r"^column 'y' must be finite numbers in every row, got 'six' \(.*, data row 3\)$",
        ),
        ("x,y\n1,2\n,4\n3,6\n", {}, r"^column 'x' must be finite numbers in every row, got 'nan'"),
        (
            "x,y\n1,2\n2,nan\n3,6\n",
            {},
            r"^column 'y' must be finite numbers in every row, got 'nan'",
        ),
        (
            "x,y\n1,2\n2,4\ninf,6\n",
            {},
            r"^column 'x' must be finite numbers in every row, got 'inf' \(.*, data row 3\)$",
        ),
        (
            "x,y\n1,2\n2,-inf\n3,6\n",
            {},
            r"^column 'y' must be finite numbers in every row, got '-inf'",
        ),
        (
            "a,b,y\n1,2,3\n4,5,7\n",
            {},
            r"^path must be a CSV with at least 3 training rows \(one per parameter\), "
            r"got '2 training rows' \(.*e\.csv\)$",
        ),
        (
            "a,y\n1,2\n2,3\n3,4\n4,5\n5,6\n",
            dict(test_fraction=0.8),
            r"^path must be a CSV with at least 2 training rows .*got '1 training rows'",
        ),
        ("y\n1\n2\n3\n", {}, r"^features must be at least one feature column, got \[\]$"),
    ],
    ids=[
        "empty",
        "header-only",
        "no-target",
        "no-feature",
        "text-x",
        "text-y",
        "blank",
        "nan",
        "inf",
        "-inf",
        "too-few-rows",
        "too-few-after-split",
        "no-features",
    ],
)
def test_bad_csv_files(tmp_path, content, kw, message):
    path = tmp_path / "e.csv"
    path.write_text(content)
    if content == "":
        assert path.stat().st_size == 0
    spec = dict(path=str(path), target="y", test_fraction=0.0) | kw
    with pytest.raises(LinregError, match=message):
        load_csv(CsvSpec(**spec))


def test_missing_csv(tmp_path):
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(
        LinregError,
        match=rf"^path must be an existing CSV file, got "
        rf"'{re.escape(missing)}'$",
    ):
        load_csv(CsvSpec(path=missing, target="y"))


# --- the error itself ----------------------------------------------------------------------------


def test_error_is_a_value_error_that_pickles_and_renames():
    err = LinregError("lr", "a number > 0", -1, note="from the sweep")
    assert isinstance(err, ValueError)
    assert str(err) == "lr must be a number > 0, got -1 (from the sweep)"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is LinregError and str(back) == str(err)
    assert str(err.renamed("train.lr")) == "train.lr must be a number > 0, got -1 (from the sweep)"
    unsupported = UnsupportedCombination("device", "cpu", "cuda")
    assert isinstance(unsupported, LinregError)
    assert type(pickle.loads(pickle.dumps(unsupported))) is UnsupportedCombination
    assert type(unsupported.renamed("device.name")) is UnsupportedCombination


# --- data that does not fit the float32 datasets --------------------------------------------------


def test_data_overflowing_float32_is_a_linreg_error(tmp_path):
    from linreg.core import generate

    with pytest.raises(
        LinregError,
        match=r"^feature_scale must be a number small enough that "
        r"feature_scale \* N\(0, 1\) stays finite in float32",
    ):
        generate(DataSpec(n_samples=10, n_test=2, feature_scale=1e39))
    with pytest.raises(
        LinregError,
        match=r"^weights must be numbers small enough that y = X w "
        r"\+ bias stays finite",
    ):
        generate(DataSpec(n_samples=10, n_test=2, weights=(1e38,), feature_scale=100.0))
    path = tmp_path / "big.csv"
    path.write_text("x,y\n0.5,2\n-1,-1\n1e39,3\n2,5\n")
    # a CSV is float64: 1e39 is kept as written, and float32 training of it is refused, named
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    assert ds.X.dtype == np.float64 and ds.X.max() == 1e39
    with pytest.raises(
        LinregError, match=r"^X must be numbers that fit in float32 .*in float32, got 1e\+39"
    ):
        fit(ds.X, ds.y, ds.theta0, TrainSettings(dtype="float32"))
    fit(ds.X, ds.y, ds.theta0, TrainSettings(dtype="float64", epochs=1))


# === the pipeline's commands: one line, exit 2, nothing trained or recorded ======================
REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"


def command(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m linreg.<module> args`` in ``cwd``, its MLflow store a sqlite file there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "HYDRA_"))}
    env |= {"MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", f"linreg.{module}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert re.search(message, lines[0]), lines[0]


def write_params(folder: Path, change) -> Path:
    """A copy of the committed params.yaml, changed by ``change(dict)`` (or replaced by text)."""
    path = folder / "params.yaml"
    if isinstance(change, str):
        path.write_text(change)
    else:
        params = copy.deepcopy(yaml.safe_load(PARAMS.read_text()))
        change(params)
        path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _set(section: str, key: str, value):
    def change(params: dict) -> None:
        node = params
        for part in section.split("."):
            node = node.setdefault(part, {})
        node[key] = value

    return change


# A value placed where it would be ignored, or a bad value anywhere in params.yaml.
BAD_PARAMS = {
    "swept-key-set-too": (
        _set("train", "lr", 0.05),
        r"train\.lr must be left to the grid \(grid\.train\.lr sweeps it; "
        r"set -S 'grid\.train\.lr=\[0\.05\]' instead\), got train\.lr=0\.05$",
    ),
    "swept-group-set-too": (
        _set("loss", "name", "mae"),
        r"loss\.name must be left to the grid \(grid\.loss sweeps it.*got loss\.name=mae$",
    ),
    "old-sweep-section": (
        lambda p: p.update(sweep={"lr": [0.1]}),
        r"sections must be among data, loss, backend, device, train, tracking, grid, "
        r"got 'sweep'$",
    ),
    "unknown-section": (lambda p: p.update(foo={"x": 1}), r"sections must be .*got 'foo'$"),
    "grid-key-typo": (
        _set("grid.train", "lrr", [0.1]),
        r"grid\.train\.lrr must be one of the keys of train \(.*\blr\b.*\), got 'train\.lrr'$",
    ),
    "grid-unknown-key": (_set("grid", "foo", [1]), r"grid\.foo must be a config key: loss, "),
    "grid-value-twice": (
        _set("grid", "loss", ["mse", "mse"]),
        r"grid\.loss must list each value once",
    ),
    "grid-empty-list": (
        _set("grid.train", "lr", []),
        r"grid\.train\.lr must be a non-empty list of values, got \[\]$",
    ),
    "grid-scalar": (
        _set("grid.train", "lr", 0.05),
        r"grid\.train\.lr must be a non-empty list of values, got 0\.05$",
    ),
    "grid-data": (
        _set("grid.data", "n_samples", [50, 100]),
        r"grid\.data\.n_samples must not be swept in the pipeline",
    ),
    "section-key-typo": (
        _set("train", "lrr", 1),
        r"train\.lrr must be one of the keys of train \(.*\blr\b.*\), got 'lrr'$",
    ),
    "tracking-key-typo": (_set("tracking", "foo", 1), r"tracking\.foo must be one of the keys"),
    "bad-yaml": ("train:\n  lr: [0.1\n", r"params\.yaml must be valid YAML"),
    "not-a-mapping": ("- 1\n- 2\n", r"params\.yaml must be a mapping of data, .*grid"),
    "grid-bad-value": (_set("grid.train", "lr", [0.1, -1]), r"train\.lr must be a number > 0"),
    "grid-bad-value-first": (_set("grid.train", "lr", [0, 0.1]), r"train\.lr must be a number > 0"),
    "grid-bad-choice": (
        _set("grid", "loss", ["mse", "msee"]),
        r"loss must be one of huber, mae, mse, mse_half, got 'msee'$",
    ),
    "grid-bad-integer": (
        _set("grid.train", "epochs", [10, "abc"]),
        r"train\.epochs must be an integer, got 'abc'$",
    ),
    "grid-bad-device": (_set("grid", "device", ["cpu", "tpu"]), r"device must be one of .*'tpu'$"),
    "bad-single-value": (_set("data", "n_samples", 1), r"data\.n_samples must be an integer >= 2"),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_file_stops_the_train_stage(tmp_path, case):
    change, message = BAD_PARAMS[case]
    write_params(tmp_path, change)
    stage = ["--params", "params.yaml", "data.dir=data", "hydra.sweep.dir=runs"]
    proc = command("train", *stage, cwd=tmp_path)
    assert_one_line_error(proc, message)
    assert sorted(os.listdir(tmp_path)) == ["params.yaml"]  # no mlflow.db, runs/, mlruns/


def test_the_committed_params_pass_the_same_checks(tmp_path):
    """The control for the cases above: only their change makes the copy fail."""
    from linreg.config import params
    from linreg.config.checks import check

    path = write_params(tmp_path, lambda p: None)
    checked = check(params.overrides(path), multirun=True)
    assert set(checked.sweeps) == {"train.lr", "train.epochs", "loss", "backend"}


@pytest.mark.slow
def test_a_good_params_file_trains(tmp_path):
    """The control of "nothing trained": a one-run grid does make the store and the runs."""
    grid = {"train": {"lr": [0.1], "epochs": [2]}, "loss": ["mse"], "backend": ["numpy"]}
    tracking = {"experiment": "linreg", "uri": None, "figures": False, "graph": False}
    write_params(tmp_path, lambda p: p.update(grid=grid, tracking=tracking | {"objective": None}))
    proc = command("train", "--params", "params.yaml", "hydra.sweep.dir=runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {"mlflow.db", "runs"} <= set(os.listdir(tmp_path))
    assert (tmp_path / "runs" / "0-numpy-mse-lr=0.1-ep=2-cpu" / "result.json").is_file()


BAD_DATA = {
    "too-few-samples": (_set("data", "n_samples", 1), r"data\.n_samples must be an integer >= 2"),
    "weights-length": (
        _set("data", "weights", [1.0, 2.0]),
        r"data\.weights must be a list of n_features = 1 numbers, got \[1\.0, 2\.0\]$",
    ),
    "data-kind": (_set("data", "kind", "csvv"), r"data\.kind must be one of synthetic, csv"),
    "data-key-typo": (_set("data", "n_sample", 5), r"data\.n_sample must be one of the keys"),
    "bad-yaml": ("data: {n_samples: 5\n", r"params\.yaml must be valid YAML"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_stops_the_generate_stage(tmp_path, case):
    change, message = BAD_DATA[case]
    write_params(tmp_path, change)
    proc = command("generate", "params.yaml", str(tmp_path / "data"), cwd=tmp_path)
    assert_one_line_error(proc, message)
    assert sorted(os.listdir(tmp_path)) == ["params.yaml"]


def test_good_data_is_generated(tmp_path):
    write_params(tmp_path, _set("data", "n_samples", 20))
    proc = command("generate", "params.yaml", str(tmp_path / "data"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("generate: 20 training and 100 test samples"), proc.stdout
    assert {p.name for p in (tmp_path / "data").iterdir()} >= {"meta.json"}


# --- the command line: a bad value anywhere in a grid stops it before anything is recorded ------
def has_optuna() -> bool:
    from importlib.util import find_spec

    return find_spec("hydra_plugins.hydra_optuna_sweeper") is not None


OPTUNA = pytest.mark.skipif(not has_optuna(), reason="hydra-optuna-sweeper is not installed")


def optuna(override: str, message: str, name: str):
    """A bad command line of an Optuna search (hydra/sweeper=optuna_lr), where it is installed."""
    return pytest.param(["-m", "hydra/sweeper=optuna_lr", override], message, id=name, marks=OPTUNA)


BAD_COMMAND_LINES = [
    pytest.param(
        ["-m", "tracking.reuse=true,2"], r"tracking\.reuse must be true or false, got 2$", id="bool"
    ),
    pytest.param(
        ["train.fit_intercept=0"], r"train\.fit_intercept must be true or false, got 0$", id="0"
    ),
    pytest.param(
        ["tracking.reuse=~"],
        r"tracking\.reuse must be given as key=value in Hydra's override grammar \(null for "
        r"none; quote a value with spaces or brackets\), got 'tracking\.reuse=~'$",
        id="unparsable",
    ),
    pytest.param(
        ["~data.dir"],
        r"~data\.dir must name a key that is set \(to delete it\), got ~data\.dir where it is "
        r"null or absent$",
        id="delete-null",
    ),
    pytest.param(
        ["tracking.reuse=${train.epochs}", "train.epochs=3"],
        r"tracking\.reuse must be true or false, got 3$",
        id="bool-interpolation",
    ),
    pytest.param(
        ["-m", "hydra.sweeper.params={train.lr:'interval(0.1,1)'}"],
        r"train\.lr must be a list of values \(a,b,c\) or a range\(\) with the grid sweeper, "
        r"got 'interval\(0\.1,1\)'",
        id="search-space-in-params",
    ),
    optuna(
        "hydra.sweeper.n_jobs=0",
        r"hydra\.sweeper\.n_jobs must be an integer >= 1 \(the trials of a batch\), got 0$",
        "optuna-n-jobs",
    ),
    optuna(
        "hydra.sweeper.n_trials=-2",
        r"hydra\.sweeper\.n_trials must be an integer >= 1 \(the trials of the search\), got -2$",
        "optuna-n-trials",
    ),
    pytest.param(["-m", "train.lr=0.1,-1"], r"train\.lr must be a number > 0, got -1", id="lr"),
    pytest.param(["-m", "train.lr=-1,0.1"], r"train\.lr must be a number > 0", id="lr-first"),
    pytest.param(
        ["-m", "loss=mse,msee"],
        r"loss must be one of huber, mae, mse, mse_half, got 'msee'$",
        id="loss-choice",
    ),
    pytest.param(
        ["-m", "train.epochs=10,abc"], r"train\.epochs must be an integer, got 'abc'$", id="epochs"
    ),
    pytest.param(
        ["-m", "train.lr=0.1,0.2", "backend=numpy,jax"],
        r"backend must be one of numpy, python, torch, got 'jax'$",
        id="second-key",
    ),
    pytest.param(
        ["-m", "+foo=1"],
        r"foo must be one of the keys of the config \(backend, data, .*\), got 'foo'$",
        id="new-key",
    ),
    pytest.param(
        ["-m", "train.lrr=1,2"], r"train\.lrr must be one of the keys of train", id="key-typo"
    ),
    pytest.param(
        ["-m", "data=walkthrough,csv"], r"data\.path must be set for csv data", id="data-group"
    ),
    pytest.param(
        ["train.lr=0.1,0.2"],
        r"^error: train\.lr=0\.1,0\.2 is a sweep: add -m \(--multirun\)",
        id="sweep-without-m",
    ),
    optuna(
        "hydra.sweeper.params={train.epochs:0}",
        r"train\.epochs must be an integer >= 1, got 0$",
        "optuna-fixed-param",
    ),
    optuna("train.lr=choice(0.1,-1)", r"train\.lr must be a number > 0, got -1", "optuna-choice"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_COMMAND_LINES)
def test_bad_value_in_a_grid_stops_before_anything_is_recorded(tmp_path, argv, message):
    proc = command("train", *argv, cwd=tmp_path)
    assert_one_line_error(proc, message)
    assert os.listdir(tmp_path) == []  # no mlflow.db, outputs/, mlruns/


def test_an_absent_device_in_a_sweep_is_a_skipped_run_not_bad_input():
    from linreg.config.checks import UsageError, check

    absent = [d for d in ("cuda", "mps") if d not in available_devices()]
    if not absent:
        pytest.skip("cuda and mps are both present")
    assert check([f"device=cpu,{absent[0]}"], multirun=True).sweeps == {
        "device": ["cpu", absent[0]]
    }
    with pytest.raises(UsageError, match=rf"^device must be a device present .*'{absent[0]}'$"):
        check([f"device={absent[0]}"], multirun=False)


# --- search spaces and keys of another choice ----------------------------------------------------
def test_a_search_space_under_the_grid_sweeper_is_bad_input(tmp_path):
    proc = command("train", "-m", "train.lr=interval(0.1,1)", "train.epochs=2", cwd=tmp_path)
    assert_one_line_error(proc, r"train\.lr")
    assert os.listdir(tmp_path) == []


@OPTUNA
def test_a_search_space_with_bad_bounds_is_bad_input(tmp_path):
    space = "train.lr=tag(log, interval(-1.0, 1.0))"
    proc = command("train", "-m", "hydra/sweeper=optuna_lr", space, cwd=tmp_path)
    assert_one_line_error(proc, r"train\.lr must be a number > 0")
    assert os.listdir(tmp_path) == []


def test_a_key_of_another_choice_is_explained():
    from linreg.config.checks import UsageError, check

    with pytest.raises(UsageError) as info:
        check(["loss.delta=2"], multirun=False)  # loss=mse has no delta: only huber has
    message = str(info.value)
    assert message.startswith("loss.delta")
    listed = re.search(r"\(([^)]*)\)", message)
    assert listed is None or "delta" not in listed.group(1).split(", "), message


def documented_commands() -> list:
    """The one-line linreg commands written in conf/'s comments (continued ones left out)."""
    import shlex

    out = []
    for path in sorted((REPO / "conf").rglob("*.yaml")):
        for line in path.read_text().splitlines():
            match = re.match(r"#\s+(?:.*:\s+)?(?:python -m linreg\.train|linreg) (.*)", line)
            text = match.group(1).split("  #")[0].strip() if match else ""
            if not text or text.endswith("\\"):
                continue
            marks = [OPTUNA] if "optuna" in text else []
            name = f"{path.relative_to(REPO)}: {text}"
            out.append(pytest.param(shlex.split(text), id=name, marks=marks))
    return out


@pytest.mark.parametrize("argv", documented_commands())
def test_the_commands_documented_in_conf_pass_the_check(tmp_path, monkeypatch, argv):
    from linreg.config.checks import check

    monkeypatch.chdir(tmp_path)  # data=csv data.path=houses.csv: the documented file, here
    (tmp_path / "houses.csv").write_text("size,price\n1,2\n2,4\n3,6\n4,8\n5,10\n6,12\n")
    multirun = "-m" in argv
    check([a for a in argv if a not in ("-m", "--multirun")], multirun)


def test_conf_documents_commands():
    assert len(documented_commands()) >= 5


# --- what would be ignored, overwritten or fail only later: one line before anything runs -------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["-m", "train.lr=0.01,0.1", "train.lr=0.5"],
            r"^error: train\.lr must be given once, got it 2",
        ),
        (["-m", "loss=mse,mae,mse"], r"^error: loss must list each value once, got 'mse' twice"),
        (["tracking.objective=bogus"], r"^error: tracking\.objective must be one of .*train_loss"),
        (["tracking.uri=file:/tmp/x"], r"^error: tracking\.uri must be an MLflow tracking URI"),
        (["tracking.experiment=''"], r"^error: tracking\.experiment must be a non-empty"),
        (["~train.momentum"], r"^error: train\.momentum must be set"),
        (
            ["-m", "hydra/sweeper=basic", "hydra.sweeper.params={train.lr:'0.1,1'}"],
            r"^error: hydra\.sweeper\.params must be set in a config file with hydra/sweeper=basic",
        ),
        (
            ["-m", "hydra.sweeper.params.train.lr=0.1,1"],
            r"^error: hydra\.sweeper\.params must be given whole, as a dict of key: values, e\.g\. "
            r"hydra\.sweeper\.params=\{train\.lr:'0\.01,0\.1',loss:'mse,mae'\}, got "
            r"'hydra\.sweeper\.params\.train\.lr=0\.1",
        ),
        (
            ["-m", "hydra.sweeper.params={train.lr:'0.1,-1'}"],
            r"^error: train\.lr must be a number > 0, got -1",
        ),
        (
            ["loss.delta=2"],
            r"^error: loss\.delta must be set only with a loss choice .*\(loss=huber\)",
        ),
    ],
)
def test_values_that_would_be_ignored_or_fail_later_are_bad_input(tmp_path, argv, message):
    proc = command("train", *argv, cwd=tmp_path)
    assert_one_line_error(proc, message)
    assert os.listdir(tmp_path) == []


def test_a_value_after_params_would_override_the_file_and_is_bad_input(tmp_path):
    write_params(tmp_path, lambda p: None)
    proc = command("train", "--params", "params.yaml", "train.lr=0.5", cwd=tmp_path)
    assert_one_line_error(
        proc, r"after --params params\.yaml must be data\.dir=\.\.\. or hydra\.\*"
    )
    assert sorted(os.listdir(tmp_path)) == ["params.yaml"]


def test_a_key_written_twice_in_params_is_bad_input(tmp_path):
    text = PARAMS.read_text().replace("  lr: 0.01\n", "  lr: 0.01\n  lr: 0.05\n", 1)
    assert text.count("lr: 0.05") == 1
    write_params(tmp_path, text)
    proc = command("train", "--params", "params.yaml", cwd=tmp_path)
    assert_one_line_error(
        proc, r"params\.yaml must be valid YAML, got: the key 'lr' is written twice"
    )
    assert sorted(os.listdir(tmp_path)) == ["params.yaml"]


@OPTUNA
def test_an_optimising_sweeper_without_an_objective_is_bad_input(tmp_path):
    """Stock Optuna would get a record, not a number, from each run, and crash after its trials."""
    space = "train.lr=interval(0.01,0.1)"
    proc = command(
        "train", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", space, cwd=tmp_path
    )
    assert_one_line_error(proc, r"tracking\.objective must name the record field .* got null$")
    assert os.listdir(tmp_path) == []
