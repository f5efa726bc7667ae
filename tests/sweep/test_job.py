"""One run of a sweep (linreg.sweep.job): checks that need the data fail that run only, the sweep
goes on, and a failed run makes the command exit 1."""

from __future__ import annotations

import re

import pytest

from linreg.sweep import folder as sweep_folder
from tests.helpers.cli import split_runs
from tests.helpers.commands import QUICK, assert_ran, counts_line, grid_config


# --- checks that need the data: the run fails, the sweep goes on --------------------------------
def assert_failed_by_the_data(cli, proc, sweep_dir, failing: dict, reason: str) -> None:
    """The run whose name has every part of ``failing`` failed with a one-line ``reason``
    (regex), the others ended ok; MLflow agrees; the command exits 1."""
    assert_ran(proc, code=1)
    recs = sweep_folder.records(sweep_dir)
    parts = {f"{k}={v}" for k, v in failing.items()}
    bad = [r for r in recs if parts <= set(r.run_name.split(" · "))]
    assert len(bad) == 1, [r.run_name for r in recs]
    [bad] = bad
    assert bad.status == "failed", bad
    assert "\n" not in bad.reason and re.search(reason, bad.reason), bad.reason
    assert {r.status for r in recs if r is not bad} == {"ok"}
    n = len(recs)
    line = counts_line(proc.stdout)
    assert line.endswith(f": {n} runs: {n - 1} ok, 0 diverged, 0 skipped, 1 failed"), line

    parents, children = split_runs(cli.runs())
    assert len(children) == n, [r.info.run_name for r in children]
    by_id = {r.info.run_id: r for r in children}
    assert bad.mlflow_run_id in by_id
    run = by_id.pop(bad.mlflow_run_id)
    assert run.info.status == "FAILED" and run.data.tags["status"] == "failed"
    assert run.data.tags["reason"] == bad.reason
    assert {r.info.status for r in by_id.values()} == {"FINISHED"}
    [parent] = parents
    assert parent.info.status == "FAILED" and parent.data.tags["status"] == "failed"


@pytest.mark.slow
def test_a_batch_larger_than_the_data_fails_that_run_only(stored_cli):
    # the walkthrough's data has n=100 samples: batch_size=500 cannot run, batch_size=50 can
    proc = stored_cli.train("-m", "train.batch_size=50,500", "backend=numpy", "train.epochs=5",
                     "hydra.sweep.dir=sweep")  # fmt: skip
    assert_failed_by_the_data(
        stored_cli,
        proc,
        stored_cli.cwd / "sweep",
        {"batch_size": 500},
        r"^train\.batch_size must be an integer >= 1 and <= 100, got 500$",
    )


@pytest.mark.slow
def test_a_batch_larger_than_one_swept_dataset_fails_that_run_only(stored_cli):
    # only the combination n=50, batch=100 cannot run
    proc = stored_cli.train(
        "-m", "data.n_samples=50,200", "train.batch_size=10,100",
        "backend=numpy", *QUICK, "hydra.sweep.dir=sweep",
    )  # fmt: skip
    assert_failed_by_the_data(
        stored_cli,
        proc,
        stored_cli.cwd / "sweep",
        {"n_samples": 50, "batch_size": 100},
        r"^train\.batch_size must be an integer >= 1 and <= 50, got 100$",
    )


@pytest.mark.slow
def test_a_failed_run_exits_1_with_a_primary_config_of_ones_own(stored_cli):
    grid = grid_config(stored_cli, {"train.batch_size": "50,500"})
    proc = stored_cli.train("-m", *grid, "backend=numpy", *QUICK, "hydra.sweep.dir=sweep")
    assert_failed_by_the_data(
        stored_cli,
        proc,
        stored_cli.cwd / "sweep",
        {"batch_size": 500},
        r"^train\.batch_size must be",
    )
