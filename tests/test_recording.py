"""What a run costs to record: a bounded number of points per series in MLflow (every epoch in
the run's Parquet), and runs already done reused, not trained again (tracking.reuse)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, clean_env, split_runs
from linreg.run.record import series_name
from linreg.run.thinning import chosen_steps, thin

SMALL = ["backend=numpy", "train.epochs=50", "tracking.figures=false", "tracking.graph=false"]


# --- the points MLflow gets --------------------------------------------------------------------
def test_a_series_within_the_budget_is_logged_whole():
    values = np.linspace(1, 0, 1000)
    assert chosen_steps(values, 1000).tolist() == list(range(1000))
    # a run of max_points epochs: its series holds one value more (the learned one), all kept
    assert chosen_steps(np.linspace(1, 0, 1001), 1000).tolist() == list(range(1001))


def test_a_thinned_series_uses_most_of_its_budget():
    smooth = np.exp(-np.arange(20_001) / 2000.0)
    assert 0.6 * 1000 < len(chosen_steps(smooth, 1000)) <= 1000


@pytest.mark.parametrize("n", [1002, 20_000, 1_000_001])
@pytest.mark.parametrize("budget", [10, 320, 1000])
def test_a_long_series_is_thinned_to_the_budget_keeping_its_ends(n, budget):
    values = np.exp(-np.arange(n) / (n / 10))
    steps = chosen_steps(values, budget)
    assert len(steps) <= budget
    assert steps[0] == 0 and steps[-1] == n - 1
    assert np.all(np.diff(steps) > 0)  # true epoch numbers, in order, each once
    if budget >= 100:
        assert np.isin([1, 2], steps).all()  # the first epochs, where the loss falls fastest


def test_a_spike_and_a_dip_are_never_sampled_away():
    rng = np.random.default_rng(0)
    values = 1 + 0.01 * rng.standard_normal(100_000)
    values[31_337] = 50.0  # one epoch's spike
    values[77_777] = -3.0  # one epoch's dip
    steps = chosen_steps(values, 300)
    assert 31_337 in steps and 77_777 in steps


def test_a_divergence_keeps_its_last_finite_values():
    values = np.r_[np.linspace(1, 0.1, 5000), np.geomspace(1, 1e30, 400), [np.inf, np.nan]]
    steps = chosen_steps(values, 200)
    assert int(np.nanargmax(np.where(np.isfinite(values), values, np.nan))) in steps
    assert len(values) - 1 in steps


def test_thin_keeps_each_value_at_its_step():
    values = np.sin(np.arange(5000) / 100.0)
    (steps, kept), = thin({"loss": values}, 100).values()  # fmt: skip
    np.testing.assert_array_equal(kept, values[steps])


@pytest.mark.slow
def test_mlflow_gets_the_budget_and_the_run_folder_every_epoch(cli):
    proc = cli.train("backend=numpy", "train.epochs=3000", "tracking.max_points=100",
                     "tracking.figures=false", "hydra.run.dir=run")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [run] = cli.runs()
    client = cli.client()
    for key in ("loss", "w_0", "bias", "grad_norm"):
        history = client.get_metric_history(run.info.run_id, series_name(key))
        steps = sorted(m.step for m in history)
        assert 20 < len(steps) <= 100, (key, len(steps))
        assert steps[0] == 0
    loss_steps = {m.step for m in client.get_metric_history(run.info.run_id, "epoch/loss")}
    assert 3000 in loss_steps  # the learned value, after the last epoch
    table = pd.read_parquet(cli.cwd / "run" / "trajectory.parquet")
    assert table["epoch"].tolist() == list(range(3000))
    csv = pd.read_csv(cli.cwd / "run" / "trajectory.csv")
    np.testing.assert_array_equal(csv["loss"].to_numpy(), table["loss"].to_numpy())
    listed = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "trajectory.parquet" in listed


# --- reuse -------------------------------------------------------------------------------------
def reused(sweep) -> dict[str, str | None]:
    summary = pd.read_csv(sweep / "summary.csv")
    return dict(
        zip(
            summary["run_name"],
            summary["reused_from"].where(summary["reused_from"].notna(), None),
            strict=True,
        )
    )


@pytest.mark.slow
def test_a_grown_grid_trains_only_what_is_new(cli):
    first = cli.train("-m", "train.lr=0.01,0.1", *SMALL, "hydra.sweep.dir=a")
    assert first.returncode == 0, first.stdout + first.stderr
    grown = cli.train("-m", "train.lr=0.01,0.1,0.5", *SMALL, "hydra.sweep.dir=b")
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert grown.stdout.count("(reused)") == 2
    before = pd.read_csv(cli.cwd / "a" / "summary.csv")
    after = pd.read_csv(cli.cwd / "b" / "summary.csv")
    assert after["status"].tolist() == ["ok"] * 3
    assert after["reused_from"].iloc[:2].tolist() == before["mlflow_run_id"].tolist()
    assert pd.isna(after["reused_from"].iloc[2])
    for col in ("bias", "w_0", "weight_error", "train_loss", "wall_s"):  # the same result
        assert after[col].iloc[:2].tolist() == before[col].tolist()
    for folder in after["run_folder"].iloc[:2]:  # its files, as if trained here
        for name in ("trajectory.parquet", "trajectory.csv", "evaluation.json", "result.json"):
            assert (cli.cwd / "b" / folder / name).is_file(), (folder, name)
    runs = cli.runs()
    parents, children = split_runs(runs)
    grown_parent = next(p for p in parents if p.data.tags["sweep_dir"].endswith("/b"))
    mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == grown_parent.info.run_id]
    assert len(mine) == 3  # the sweep covers every run, the reused ones too
    assert sorted(c.data.tags.get("linreg.reused_from", "") for c in mine)[1:] == sorted(
        before["mlflow_run_id"]
    )
    assert all(c.info.status == "FINISHED" for c in mine)

    forced = cli.train("-m", "train.lr=0.01,0.1", *SMALL, "tracking.reuse=false",
                       "hydra.sweep.dir=c")  # fmt: skip
    assert forced.returncode == 0 and "(reused)" not in forced.stdout
    other_data = cli.train("-m", "train.lr=0.01,0.1", *SMALL, "data.seed=7", "hydra.sweep.dir=d")
    assert other_data.returncode == 0 and "(reused)" not in other_data.stdout


@pytest.mark.slow
def test_changed_code_trains_again(cli):
    """The same config on the same data with one changed source file of linreg: not reused."""
    copy = cli.cwd / "copy"
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
                f"hydra.sweep.dir={cli.cwd / sweep}",
            ],
            cwd=copy,
            env=clean_env(MLFLOW_TRACKING_URI=cli.uri, PYTHONPATH=str(copy / "src")),
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


def test_a_trajectory_goes_to_original_units_row_by_row_at_once(walkthrough_data):
    import dataclasses

    data = dataclasses.replace(
        walkthrough_data, feature_mean=np.array([3.0]), feature_scale=np.array([2.0])
    )
    thetas = np.random.default_rng(1).standard_normal((50, 2))
    rows = np.array([data.to_original_units(t) for t in thetas])
    np.testing.assert_array_equal(data.to_original_units(thetas), rows)
    assert data.to_original_units(thetas[0]).shape == (2,)


@pytest.mark.slow
def test_a_reused_run_is_reused_again_from_the_run_that_trained(cli):
    """Three times the same sweep: the third reuses the first (not the second, which holds only
    its record), with every file; a run whose artifacts lost its trajectory trains anew."""
    for sweep in ("a", "b", "c"):
        proc = cli.train("-m", "train.lr=0.01,0.1", *SMALL, f"hydra.sweep.dir={sweep}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    first = pd.read_csv(cli.cwd / "a" / "summary.csv")
    third = pd.read_csv(cli.cwd / "c" / "summary.csv")
    assert third["reused_from"].tolist() == first["mlflow_run_id"].tolist()
    for folder in third["run_folder"]:
        for name in ("trajectory.parquet", "trajectory.csv", "evaluation.json"):
            assert (cli.cwd / "c" / folder / name).is_file(), (folder, name)

    [trained] = [r for r in cli.runs() if r.info.run_id == first["mlflow_run_id"].iloc[0]]
    stored = Path(trained.info.artifact_uri.removeprefix("file://")) / "trajectory.parquet"
    stored.unlink()  # its artifacts damaged: that run is not reused, the other one is
    again = cli.train("-m", "train.lr=0.01,0.1", *SMALL, "hydra.sweep.dir=d")
    assert again.returncode == 0, again.stdout + again.stderr
    fourth = pd.read_csv(cli.cwd / "d" / "summary.csv")
    assert pd.isna(fourth["reused_from"].iloc[0])
    assert fourth["reused_from"].iloc[1] == first["mlflow_run_id"].iloc[1]


@pytest.mark.slow
def test_data_read_from_a_folder_reuses_the_runs_made_in_memory(cli):
    """The DVC pipeline reads its data from data/ (data.dir); an ad-hoc sweep makes the same data
    in memory: the same digest, so either reuses the other's runs (the folder is where the data
    came from, not what it is)."""
    from linreg.core import DataSpec, generate
    from linreg.core.datafiles import save_dataset

    save_dataset(generate(DataSpec()), cli.cwd / "data")
    first = cli.train("-m", "train.lr=0.01,0.1", *SMALL, "hydra.sweep.dir=a")
    assert first.returncode == 0 and "(reused)" not in first.stdout, first.stdout + first.stderr
    read = cli.train("-m", "train.lr=0.01,0.1", *SMALL, "data.dir=data", "hydra.sweep.dir=b")
    assert read.returncode == 0, read.stdout + read.stderr
    assert read.stdout.count("(reused)") == 2
