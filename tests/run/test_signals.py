"""Ctrl-C and SIGTERM (linreg.run.signals): the first signal ends the sweep cleanly, a second one
ends the process at once, a deferred step finishes first; a store being made and a sweep being
summed up lose nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from linreg.run.record import RunRecord
from tests.helpers.cli import split_runs, store_runs
from tests.helpers.processes import LONG, start, wait_for_run


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
