"""Runs already done are reused, not trained again (linreg.tracking.reuse): a grown grid trains only
what is new, changed code trains again, a reused run is reused from the run that trained."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.cli import REPO, clean_env, split_runs

SMALL = ["backend=numpy", "train.epochs=50", "tracking.figures=false", "tracking.graph=false"]


@pytest.mark.slow
def test_a_grown_grid_trains_only_what_is_new(stored_cli):
    first = stored_cli.train("-m", "train.lr=0.01,0.1", *SMALL, "hydra.sweep.dir=a")
    assert first.returncode == 0, first.stdout + first.stderr
    grown = stored_cli.train("-m", "train.lr=0.01,0.1,0.5", *SMALL, "hydra.sweep.dir=b")
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert grown.stdout.count("(reused)") == 2
    before = pd.read_csv(stored_cli.cwd / "a" / "summary.csv")
    after = pd.read_csv(stored_cli.cwd / "b" / "summary.csv")
    assert after["status"].tolist() == ["ok"] * 3
    assert after["reused_from"].iloc[:2].tolist() == before["mlflow_run_id"].tolist()
    assert pd.isna(after["reused_from"].iloc[2])
    for col in ("bias", "w_0", "weight_error", "train_loss", "wall_s"):  # the same result
        assert after[col].iloc[:2].tolist() == before[col].tolist()
    for folder in after["run_folder"].iloc[:2]:  # its files, as if trained here
        for name in ("trajectory.parquet", "trajectory.csv", "evaluation.json", "result.json"):
            assert (stored_cli.cwd / "b" / folder / name).is_file(), (folder, name)
    runs = stored_cli.runs()
    parents, children = split_runs(runs)
    grown_parent = next(p for p in parents if p.data.tags["sweep_dir"].endswith("/b"))
    mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == grown_parent.info.run_id]
    assert len(mine) == 3  # the sweep covers every run, the reused ones too
    assert sorted(c.data.tags.get("linreg.reused_from", "") for c in mine)[1:] == sorted(
        before["mlflow_run_id"]
    )
    assert all(c.info.status == "FINISHED" for c in mine)

    forced = stored_cli.train("-m", "train.lr=0.01,0.1", *SMALL, "tracking.reuse=false",
                       "hydra.sweep.dir=c")  # fmt: skip
    assert forced.returncode == 0 and "(reused)" not in forced.stdout
    other_data = stored_cli.train(
        "-m", "train.lr=0.01,0.1", *SMALL, "data.seed=7", "hydra.sweep.dir=d"
    )
    assert other_data.returncode == 0 and "(reused)" not in other_data.stdout


@pytest.mark.slow
def test_changed_code_trains_again(stored_cli):
    """The same config on the same data with one changed source file of linreg: not reused."""
    copy = stored_cli.cwd / "copy"
    shutil.copytree(REPO / "src" / "linreg", copy / "src" / "linreg",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copytree(REPO / "conf", copy / "conf")

    def train(sweep: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "linreg.train",
                "-m",
                "train.lr=0.01",
                *SMALL,
                f"hydra.sweep.dir={stored_cli.cwd / sweep}",
            ],
            cwd=copy,
            env=clean_env(MLFLOW_TRACKING_URI=stored_cli.uri, PYTHONPATH=str(copy / "src")),
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert train("a").returncode == 0
    same = train("b")
    assert same.returncode == 0 and "(reused)" in same.stdout, same.stdout + same.stderr
    with (copy / "src" / "linreg" / "core" / "losses.py").open("a") as f:
        f.write("\n# a change\n")
    changed = train("c")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "(reused)" not in changed.stdout


@pytest.mark.slow
def test_a_reused_run_is_reused_again_from_the_run_that_trained(stored_cli):
    """Three times the same sweep: the third reuses the first (not the second, which holds only
    its record), with every file; a run whose artifacts lost its trajectory trains anew."""
    for sweep in ("a", "b", "c"):
        proc = stored_cli.train("-m", "train.lr=0.01,0.1", *SMALL, f"hydra.sweep.dir={sweep}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    first = pd.read_csv(stored_cli.cwd / "a" / "summary.csv")
    third = pd.read_csv(stored_cli.cwd / "c" / "summary.csv")
    assert len(third) == 2  # the grid's runs: the loop below checks each
    assert third["reused_from"].tolist() == first["mlflow_run_id"].tolist()
    for folder in third["run_folder"]:
        for name in ("trajectory.parquet", "trajectory.csv", "evaluation.json"):
            assert (stored_cli.cwd / "c" / folder / name).is_file(), (folder, name)

    [trained] = [r for r in stored_cli.runs() if r.info.run_id == first["mlflow_run_id"].iloc[0]]
    stored = Path(trained.info.artifact_uri.removeprefix("file://")) / "trajectory.parquet"
    stored.unlink()  # its artifacts damaged: that run is not reused, the other one is
    again = stored_cli.train("-m", "train.lr=0.01,0.1", *SMALL, "hydra.sweep.dir=d")
    assert again.returncode == 0, again.stdout + again.stderr
    fourth = pd.read_csv(stored_cli.cwd / "d" / "summary.csv")
    assert pd.isna(fourth["reused_from"].iloc[0])
    assert fourth["reused_from"].iloc[1] == first["mlflow_run_id"].iloc[1]


@pytest.mark.slow
def test_data_read_from_a_folder_reuses_the_runs_made_in_memory(stored_cli):
    """The DVC pipeline reads its data from data/ (data.dir); an ad-hoc sweep makes the same data
    in memory: the same digest, so either reuses the other's runs (the folder is where the data
    came from, not what it is)."""
    from linreg.core import DataSpec, generate
    from linreg.core.datafiles import save_dataset

    save_dataset(generate(DataSpec()), stored_cli.cwd / "data")
    first = stored_cli.train("-m", "train.lr=0.01,0.1", *SMALL, "hydra.sweep.dir=a")
    assert first.returncode == 0 and "(reused)" not in first.stdout, first.stdout + first.stderr
    read = stored_cli.train("-m", "train.lr=0.01,0.1", *SMALL, "data.dir=data", "hydra.sweep.dir=b")
    assert read.returncode == 0, read.stdout + read.stderr
    assert read.stdout.count("(reused)") == 2
