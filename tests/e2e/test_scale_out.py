"""Beyond one process, on existing engines (docs/scale-out.md): Hydra's joblib, Ray and submitit
launchers, an MLflow tracking server, and Hydra's Optuna sweeper over the learning rate.

The slow tests run the real thing on this machine, on 127.0.0.1 only: a Ray head started with
``ray start``, a ``mlflow server`` with a database backend, a search with Optuna; each sweep
records into its own MLflow store, read back with MlflowClient.  Each engine's test skips when
its extra is not installed (scripts/setup-tests.sh, which `make test` runs, installs them all)."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.helpers.cli import VENV_BIN, clean_env, split_runs, store_runs
from tests.helpers.servers import (
    HOST,
    Background,
    free_port,
    mlflow_server,
    tail,
    train,
    wait_http,
    wait_log,
)

GRID = ("train.lr=0.01,0.1", "backend=numpy,torch", "train.epochs=20")


NAMES = {f"{b} · mse · lr={lr} · ep=20 · cpu" for lr in ("0.01", "0.1") for b in ("numpy", "torch")}


def need(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed (scripts/setup-tests.sh, or pip install -e '.[{extra}]')"
        )


def assert_ran(proc, runs: int, cwd: Path) -> Path:
    """The sweep ended well and said so: its summary line names the sweep (its folder's name)
    and the counts, then where its runs and parent run are; its folder, which holds the summary
    and the closed manifest."""
    out = f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, out
    [sweep] = (cwd / "outputs" / "sweeps").iterdir()  # outputs/sweeps/<date_time>
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", sweep.name), sweep.name
    lines = proc.stdout.splitlines()  # (Ray may still forward a worker's output after them)
    counts = f"{sweep.name}: {runs} runs: {runs} ok, 0 diverged, 0 skipped, 0 failed"
    assert counts in lines, proc.stdout[-4000:]
    after = lines[lines.index(counts) + 1 :]
    assert after[0].split() == ["runs:", f"outputs/sweeps/{sweep.name}/", "(summary.csv,", "one",
                                "folder", "per", "run)"], after[:2]  # fmt: skip
    assert after[1].strip().startswith("mlflow:  parent run "), after[:2]
    manifest = json.loads((sweep / "sweep.json").read_text())
    assert manifest["sweep_name"] == sweep.name and manifest["closed"] is True
    assert len((sweep / "summary.csv").read_text().splitlines()) == runs + 1
    return sweep


def assert_recorded(uri: str, names: set[str], epochs: int = 20) -> list:
    """One finished parent run, and one finished child per name with its per-epoch loss, in the
    store at ``uri``; the children."""
    from mlflow.tracking import MlflowClient

    parents, children = split_runs(store_runs(uri))
    assert len(parents) == 1, [r.info.run_name for r in parents]
    assert {r.info.run_name for r in children} == names
    client = MlflowClient(tracking_uri=uri)
    for run in [*parents, *children]:
        assert run.info.status == "FINISHED", (run.info.run_name, run.info.status)
    for run in children:
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.tags["status"] == "ok"
        # the loss per epoch, then its value after the last step: the run's train_loss
        history = client.get_metric_history(run.info.run_id, "epoch/loss")
        assert sorted(m.step for m in history) == list(range(epochs + 1))
        last = max(history, key=lambda m: m.step).value
        assert last == pytest.approx(run.data.metrics["final/train_loss"])
    return children


# --- configs that compose without their engine running --------------------------------------------
def test_ray_cluster_preset_composes(hydra_compose):
    need("hydra_plugins.hydra_ray_launcher", "ray")
    from hydra.utils import get_method

    cfg = hydra_compose(
        "hydra/launcher=ray_cluster", "hydra.launcher.ray.init.address=h:6379", hydra=True
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    init = launcher.ray.init
    assert init.address == "h:6379" and init.object_store_memory is None
    assert get_method(init.runtime_env.worker_process_setup_hook).__name__ == "ray_worker_setup"
    assert set(init.runtime_env.env_vars) == {"LINREG_WORKDIR", "MLFLOW_TRACKING_URI"}


def test_slurm_preset_composes(hydra_compose):
    need("hydra_plugins.hydra_submitit_launcher", "slurm")
    cfg = hydra_compose("hydra/launcher=slurm", "hydra.launcher.partition=cpu", hydra=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (
        launcher.partition,
        launcher.timeout_min,
        launcher.cpus_per_task,
        launcher.mem_gb,
        launcher.array_parallelism,
    ) == ("cpu", 30, 2, 4, 64)
    assert launcher.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"


def test_optuna_preset_composes(hydra_compose):
    need("hydra_plugins.hydra_optuna_sweeper", "optuna")
    cfg = hydra_compose("hydra/sweeper=optuna_lr", hydra=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("optuna_sweeper.OptunaSweeper")
    assert sweeper.direction == "minimize" and sweeper.sampler.seed == 0
    assert sweeper.params["train.lr"] == "tag(log, interval(0.0001, 1.0))"
    assert sweeper.params["train.epochs"] == "30"  # the sweeper's params are override strings
    assert sweeper.params["tracking.objective"] == "train_loss"


def test_objective_is_a_float_that_optuna_can_minimise():
    from linreg.run.record import RunRecord
    from linreg.train import objective

    def record(**fields) -> RunRecord:
        return RunRecord("numpy · mse · lr=0.1 · ep=30 · cpu", "numpy", "cpu", "mse", 0.1, 30,
                         **fields)  # fmt: skip

    assert objective(record(status="ok", train_loss=0.25), "train_loss") == 0.25
    assert objective(record(status="ok", weights=[2.0]), "w_0") == 2.0  # a column
    for bad in (None, float("nan"), float("inf"), "x"):
        assert objective(record(train_loss=bad), "train_loss") == math.inf
    assert objective(record(), "no_such_field") == math.inf


# --- the engines --------------------------------------------------------------------------------
@pytest.mark.slow
def test_joblib_launcher_runs_in_parallel_on_the_sqlite_store(tmp_path):
    """Two worker processes writing to one sqlite store: every run recorded."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = train(tmp_path, uri, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *GRID)
    assert_ran(proc, 4, tmp_path)
    assert_recorded(uri, NAMES)


@pytest.mark.slow
def test_ray_launcher_on_a_local_ray_cluster(tmp_path):
    """A Ray head started elsewhere, with its own folder and no MLflow settings: the jobs still
    run in the sweep's folder and record into the driver's store."""
    need("ray", "ray")
    need("hydra_plugins.hydra_ray_launcher", "ray")
    ray_bin = VENV_BIN / "ray"
    if not ray_bin.exists():
        pytest.skip(f"no ray command in {VENV_BIN}")
    project, head = tmp_path / "project", tmp_path / "head"
    project.mkdir()
    head.mkdir()
    # Ray's socket paths must stay under 107 characters: a short temp folder of its own.
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    # Loopback only: Ray otherwise advertises the machine's network address.
    ray_env = {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_TMPDIR": str(ray_tmp),
    }
    port = free_port()
    log = tmp_path / "ray-head.log"
    cmd = [
        str(ray_bin),
        "start",
        "--head",
        "--block",
        f"--node-ip-address={HOST}",
        f"--port={port}",
        f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        "--include-dashboard=false",
        "--num-cpus=2",
        "--disable-usage-stats",
        f"--temp-dir={ray_tmp}",
    ]
    try:
        with Background(cmd, log, head, clean_env(**ray_env)) as ray_head:
            wait_log("will now block", ray_head, log, timeout=90)
            uri = f"sqlite:///{project / 'mlflow.db'}"
            proc = train(
                project,
                uri,
                "-m",
                "hydra/launcher=ray_cluster",
                f"hydra.launcher.ray.init.address={HOST}:{port}",
                *GRID,
                **ray_env,
            )
            assert "Connected to Ray cluster" in proc.stderr + proc.stdout, proc.stderr[-3000:]
            sweep = assert_ran(proc, 4, project)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert_recorded(uri, NAMES)
    assert {json.loads(p.read_text())["run_name"] for p in sweep.glob("*/result.json")} == NAMES
    assert not list(head.iterdir()), "the jobs wrote into the Ray head's folder"


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    need("hydra_plugins.hydra_submitit_launcher", "slurm")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = train(
        tmp_path,
        uri,
        "-m",
        "hydra/launcher=submitit_local",
        "train.lr=0.01,0.1",
        "backend=numpy",
        "train.epochs=20",
    )
    assert_ran(proc, 2, tmp_path)
    assert_recorded(uri, {f"numpy · mse · lr={lr} · ep=20 · cpu" for lr in ("0.01", "0.1")})


@pytest.mark.slow
def test_sweep_into_a_tracking_server_with_a_database_backend(tmp_path):
    """``mlflow server`` with a database and a served artifact store, as a team would run it:
    runs, per-epoch metrics and artifacts all land on the server, nothing beside the project."""
    from mlflow.tracking import MlflowClient

    server_dir, project = tmp_path / "server", tmp_path / "project"
    server_dir.mkdir()
    project.mkdir()
    port = free_port()
    log = tmp_path / "mlflow-server.log"
    backend = f"sqlite:///{server_dir / 'server.db'}"
    with mlflow_server(
        "server",
        port,
        backend,
        log,
        server_dir,
        "--artifacts-destination",
        str(server_dir / "artifacts"),
    ) as server:
        wait_http(f"http://{HOST}:{port}/health", server, log, timeout=90)
        uri = f"http://{HOST}:{port}"
        proc = train(project, uri, "-m", "train.lr=0.01,0.1", "backend=torch", "train.epochs=20")
        assert_ran(proc, 2, project)
        names = {f"torch · mse · lr={lr} · ep=20 · cpu" for lr in ("0.01", "0.1")}
        children = assert_recorded(uri, names)
        client = MlflowClient(tracking_uri=uri)
        for run in children:
            assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
            listed = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert {"graph.png", "loss.png", "trajectory.csv"} <= listed, listed
            assert run.data.metrics["final/train_loss"] > 0
        assert server.poll() is None, tail(log)
    stored = list((server_dir / "artifacts").rglob("graph.png"))
    assert len(stored) == 2, stored
    assert not (project / "mlflow.db").exists() and not (project / "mlruns").exists()


@pytest.mark.slow
def test_optuna_finds_the_learning_rate(tmp_path):
    """Six trials of conf/hydra/sweeper/optuna_lr.yaml: the best lr reaches the least-squares
    loss within the 30-epoch budget, and every trial is an MLflow child run of the search."""
    need("hydra_plugins.hydra_optuna_sweeper", "optuna")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = train(
        tmp_path, uri, "-m", "hydra/sweeper=optuna_lr", "hydra.sweeper.n_trials=6", "backend=numpy"
    )
    sweep = assert_ran(proc, 6, tmp_path)
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    lr, value = best["best_params"]["train.lr"], best["best_value"]
    results = [json.loads(p.read_text()) for p in sweep.glob("*/result.json")]
    assert len(results) == 6
    assert {r["epochs"] for r in results} == {30}
    losses = {r["lr"]: r["train_loss"] for r in results}
    assert value == pytest.approx(min(losses.values())) == pytest.approx(losses[lr])
    # lr in [0.1, 1) gets there in 30 epochs; the optimum's loss is the floor
    assert 0.1 <= lr < 1.0
    assert value == pytest.approx(results[0]["optimum_loss"], rel=1e-3)
    best_line = (
        f"  best:    train.lr={lr:.4g} -> {value:.4g} (the objective; optimization_results.yaml)"
    )
    assert best_line in proc.stdout.splitlines()
    assert json.loads((sweep / "sweep.json").read_text())["n_runs"] is None  # a search
    parents, children = split_runs(store_runs(uri))
    assert len(parents) == 1 and parents[0].info.run_name == f"{sweep.name} · 6 runs"
    assert len(children) == 6
    assert {c.data.params["train.epochs"] for c in children} == {"30"}
    assert {float(c.data.params["train.lr"]) for c in children} == set(losses)
    summary = (sweep / "summary.csv").read_text().splitlines()
    assert len(summary) == 7, summary


@pytest.mark.slow
def test_optuna_search_of_another_key_names_it_in_each_run(tmp_path):
    """A key searched beyond the five of every run name (a search space on the command line)
    joins each trial's name, so trials of the same lr stay apart."""
    need("hydra_plugins.hydra_optuna_sweeper", "optuna")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = train(
        tmp_path, uri, "-m", "hydra/sweeper=optuna_lr", "hydra.sweeper.n_trials=2",
        "train.momentum=interval(0.0, 0.9)", "backend=numpy",
    )  # fmt: skip
    sweep = assert_ran(proc, 2, tmp_path)
    assert json.loads((sweep / "sweep.json").read_text())["vary"] == ["train.momentum"]
    parents, children = split_runs(store_runs(uri))
    assert len(parents) == 1 and len(children) == 2
    for run in children:
        lr, momentum = (run.data.params[k] for k in ("train.lr", "train.momentum"))
        assert 0.0 <= float(momentum) <= 0.9
        name = f"numpy · mse · lr={float(lr):g} · ep=30 · cpu · momentum={float(momentum):g}"
        assert run.info.run_name == name
    results = [json.loads(p.read_text()) for p in sweep.glob("*/result.json")]
    assert {r["run_name"] for r in results} == {r.info.run_name for r in children}
