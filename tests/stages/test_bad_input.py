"""Bad input to the generate and evaluate stages: one line "error: ...", exit 2, nothing written;
the evaluate stage reads and checks everything before it writes anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import VENV_BIN, Cli
from tests.helpers.commands import (
    _set,
    assert_one_line_error,
    command,
    files,
    one_line_error,
    write_params,
)

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


def test_generate_into_a_file_is_one_line(cli):
    shutil.copy(Path(__file__).resolve().parents[2] / "params.yaml", cli.cwd / "params.yaml")
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
