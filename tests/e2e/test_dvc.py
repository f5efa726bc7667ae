"""The DVC pipeline for real: the project copied into a fresh git repo in tmp_path, a small grid,
``dvc repro`` / ``dvc status`` / ``dvc exp run`` / the experiment queue / ``dvc plots``, and the
MLflow store they leave at the project's root (MLFLOW_TRACKING_URI unset).

The copy holds the project's files as a fresh clone would (tracked, and untracked but not
ignored), so ``dvc.yaml``'s code deps (``src/linreg/...``) are there to hash; the stages run the
linreg installed in the environment under test.  The grid is shrunk where it lives: the copy's
``conf/pipeline.yaml``, with ``params.yaml`` composed from it as ``dvc exp run`` composes it."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers.cli import REPO, VENV_BIN, clean_env, split_runs, store_runs

SMALL_GRID = {  # conf/pipeline.yaml's grid section: 2 x 1 x 2 x 2 x 1 = 8 runs
    "train": {"lr": [0.01, 0.1], "epochs": [30]},
    "loss": ["mse", "mae"],
    "backend": ["numpy", "torch"],
    "device": ["cpu"],
}


STAGES = ("generate", "train", "evaluate")


UP_TO_DATE = "Data and pipelines are up to date"


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


def copy_project(root: Path) -> Path:
    """The project's files as a fresh clone has them (tracked, and untracked but not ignored;
    the tests left out) in a new git repo with one commit."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    proj = root / "proj"
    for name in listed.split("\0"):
        src = REPO / name
        if name and not name.startswith("tests/") and src.is_file():
            (proj / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, proj / name)
    for name in ("dvc.yaml", "dvc.lock", "params.yaml", ".dvc/config", "conf/pipeline.yaml"):
        assert (proj / name).is_file(), name
    assert (proj / "src" / "linreg" / "train.py").is_file()  # the code deps are there to hash
    sh(proj, "git", "init", "-q")
    sh(proj, "git", "add", "-A")
    sh(proj, "git", "commit", "-qm", "the project")
    return proj


def make_project(root: Path) -> Path:
    """A copy of the project with the small grid committed (conf/pipeline.yaml, params.yaml)."""
    proj = copy_project(root)
    path = proj / "conf" / "pipeline.yaml"
    pipeline = yaml.safe_load(path.read_text())
    assert set(pipeline["grid"]) == set(SMALL_GRID)
    pipeline["grid"] = SMALL_GRID
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    compose_params(proj)
    assert load_params(proj)["grid"] == SMALL_GRID
    sh(proj, "git", "commit", "-qam", "a small grid")
    return proj


def compose_params(proj: Path) -> None:
    """params.yaml composed from conf/pipeline.yaml by DVC's own function, as `dvc exp run`
    does (.dvc/config: hydra)."""
    code = (
        "import os; from dvc.utils.hydra import compose_and_dump; "
        "compose_and_dump('params.yaml', os.path.abspath('conf'), None, 'pipeline', "
        "os.getcwd(), [])"
    )
    sh(proj, "python", "-c", code)


def load_params(proj: Path) -> dict:
    return yaml.safe_load((proj / "params.yaml").read_text())


def edit_params(proj: Path, section: str, key: str, value) -> None:
    """One value of params.yaml changed in place (``dvc repro`` reads the file as it is)."""
    params = load_params(proj)
    params[section][key] = value
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def output(proc) -> str:
    return proc.stdout + proc.stderr


def sweeps(proj: Path) -> tuple[list, list]:
    return split_runs(store_runs(f"sqlite:///{proj / 'mlflow.db'}"))


def children_of(parent, children) -> list:
    return [r for r in children if r.data.tags["mlflow.parentRunId"] == parent.info.run_id]


def status(proj: Path) -> dict:
    """``dvc status --json``: stage -> what changed ({} when up to date)."""
    return json.loads(sh(proj, "dvc", "status", "--json").stdout or "{}")


def would_run(proj: Path) -> set[str]:
    """The stages ``dvc repro`` would run: a dry run, with the stages downstream of a changed
    one counted (their deps change once it has run)."""
    dry = sh(proj, "dvc", "repro", "--dry", "--force-downstream")
    return set(re.findall(r"Running stage '(\w+)'", output(dry)))


def assert_clean(proj: Path) -> None:
    assert UP_TO_DATE in sh(proj, "dvc", "status").stdout
    assert status(proj) == {}


# --- dvc repro ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dvc_repro_status_params_metrics_plots(tmp_path):
    proj = make_project(tmp_path)
    head = sh(proj, "git", "rev-parse", "HEAD").stdout.strip()

    first = sh(proj, "dvc", "repro")
    for stage in STAGES:
        assert f"Running stage '{stage}'" in output(first), stage
    ran = output(first)
    assert ran.index("Running stage 'generate'") < ran.index("Running stage 'train'")
    assert ran.index("Running stage 'train'") < ran.index("Running stage 'evaluate'")
    assert "dvc · repro: 8 runs: 8 ok, 0 diverged, 0 skipped, 0 failed" in ran
    assert_clean(proj)

    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 8 and set(summary["status"]) == {"ok"}
    assert set(summary["epochs"]) == {30} and set(summary["lr"]) == {0.01, 0.1}
    metrics = json.loads((proj / "results" / "metrics.json").read_text())
    assert (metrics["n_runs"], metrics["n_ok"], metrics["n_failed"]) == (8, 8, 0)
    assert set(metrics["best_weight_error"]) == {"mse", "mae"}
    assert set(metrics["walkthrough"]) == {"epochs_30"}
    assert (proj / "results" / "plots" / "errors.csv").is_file()
    loss = pd.read_csv(proj / "results" / "plots" / "loss.csv")  # every run's loss per epoch
    assert list(loss.columns) == ["run", "epoch", "loss"]
    assert set(loss["run"]) == set(summary["run_name"])
    assert (loss.groupby("run")["epoch"].max() == 29).all() and len(loss) == 8 * 30

    # the default store: <project>/mlflow.db with artifacts in <project>/mlruns
    assert (proj / "mlflow.db").is_file() and (proj / "mlruns").is_dir()
    parents, children = sweeps(proj)
    assert (len(parents), len(children)) == (1, 8)
    [parent] = parents
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "dvc · repro · 8 runs"
    assert parent.data.tags["mlflow.source.git.commit"] == head
    assert "dvc_experiment" not in parent.data.tags
    assert parent.data.metrics["evaluate/n_runs"] == 8  # the evaluate stage joined the parent run
    assert children_of(parent, children) == children
    assert set(summary["mlflow_run_id"]) == {r.info.run_id for r in children}
    assert all(r.info.artifact_uri.startswith((proj / "mlruns").as_uri()) for r in children)
    # data/, runs/, the store and dvc's cache stay out of git
    changed = {line[3:] for line in sh(proj, "git", "status", "--porcelain").stdout.splitlines()}
    assert changed <= {"dvc.lock", "results/metrics.json"}, changed

    second = sh(proj, "dvc", "repro")
    assert "Running stage" not in output(second)
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change" in output(second), stage
    assert len(store_runs(f"sqlite:///{proj / 'mlflow.db'}")) == 9  # nothing new recorded
    sh(proj, "git", "add", "-A")
    sh(proj, "git", "commit", "-qm", "first results")

    # each change reruns only the stages it touches: `dvc status` names the stages whose own
    # deps or params changed; a repro also reruns those downstream of them
    with open(proj / "src" / "linreg" / "report" / "report.py", "a") as f:
        f.write("# the report's code, touched\n")
    assert set(status(proj)) == {"evaluate"}
    assert would_run(proj) == {"evaluate"}
    sh(proj, "git", "checkout", "-q", "--", "src")
    assert_clean(proj)

    edit_params(proj, "data", "seed", 7)
    assert status(proj) == {
        "generate": [{"changed deps": {"params.yaml": {"data": "modified"}}}],
        "train": [{"changed deps": {"params.yaml": {"data": "modified"}}}],
    }
    assert would_run(proj) == set(STAGES)
    sh(proj, "git", "checkout", "-q", "--", "params.yaml")
    assert_clean(proj)

    grid = load_params(proj)["grid"]
    edit_params(proj, "grid", "train", {**grid["train"], "epochs": [25]})
    assert status(proj) == {"train": [{"changed deps": {"params.yaml": {"grid": "modified"}}}]}
    assert would_run(proj) == {"train", "evaluate"}
    diff = sh(proj, "dvc", "params", "diff")
    assert re.search(r"grid\.train\.epochs\s+\[30\]\s+\[25\]", diff.stdout), diff.stdout
    third = sh(proj, "dvc", "repro")
    assert "Stage 'generate' didn't change" in output(third)
    assert "Running stage 'generate'" not in output(third)
    assert "Running stage 'train'" in output(third)
    assert "Running stage 'evaluate'" in output(third)
    assert_clean(proj)
    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 8 and set(summary["epochs"]) == {25}
    parents, children = sweeps(proj)
    assert (len(parents), len(children)) == (2, 16)

    shown = sh(proj, "dvc", "metrics", "show")
    assert "results/metrics.json" in shown.stdout and "n_runs" in shown.stdout
    assert "epochs_25" in shown.stdout  # the walkthrough reference of the new grid
    mdiff = sh(proj, "dvc", "metrics", "diff")
    assert "results/metrics.json" in mdiff.stdout

    # dvc plots show: every finished run's loss per epoch in one plot, and the errors
    plots = sh(proj, "dvc", "plots", "show")
    index = proj / "dvc_plots" / "index.html"
    assert index.is_file(), output(plots)
    html = index.read_text()
    spec = plot_spec(html, "results/plots/loss.csv")
    assert spec["title"] == "Loss per epoch of each run"
    assert spec["encoding"]["color"]["field"] == "run"  # a line per run (.dvc/plots/)
    points = pd.DataFrame(spec["data"]["values"])
    loss = pd.read_csv(proj / "results" / "plots" / "loss.csv", dtype=str)
    assert set(points["run"]) == set(summary["run_name"]) == set(loss["run"])
    assert len(points) == len(loss) == 8 * 25
    shown = points[["run", "epoch", "loss"]].sort_values(["run", "epoch"], ignore_index=True)
    pd.testing.assert_frame_equal(
        shown, loss.sort_values(["run", "epoch"], ignore_index=True)
    )  # the very numbers of loss.csv
    errors = plot_spec(html, "results/plots/errors.csv")
    assert "Weight error of each run" in json.dumps(errors["title"])
    assert {p["run_name"] for p in errors["data"]["values"]} == set(summary["run_name"])


def plot_spec(html: str, path: str) -> dict:
    """The Vega-Lite spec that ``dvc plots show`` wrote into index.html for ``path``."""
    div = html.find(f'id = "{path.replace("/", "_").replace(".", "_")}"')
    assert div >= 0, f"no plot of {path} in dvc_plots/index.html"
    start = html.index("var spec = ", div) + len("var spec = ")
    spec, _ = json.JSONDecoder().raw_decode(html, start)
    return spec


# --- the committed dvc.lock -----------------------------------------------------------------------
def stale_entries(report: dict, outputs: set[str]) -> list[str]:
    """What ``dvc status --json`` reports beyond the missing outputs of a fresh clone: a
    changed command, a code or config dep that differs from dvc.lock, a changed param.  A
    fresh clone may only lack the stages' outputs ("changed outs") and, as deps, the outputs of
    the stages upstream ("deleted")."""
    problems = []
    for stage, entries in report.items():
        for entry in entries:
            if isinstance(entry, str):  # "changed command", "always changed", ...
                problems.append(f"{stage}: {entry}")
                continue
            for kind, changes in entry.items():
                if kind == "changed outs":
                    continue
                for path, change in changes.items():
                    if kind == "changed deps" and path in outputs and change == "deleted":
                        continue
                    problems.append(f"{stage}: {kind}: {path}: {change}")
    return problems


def test_committed_dvc_lock_matches_the_checkout(tmp_path):
    """dvc.lock records the hashes of the code, conf/ and params.yaml as they are here: in a
    fresh clone, `dvc status` reports nothing but the missing outputs (`make repro` after a
    code change must be followed by committing its dvc.lock)."""
    proj = copy_project(tmp_path)
    pipeline = yaml.safe_load((proj / "dvc.yaml").read_text())["stages"]
    outputs = {
        next(iter(out)) if isinstance(out, dict) else out
        for stage in pipeline.values()
        for out in [*stage.get("outs", []), *stage.get("metrics", [])]
    }
    assert {"data", "runs"} <= outputs
    report = status(proj)
    assert set(report) <= set(STAGES)
    problems = stale_entries(report, outputs)
    assert not problems, "dvc.lock is stale (run `dvc repro` and commit dvc.lock):\n" + "\n".join(
        problems
    )

    # the same check sees a stale lock: a code dep and a param changed after the lock
    with open(proj / "src" / "linreg" / "train.py", "a") as f:
        f.write("# changed after dvc.lock\n")
    edit_params(proj, "train", "momentum", 0.5)
    problems = stale_entries(status(proj), outputs)
    assert "train: changed deps: src/linreg/train.py: modified" in problems, problems
    assert "train: changed deps: params.yaml: {'train': 'modified'}" in problems, problems
    assert not any(p.startswith(("generate", "evaluate")) for p in problems), problems


# --- dvc exp run ----------------------------------------------------------------------------------
def experiment_params(proj: Path, name: str) -> dict:
    """params.yaml of experiment ``name`` as `dvc exp show --json` lists it."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == name and isinstance(node.get("data"), dict):
                found.append(node["data"]["params"]["params.yaml"]["data"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(sh(proj, "dvc", "exp", "show", "--json").stdout))
    assert found, f"no experiment {name!r} in dvc exp show"
    return found[0]


@pytest.mark.slow
def test_dvc_experiments_in_the_workspace(tmp_path):
    proj = make_project(tmp_path)

    # another grid: the runs record into the project's store under the experiment's name
    ran = sh(proj, "dvc", "exp", "run", "-S", "grid.train.lr=[0.05]")
    match = re.search(r"Ran experiment\(s\): ([\w-]+)", output(ran))
    assert match, output(ran)
    exp = match.group(1)
    assert f"dvc · {exp}: 4 runs: 4 ok, 0 diverged, 0 skipped, 0 failed" in output(ran)
    assert (proj / "mlflow.db").is_file()
    parents, children = sweeps(proj)
    [parent] = parents
    assert parent.data.tags["dvc_experiment"] == exp
    assert parent.info.run_name == f"dvc · {exp} · 4 runs"
    assert parent.info.status == "FINISHED"
    runs = children_of(parent, children)
    assert len(runs) == 4 == len(children)
    assert {r.data.params["train.lr"] for r in runs} == {"0.05"}
    assert all(r.data.tags["dvc_experiment"] == exp for r in runs)
    assert all(r.info.artifact_uri.startswith((proj / "mlruns").as_uri()) for r in runs)
    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 4 and set(summary["lr"]) == {0.05}
    assert set(summary["mlflow_run_id"]) == {r.info.run_id for r in runs}
    diff = sh(proj, "dvc", "params", "diff")
    assert re.search(r"grid\.train\.lr\s+\[0\.01, 0\.1\]\s+\[0\.05\]", diff.stdout), diff.stdout
    assert experiment_params(proj, exp)["grid"]["train"]["lr"] == [0.05]

    # a swept key's single value: one line naming the fix, a failed experiment, nothing recorded
    bad = sh(proj, "dvc", "exp", "run", "-S", "train.lr=0.05", check=False)
    assert bad.returncode != 0, output(bad)
    lines = [line for line in output(bad).splitlines() if line.startswith("error:")]
    assert lines == [
        "error: train.lr must be left to the grid (grid.train.lr sweeps it; set -S "
        "'grid.train.lr=[0.05]' instead), got train.lr=0.05"
    ], output(bad)
    assert "Traceback" not in output(bad)
    assert len(store_runs(f"sqlite:///{proj / 'mlflow.db'}")) == 5

    # a single value of a key the grid leaves alone: every run of the grid takes it
    ran = sh(proj, "dvc", "exp", "run", "-S", "train.momentum=0.5")
    match = re.search(r"Ran experiment\(s\): ([\w-]+)", output(ran))
    assert match, output(ran)
    exp2 = match.group(1)
    assert f"dvc · {exp2}: 8 runs: 8 ok, 0 diverged, 0 skipped, 0 failed" in output(ran)
    summary = pd.read_csv(proj / "results" / "summary.csv")
    assert len(summary) == 8 and set(summary["momentum"]) == {0.5}
    assert set(summary["lr"]) == {0.01, 0.1}  # the committed grid again
    parents, children = sweeps(proj)
    [parent] = [p for p in parents if p.data.tags.get("dvc_experiment") == exp2]
    runs = children_of(parent, children)
    assert len(runs) == 8 and {r.data.params["train.momentum"] for r in runs} == {"0.5"}
    assert set(summary["mlflow_run_id"]) == {r.info.run_id for r in runs}
    params = experiment_params(proj, exp2)
    assert params["train"]["momentum"] == 0.5 and params["grid"] == SMALL_GRID


# --- the experiment queue -------------------------------------------------------------------------
def queue_done(proj: Path, names, timeout: float = 300) -> str:
    """``dvc queue status`` once every experiment in ``names`` has ended (Success or Failed).
    Waiting for no Queued or Running line instead is a race: the status lists the running tasks
    before the queued ones, so a task a worker takes in between is in neither list."""
    deadline = time.monotonic() + timeout
    while True:
        out = sh(proj, "dvc", "queue", "status").stdout
        if all(re.search(rf"\b{re.escape(name)}\s.*\b(Success|Failed)\b", out) for name in names):
            return out
        assert time.monotonic() < deadline, f"the queue did not finish:\n{out}"
        time.sleep(2)


def queue_two(proj: Path) -> dict[str, float]:
    """Queue two experiments of a small grid (lr 0.02 and 0.03, numpy): their names -> lr."""
    names = {}
    for lr in (0.02, 0.03):
        queued = sh(
            proj, "dvc", "exp", "run", "--queue", "-S", f"grid.train.lr=[{lr}]",
            "-S", "grid.backend=[numpy]",
        )  # fmt: skip
        match = re.search(r"Queued experiment '([\w-]+)'", output(queued))
        assert match, output(queued)
        names[match.group(1)] = lr
    assert len(names) == 2
    return names


def project_processes(proj: Path) -> list:
    """The processes working inside ``proj`` (its queue workers and their stages: they run in
    the project or in its ``.dvc/tmp/exps`` copies)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            cwd = Path(proc.cwd())
        except (psutil.Error, OSError):
            continue
        if cwd == proj or proj in cwd.parents:
            found.append(proc)
    return found


def stop_queue(proj: Path, grace: float = 30) -> None:
    """``dvc queue stop --kill``, then wait for the project's processes to end; any left after
    ``grace`` seconds are killed (by pid: only those working inside this temporary project)."""
    import psutil

    sh(proj, "dvc", "queue", "stop", "--kill", check=False, timeout=60)
    _, alive = psutil.wait_procs(project_processes(proj), timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture
def two_queued(once):
    """Two experiments queued in a project without mlflow.db and run by ``dvc queue start -j 2``
    (issue 9: the two workers used to race on creating the store), once for the tests below:
    (the project, experiment name -> lr, ``dvc queue status`` at the end).  The tests only read
    it."""

    def run(folder: Path) -> dict:
        proj = make_project(folder)
        db = proj / "mlflow.db"
        assert not db.exists() and not (proj / "mlruns").exists()  # the store does not exist yet
        names = queue_two(proj)
        assert not db.exists()
        try:
            sh(proj, "dvc", "queue", "start", "-j", "2")
            done = queue_done(proj, names)
        finally:
            stop_queue(proj)
        return {"names": names, "done": done}

    folder, made = once("dvc-queue", run)
    return folder / "proj", made["names"], made["done"]


@pytest.mark.slow
def test_queued_experiments_record_in_the_projects_store(two_queued):
    """Queued experiments run in temporary copies of the project, yet record into its store."""
    proj, names, done = two_queued
    for name in names:
        assert re.search(rf"{name}\s.*Success", done), (
            done + sh(proj, "dvc", "queue", "logs", name, check=False).stdout
        )

    assert sorted(proj.rglob("mlflow.db")) == [proj / "mlflow.db"]
    parents, children = sweeps(proj)
    assert len(parents) == 2 and len(children) == 4
    for name, lr in names.items():
        [parent] = [p for p in parents if p.data.tags.get("dvc_experiment") == name]
        assert parent.info.run_name == f"dvc · {name} · 2 runs"
        runs = children_of(parent, children)
        assert len(runs) == 2
        assert {r.data.params["train.lr"] for r in runs} == {str(lr)}
        assert {r.data.params["backend.name"] for r in runs} == {"numpy"}
        assert all(r.info.status == "FINISHED" for r in [parent, *runs])
        assert parent.data.metrics["evaluate/n_runs"] == 2
        for r in runs:
            assert r.data.tags["dvc_experiment"] == name
            assert r.info.artifact_uri.startswith((proj / "mlruns").as_uri())
            artifacts = Path(r.info.artifact_uri.removeprefix("file://"))
            assert (artifacts / "trajectory.csv").is_file()  # outlives the temporary copy
        assert experiment_params(proj, name)["grid"]["train"]["lr"] == [lr]


@pytest.mark.slow
def test_two_queue_workers_create_a_missing_store_together(two_queued):
    """Issue 9: `dvc queue start -j 2` with two queued experiments in a project without
    mlflow.db used to race on creating the store (`duplicate column name: step`, a lost
    experiment, sometimes a broken store).  Store.__init__ now creates the schema and the
    experiment under a file lock beside the sqlite file: both experiments land, the store opens."""
    import sqlite3

    proj, names, done = two_queued
    db = proj / "mlflow.db"
    assert project_processes(proj) == []  # no queue worker left behind
    for name in names:
        assert re.search(rf"{name}\s.*Success", done), (
            done + sh(proj, "dvc", "queue", "logs", name, check=False).stdout
        )

    # the store is healthy: no half-done migration left behind, and it opens
    with sqlite3.connect(db) as con:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not [t for t in tables if t.startswith("_alembic_tmp")], tables
    assert {"runs", "metrics", "latest_metrics", "alembic_version"} <= tables
    assert sorted(proj.rglob("mlflow.db")) == [db]

    runs = store_runs(f"sqlite:///{db}")
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    parents, children = split_runs(runs)
    assert len(parents) == 2 and len(children) == 4
    for name, lr in names.items():
        [parent] = [p for p in parents if p.data.tags.get("dvc_experiment") == name]
        assert parent.info.status == "FINISHED"
        assert parent.info.run_name == f"dvc · {name} · 2 runs"
        mine = children_of(parent, children)
        assert len(mine) == 2
        assert {r.info.status for r in mine} == {"FINISHED"}
        assert {r.data.params["train.lr"] for r in mine} == {str(lr)}
        assert all(r.data.tags["dvc_experiment"] == name for r in mine)


@pytest.mark.slow
def test_each_stage_lists_the_code_it_runs(tmp_path):
    """Each stage's command run for real with ``-X importtime``: every linreg module it imports
    is one of its deps in dvc.yaml (the file or a folder above it), so changing that code reruns
    the stage."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["grid"] = {"train": {"lr": [0.01]}, "backend": ["numpy", "torch"]}
    params["train"]["epochs"] = 20
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in STAGES:
        python, *args = stages[name]["cmd"].split()
        proc = subprocess.run([str(VENV_BIN / python), "-X", "importtime", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, (name, proc.stdout[-2000:], proc.stderr[-2000:])
        modules = set(re.findall(r"\|\s+(linreg(?:\.\w+)*)\s*$", proc.stderr, re.M))
        deps = [REPO / d for d in stages[name]["deps"]]
        missing = []
        for module in sorted(modules):
            path = REPO / "src" / Path(*module.split("."))
            files = [path / "__init__.py", path.with_suffix(".py")]
            source = next(f for f in files if f.is_file())
            if not any(source == d or d in source.parents for d in deps):
                missing.append(str(source.relative_to(REPO)))
        assert not missing, f"stage {name} runs code it does not list: {missing}"


@pytest.mark.slow
def test_dvc_repro_completes_when_every_run_is_skipped(tmp_path):
    """A grid of cuda runs on a machine without cuda: every run is skipped with its reason, and
    `dvc repro` itself exits 0 with every declared output written (the report saying why it is
    empty)."""
    from linreg.core.device import available_devices

    if "cuda" in available_devices():
        pytest.skip("this machine has cuda: the grid would train")
    proj = make_project(tmp_path)
    edit_params(proj, "grid", "device", ["cuda"])
    edit_params(proj, "grid", "backend", ["torch", "numpy"])
    ran = sh(proj, "dvc", "repro")  # asserts exit 0
    assert "dvc · repro: 8 runs: 0 ok, 0 diverged, 8 skipped, 0 failed" in output(ran)
    assert_clean(proj)
    report = (proj / "results" / "report.md").read_text()
    assert "device must be" in report
