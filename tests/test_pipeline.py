"""The command line end to end: ``python -m linreg.train`` (and the ``linreg`` script) as a
subprocess, in a tmp dir, with its own sqlite MLflow store read back with MlflowClient.  Runs are
shrunk (5 to 20 epochs, small grids).

A run's result is one typed record (:class:`linreg.run.record.RunRecord`): its fields are the
summary's columns, its outcome numbers the MLflow run's metrics, and result.json holds it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import Cli, split_runs
from linreg.core.device import available_devices
from linreg.run import record
from linreg.run.record import RunRecord, metric_name, series_name
from linreg.sweep import folder as sweep_folder

# The head of summary.csv, pinned: what a run is, what it learned, how good that is, where it is.
SUMMARY_HEAD = [
    "run_name",
    "backend",
    "device",
    "loss",
    "lr",
    "epochs",
    "status",
    "bias",
    "w_0",
    "bias_error",
    "weight_error",
    "optimum_distance",
    "train_loss",
    "test_mse",
    "r2_test",
    "converged_epoch",
    "wall_s",
    "mlflow_run_id",
]
OUTCOMES = ["bias", "w_0", "bias_error", "weight_error", "optimum_distance", "train_loss",
            "test_mse", "r2_test", "wall_s"]  # fmt: skip
STEP_METRICS = ("loss", "bias", "w_0", "grad_norm")
HAS_CUDA = "cuda" in available_devices()
PROGRESS = re.compile(r"^\[\s*\d+/4\] (ok|diverged|skipped|failed)\s")
QUICK = ["train.epochs=5", "tracking.figures=false", "tracking.graph=false"]


def assert_ran(proc, code: int = 0) -> None:
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


def the_sweep_dir(cwd: Path) -> Path:
    """The one sweep folder under cwd/outputs/sweeps (the default, timestamped)."""
    found = sorted((cwd / "outputs" / "sweeps").glob("*/sweep.json"))
    assert len(found) == 1, found
    return found[0].parent


def counts_line(stdout: str) -> str:
    """The sweep's counts line: '<name>: N runs: a ok, b diverged, c skipped, d failed'."""
    found = [ln for ln in stdout.splitlines() if re.search(r": \d+ runs: \d+ ok, ", ln)]
    assert len(found) == 1, stdout
    return found[0]


def by_folder(sweep_dir: Path) -> dict[str, RunRecord]:
    """Each run's record by its folder name without the job number ('numpy-mse-lr=..-cpu')."""
    recs = sweep_folder.records(sweep_dir)
    out = {r.run_folder.split("-", 1)[1]: r for r in recs}
    assert len(out) == len(recs), [r.run_folder for r in recs]
    return out


def same(a, b) -> bool:
    """A record's value and a summary cell: None is an empty cell, floats to the last bits."""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return str(a) == str(b)


# --- a single run: the walkthrough's numbers ----------------------------------------------------
@pytest.mark.slow
def test_single_run_prints_the_walkthrough_numbers(cli):
    proc = cli.train("train.lr=0.01", "train.epochs=100", "loss=mse", "backend=torch", "device=cpu")
    assert_ran(proc)
    assert re.search(r"w=\[2\.2193\] b=1\.0283", proc.stdout), proc.stdout
    assert re.search(r"learned\s+bias=1\.0283\s+weights=\[2\.2193\]", proc.stdout), proc.stdout
    [folder] = (cli.cwd / "outputs" / "runs").iterdir()  # <date>_<time>-<run>: never overwritten
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-torch-mse-lr=0.01-ep=100-cpu", folder.name)
    assert f"run folder: {folder.relative_to(cli.cwd)}" in proc.stdout
    for name in ("result.json", "trajectory.csv", "graph.png", "graph.dot", "config.yaml"):
        assert (folder / name).is_file(), name
    assert (folder / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "digraph" in (folder / "graph.dot").read_text()

    traj = pd.read_csv(folder / "trajectory.csv")
    assert len(traj) == 100
    assert traj["epoch"].tolist() == list(range(100))
    assert {"loss", "bias", "w_0", "grad_norm", "lr"} <= set(traj.columns)
    rec = RunRecord.read(folder)
    assert rec.status == "ok" and rec.epochs_run == 100
    assert (round(rec.weights[0], 4), round(rec.bias, 4)) == (2.2193, 1.0283)
    assert rec.theta_true == [1.0, 2.5]

    [run] = cli.runs()  # one MLflow run, no parent
    assert run.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in run.data.tags
    assert run.info.run_id == rec.mlflow_run_id
    assert run.info.run_name == "torch · mse · lr=0.01 · ep=100 · cpu" == rec.run_name
    # one point per epoch (the value before its step) and one at step 100: after the last step
    assert len(cli.client().get_metric_history(run.info.run_id, "epoch/loss")) == 101
    assert math.isclose(run.data.metrics["final/w_0"], rec.weights[0], rel_tol=1e-12)
    assert math.isclose(run.data.metrics["epoch/w_0"], rec.weights[0], rel_tol=1e-6)


# --- a standalone Hydra multirun, recorded in MLflow ---------------------------------------------
MULTIRUN = ("-m", "train.lr=0.01,0.1", "loss=mse,mae", "backend=numpy,torch", "train.epochs=20")


@pytest.fixture
def multirun(once):
    """The 8-run multirun, run once per session (shared, read-only): (Cli, stdout)."""

    def run(folder):
        proc = Cli(folder).train(*MULTIRUN)
        return {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}

    folder, out = once("multirun8", run)
    assert out["code"] == 0, out["stdout"] + out["stderr"]
    assert "Traceback" not in out["stderr"], out["stderr"]
    return Cli(folder), out["stdout"]


@pytest.mark.slow
def test_multirun_summary_manifest_and_run_folders(multirun):
    cli, stdout = multirun
    sweep_dir = the_sweep_dir(cli.cwd)
    # the default sweep folder: outputs/sweeps/<start time>, which also names the sweep
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", sweep_dir.name), sweep_dir
    assert counts_line(stdout) == f"{sweep_dir.name}: 8 runs: 8 ok, 0 diverged, 0 skipped, 0 failed"

    df = pd.read_csv(sweep_dir / "summary.csv")
    assert len(df) == 8
    assert list(df.columns[: len(SUMMARY_HEAD)]) == SUMMARY_HEAD
    assert set(df["status"]) == {"ok"}
    assert set(df["epochs"]) == {20}
    assert set(zip(df["backend"], df["loss"], df["lr"], strict=True)) == {
        (b, loss, lr) for b in ("numpy", "torch") for loss in ("mse", "mae") for lr in (0.01, 0.1)
    }
    assert set(df["device"]) == {"cpu"}
    for col in OUTCOMES:
        assert np.isfinite(df[col].to_numpy(float)).all(), col
    assert df["mlflow_run_id"].is_unique and df["mlflow_run_id"].notna().all()

    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert manifest["sweep_name"] == sweep_dir.name
    assert manifest["tracking_uri"] == cli.uri and manifest["experiment"] == "linreg"
    assert manifest["n_runs"] == 8 and manifest["closed"] is True
    assert manifest["vary"] == []  # every swept key is already in the run's name
    assert manifest["overrides"] == list(MULTIRUN[1:])
    folders = sorted(p.parent.name for p in sweep_dir.glob("*/result.json"))
    assert sorted(df["run_folder"]) == folders
    assert {f.split("-", 1)[0] for f in folders} == {str(i) for i in range(8)}  # job numbers
    assert {f.split("-", 1)[1] for f in folders} == {
        f"{b}-{loss}-lr={lr}-ep=20-cpu"
        for b in ("numpy", "torch")
        for loss in ("mse", "mae")
        for lr in ("0.01", "0.1")
    }
    for folder in folders:
        rec = RunRecord.read(sweep_dir / folder)
        assert rec.status == "ok" and rec.epochs_run == 20
        assert len(pd.read_csv(sweep_dir / folder / "trajectory.csv")) == 20


@pytest.mark.slow
def test_multirun_parent_and_children_in_mlflow(multirun):
    cli, stdout = multirun
    runs = cli.runs()
    parents, children = split_runs(runs)
    assert (len(parents), len(children)) == (1, 8)
    [parent] = parents
    sweep_dir = the_sweep_dir(cli.cwd)
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert parent.info.run_id == manifest["parent_run_id"]
    assert f"parent run {parent.info.run_id}" in stdout
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == f"{sweep_dir.name} · 8 runs"
    assert parent.data.tags["kind"] == "sweep" and parent.data.tags["status"] == "ok"
    assert parent.data.params["n_runs"] == "8"
    assert parent.data.metrics["sweep/ok"] == 8 and parent.data.metrics["sweep/failed"] == 0
    assert not [k for k in parent.data.metrics if not k.startswith("sweep/")]
    parent_files = {a.path for a in cli.client().list_artifacts(parent.info.run_id)}
    assert "summary.csv" in parent_files

    df = pd.read_csv(sweep_dir / "summary.csv")
    assert {r.info.run_id for r in children} == set(df["mlflow_run_id"])
    assert {r.info.run_name for r in children} == set(df["run_name"])
    for r in [parent, *children]:
        assert "git_commit" not in r.data.tags  # MLflow's own tag now
        commit = r.data.tags.get("mlflow.source.git.commit")
        assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit), commit
    for r in children:
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert r.info.status == "FINISHED"
        assert r.data.tags["status"] == "ok"
        assert r.data.tags["device"] == "cpu"
        assert r.data.tags["backend"] == r.data.params["backend.name"]
        assert r.data.tags["loss"] == r.data.params["loss.name"]
        assert r.data.params["train.lr"] in {"0.01", "0.1"}
        assert r.data.params["train.epochs"] == "20"
        assert r.data.params["tracking.experiment"] == "linreg"
        assert "dvc_experiment" not in r.data.tags  # not under `dvc exp run`


@pytest.mark.slow
def test_multirun_child_series_and_final_metrics(multirun):
    cli, _ = multirun
    client = cli.client()
    _, children = split_runs(cli.runs())
    sweep_dir = the_sweep_dir(cli.cwd)
    df = pd.read_csv(sweep_dir / "summary.csv").set_index("mlflow_run_id")
    for r in children:
        row = df.loc[r.info.run_id]
        traj = pd.read_csv(sweep_dir / row["run_folder"] / "trajectory.csv")
        for key in STEP_METRICS:  # one point per epoch, steps 0..19, the trajectory's values
            name = series_name(key)  # epoch/loss ...
            history = sorted(client.get_metric_history(r.info.run_id, name), key=lambda m: m.step)
            np.testing.assert_allclose(
                [m.value for m in history][:20], traj[key], rtol=1e-6, err_msg=key
            )
            if key == "grad_norm":
                assert [m.step for m in history] == list(range(20)), key
                continue
            # and one at step 20, after the last step: the learned value, the run's metric
            assert [m.step for m in history] == list(range(21)), key
            final = row["train_loss"] if key == "loss" else row[key]
            assert math.isclose(history[-1].value, final, rel_tol=1e-6), key
            assert math.isclose(r.data.metrics[name], final, rel_tol=1e-6), key
        for key in OUTCOMES:  # the final numbers, each named by its kind (final/, error/, time/)
            assert math.isclose(r.data.metrics[metric_name(key)], row[key], rel_tol=1e-12), key
        assert not [k for k in r.data.metrics if k.startswith("learned_")]


@pytest.mark.slow
def test_multirun_child_artifacts_and_dataset(multirun):
    cli, _ = multirun
    client = cli.client()
    _, children = split_runs(cli.runs())
    sweep_dir = the_sweep_dir(cli.cwd)
    df = pd.read_csv(sweep_dir / "summary.csv").set_index("mlflow_run_id")
    digests = set()
    for r in children:
        row = df.loc[r.info.run_id]
        files = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"graph.png", "graph.dot", "trajectory.csv", "loss.png", "params.png"} <= files
        assert "config" in files
        config_files = {a.path for a in client.list_artifacts(r.info.run_id, "config")}
        assert {"config/config.yaml", "config/overrides.yaml"} <= config_files
        assert r.info.artifact_uri.startswith((cli.cwd / "mlruns").as_uri())

        [ds_input] = r.inputs.dataset_inputs
        assert {t.key: t.value for t in ds_input.tags}["mlflow.data.context"] == "training"
        rec = RunRecord.read(sweep_dir / row["run_folder"])
        assert rec.data_digest.startswith(ds_input.dataset.digest)
        digests.add(ds_input.dataset.digest)
        assert "config.yaml" in files  # the resolved config; Hydra's own under config/
    assert len(digests) == 1  # every run of the sweep trained on the same data


# --- the typed record drives the summary, MLflow and result.json; the terminal ----------------
SWEEP4 = ("-m", "train.lr=0.01,0.1", "backend=numpy,torch", "train.epochs=20")


@pytest.fixture
def sweep4(once):
    """A 4-run sweep, run once per session (shared, read-only): (Cli, its stdout and stderr)."""

    def run(folder):
        proc = Cli(folder).train(*SWEEP4)
        return {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}

    folder, out = once("sweep4", run)
    assert out["code"] == 0, out["stdout"] + out["stderr"]
    assert "Traceback" not in out["stderr"], out["stderr"]
    return Cli(folder), out


@pytest.mark.slow
def test_the_record_drives_summary_metrics_and_result_json(sweep4, tmp_path):
    cli, _ = sweep4
    sweep_dir = the_sweep_dir(cli.cwd)
    recs = sweep_folder.records(sweep_dir)
    assert len(recs) == 4 and {r.status for r in recs} == {"ok"}
    m = max(len(r.weights) for r in recs)
    assert m == 1

    # summary.csv: the record's fields in order, weights spread out, theta_true left out
    df = pd.read_csv(sweep_dir / "summary.csv")
    assert list(df.columns) == record.columns(m)
    assert record.columns(m)[: len(SUMMARY_HEAD)] == SUMMARY_HEAD
    assert "weights" not in df.columns and "theta_true" not in df.columns
    rows = df.set_index("run_folder")

    _, children = split_runs(cli.runs())
    runs = {r.info.run_id: r for r in children}
    assert set(runs) == {r.mlflow_run_id for r in recs}
    for rec in recs:
        folder = sweep_dir / rec.run_folder
        # result.json is the record, every field and nothing else, and reads back equal
        raw = json.loads((folder / "result.json").read_text())
        assert raw == dataclasses.asdict(rec)
        copy = tmp_path / rec.run_folder
        rec.write(copy)
        assert json.loads((copy / "result.json").read_text()) == raw
        assert RunRecord.read(copy) == rec

        # its summary row: the record's row(), cell by cell
        row = rows.loc[rec.run_folder]
        assert list(rec.row()) == record.columns(m)
        for key, value in rec.row().items():
            cell = rec.run_folder if key == "run_folder" else row[key]
            assert same(value, cell), (rec.run_folder, key, value, cell)

        # its MLflow run: the record's metrics, each column named once by its kind, with the
        # row's values
        metrics = rec.metrics()
        expected = {"final/bias", "final/w_0", "error/weight_error", "error/optimum_distance",
                    "final/train_loss", "time/wall_s"}  # fmt: skip
        assert expected <= set(metrics)
        assert {k.split("/")[0] for k in metrics} <= {"final", "error", "time"}, sorted(metrics)
        column = {metric_name(k): k for k in rec.row()}
        assert len(column) == len(rec.row())  # no two columns share a metric name
        assert not {"lr", "epochs", "run_name", "status"} & {column.get(k) for k in metrics}
        run = runs[rec.mlflow_run_id]
        wrong = {
            key: (value, run.data.metrics.get(key))
            for key, value in metrics.items()
            if key not in run.data.metrics
            or not math.isclose(run.data.metrics[key], value, rel_tol=1e-12)
        }
        assert not wrong, f"{rec.run_name}: record vs MLflow {wrong}"
        for key, value in metrics.items():
            assert math.isclose(row[column[key]], value, rel_tol=1e-12), key
        assert run.info.run_name == rec.run_name
        assert run.data.tags["status"] == rec.status


@pytest.mark.slow
def test_terminal_is_one_short_line_per_run_then_the_counts(sweep4):
    cli, out = sweep4
    text = out["stdout"] + out["stderr"]
    lines = text.splitlines()
    # linreg's own lines are short; the tmp folder's path (in the store's URI) is pytest's
    shown = text.replace(str(cli.cwd), "<tmp>")
    assert not [ln for ln in shown.splitlines() if len(ln) > 160], text
    assert not [ln for ln in lines if "[HYDRA]" in ln], text  # no launch lines
    assert not [ln for ln in lines if " INFO " in ln], text  # no library INFO lines

    sweep_dir = the_sweep_dir(cli.cwd)
    recs = sweep_folder.records(sweep_dir)
    progress = [ln for ln in lines if PROGRESS.match(ln)]
    assert len(progress) == 4, text
    for rec in recs:  # one line per run, naming it, with its status
        [mine] = [ln for ln in progress if f" {rec.run_name} " in ln]
        assert PROGRESS.match(mine).group(1) == rec.status

    stdout = out["stdout"].splitlines()
    counts = counts_line(out["stdout"])
    assert counts == f"{sweep_dir.name}: 4 runs: 4 ok, 0 diverged, 0 skipped, 0 failed"
    assert max(stdout.index(ln) for ln in progress) < stdout.index(counts)
    after = stdout[stdout.index(counts) + 1 :]
    [runs_line] = [ln for ln in after if ln.strip().startswith("runs:")]
    assert f"outputs/sweeps/{sweep_dir.name}" in runs_line
    [mlflow_line] = [ln for ln in after if ln.strip().startswith("mlflow:")]
    [parent], _ = split_runs(cli.runs())
    found = re.search(r"parent run ([0-9a-f]{32})\b", mlflow_line)
    assert found and found.group(1) == parent.info.run_id, mlflow_line


@pytest.mark.slow
def test_joblib_multirun_records_every_run_in_a_new_store(cli):
    assert not cli.db.exists()
    proc = cli.train(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "backend=numpy,torch",
        "train.lr=0.01,0.1",
        "train.epochs=20",
        "tracking.figures=false",
        "hydra.sweep.dir=outputs/sweeps/joblib",
    )
    assert_ran(proc)
    log = f"{proc.stdout}\n{proc.stderr}"
    assert counts_line(proc.stdout) == "joblib: 4 runs: 4 ok, 0 diverged, 0 skipped, 0 failed"
    runs = cli.runs()
    parents, children = split_runs(runs)
    assert (len(parents), len(children)) == (1, 4), log
    assert all(r.info.status == "FINISHED" for r in runs), ([r.info.status for r in runs], log)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    client = cli.client()
    for r in children:
        assert len(client.get_metric_history(r.info.run_id, "epoch/loss")) == 21  # 20 + after
    df = pd.read_csv(cli.cwd / "outputs" / "sweeps" / "joblib" / "summary.csv")
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    assert set(df["mlflow_run_id"]) == {r.info.run_id for r in children}


# --- faults: skipped, diverged, failed -----------------------------------------------------------
@pytest.mark.slow
def test_a_sweep_records_skipped_diverged_and_failed_runs(cli):
    axes = {"backend": ["numpy", "torch"], "device": ["cpu", "cuda"], "train.lr": ["0.1", "10"]}
    # Hydra's basic sweeper numbers the jobs in the order of the grid's product
    order = [f"{b}-mse-lr={lr}-ep=20-{d}" for b, d, lr in itertools.product(*axes.values())]
    # A real failure: the folder where one run must write trajectory.csv holds a directory of
    # that name, so writing the run's files raises IsADirectoryError mid-run.
    failing = "torch-mse-lr=0.1-ep=20-cpu"
    sweep_dir = cli.cwd / "outputs" / "sweeps" / "faults"
    (sweep_dir / f"{order.index(failing)}-{failing}" / "trajectory.csv").mkdir(parents=True)
    proc = cli.train(
        "-m",
        *(f"{k}={','.join(v)}" for k, v in axes.items()),
        "train.epochs=20",
        "hydra.sweep.dir=outputs/sweeps/faults",
    )
    assert_ran(proc, code=1)  # a run failed

    expected = {
        "numpy-mse-lr=0.1-ep=20-cpu": "ok",
        "numpy-mse-lr=10-ep=20-cpu": "diverged",
        failing: "failed",
        "torch-mse-lr=10-ep=20-cpu": "diverged",
        "numpy-mse-lr=0.1-ep=20-cuda": "skipped",
        "numpy-mse-lr=10-ep=20-cuda": "skipped",
        "torch-mse-lr=0.1-ep=20-cuda": "ok" if HAS_CUDA else "skipped",
        "torch-mse-lr=10-ep=20-cuda": "diverged" if HAS_CUDA else "skipped",
    }
    counts = {s: list(expected.values()).count(s) for s in ("ok", "diverged", "skipped", "failed")}
    assert counts_line(proc.stdout) == (
        f"faults: 8 runs: {counts['ok']} ok, {counts['diverged']} diverged, "
        f"{counts['skipped']} skipped, {counts['failed']} failed"
    )

    results = by_folder(sweep_dir)
    assert {f: r.status for f, r in results.items()} == expected
    df = pd.read_csv(sweep_dir / "summary.csv")
    assert {f.split("-", 1)[1]: s for f, s in zip(df["run_folder"], df["status"], strict=True)} == (
        expected
    )

    # skipped: the reason says why
    for f in ("numpy-mse-lr=0.1-ep=20-cuda", "numpy-mse-lr=10-ep=20-cuda"):
        assert "numpy" in results[f].reason and "cuda" in results[f].reason
    if not HAS_CUDA:
        assert "present" in results["torch-mse-lr=0.1-ep=20-cuda"].reason
    # diverged: the trajectory up to the blow-up, all finite
    for f in ("numpy-mse-lr=10-ep=20-cpu", "torch-mse-lr=10-ep=20-cpu"):
        traj = pd.read_csv(sweep_dir / results[f].run_folder / "trajectory.csv")
        assert 0 < len(traj) < 20
        assert np.isfinite(traj.drop(columns="epoch").to_numpy(float)).all()
        assert results[f].epochs_run == len(traj)
        # cut at the blow-up: the exploded epoch is kept if its loss is finite, else dropped
        epoch = re.fullmatch(r"loss exploded at epoch (\d+)", results[f].reason)
        assert epoch and int(epoch.group(1)) in (len(traj) - 1, len(traj)), results[f].reason
    # failed: the error is kept
    assert "IsADirectoryError" in results[failing].reason
    assert "Traceback" in (sweep_dir / results[failing].run_folder / "error.txt").read_text()

    client = cli.client()
    parents, children = split_runs(cli.runs())
    assert len(children) == 8
    assert not [r for r in [*parents, *children] if r.info.status == "RUNNING"]
    by_id = {r.info.run_id: r for r in children}
    for f, status in expected.items():
        run = by_id[results[f].mlflow_run_id]
        assert run.data.tags["status"] == status, f
        assert run.info.status == ("FAILED" if status == "failed" else "FINISHED"), f
        if status != "ok":
            assert run.data.tags["reason"] == results[f].reason, f
    failed_run = by_id[results[failing].mlflow_run_id]
    assert "error.txt" in {a.path for a in client.list_artifacts(failed_run.info.run_id)}
    [parent] = parents
    assert parent.info.status == "FAILED" and parent.data.tags["status"] == "failed"


@pytest.mark.slow
def test_diverged_and_skipped_runs_exit_0(cli):
    proc = cli.train(
        "-m",
        "backend=numpy",
        "device=cpu,cuda",
        "train.lr=10",
        "train.epochs=20",
        "tracking.figures=false",
        "tracking.graph=false",
    )
    assert_ran(proc, code=0)
    assert counts_line(proc.stdout).endswith(": 2 runs: 0 ok, 1 diverged, 1 skipped, 0 failed")
    assert not [r for r in cli.runs() if r.info.status != "FINISHED"]


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
def test_a_batch_larger_than_the_data_fails_that_run_only(cli):
    # the walkthrough's data has n=100 samples: batch_size=500 cannot run, batch_size=50 can
    proc = cli.train("-m", "train.batch_size=50,500", "backend=numpy", "train.epochs=5",
                     "hydra.sweep.dir=sweep")  # fmt: skip
    assert_failed_by_the_data(
        cli,
        proc,
        cli.cwd / "sweep",
        {"batch_size": 500},
        r"^train\.batch_size must be an integer >= 1 and <= 100, got 500$",
    )


@pytest.mark.slow
def test_a_batch_larger_than_one_swept_dataset_fails_that_run_only(cli):
    # only the combination n=50, batch=100 cannot run
    proc = cli.train(
        "-m", "data.n_samples=50,200", "train.batch_size=10,100",
        "backend=numpy", *QUICK, "hydra.sweep.dir=sweep",
    )  # fmt: skip
    assert_failed_by_the_data(
        cli,
        proc,
        cli.cwd / "sweep",
        {"n_samples": 50, "batch_size": 100},
        r"^train\.batch_size must be an integer >= 1 and <= 50, got 100$",
    )


# --- a grid in config: hydra.sweeper.params ------------------------------------------------------
# Hydra 1.3 cannot set hydra.sweeper.params from the command line (its null default refuses a
# merge: '+hydra.sweeper.params={train.lr:"0.01,0.1"}' fails in Hydra itself), so a grid in
# config comes from a config file: a `# @package _global_` group on hydra.searchpath, as
# lightning-hydra-template's hparams_search, or a primary config of one's own (--config-dir).
def grid_group(cli, values: str) -> list[str]:
    folder = cli.cwd / "myconf" / "hparams_search"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lr.yaml").write_text(
        f'# @package _global_\nhydra:\n  sweeper:\n    params:\n      train.lr: "{values}"\n'
    )
    return [f"hydra.searchpath=[file://{cli.cwd / 'myconf'}]", "+hparams_search=lr"]


def grid_config(cli, grid: dict[str, str]) -> list[str]:
    folder = cli.cwd / "myconf"
    folder.mkdir(exist_ok=True)
    params = "".join(f'      {k}: "{v}"\n' for k, v in grid.items())
    text = f"defaults:\n  - config\n  - _self_\nhydra:\n  sweeper:\n    params:\n{params}"
    (folder / "grid.yaml").write_text(text)
    return ["--config-dir", str(folder), "--config-name", "grid"]


def assert_lr_grid_ran(cli, proc) -> None:
    assert_ran(proc)
    recs = sweep_folder.records(cli.cwd / "sweep")
    assert sorted(r.lr for r in recs) == [0.01, 0.1] and {r.status for r in recs} == {"ok"}
    assert counts_line(proc.stdout) == "sweep: 2 runs: 2 ok, 0 diverged, 0 skipped, 0 failed"
    parents, children = split_runs(cli.runs())
    assert len(children) == 2 and parents[0].data.params["n_runs"] == "2"
    assert {r.info.status for r in [*parents, *children]} == {"FINISHED"}


def assert_refused(cli, proc, message: str, keep: set[str]) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), proc.stderr
    assert {p.name for p in cli.cwd.iterdir()} == keep  # no outputs/, mlflow.db, mlruns/


@pytest.mark.slow
def test_a_grid_in_a_config_group_runs_each_value(cli):
    proc = cli.train("-m", *grid_group(cli, "0.01,0.1"), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep")  # fmt: skip
    assert_lr_grid_ran(cli, proc)


def test_a_bad_value_in_a_config_group_grid_is_one_line_exit_2(cli):
    proc = cli.train("-m", *grid_group(cli, "0.01,-1"), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep", timeout=120)  # fmt: skip
    assert_refused(cli, proc, r"^error: train\.lr must be a number > 0, got -1", {"myconf"})


@pytest.mark.slow
def test_a_grid_in_a_primary_config_of_ones_own_runs_each_value(cli):
    proc = cli.train("-m", *grid_config(cli, {"train.lr": "0.01,0.1"}), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep")  # fmt: skip
    assert_lr_grid_ran(cli, proc)


def test_a_bad_value_in_a_primary_config_grid_is_one_line_exit_2(cli):
    proc = cli.train("-m", *grid_config(cli, {"train.lr": "0.01,-1"}), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep", timeout=120)  # fmt: skip
    assert_refused(cli, proc, r"^error: train\.lr must be a number > 0, got -1", {"myconf"})


@pytest.mark.slow
def test_a_failed_run_exits_1_with_a_primary_config_of_ones_own(cli):
    grid = grid_config(cli, {"train.batch_size": "50,500"})
    proc = cli.train("-m", *grid, "backend=numpy", *QUICK, "hydra.sweep.dir=sweep")
    assert_failed_by_the_data(
        cli, proc, cli.cwd / "sweep", {"batch_size": 500}, r"^train\.batch_size must be"
    )


# --- the linreg command --------------------------------------------------------------------------
def test_the_linreg_script_is_installed_and_helps(cli):
    script = Path(sys.executable).parent / "linreg"
    assert script.is_file() and os.access(script, os.X_OK), script
    proc = cli.linreg("--help", timeout=120)
    assert_ran(proc)
    out = proc.stdout
    assert "== Configuration groups ==" in out, out
    for line in (
        "backend: numpy, python, torch",
        "device: auto, cpu, cuda, mps",
        "loss: huber, mae, mse, mse_half",
    ):
        assert line in out.splitlines(), out
    assert re.search(r"^data: .*\bwalkthrough\b", out, re.M), out
    assert "== Config ==" in out and "lr: 0.01" in out  # the defaults, from conf/
    assert list(cli.cwd.iterdir()) == []  # help runs nothing


def test_the_linreg_script_prints_hydras_bash_completion(cli):
    proc = cli.linreg("--shell-completion", "install=bash", timeout=120)
    assert_ran(proc)
    assert "hydra_bash_completion()" in proc.stdout, proc.stdout
    assert re.search(r"complete .*-F hydra_bash_completion linreg$", proc.stdout, re.M)
    assert list(cli.cwd.iterdir()) == []


# --- bad input: one line, exit 2, nothing written ------------------------------------------------
BAD_INPUT = {
    "typo-key": (["train.lrr=1"], r"train\.lrr must be one of the keys of train \(.*\blr\b"),
    "typo-choice": (["loss=msee"], r"loss must be one of huber, mae, mse, mse_half, got 'msee'"),
    "negative-lr": (["train.lr=-1"], r"train\.lr must be a number > 0, got -1"),
    "negative-lr-in-sweep": (["-m", "train.lr=0.1,-1"], r"train\.lr must be a number > 0"),
    "epochs-not-int": (["train.epochs=abc"], r"train\.epochs must be an integer, got 'abc'"),
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


# --- nothing lost or overwritten: reruns, same-named runs, YAML types -----------------------------
@pytest.mark.slow
def test_a_sweep_rerun_into_its_folder_counts_this_sweeps_runs(cli):
    args = ["-m", "train.lr=0.1,0.2", "backend=numpy", *QUICK, "hydra.sweep.dir=again"]
    for _ in range(2):
        proc = cli.train(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert counts_line(proc.stdout) == "again: 2 runs: 2 ok, 0 diverged, 0 skipped, 0 failed"
    assert len(pd.read_csv(cli.cwd / "again" / "summary.csv")) == 2


@pytest.mark.slow
def test_single_runs_with_the_same_name_keep_their_own_folders(cli):
    for momentum in ("0.5", "0"):
        proc = cli.train(f"train.momentum={momentum}", "backend=numpy", *QUICK)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        time.sleep(1.1)  # the folder's name has the second it started
    folders = sorted((cli.cwd / "outputs" / "runs").iterdir())
    assert len(folders) == 2
    assert [RunRecord.read(f).momentum for f in folders] == [0.5, 0.0]


@pytest.mark.slow
def test_a_quoted_number_is_read_as_the_number(cli):
    proc = cli.train("train.lr='0.05'", "backend=numpy", *QUICK)
    assert_ran(proc)
    assert "numpy · mse · lr=0.05 · ep=5 · cpu" in proc.stdout
    assert re.search(r"^mlflow: run [0-9a-f]{32} in experiment 'linreg'", proc.stdout, re.M)
