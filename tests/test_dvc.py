"""The DVC pipeline for real: the project copied into a fresh git repo in tmp_path, a small grid,
``dvc repro`` / ``dvc exp run`` / the experiment queue, and the MLflow store they leave at the
project's root (MLFLOW_TRACKING_URI unset)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, VENV_BIN, clean_env, split_runs, store_runs

pytestmark = pytest.mark.slow

SMALL_GRID = {
    "lr": [0.01, 0.1],
    "epochs": [30],
    "loss": ["mse", "mae"],
    "backend": ["numpy", "torch"],
    "device": ["cpu"],
}  # 8 runs
STAGES = ("generate", "train", "evaluate")


def sh(cwd: Path, *cmd: str, timeout: float = 300, check: bool = True):
    env = clean_env(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    assert "MLFLOW_TRACKING_URI" not in env
    exe = str(VENV_BIN / cmd[0]) if (VENV_BIN / cmd[0]).exists() else cmd[0]
    proc = subprocess.run(
        [exe, *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check:
        tail = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        assert proc.returncode == 0, f"{' '.join(cmd)}: exit {proc.returncode}\n{tail}"
    return proc


def make_project(root: Path) -> Path:
    """The project's files (tracked, and untracked but not ignored) in a new git repo, with the
    small grid committed."""
    listed = (
        subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "ls-files",
                "--cached",
                "--others",
                "--exclude-standard",
                "-z",
            ],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    proj = root / "proj"
    for name in listed:
        src = REPO / name
        if name and not name.startswith("tests/") and src.is_file():
            (proj / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, proj / name)
    assert (proj / "dvc.yaml").is_file() and (proj / ".dvc" / "config").is_file()
    sh(proj, "git", "init", "-q")
    sh(proj, "git", "config", "user.name", "t")
    sh(proj, "git", "config", "user.email", "t@example.com")
    sh(proj, "git", "add", "-A")
    sh(proj, "git", "commit", "-qm", "the project")
    set_params(proj, sweep=SMALL_GRID)
    sh(proj, "git", "commit", "-qam", "a small grid")
    return proj


def set_params(proj: Path, **sections) -> None:
    path = proj / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.update(sections)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def output(proc) -> str:
    return proc.stdout + proc.stderr


def sweeps(proj: Path) -> tuple[list, list]:
    return split_runs(store_runs(f"sqlite:///{proj / 'mlflow.db'}"))


def children_of(parent, children) -> list:
    return [r for r in children if r.data.tags["mlflow.parentRunId"] == parent.info.run_id]


def test_dvc_repro_params_metrics_plots(tmp_path):
    proj = make_project(tmp_path)
    head = sh(proj, "git", "rev-parse", "HEAD").stdout.strip()

    first = sh(proj, "dvc", "repro")
    for stage in STAGES:
        assert f"Running stage '{stage}'" in output(first), stage
    assert "8 runs: 8 ok, 0 diverged, 0 skipped, 0 failed" in output(first)

    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 8 and set(summary["status"]) == {"ok"}
    assert set(summary["epochs"]) == {30}
    metrics = json.loads((proj / "results" / "metrics.json").read_text())
    assert (metrics["runs"], metrics["ok"], metrics["failed"]) == (8, 8, 0)
    assert (proj / "results" / "plots" / "errors.csv").is_file()

    # the default store: <project>/mlflow.db with artifacts in <project>/mlruns
    assert (proj / "mlflow.db").is_file() and (proj / "mlruns").is_dir()
    parents, children = sweeps(proj)
    assert (len(parents), len(children)) == (1, 8)
    [parent] = parents
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["git_commit"] == head
    assert "dvc_experiment" not in parent.data.tags
    assert parent.data.metrics["eval_runs"] == 8  # the evaluate stage joined the parent run
    assert set(summary["mlflow_run_id"]) == {r.info.run_id for r in children}
    assert all(r.info.artifact_uri.startswith((proj / "mlruns").as_uri()) for r in children)
    # data/, runs/, the store and dvc's cache stay out of git
    changed = {line[3:] for line in sh(proj, "git", "status", "--porcelain").stdout.splitlines()}
    assert changed <= {"dvc.lock", "results/metrics.json"}, changed

    second = sh(proj, "dvc", "repro")
    assert "Running stage" not in output(second)
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change" in output(second), stage
    assert "up to date" in output(second)
    assert len(store_runs(f"sqlite:///{proj / 'mlflow.db'}")) == 9  # nothing new recorded

    sh(proj, "git", "add", "-A")
    sh(proj, "git", "commit", "-qm", "first results")
    set_params(proj, sweep={**SMALL_GRID, "epochs": [25]})
    diff = sh(proj, "dvc", "params", "diff")
    assert re.search(r"sweep\.epochs\s+\[30\]\s+\[25\]", diff.stdout), diff.stdout
    third = sh(proj, "dvc", "repro")
    assert "Stage 'generate' didn't change" in output(third)
    assert "Running stage 'generate'" not in output(third)
    assert "Running stage 'train'" in output(third)
    assert "Running stage 'evaluate'" in output(third)
    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 8 and set(summary["epochs"]) == {25}
    parents, children = sweeps(proj)
    assert (len(parents), len(children)) == (2, 16)

    shown = sh(proj, "dvc", "metrics", "show")
    assert "results/metrics.json" in shown.stdout and "runs" in shown.stdout
    assert "epochs_25" in shown.stdout  # the walkthrough reference of the new grid
    mdiff = sh(proj, "dvc", "metrics", "diff")
    assert "results/metrics.json" in mdiff.stdout
    plots = sh(proj, "dvc", "plots", "show")
    index = proj / "dvc_plots" / "index.html"
    assert index.is_file() and index.stat().st_size > 0, output(plots)
    assert "weight_error" in index.read_text() or "errors" in index.read_text()


def queue_done(proj: Path, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = sh(proj, "dvc", "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        assert time.monotonic() < deadline, f"the queue did not finish:\n{status}"
        time.sleep(2)


def test_dvc_experiments_record_in_the_projects_store(tmp_path):
    proj = make_project(tmp_path)

    # a queued experiment runs in a temporary copy, yet records into the project's store
    queued = sh(proj, "dvc", "exp", "run", "--queue", "-S", "sweep.lr=[0.02]")
    match = re.search(r"Queued experiment '([\w-]+)'", output(queued))
    assert match, output(queued)
    name = match.group(1)
    try:
        sh(proj, "dvc", "queue", "start")
        status = queue_done(proj)
    finally:
        sh(proj, "dvc", "queue", "stop", check=False, timeout=60)
    assert re.search(rf"{name}\s.*Success", status), (
        status + sh(proj, "dvc", "queue", "logs", name, check=False).stdout
    )
    assert (proj / "mlflow.db").is_file()
    parents, children = sweeps(proj)
    [parent] = [p for p in parents if p.data.tags.get("dvc_experiment") == name]
    assert parent.info.run_name.startswith(f"dvc-{name}")
    runs = children_of(parent, children)
    assert len(runs) == 4
    assert {r.data.params["train.lr"] for r in runs} == {"0.02"}
    assert all(r.info.status == "FINISHED" for r in [parent, *runs])
    for r in runs:
        assert r.data.tags["dvc_experiment"] == name
        assert r.info.artifact_uri.startswith((proj / "mlruns").as_uri())
    artifacts = Path(runs[0].info.artifact_uri.removeprefix("file://"))
    assert (artifacts / "trajectory.csv").is_file()  # the files outlive the temporary copy
    assert sorted(proj.rglob("mlflow.db")) == [proj / "mlflow.db"]

    # an experiment in the workspace
    ran = sh(proj, "dvc", "exp", "run", "-S", "sweep.lr=[0.05]")
    match = re.search(r"Ran experiment\(s\): ([\w-]+)", output(ran))
    assert match, output(ran)
    exp = match.group(1)
    parents, children = sweeps(proj)
    assert len(parents) == 2
    [parent] = [p for p in parents if p.data.tags.get("dvc_experiment") == exp]
    runs = children_of(parent, children)
    assert len(runs) == 4 and {r.data.params["train.lr"] for r in runs} == {"0.05"}
    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 4 and set(summary["lr"]) == {0.05}
    assert set(summary["mlflow_run_id"]) == {r.info.run_id for r in runs}
