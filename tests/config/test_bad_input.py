"""Bad input on the command line and in params.yaml: one line "error: ...", exit 2, nothing trained,
recorded or written; caught before any work (linreg.config.checks, linreg.config.writable,
linreg.config.hydra_errors), including what Hydra, MLflow, YAML or joblib would meet only once
started and what cannot fit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from linreg.config.checks import check
from linreg.core import resources
from linreg.core.device import available_devices
from linreg.core.losses import LOSSES
from tests.helpers.cli import VENV_BIN, clean_env
from tests.helpers.commands import (
    FAST_S,
    HAS_CUDA,
    OPTUNA,
    PARAMS,
    QUICK,
    _set,
    assert_one_line_error,
    command,
    cpu_s,
    files,
    grid_config,
    grid_group,
    one_line_error,
    too_many_epochs,
    write_params,
)

# loss=... is Hydra's choice of a file of conf/loss/, whose names Hydra lists alphabetically: one
# for each loss of the core (a loss added without its yaml file fails here)
LOSS_CHOICES = ", ".join(sorted(LOSSES))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1", r"^train\.lrr must be one of the keys of train \(.*\blr\b.*\), got 'lrr'$"),
        ("train.epochs=abc", r"^train\.epochs must be an integer, got 'abc'$"),
        ("train.lr=-1", r"^train\.lr must be a number > 0, got -1"),
        ("loss=msee", rf"^loss must be one of {LOSS_CHOICES}, got 'msee'$"),
    ],
)
def test_typos_and_bad_values_are_one_line(override, message):
    from linreg.config.checks import UsageError

    with pytest.raises(UsageError, match=message) as info:
        check([override], multirun=False)
    assert "\n" not in str(info.value)


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
        rf"loss must be one of {LOSS_CHOICES}, got 'msee'$",
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


# --- the command line: a bad value anywhere in a grid stops it before anything is recorded ------
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
        rf"loss must be one of {LOSS_CHOICES}, got 'msee'$",
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


# --- the train command: bounds before work ----------------------------------------------------


def test_too_many_epochs_is_one_line_at_once(cli):
    epochs = too_many_epochs()
    before = files(cli.cwd)
    start = cpu_s()
    proc = cli.train(f"train.epochs={epochs}", "backend=numpy", timeout=60)
    took = cpu_s() - start
    line = one_line_error(
        proc,
        r"train\.epochs must be an integer <= \d+ \(the trajectory, 120 bytes an epoch with "
        rf"n_features = 1, must fit in half of this machine's [\d.]+ GiB\), got {epochs}",
    )
    assert took < FAST_S, took
    limit = int(re.search(r"<= (\d+)", line).group(1))
    assert resources.run_bytes(limit, 1) <= resources.budget_bytes()
    assert files(cli.cwd) == before  # no run folder, no MLflow store


def test_too_many_epochs_in_a_sweep_is_one_line(cli):
    before = files(cli.cwd)
    proc = cli.train("-m", f"train.epochs=10,{too_many_epochs()}", "backend=numpy", timeout=60)
    one_line_error(proc, rf"train\.epochs must be an integer <= \d+ .*, got {too_many_epochs()}")
    assert files(cli.cwd) == before


def test_too_many_samples_is_one_line_at_once(cli):
    n = 10**9 if resources.data_bytes(10**9, 1, 100) > resources.budget_bytes() else 10**15
    before = files(cli.cwd)
    start = cpu_s()
    proc = cli.train(f"data.n_samples={n}", "backend=numpy", timeout=60)
    one_line_error(
        proc,
        r"data\.n_samples must be an integer <= \d+ \(the data, with n_features = 1, "
        rf"n_test = 100, must fit in half of this machine's [\d.]+ GiB\), got {n}",
    )
    assert cpu_s() - start < FAST_S
    assert files(cli.cwd) == before


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["hydra.run.dir=somefile/x"],
         r"hydra\.run\.dir must be a folder that can be created and written, got 'somefile/x' "
         r"\(.*/somefile is a file\)"),
        (["-m", "hydra.sweep.dir=somefile/x", "train.lr=0.1,0.01"],
         r"hydra\.sweep\.dir must be a folder that can be created and written, got 'somefile/x' "
         r"\(.*/somefile is a file\)"),
        (["hydra.run.dir=/proc/linreg-x"],
         r"hydra\.run\.dir must be a folder that can be created and written, got "
         r"'/proc/linreg-x' \(/proc refuses a new folder: .*\)"),
        (["-m", "hydra.sweep.dir=/proc/linreg-x/y", "train.lr=0.1,0.01"],
         r"hydra\.sweep\.dir must be a folder that can be created and written, got "
         r"'/proc/linreg-x/y' \(/proc refuses a new folder: .*\)"),
        (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0", "train.lr=0.1,0.01"],
         r"hydra\.launcher\.n_jobs must be an integer other than 0 \(.*\), got 0"),
        (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2,0"],
         r"hydra\.launcher\.n_jobs must be an integer other than 0 \(.*\), got 0"),
    ],
    ids=["run-dir-under-file", "sweep-dir-under-file", "run-dir-in-proc", "sweep-dir-in-proc",
         "joblib-n_jobs-0", "joblib-n_jobs-swept-0"],
)  # fmt: skip
def test_places_and_launcher_hydra_would_fail_on_are_one_line(cli, args, pattern):
    if "/proc" in " ".join(args) and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    (cli.cwd / "somefile").write_text("a file, not a folder\n")
    before = files(cli.cwd)
    proc = cli.train(*args, "backend=numpy", "train.epochs=3", timeout=60)
    one_line_error(proc, pattern)
    assert files(cli.cwd) == before


def test_a_tracking_store_under_a_file_is_one_line(cli):
    (cli.cwd / "somefile").write_text("a file\n")
    uri = f"sqlite:///{cli.cwd / 'somefile' / 'mlflow.db'}"
    before = files(cli.cwd)
    proc = cli.train(f"tracking.uri={uri}", "backend=numpy", "train.epochs=3", timeout=60)
    one_line_error(
        proc,
        rf"tracking\.uri must be a path whose folder can be created and written, got "
        rf"'{re.escape(uri)}' \(.*/somefile is a file\)",
    )
    assert files(cli.cwd) == before
    # the same store named by the environment is named as such
    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "linreg.train", "backend=numpy", "train.epochs=3"],
        cwd=cli.cwd, env=clean_env(MLFLOW_TRACKING_URI=uri), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    one_line_error(proc, r"MLFLOW_TRACKING_URI must be a path whose folder can be created.*")
    assert files(cli.cwd) == before


# --- params.yaml, read by a stage module directly ------------------------------------------


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("data:\n  n_samples: [1\n",
         r"params\.yaml must be valid YAML, got: while parsing a flow sequence: expected ',' or "
         r"'\]', but got '<stream end>' \(line 3, column 1\)"),
        ("data:\n\tn_samples: 3\n",
         r"params\.yaml must be valid YAML, got: .*found character '\\t' that cannot start any "
         r"token \(line 2, column 1\)"),
        (b"\xff\xfe data: 1\n", r"params\.yaml must be UTF-8 text, got byte 0xff at offset 0"),
        ("train: [1]\n", r"params\.yaml: train must be a mapping, got \[1\]"),
    ],
    ids=["flow-sequence", "tab", "not-utf8", "train-list"],
)  # fmt: skip
@pytest.mark.parametrize("stage", ["generate", "train"])
def test_a_bad_params_file_is_one_line_for_each_stage(cli, text, pattern, stage):
    path = cli.cwd / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = files(cli.cwd)
    if stage == "generate":
        proc = cli.command([str(VENV_BIN / "python"), "-m", "linreg.generate", "params.yaml",
                            "data"], timeout=60)  # fmt: skip
    else:
        proc = cli.train("--params", "params.yaml", "data.dir=data", "hydra.sweep.dir=runs",
                         timeout=60)  # fmt: skip
    one_line_error(proc, pattern)
    assert files(cli.cwd) == before


def assert_refused(cli, proc, message: str, keep: set[str]) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), proc.stderr
    assert {p.name for p in cli.cwd.iterdir()} == keep  # no outputs/, mlflow.db, mlruns/


def test_a_bad_value_in_a_config_group_grid_is_one_line_exit_2(cli):
    proc = cli.train("-m", *grid_group(cli, "0.01,-1"), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep", timeout=120)  # fmt: skip
    assert_refused(cli, proc, r"^error: train\.lr must be a number > 0, got -1", {"myconf"})


def test_a_bad_value_in_a_primary_config_grid_is_one_line_exit_2(cli):
    proc = cli.train("-m", *grid_config(cli, {"train.lr": "0.01,-1"}), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep", timeout=120)  # fmt: skip
    assert_refused(cli, proc, r"^error: train\.lr must be a number > 0, got -1", {"myconf"})


# --- bad input: one line, exit 2, nothing written ------------------------------------------------
BAD_INPUT = {
    "typo-key": (["train.lrr=1"], r"train\.lrr must be one of the keys of train \(.*\blr\b"),
    "typo-choice": (["loss=msee"], rf"loss must be one of {LOSS_CHOICES}, got 'msee'"),
    "negative-lr": (["train.lr=-1"], r"train\.lr must be a number > 0, got -1"),
    "negative-lr-in-sweep": (["-m", "train.lr=0.1,-1"], r"train\.lr must be a number > 0"),
    "epochs-not-int": (["train.epochs=abc"], r"train\.epochs must be an integer, got 'abc'"),
    # a single run's data is known before it starts (in a sweep the run fails: tests/sweep)
    "batch-larger-than-the-data": (
        ["train.batch_size=101", "backend=numpy"],
        r"train\.batch_size must be an integer >= 1 and <= 100, got 101$",
    ),
    "batch-larger-than-a-csv": (
        ["data=csv", "data.path=small.csv", "data.target=y", "train.batch_size=7"],
        r"train\.batch_size must be an integer >= 1 and <= 5, got 7$",  # the 5 rows it trains on
    ),
    "sweep-without-m": (["train.lr=0.1,0.2"], r"train\.lr=0\.1,0\.2 is a sweep: add -m"),
    "missing-csv": (
        ["data=csv", "data.path=missing.csv", "data.target=y"],
        r"data\.path must be an existing CSV file, got 'missing\.csv'",
    ),
    "launcher-typo": (
        ["-m", "hydra/launcher=jobllib", "train.lr=0.1,0.2"],
        r"hydra/launcher must be one of basic, joblib\b.*, got 'jobllib'$",
    ),
    # data that passes the checks but is not finite as float32, the dtype the runs train in
    # (short, figure-less runs so that, while it is let through, the test fails quickly)
    "feature-scale-overflows-float32": (
        ["data.feature_scale=1e39", *QUICK],
        r"^error: data\.feature_scale must be",
    ),
    "feature-scale-overflows-in-sweep": (
        ["-m", "backend=numpy", "data.feature_scale=1,1e39", *QUICK],
        r"^error: data\.feature_scale must be",
    ),
    "weights-overflow-float32": (["data.weights=[1e39]", *QUICK], r"^error: data\.weights must be"),
    "csv-value-overflows-float32": (
        ["data=csv", "data.path=big.csv", "data.target=y", *QUICK],
        r"'x'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, case):
    args, message = BAD_INPUT[case]
    before = set()
    if case == "batch-larger-than-a-csv":
        rows = "".join(f"{x},{2 * x + 1}\n" for x in range(6))
        (cli.cwd / "small.csv").write_text("x,y\n" + rows)
        before = {"small.csv"}
    if case == "csv-value-overflows-float32":
        rows = "".join(f"{x},{2 * x + 1}\n" for x in (0.5, -1.0, 1e300, 2.0, 0.25, 3.0))
        (cli.cwd / "big.csv").write_text("x,y\n" + rows)
        before = {"big.csv"}
    proc = cli.train(*args, timeout=120)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert proc.stdout == ""
    assert {p.name for p in cli.cwd.iterdir()} == before  # no outputs/, mlflow.db, mlruns/


@pytest.mark.skipif(HAS_CUDA, reason="cuda is present: device=cuda runs")
def test_single_run_on_an_absent_device_is_bad_input(cli):
    proc = cli.train("device=cuda", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "error: device must be a device present on this machine "
        f"({', '.join(available_devices())}), got 'cuda'"
    ]
    assert list(cli.cwd.iterdir()) == []


def test_a_bad_batch_size_is_bad_input(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "linreg.train", "-m", "train.lr=0.01,0.1",
         "hydra.sweeper.max_batch_size=0"],
        cwd=tmp_path, env=clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: hydra.sweeper.max_batch_size must be an integer >= 1 (the jobs handed to the "
        "launcher at once) or null (all), got 0"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_bad_log_models_is_one_line_exit_2(cli):
    proc = cli.train("tracking.log_models=maybe")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        "error: tracking.log_models must be one of best, all, none, got 'maybe'"
    ), proc.stderr
