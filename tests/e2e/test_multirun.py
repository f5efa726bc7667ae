"""A standalone Hydra multirun recorded in a real MLflow store: ``python -m linreg.train -m`` as a
subprocess, in a tmp dir, with its own sqlite store read back with MlflowClient.  The summary,
manifest and run folders; parent and children; series, metrics, artifacts; skipped, diverged
and failed runs; joblib."""

from __future__ import annotations

import dataclasses
import getpass
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linreg.run import record
from linreg.run.record import RunRecord, metric_name, series_name
from linreg.sweep import folder as sweep_folder
from tests.helpers.cli import Cli, split_runs
from tests.helpers.commands import HAS_CUDA, assert_ran, counts_line

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


PROGRESS = re.compile(r"^\[\s*\d+/4\] (ok|diverged|skipped|failed)\s")


def the_sweep_dir(cwd: Path) -> Path:
    """The one sweep folder under cwd/outputs/sweeps (the default, timestamped)."""
    found = sorted((cwd / "outputs" / "sweeps").glob("*/sweep.json"))
    assert len(found) == 1, found
    return found[0].parent


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
    assert len(children) == 8  # MULTIRUN's runs: the loop below checks each
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
    assert len(children) == 8  # MULTIRUN's runs: the loop below checks each
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
def test_a_sweep_records_skipped_diverged_and_failed_runs(stored_cli):
    axes = {"backend": ["numpy", "torch"], "device": ["cpu", "cuda"], "train.lr": ["0.1", "10"]}
    # Hydra's basic sweeper numbers the jobs in the order of the grid's product
    order = [f"{b}-mse-lr={lr}-ep=20-{d}" for b, d, lr in itertools.product(*axes.values())]
    # A real failure: the folder where one run must write trajectory.csv holds a directory of
    # that name, so writing the run's files raises IsADirectoryError mid-run.
    failing = "torch-mse-lr=0.1-ep=20-cpu"
    sweep_dir = stored_cli.cwd / "outputs" / "sweeps" / "faults"
    (sweep_dir / f"{order.index(failing)}-{failing}" / "trajectory.csv").mkdir(parents=True)
    proc = stored_cli.train(
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

    client = stored_cli.client()
    parents, children = split_runs(stored_cli.runs())
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
def test_diverged_and_skipped_runs_exit_0(stored_cli):
    proc = stored_cli.train(
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
    assert not [r for r in stored_cli.runs() if r.info.status != "FINISHED"]


KINDS = {"epoch", "final", "error", "time"}


# --- a real sweep -----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_sweeps_runs_carry_grouped_metrics_standard_tags_and_notes(multirun):
    from tests.helpers.cli import split_runs

    cli, _ = multirun
    parents, children = split_runs(cli.runs())
    [parent] = parents
    assert {k.split("/", 1)[0] for k in parent.data.metrics} == {"sweep"}
    note = parent.data.tags["mlflow.note.content"]
    assert note.startswith("8 runs: 8 ok.\n\n**Best run per loss and backend**")
    assert "**Best run per loss and backend**" in note and "**Findings**" in note
    for r in [parent, *children]:
        assert r.data.tags["mlflow.source.name"] == "linreg.train"
        assert r.data.tags["mlflow.source.type"] == "LOCAL"
        assert r.data.tags["mlflow.user"] == getpass.getuser()
    for r in children:
        assert r.info.run_name in note
        assert {k.split("/", 1)[0] for k in r.data.metrics} == KINDS, sorted(r.data.metrics)
        assert math.isclose(r.data.metrics["epoch/w_0"], r.data.metrics["final/w_0"],
                            rel_tol=1e-6)  # fmt: skip
        assert r.data.tags["mlflow.note.content"].startswith("**ok**: learned b = ")
        assert "loss.delta" not in r.data.params and "data.dir" not in r.data.params
        assert not [k for k in r.data.params if k.startswith("data.") and k[5:] in
                    ("path", "target", "features", "standardize", "test_fraction")]  # fmt: skip
