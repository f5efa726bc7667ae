"""The train command (linreg.train, the ``linreg`` script): a single run prints the walkthrough's
numbers, the script is installed and helps, Hydra's completion, a quoted number read as one."""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from linreg.run.record import RunRecord
from scripts.accuracy import certified, linreg_optimum, lre, write_design_csv
from tests.helpers.commands import QUICK, assert_ran


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


@pytest.mark.slow
def test_a_quoted_number_is_read_as_the_number(cli):
    proc = cli.train("train.lr='0.05'", "backend=numpy", *QUICK)
    assert_ran(proc)
    assert "numpy · mse · lr=0.05 · ep=5 · cpu" in proc.stdout
    assert re.search(r"^mlflow: run [0-9a-f]{32} in experiment 'linreg'", proc.stdout, re.M)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Filip", "NoInt1"])
def test_nist_through_the_linreg_command(name, tmp_path):
    """The whole user path: `linreg data=csv ...`, the optimum read from evaluation.json."""
    meta = certified(name)
    path = tmp_path / f"{name}.csv"
    write_design_csv(name, path)
    got = linreg_optimum(path, meta["intercept"], tmp_path)
    assert lre(got, meta["certified"]) >= 10
