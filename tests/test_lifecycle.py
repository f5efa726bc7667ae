"""Bad events, for real: signals to a running sweep, a SIGKILL and the next sweep, a server that
does not answer.  Each test runs ``python -m linreg.train`` as a process in a tmp dir with its own
sqlite MLflow store, sends real signals, and reads the store back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import clean_env, split_runs, store_runs
from linreg.run.record import RunRecord

LONG = ["backend=numpy", "train.epochs=300000", "tracking.figures=false", "tracking.graph=false"]
SHORT = ["backend=numpy", "train.epochs=20", "tracking.figures=false", "tracking.graph=false"]
REPO = Path(__file__).resolve().parents[1]


def start(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "linreg.train", *args],
        cwd=cwd,
        env=clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'mlflow.db'}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_run(proc: subprocess.Popen, cwd: Path, sweep: str, folder_prefix: str = "0-",
                 timeout: float = 180) -> None:  # fmt: skip
    """Until the sweep's run in the folder starting with ``folder_prefix`` is training: its MLflow
    run RUNNING with its params logged, so the run holds its run id and a signal from now on is
    recorded against it.  Read from the store, not guessed from a folder and a sleep (a run
    whose MLflow run was not created yet has nothing to end KILLED).  The deadline only bounds
    a hang; ``proc`` ending first fails at once."""
    from mlflow.tracking import MlflowClient

    deadline, client, exp = time.monotonic() + timeout, None, None
    query = f"tags.`linreg.folder` LIKE '{folder_prefix}%' and attributes.status = 'RUNNING'"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the sweep ended (exit {proc.returncode}) first:\n{out}{err}")
        if client is None and (cwd / sweep / "sweep.json").exists():  # the store is made
            client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
            exp = client.get_experiment_by_name("linreg")
        if client is not None and any(
            run.data.params for run in client.search_runs([exp.experiment_id], query)
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"the sweep's run {folder_prefix}* never started training")


def statuses(cwd: Path) -> list[str]:
    return [r.info.status for r in store_runs(f"sqlite:///{cwd / 'mlflow.db'}")]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_sweep_cleanly(tmp_path, signum, code):
    proc = start(tmp_path, "-m", "train.lr=0.01,0.02,0.03", *LONG, "hydra.sweep.dir=sw")
    wait_for_run(proc, tmp_path, "sw")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, out + err
    assert "Traceback" not in err, err
    name = signal.Signals(signum).name
    assert f"(interrupted by {name})" in out
    runs = store_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert "RUNNING" not in [r.info.status for r in runs]
    parents, children = split_runs(runs)
    assert [p.info.status for p in parents] == ["KILLED"]
    assert parents[0].data.tags["status"] == "interrupted"
    assert {c.info.status for c in children} == {"KILLED"}  # the run in flight; none started after
    [folder] = (tmp_path / "sw").glob("0-*")
    rec = RunRecord.read(folder)  # its record says what happened, never ok
    assert rec.status == "failed" and rec.reason.startswith(f"interrupted by {name}")
    summary = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert summary["run_name"].tolist() == [rec.run_name]


@pytest.mark.slow
def test_a_killed_sweeps_runs_are_ended_by_the_next_sweep(tmp_path):
    proc = start(tmp_path, "-m", "train.lr=0.01,0.02", *LONG, "hydra.sweep.dir=killed")
    wait_for_run(proc, tmp_path, "killed")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert "RUNNING" in statuses(tmp_path)  # nothing could end them: the process is gone

    again = start(tmp_path, "-m", "train.lr=0.01,0.02", "backend=numpy", "train.epochs=5",
                  "hydra.sweep.dir=again")  # fmt: skip
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert "note: ended 2 run(s) KILLED that a process killed earlier left RUNNING" in out + err
    assert "RUNNING" not in statuses(tmp_path)
    assert statuses(tmp_path).count("KILLED") == 2  # the killed sweep's parent and its run
    summary = pd.read_csv(tmp_path / "again" / "summary.csv")
    assert summary["status"].tolist() == ["ok", "ok"]


def test_a_second_signal_ends_the_process_at_once(tmp_path):
    script = (
        "import os, signal, time\n"
        "from linreg.run import signals\n"
        "signals.install()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "except signals.Interrupted:\n"
        "    print('cleaning up', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "    print('never here')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    # handlers installed and inside the try once it says so (a fixed sleep: a slow start lost)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=50)
    assert out == "cleaning up\n"
    assert proc.returncode == 130  # the first signal's status, without waiting


def test_a_signal_inside_a_deferred_step_acts_once_the_step_is_done(tmp_path):
    """Creating an MLflow run and keeping its id is one step (signals.deferred): a SIGTERM in it
    waits for its end, then raises; a second one still ends the process at once."""
    script = (
        "import os, signal, time\n"
        "from linreg.run import signals\n"
        "signals.install()\n"
        "try:\n"
        "    with signals.deferred():\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(0.2)\n"
        "        print('step done', flush=True)\n"
        "    print('never here')\n"
        "except signals.Interrupted as err:\n"
        "    print('interrupted', err.name, flush=True)\n"
        "with signals.deferred():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30)\n"
        "    print('never here either')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.stdout == "step done\ninterrupted SIGTERM\n", proc.stderr
    assert proc.returncode == 143  # the second signal: the first one's status, at once


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_a_store_being_made_survives_a_signal(tmp_path, signum):
    """A signal while a sweep makes a new sqlite store (its schema being migrated, in a file
    beside it): SIGINT waits for the store to be whole; SIGKILL leaves no store at all, not half
    of one.  Either way the next sweep runs on a healthy store."""
    from mlflow.tracking import MlflowClient

    proc = start(tmp_path, "-m", "train.lr=0.01,0.1", "backend=numpy", "train.epochs=5",
                 "hydra.sweep.dir=sw")  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".mlflow.db.*.new")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the store was never made"
        time.sleep(0.005)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == (130 if signum == signal.SIGINT else -9), out + err
    assert "Traceback" not in err, err
    db = tmp_path / "mlflow.db"
    assert db.exists() == (signum == signal.SIGINT)
    if db.exists():
        assert MlflowClient(f"sqlite:///{db}").search_experiments()  # whole: it opens
    again = start(tmp_path, "-m", "train.lr=0.01,0.1", "backend=numpy", "train.epochs=5",
                  "hydra.sweep.dir=sw2")  # fmt: skip
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    assert "2 runs: 2 ok" in out
    assert not list(tmp_path.glob(".mlflow.db.*.new"))  # the killed maker's file, cleared
    runs = store_runs(f"sqlite:///{db}")
    assert "RUNNING" not in [r.info.status for r in runs]


@pytest.mark.slow
def test_a_signal_while_the_sweep_is_summed_up_loses_nothing(tmp_path):
    """Every run ended, the summary being written (its report.md there): a SIGINT waits for the
    summary, the parent's end and the registered models, then the command exits 130."""
    from mlflow.tracking import MlflowClient

    proc = start(tmp_path, "-m", "train.lr=0.01,0.1", "loss=mse,mae", "backend=numpy",
                 "train.epochs=5", "hydra.sweep.dir=sw")  # fmt: skip
    deadline = time.monotonic() + 180
    while not (tmp_path / "sw" / "report.md").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the sweep was never summed up"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err
    assert "sw: 4 runs: 4 ok" in out, out
    runs = store_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert "RUNNING" not in [r.info.status for r in runs]
    parents, _ = split_runs(runs)
    assert [p.info.status for p in parents] == ["FINISHED"]  # every run had ended: the sweep did
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(m.name for m in client.search_registered_models()) == ["linreg-mae", "linreg-mse"]


def test_an_unreachable_tracking_server_is_one_line_in_seconds(tmp_path):
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "linreg.train", "-m", "train.lr=0.01,0.1", "backend=numpy"],
        cwd=tmp_path,
        env=clean_env(MLFLOW_TRACKING_URI="http://user:secret@127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - began < 15
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: tracking.uri must name an MLflow server that answers")
    assert len(proc.stderr.splitlines()) == 1
    assert "secret" not in proc.stderr and "user:***@127.0.0.1:9" in proc.stderr
    assert os.listdir(tmp_path) == []


def test_the_tracking_uri_is_written_without_its_password():
    from linreg.tracking.redact import redact, unredact

    uri = "https://ann:s3cret@mlflow.example.org:5000/path"
    assert redact(uri) == "https://ann:***@mlflow.example.org:5000/path"
    assert redact("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        assert unredact(redact(uri)) == uri  # the password comes back from the environment only
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


@pytest.mark.slow
def test_an_all_skipped_grid_still_makes_every_declared_output(tmp_path):
    """cuda on a machine without one: every run skipped; the stages still end 0 and write every
    output dvc.yaml declares (so dvc repro completes), the report saying why it is empty."""
    import yaml

    from linreg.core.device import available_devices

    if "cuda" in available_devices():
        pytest.skip("this machine has cuda: the grid would train")
    repo = Path(__file__).resolve().parents[1]
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
    for out in outs:
        assert (tmp_path / out).exists(), out
    report = (tmp_path / "results" / "report.md").read_text()
    assert "None: no run trained" in report and "device must be" in report


def kill_workers_of(cwd: Path, folder_prefix: str, times: int, main_pid: int) -> list[int]:
    """SIGKILL the worker process running the job whose folder starts with ``folder_prefix``, as
    the OOM killer would, each time the job runs, ``times`` times; the pids killed."""
    from mlflow.tracking import MlflowClient

    client, killed = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}"), []
    client.search_experiments()  # the client warm: each poll below is one query
    deadline = time.monotonic() + 300  # a hang's bound (a busy machine: 2nd kill 43 s in)
    while len(killed) < times and time.monotonic() < deadline:
        time.sleep(0.2)
        if not (cwd / "sw" / "sweep.json").exists():  # the store is made and the sweep open
            continue
        exp = client.get_experiment_by_name("linreg")
        query = f"tags.`linreg.folder` LIKE '{folder_prefix}%' and attributes.status = 'RUNNING'"
        for run in client.search_runs([exp.experiment_id], query):
            pid = int(run.data.tags["linreg.pid"])
            if pid not in killed and pid != main_pid:
                time.sleep(0.3)  # into its training
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    assert len(killed) == times, killed
    return killed


@pytest.mark.slow
@pytest.mark.parametrize("times", [1, 2])
def test_a_killed_worker_costs_at_most_its_own_run(tmp_path, times):
    """A joblib worker SIGKILLed while it trains run 1 breaks loky's whole pool.  The sweep goes
    on: the runs in flight run again one at a time, then the rest.  Killed once, run 1 finishes
    on its second try; killed on each try, run 1 alone is failed, with the reason."""
    from mlflow.tracking import MlflowClient

    # The store is made first, so the poller's first query is not the store's slow creation; and
    # each run trains for seconds (300,000 epochs), so a poller starved of CPU on a busy machine
    # still finds run 1 training (100,000 epochs, under 3 s in all, were missed once in CI).
    MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    proc = start(tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 "train.lr=0.01,0.02,0.03,0.04", "backend=numpy", "train.epochs=300000",
                 "tracking.figures=false", "tracking.graph=false",
                 "hydra.sweep.dir=sw")  # fmt: skip
    try:
        kill_workers_of(tmp_path, "0-", times, proc.pid)
    finally:
        out, err = proc.communicate(timeout=600)  # 4 runs x 300,000 epochs: 2 min when busy
    assert "Traceback" not in err, err
    assert "note: the launcher lost a worker (TerminatedWorkerError)" in out
    summary = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert len(summary) == 4
    expected = ["ok"] * 4 if times == 1 else ["failed", "ok", "ok", "ok"]
    assert summary["status"].tolist() == expected, out + err
    assert proc.returncode == (0 if times == 1 else 1), out + err
    runs = store_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert "RUNNING" not in [r.info.status for r in runs]
    parents, children = split_runs(runs)
    assert len(parents) == 1
    finished = [c for c in children if c.info.status == "FINISHED"]
    seen = sorted((c.data.tags["linreg.folder"][:2], c.info.status) for c in children)
    assert sorted(c.data.tags["linreg.folder"][:2] for c in finished) == (
        ["0-", "1-", "2-", "3-"] if times == 1 else ["1-", "2-", "3-"]
    ), (seen, out, err)
    if times == 2:
        rec = RunRecord.read(next((tmp_path / "sw").glob("0-*")))
        assert "worker process died" in rec.reason
        assert "[1/4] failed   " in out + err  # its progress line, as every run's
        lost = [c for c in children if c.data.tags["linreg.folder"].startswith("0-")]
        assert [c.info.status for c in lost] == ["FAILED", "FAILED"]


@pytest.mark.slow
def test_a_search_whose_worker_is_killed_says_so_and_exits_1(tmp_path):
    """Optuna's trials cannot be replayed: a killed worker stops the search with one line, what
    finished is summed up, nothing stays RUNNING, and the exit status is not 0."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from mlflow.tracking import MlflowClient

    MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    proc = start(tmp_path, "-m", "hydra/sweeper=optuna_lr", "hydra.sweeper.n_trials=4",
                 "hydra.sweeper.n_jobs=2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 "backend=numpy", "train.epochs=300000", "tracking.figures=false",
                 "tracking.graph=false", "hydra.sweep.dir=sw")  # fmt: skip
    try:
        kill_workers_of(tmp_path, "0-", 1, proc.pid)
    finally:
        out, err = proc.communicate(timeout=600)
    assert "error: the launcher stopped the sweep: TerminatedWorkerError" in out + err, out + err
    assert "Traceback" not in err, err
    assert proc.returncode == 1, out + err
    runs = store_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert runs and "RUNNING" not in [r.info.status for r in runs]


@pytest.mark.slow
def test_a_tracking_password_is_never_written_to_the_sweeps_files(tmp_path):
    """A sweep into a server named with user:password: sweep.json, summary.csv, the run folders
    and the terminal hold the URI without the password; the runs land on the server."""
    from servers import HOST, free_port, mlflow_server, tail, train, wait_http

    port, log = free_port(), tmp_path / "server.log"
    (tmp_path / "server").mkdir()
    (tmp_path / "project").mkdir()
    with mlflow_server("server", port, f"sqlite:///{tmp_path / 'server' / 'm.db'}", log,
                       tmp_path / "server") as server:  # fmt: skip
        wait_http(f"http://{HOST}:{port}/health", server, log, timeout=90)
        uri = f"http://ann:s3cret@{HOST}:{port}"
        proc = train(tmp_path / "project", uri, "-m", "train.lr=0.01,0.1", *SHORT,
                     "hydra.sweep.dir=sw")  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr + tail(log)
        assert len(store_runs(f"http://{HOST}:{port}")) == 3  # the parent and its two runs
    assert "s3cret" not in proc.stdout + proc.stderr
    written = [p for p in (tmp_path / "project").rglob("*") if p.is_file()]
    assert any(p.name == "sweep.json" for p in written)
    for path in written:
        assert b"s3cret" not in path.read_bytes(), path
    manifest = (tmp_path / "project" / "sw" / "sweep.json").read_text()
    assert f"ann:***@{HOST}:{port}" in manifest


@pytest.mark.slow
def test_evaluate_reads_a_sweep_that_was_interrupted(tmp_path):
    """The DVC train stage stopped by SIGTERM in its second run, then the evaluate stage: it ends
    0 and lists the finished run, the interrupted one with its reason and the ones never run."""
    import json

    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["epochs"] = 300000
    params["grid"] = {"train": {"lr": [0.01, 0.02, 0.03]}, "backend": ["numpy"]}
    params["tracking"].update(figures=False, graph=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")

    def stage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    assert stage("linreg.generate", "params.yaml", "data").returncode == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "linreg.train",
            "--params",
            "params.yaml",
            "data.dir=data",
            "hydra.sweep.dir=runs",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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


@pytest.mark.slow
def test_an_optimising_sweeper_that_revisits_a_point_gets_a_folder_per_trial(tmp_path):
    """Optuna over two values for four trials must revisit: each trial keeps its own folder and
    MLflow run, and the summary counts four (a revisit reuses the first one's result)."""
    from importlib.util import find_spec

    if find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
        pytest.skip("hydra-optuna-sweeper is not installed")
    proc = start(tmp_path, "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=4",
                 "train.lr=choice(0.01,0.1)", "tracking.objective=train_loss", *SHORT,
                 "hydra.sweep.dir=sw")  # fmt: skip
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    folders = sorted(p.name.split("-")[0] for p in (tmp_path / "sw").glob("*-numpy-*"))
    assert folders == ["0", "1", "2", "3"]
    assert len(pd.read_csv(tmp_path / "sw" / "summary.csv")) == 4
    parents, children = split_runs(store_runs(f"sqlite:///{tmp_path / 'mlflow.db'}"))
    assert len(parents) == 1 and len(children) == 4
    assert {c.info.status for c in children} == {"FINISHED"}
