"""The evaluate stage (linreg.evaluate): the walkthrough's metrics, the gif and the report logged to
the parent, a sweep that was interrupted, and a grid whose every run was skipped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from linreg.run.record import RunRecord
from tests.helpers.cli import REPO, Cli, clean_env, popen
from tests.helpers.figures import embedded_images
from tests.helpers.processes import wait_for_run


@pytest.mark.slow
def test_the_walkthrough_metrics_name_only_the_walkthroughs_runs():
    """metrics.json's "walkthrough" numbers come from the walkthrough's data and plain descent
    only: on other data, or with momentum, there is nothing of the walkthrough's to report."""
    from linreg.core import DataSpec
    from linreg.evaluate import is_walkthrough, metrics
    from linreg.run.record import RunRecord, frame

    def run(momentum: float) -> RunRecord:
        return RunRecord(run_name=f"torch · mse · lr=0.01 · ep=100 · cpu · momentum={momentum}",
                         backend="torch", device="cpu", loss="mse", lr=0.01, epochs=100,
                         status="ok", bias=1.0283, weights=[2.2193], weight_error=0.28,
                         optimum_distance=0.29, momentum=momentum, schedule="constant",
                         dtype="float32")  # fmt: skip

    walkthrough = {"kind": "synthetic", **DataSpec().to_dict()}
    assert is_walkthrough({"spec": json.loads(json.dumps(walkthrough))})
    assert not is_walkthrough({"spec": {**walkthrough, "outlier_fraction": 0.1}})
    df = frame([run(0.0)])
    assert metrics(df, True)["walkthrough"] == {"epochs_100": {"weight": 2.2193, "bias": 1.0283}}
    assert "walkthrough" not in metrics(df, False)
    assert "walkthrough" not in metrics(frame([run(0.9)]), True)


@pytest.mark.slow
def test_the_evaluate_stage_writes_the_gif_and_logs_it_with_the_report_to_the_parent(tmp_path):
    """The pipeline's three commands (dvc.yaml's) on a tiny grid: results/figures/descent.gif,
    report.html with every figure inside it, and both among the sweep's parent run's artifacts."""
    import sys

    import yaml
    from mlflow.tracking import MlflowClient
    from PIL import Image

    repo = Path(__file__).resolve().parents[2]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["grid"] = {"train": {"lr": [0.1, 0.5], "epochs": [20]}, "backend": ["numpy"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for name in ("generate", "train", "evaluate"):
        cmd = stages[name]["cmd"].replace("python", sys.executable, 1).split()
        proc = Cli(tmp_path).command(cmd, timeout=300)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr[-2000:])
    results = tmp_path / "results"
    with Image.open(results / "figures" / "descent.gif") as gif:
        assert gif.n_frames > 10
    figures = sorted((results / "figures").iterdir())
    images = embedded_images((results / "report.html").read_text())
    assert sorted(images) == sorted(p.read_bytes() for p in figures)
    parent = json.loads((tmp_path / "runs" / "sweep.json").read_text())["parent_run_id"]
    client = MlflowClient(tracking_uri=uri)
    logged = {a.path for a in client.list_artifacts(parent, "evaluation/figures")}
    assert "evaluation/figures/descent.gif" in logged
    assert "evaluation/report.html" in {a.path for a in client.list_artifacts(parent, "evaluation")}


@pytest.mark.slow
def test_an_all_skipped_grid_still_makes_every_declared_output(tmp_path):
    """cuda on a machine without one: every run skipped; the stages still end 0 and write every
    output dvc.yaml declares (so dvc repro completes), the report saying why it is empty."""
    import yaml

    from linreg.core.device import available_devices

    if "cuda" in available_devices():
        pytest.skip("this machine has cuda: the grid would train")
    repo = Path(__file__).resolve().parents[2]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["grid"] = {"train": {"lr": [0.01]}, "backend": ["torch", "numpy"], "device": ["cuda"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for name in ("generate", "train", "evaluate"):
        cmd = stages[name]["cmd"].replace("python", sys.executable, 1).split()
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr)
    assert "2 runs: 0 ok, 0 diverged, 2 skipped, 0 failed" in proc.stdout
    outs = [*stages["evaluate"]["outs"], *(next(iter(m)) for m in stages["evaluate"]["metrics"])]
    assert outs
    for out in outs:
        assert (tmp_path / out).exists(), out
    report = (tmp_path / "results" / "report.md").read_text()
    assert "None: no run trained" in report and "device must be" in report


@pytest.mark.slow
def test_evaluate_reads_a_sweep_that_was_interrupted(tmp_path):
    """The DVC train stage stopped by SIGTERM in its second run, then the evaluate stage: it ends
    0 and lists the finished run, the interrupted one with its reason and the ones never run."""
    import json

    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    # the first run short, the second long enough to be stopped in, a third never reached
    params["grid"] = {"train": {"lr": [0.01], "epochs": [1000, 300000, 300001]},
                      "backend": ["numpy"]}  # fmt: skip
    params["tracking"].update(figures=False, graph=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")

    def stage(*args: str) -> subprocess.CompletedProcess:
        return Cli(tmp_path).command([sys.executable, "-m", *args], timeout=300)

    assert stage("linreg.generate", "params.yaml", "data").returncode == 0
    train = ["linreg.train", "--params", "params.yaml", "data.dir=data", "hydra.sweep.dir=runs"]
    proc = popen([sys.executable, "-m", *train], tmp_path, env)
    wait_for_run(proc, tmp_path, "runs", "1-")  # the second run training, the first done
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, out + err
    done = stage("linreg.evaluate", "runs", "data", "results")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    summary = pd.read_csv(tmp_path / "results" / "summary.csv")
    assert summary["status"].tolist() == ["ok", "failed"]
    assert summary["reason"].iloc[1].startswith("interrupted by SIGTERM")
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert (metrics["n_ok"], metrics["n_failed"]) == (1, 1)
    report = (tmp_path / "results" / "report.md").read_text()
    assert "interrupted by SIGTERM" in report
