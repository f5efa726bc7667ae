"""Bounds before work (issue 9): what cannot fit, and what Hydra, MLflow, YAML, joblib or the
evaluate stage would meet only once started, is one line "error: ...", exit 2, nothing written.

Each case ran into a traceback, a MemoryError or a half-written folder before the fix.  The
commands run as real subprocesses in a tmp dir with their own MLflow sqlite store; the core's
checks are called directly.
"""

from __future__ import annotations

import math
import re
import resource
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import VENV_BIN, Cli, clean_env
from linreg.core import (
    DataSpec,
    LinregError,
    Loss,
    TrainSettings,
    evaluate,
    fit,
    generate,
    resources,
)
from linreg.core.optim import lr_schedule

FAST_S = 5.0  # a bound is reported before any work: well under this, Python's start included


def cpu_s() -> float:
    """CPU seconds used so far by this process and its ended children (a command run through
    subprocess): what work costs, which the wall clock on a busy machine (the CI's two xdist
    workers on two cores) would stretch several times."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def files(folder: Path) -> dict[str, float]:
    """Every path under ``folder`` with its mtime: what a failing command must leave as it was."""
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in sorted(folder.rglob("*"))}


def one_line_error(proc: subprocess.CompletedProcess, pattern: str) -> str:
    """The command exited 2 with exactly one line on stderr, "error: " + ``pattern``."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(f"error: {pattern}", lines[0]), lines[0]
    return lines[0]


def too_many_epochs() -> int:
    """10**9 epochs (the issue's case) unless this machine could hold that; then far more."""
    fits = resources.run_bytes(10**9, 1) <= resources.budget_bytes()
    return 10**15 if fits else 10**9


# --- the lr schedule: an array, the same values bit for bit -----------------------------------


def scalar_lr_schedule(s: TrainSettings) -> list[float]:
    """The schedule as it was computed before: a Python float per epoch (the reference)."""
    out = []
    for e in range(s.epochs):
        if s.schedule == "constant":
            lr = s.lr
        elif s.schedule == "step":
            lr = s.lr * s.gamma ** (e // s.step_size)
        elif s.schedule == "exponential":
            lr = s.lr * s.gamma**e
        else:
            lr = s.eta_min + (s.lr - s.eta_min) * (1 + math.cos(math.pi * e / s.epochs)) / 2
        out.append(lr)
    return out


@pytest.mark.parametrize(
    "kw",
    [
        dict(schedule="constant", lr=0.1),
        dict(schedule="step", lr=0.3, step_size=7, gamma=0.93),
        dict(schedule="step", lr=0.3, step_size=1, gamma=0.999),
        dict(schedule="step", lr=0.3, step_size=5000, gamma=0.5),  # one step past the end
        dict(schedule="exponential", lr=0.05, gamma=0.9999993),
        dict(schedule="exponential", lr=0.7, gamma=0.1),  # underflows to 0
        dict(schedule="cosine", lr=0.2, eta_min=0.013),
        dict(schedule="cosine", lr=1e-3, eta_min=0.0),
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_lr_schedule_is_a_float64_array_equal_bit_for_bit_to_the_scalar_formulas(kw):
    s = TrainSettings(epochs=4099, **kw)
    ours = lr_schedule(s)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float64 and ours.shape == (4099,)
    ref = np.array(scalar_lr_schedule(s), dtype=np.float64)
    np.testing.assert_array_equal(ours.view(np.int64), ref.view(np.int64))


def test_lr_schedule_of_a_long_run_is_8_bytes_an_epoch():
    start = cpu_s()
    lrs = lr_schedule(TrainSettings(epochs=10**7, schedule="step", step_size=1000, gamma=0.9))
    assert cpu_s() - start < FAST_S
    assert lrs.nbytes == 8 * 10**7 and lrs[0] == 0.01 and lrs[-1] == 0.01 * 0.9**9999
    # a step longer than the run costs nothing beyond the run's own epochs
    assert lr_schedule(TrainSettings(epochs=5, schedule="step", step_size=10**12)).shape == (5,)


# --- the core's memory bounds -----------------------------------------------------------------


def test_trajectory_bound_names_epochs_and_the_largest_that_fits():
    budget = resources.budget_bytes()
    assert 0 < budget <= resources.machine_bytes() // 2 + 1
    with pytest.raises(LinregError) as info:
        resources.check_trajectory_fits(too_many_epochs(), 1)
    err = info.value
    assert err.param == "epochs" and err.given == too_many_epochs()
    limit = int(re.match(r"an integer <= (\d+) ", err.allowed).group(1))
    assert resources.run_bytes(limit, 1) <= budget < resources.run_bytes(limit + 1, 1)
    assert f"half of this machine's {resources.machine_bytes() / 2**30:.1f} GiB" in str(err)
    resources.check_trajectory_fits(limit, 1)  # the limit itself fits
    # the data's share leaves less for the trajectory
    with pytest.raises(LinregError, match=r"beside the data's"):
        resources.check_trajectory_fits(limit, 1, data=budget // 2)


def test_data_bound_names_the_largest_size_and_its_limit():
    with pytest.raises(LinregError) as info:
        resources.check_data_fits(10**12, 1, 100)
    assert info.value.param == "n_samples"
    limit = int(re.match(r"an integer <= (\d+) ", info.value.allowed).group(1))
    assert resources.data_bytes(limit, 1, 100) <= resources.budget_bytes()
    assert resources.data_bytes(limit + 1, 1, 100) > resources.budget_bytes()
    with pytest.raises(LinregError) as info:
        resources.check_data_fits(100, 10**12, 100)
    assert info.value.param == "n_features"
    assert resources.check_data_fits(100, 1, 100) == resources.data_bytes(100, 1, 100)


# --- the core: NaN and inf in, wrong lengths -------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return generate(DataSpec(n_samples=20, n_test=5))


@pytest.mark.parametrize("backend", ["numpy", "python", "torch"])
@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (
            "X",
            np.nan,
            r"^X must be finite numbers \(no NaN or inf\), got <1 NaN value\(s\), "
            r"the first at \[3, 0\]>$",
        ),
        ("X", np.inf, r"^X must be finite numbers \(no NaN or inf\), got <1 inf value\(s\)"),
        (
            "y",
            np.nan,
            r"^y must be finite numbers \(no NaN or inf\), got <1 NaN value\(s\), "
            r"the first at \[3\]>$",
        ),
        ("theta0", np.nan, r"^theta0 must be finite numbers \(no NaN or inf\), got \[nan, "),
        ("theta0", -np.inf, r"^theta0 must be finite numbers \(no NaN or inf\), got \[-inf, "),
    ],
)
def test_fit_refuses_non_finite_input_naming_it(small, backend, where, value, message):
    X, y, theta0 = small.X.copy(), small.y.copy(), small.theta0.copy()
    {"X": lambda: X.__setitem__((3, 0), value), "y": lambda: y.__setitem__(3, value),
     "theta0": lambda: theta0.__setitem__(0, value)}[where]()  # fmt: skip
    with pytest.raises(LinregError, match=message) as info:
        fit(X, y, theta0, TrainSettings(epochs=5), backend)
    assert info.value.param == where


def test_fit_refuses_wrong_shapes_as_linreg_errors(small):
    with pytest.raises(LinregError, match=r"^theta0 must be m \+ 1 = 2 values"):
        fit(small.X, small.y, np.zeros(3), TrainSettings(epochs=2))
    with pytest.raises(LinregError, match=r"^X must be a 2-d array"):
        fit(small.X[:, 0], small.y, np.zeros(2), TrainSettings(epochs=2))


@pytest.mark.parametrize("theta", [[1.0], [1.0, 2.0, 3.0], np.zeros((2, 2))], ids=str)
def test_evaluate_refuses_a_theta_of_the_wrong_length(small, theta):
    with pytest.raises(LinregError, match=r"^theta must be n_features \+ 1 = 2 numbers") as info:
        evaluate(np.asarray(theta), small, Loss("mse"))
    assert info.value.param == "theta"


def test_evaluate_still_takes_a_diverged_theta(small):
    ev = evaluate(np.array([np.nan, np.nan]), small, Loss("mse"))
    assert ev.train_loss == math.inf


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


def test_generate_into_a_file_is_one_line(cli):
    shutil.copy(Path(__file__).resolve().parents[1] / "params.yaml", cli.cwd / "params.yaml")
    (cli.cwd / "somefile").write_text("a file\n")
    before = files(cli.cwd)
    for out, pattern in [
        ("somefile", r"the data folder must be a folder, got 'somefile' \(a file\)"),
        ("somefile/data", r"the data folder must be a path whose folder can be created and "
                          r"written, got 'somefile/data' \(.*/somefile is a file\)"),
    ]:  # fmt: skip
        proc = cli.command(
            [str(VENV_BIN / "python"), "-m", "linreg.generate", "params.yaml", out], timeout=60
        )
        one_line_error(proc, pattern)
    assert files(cli.cwd) == before


# --- the evaluate stage: everything read and checked before anything is written ---------------

STAGE_PARAMS = """\
train:
  epochs: 5
grid:
  train:
    lr: [0.01, 0.1]
  backend: [numpy]
"""


def make_pipeline(root: Path) -> dict:
    """A real generate + train stage (2 numpy runs of 5 epochs), then evaluate twice, the second
    time over results/ holding a file of its own (as DVC's .gitignore)."""
    (root / "params.yaml").write_text(STAGE_PARAMS)
    cli = Cli(root)
    py = str(VENV_BIN / "python")
    for argv in ([py, "-m", "linreg.generate", "params.yaml", "data"],
                 [py, "-m", "linreg.train", "--params", "params.yaml", "data.dir=data",
                  "hydra.sweep.dir=runs"],
                 [py, "-m", "linreg.evaluate", "runs", "data", "results"]):  # fmt: skip
        proc = cli.command(argv, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    first = sorted(files(root / "results"))
    (root / "results" / ".gitignore").write_text("/summary.csv\n")
    proc = cli.command(argv, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {
        "first": first,
        "second": sorted(files(root / "results")),
        "gitignore": (root / "results" / ".gitignore").read_text(),
        "beside": sorted(p.name for p in root.iterdir()),
    }


@pytest.fixture
def pipeline(once) -> tuple[Path, dict]:
    """The pipeline's folders, made once per session (shared by the xdist workers: read only)."""
    return once("bounds-pipeline", make_pipeline)


@pytest.fixture
def stage(pipeline, tmp_path) -> Cli:
    """A copy of the pipeline's data/, runs/ and results/ to break."""
    for name in ("data", "runs", "results", "params.yaml"):
        src = pipeline[0] / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name)
        else:
            shutil.copy2(src, tmp_path / name)
    return Cli(tmp_path)


def evaluate_cmd(stage: Cli, *args: str) -> subprocess.CompletedProcess:
    return stage.command([str(VENV_BIN / "python"), "-m", "linreg.evaluate", *args], timeout=120)


def first_run(stage: Cli) -> Path:
    return sorted(p for p in (stage.cwd / "runs").iterdir() if p.is_dir())[0]


BREAKS = {
    "data-missing": (
        lambda c: shutil.rmtree(c.cwd / "data"),
        r"data\.dir must be a folder holding meta\.json \(run the generate stage\), got 'data'",
    ),
    "parquet-corrupt": (
        lambda c: (c.cwd / "data" / "train.parquet").write_bytes(b"not parquet at all"),
        r"data\.dir must be a readable dataset \(rerun the generate stage\), got 'data' "
        r"\(ArrowInvalid: .*\)",
    ),
    "meta-not-json": (
        lambda c: (c.cwd / "data" / "meta.json").write_text("not json {\n"),
        r"data\.dir must be a readable dataset \(rerun the generate stage\), got 'data' "
        r"\(JSONDecodeError: .*\)",
    ),
    "manifest-not-json": (
        lambda c: (c.cwd / "runs" / "sweep.json").write_text("{\n"),
        r"runs/sweep\.json must be the sweep's JSON manifest \(rerun the train stage\), got "
        r"JSONDecodeError: .*",
    ),
    "trajectory-corrupt": (
        lambda c: (first_run(c) / "trajectory.parquet").write_bytes(b"PAR1 not parquet"),
        r"runs/0-.*/trajectory\.parquet must be a readable trajectory table \(rerun the train "
        r"stage\), got \w+: .*",
    ),
    "results-is-a-file": (
        lambda c: (c.cwd / "results").write_text("a file\n"),
        r"results must be a folder, got 'results' \(a file\)",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "earlier_results"),
    [(c, False) for c in BREAKS] + [(c, True) for c in BREAKS if c != "results-is-a-file"],
    ids=lambda v: {False: "fresh", True: "over-results"}.get(v, v) if isinstance(v, bool) else v,
)
def test_evaluate_checks_everything_before_writing(stage, case, earlier_results):
    if not earlier_results:
        shutil.rmtree(stage.cwd / "results")
    breaks, pattern = BREAKS[case]
    breaks(stage)
    before = files(stage.cwd)
    one_line_error(evaluate_cmd(stage, "runs", "data", "results"), pattern)
    assert files(stage.cwd) == before  # results/ untouched: not created, not half-replaced


@pytest.mark.slow
def test_evaluate_writes_every_output_once_the_input_is_good(pipeline):
    _, made = pipeline
    outputs = {"summary.csv", "metrics.json", "plots", "plots/errors.csv", "plots/loss.csv",
               "figures", "report.md", "report.html"}  # fmt: skip
    assert outputs <= set(made["first"])
    # the second evaluation replaced the outputs and kept what else results/ holds
    assert set(made["second"]) == {*made["first"], ".gitignore"}
    assert made["gitignore"] == "/summary.csv\n"
    assert not [name for name in made["beside"] if name.startswith(".evaluate-")]  # no scratch
