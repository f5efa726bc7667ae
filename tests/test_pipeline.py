"""The command line end to end: ``python -m linreg.train`` as a subprocess, in a tmp dir, with its
own sqlite MLflow store read back with MlflowClient.  Runs are shrunk (20 epochs, small grids)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from conftest import Cli, split_runs
from linreg.core.device import available_devices

SUMMARY_COLUMNS = [
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
STEP_METRICS = ("loss", "bias", "w_0", "grad_norm")
HAS_CUDA = "cuda" in available_devices()


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def the_sweep_dir(cwd):
    found = sorted((cwd / "outputs" / "sweeps").glob("*/sweep.json"))
    assert len(found) == 1, found
    return found[0].parent


def assert_ran(proc, code: int = 0) -> None:
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


# --- a single run: the walkthrough's numbers ----------------------------------------------------
@pytest.mark.slow
def test_single_run_prints_the_walkthrough_numbers(cli):
    proc = cli.train("train.lr=0.01", "train.epochs=100", "loss=mse", "backend=torch", "device=cpu")
    assert_ran(proc)
    assert re.search(r"w=\[2\.2193\] b=1\.0283", proc.stdout), proc.stdout
    assert re.search(r"learned\s+bias=1\.0283\s+weights=\[2\.2193\]", proc.stdout), proc.stdout
    folder = cli.cwd / "outputs" / "runs" / "torch-mse-lr=0.01-ep=100-cpu"
    assert f"run folder: {folder.relative_to(cli.cwd)}" in proc.stdout
    for name in ("result.json", "trajectory.csv", "graph.png", "graph.dot", "config.yaml"):
        assert (folder / name).is_file(), name
    assert (folder / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "digraph" in (folder / "graph.dot").read_text()

    traj = pd.read_csv(folder / "trajectory.csv")
    assert len(traj) == 100
    assert traj["epoch"].tolist() == list(range(100))
    assert {"loss", "bias", "w_0", "grad_norm", "lr"} <= set(traj.columns)
    result = json.loads((folder / "result.json").read_text())
    assert result["status"] == "ok"
    assert (round(result["w_0"], 4), round(result["bias"], 4)) == (2.2193, 1.0283)

    [run] = cli.runs()  # one MLflow run, no parent
    assert run.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in run.data.tags
    assert run.info.run_id == result["mlflow_run_id"]
    assert run.info.run_name == "torch · mse · lr=0.01 · ep=100 · cpu"
    assert len(cli.client().get_metric_history(run.info.run_id, "loss")) == 100


# --- a standalone Hydra multirun, recorded in MLflow ---------------------------------------------
MULTIRUN = ("-m", "train.lr=0.01,0.1", "loss=mse,mae", "backend=numpy,torch", "train.epochs=20")


@pytest.fixture
def multirun(once):
    """The 8-run multirun, run once per session (shared, read-only): (Cli, exit code, stdout)."""

    def run(folder):
        proc = Cli(folder).train(*MULTIRUN)
        return {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}

    folder, out = once("multirun8", run)
    assert out["code"] == 0, out["stdout"] + out["stderr"]
    assert "Traceback" not in out["stderr"], out["stderr"]
    return Cli(folder), out["stdout"]


@pytest.mark.slow
def test_multirun_summary_and_last_line(multirun):
    cli, stdout = multirun
    line = last_line(stdout)
    assert "8 runs: 8 ok, 0 diverged, 0 skipped, 0 failed" in line, stdout
    sweep_dir = the_sweep_dir(cli.cwd)
    assert sweep_dir.name in line

    df = pd.read_csv(sweep_dir / "summary.csv")
    assert len(df) == 8
    assert list(df.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert set(df["status"]) == {"ok"}
    assert set(df["epochs"]) == {20}
    assert set(zip(df["backend"], df["loss"], df["lr"], strict=True)) == {
        (b, loss, lr) for b in ("numpy", "torch") for loss in ("mse", "mae") for lr in (0.01, 0.1)
    }
    assert set(df["device"]) == {"cpu"}
    for col in (
        "bias",
        "w_0",
        "bias_error",
        "weight_error",
        "optimum_distance",
        "train_loss",
        "test_mse",
        "r2_test",
        "wall_s",
    ):
        assert np.isfinite(df[col].to_numpy(float)).all(), col
    assert df["mlflow_run_id"].is_unique and df["mlflow_run_id"].notna().all()

    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert manifest["tracking_uri"] == cli.uri
    assert len(manifest["runs"]) == 8
    for folder in manifest["runs"]:
        result = json.loads((sweep_dir / folder / "result.json").read_text())
        assert result["status"] == "ok" and result["epochs_run"] == 20
        assert len(pd.read_csv(sweep_dir / folder / "trajectory.csv")) == 20


@pytest.mark.slow
def test_multirun_parent_and_children_in_mlflow(multirun):
    cli, _ = multirun
    runs = cli.runs()
    parents, children = split_runs(runs)
    assert (len(parents), len(children)) == (1, 8)
    [parent] = parents
    sweep_dir = the_sweep_dir(cli.cwd)
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert parent.info.run_id == manifest["parent_run_id"]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["kind"] == "sweep" and parent.data.tags["status"] == "ok"
    assert parent.data.params["n_runs"] == "8"
    assert parent.data.metrics["n_ok"] == 8 and parent.data.metrics["n_failed"] == 0
    parent_files = {a.path for a in cli.client().list_artifacts(parent.info.run_id)}
    assert "summary.csv" in parent_files

    df = pd.read_csv(sweep_dir / "summary.csv")
    assert {r.info.run_id for r in children} == set(df["mlflow_run_id"])
    assert {r.info.run_name for r in children} == set(df["run_name"])
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
        commit = r.data.tags.get("git_commit")
        assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)


@pytest.mark.slow
def test_multirun_child_metrics_artifacts_and_dataset(multirun):
    cli, _ = multirun
    client = cli.client()
    _, children = split_runs(cli.runs())
    sweep_dir = the_sweep_dir(cli.cwd)
    df = pd.read_csv(sweep_dir / "summary.csv").set_index("mlflow_run_id")
    digests = set()
    for r in children:
        row = df.loc[r.info.run_id]
        traj = pd.read_csv(sweep_dir / row["run_folder"] / "trajectory.csv")
        for key in STEP_METRICS:  # one point per epoch, steps 0..19, the trajectory's values
            history = sorted(client.get_metric_history(r.info.run_id, key), key=lambda m: m.step)
            assert [m.step for m in history] == list(range(20)), key
            np.testing.assert_allclose(
                [m.value for m in history], traj[key], rtol=1e-6, err_msg=key
            )
        for key in (
            "weight_error",
            "bias_error",
            "optimum_distance",
            "train_loss",
            "test_mse",
            "r2_test",
        ):
            assert math.isclose(r.data.metrics[key], row[key], rel_tol=1e-9), key
        assert math.isclose(r.data.metrics["learned_w_0"], row["w_0"], rel_tol=1e-9)

        files = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"graph.png", "graph.dot", "trajectory.csv", "loss.png", "params.png"} <= files
        assert "config" in files
        assert "config.yaml" in files  # the resolved config; Hydra's own under config/
        config_files = {a.path for a in client.list_artifacts(r.info.run_id, "config")}
        assert {"config/config.yaml", "config/overrides.yaml"} <= config_files
        assert r.info.artifact_uri.startswith((cli.cwd / "mlruns").as_uri())

        [ds_input] = r.inputs.dataset_inputs
        assert {t.key: t.value for t in ds_input.tags}["mlflow.data.context"] == "training"
        result = json.loads((sweep_dir / row["run_folder"] / "result.json").read_text())
        assert result["data_digest"].startswith(ds_input.dataset.digest)
        digests.add(ds_input.dataset.digest)
    assert len(digests) == 1  # every run of the sweep trained on the same data


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
    )
    assert_ran(proc)
    log = f"{proc.stdout}\n{proc.stderr}"
    assert "4 runs: 4 ok, 0 diverged, 0 skipped, 0 failed" in last_line(proc.stdout), log
    runs = cli.runs()
    parents, children = split_runs(runs)
    assert (len(parents), len(children)) == (1, 4), log
    assert all(r.info.status == "FINISHED" for r in runs), ([r.info.status for r in runs], log)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    client = cli.client()
    for r in children:
        assert len(client.get_metric_history(r.info.run_id, "loss")) == 20
    df = pd.read_csv(the_sweep_dir(cli.cwd) / "summary.csv")
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    assert set(df["mlflow_run_id"]) == {r.info.run_id for r in children}


# --- faults: skipped, diverged, failed -----------------------------------------------------------
@pytest.mark.slow
def test_a_sweep_records_skipped_diverged_and_failed_runs(cli):
    # A real failure: the folder where one run must write trajectory.csv holds a directory of
    # that name, so writing the run's files raises IsADirectoryError mid-run.
    failing = "torch-mse-lr=0.1-ep=20-cpu"
    obstacle = cli.cwd / "outputs" / "sweeps" / "faults" / failing / "trajectory.csv"
    obstacle.mkdir(parents=True)
    proc = cli.train(
        "-m",
        "backend=numpy,torch",
        "device=cpu,cuda",
        "train.lr=0.1,10",
        "train.epochs=20",
        "tracking.sweep_name=faults",
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
    assert (
        f"faults: 8 runs: {counts['ok']} ok, {counts['diverged']} diverged, "
        f"{counts['skipped']} skipped, {counts['failed']} failed"
    ) in last_line(proc.stdout)

    sweep_dir = cli.cwd / "outputs" / "sweeps" / "faults"
    results = {f: json.loads((sweep_dir / f / "result.json").read_text()) for f in expected}
    assert {f: r["status"] for f, r in results.items()} == expected
    df = pd.read_csv(sweep_dir / "summary.csv")
    assert dict(zip(df["run_folder"], df["status"], strict=True)) == expected

    # skipped: the reason says why
    for f in ("numpy-mse-lr=0.1-ep=20-cuda", "numpy-mse-lr=10-ep=20-cuda"):
        assert "numpy" in results[f]["reason"] and "cuda" in results[f]["reason"]
    if not HAS_CUDA:
        assert "present" in results["torch-mse-lr=0.1-ep=20-cuda"]["reason"]
    # diverged: the trajectory up to the blow-up, all finite
    for f in ("numpy-mse-lr=10-ep=20-cpu", "torch-mse-lr=10-ep=20-cpu"):
        traj = pd.read_csv(sweep_dir / f / "trajectory.csv")
        assert 0 < len(traj) < 20
        assert np.isfinite(traj.drop(columns="epoch").to_numpy(float)).all()
        assert results[f]["epochs_run"] == len(traj)
        # cut at the blow-up: the exploded epoch is kept if its loss is finite, else dropped
        epoch = re.fullmatch(r"loss exploded at epoch (\d+)", results[f]["reason"])
        assert epoch and int(epoch.group(1)) in (len(traj) - 1, len(traj)), results[f]["reason"]
    # failed: the error is kept
    assert "IsADirectoryError" in results[failing]["reason"]
    assert "Traceback" in (sweep_dir / failing / "error.txt").read_text()

    client = cli.client()
    parents, children = split_runs(cli.runs())
    assert len(children) == 8
    assert not [r for r in [*parents, *children] if r.info.status == "RUNNING"]
    by_id = {r.info.run_id: r for r in children}
    for f, status in expected.items():
        run = by_id[results[f]["mlflow_run_id"]]
        assert run.data.tags["status"] == status, f
        assert run.info.status == ("FAILED" if status == "failed" else "FINISHED"), f
        if status != "ok":
            assert run.data.tags["reason"] == results[f]["reason"], f
    failed_run = by_id[results[failing]["mlflow_run_id"]]
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
    assert "2 runs: 0 ok, 1 diverged, 1 skipped, 0 failed" in last_line(proc.stdout)
    assert not [r for r in cli.runs() if r.info.status != "FINISHED"]


# --- bad input: one line, exit 2, nothing written ------------------------------------------------
QUICK = ["train.epochs=5", "tracking.figures=false", "tracking.graph=false"]
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
