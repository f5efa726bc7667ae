"""A sweep started as a background process with its own sqlite store, and waited for until a run
has begun."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.helpers.cli import clean_env, popen

LONG = ["backend=numpy", "train.epochs=300000", "tracking.figures=false", "tracking.graph=false"]


SHORT = ["backend=numpy", "train.epochs=20", "tracking.figures=false", "tracking.graph=false"]


def start(cwd: Path, *args: str):
    """``python -m linreg.train args`` in ``cwd``, running in the background (started warm: a
    process of its own, :func:`tests.helpers.cli.popen`)."""
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'mlflow.db'}")
    return popen([sys.executable, "-m", "linreg.train", *args], cwd, env)


def wait_for_run(proc, cwd: Path, sweep: str, folder_prefix: str = "0-",
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
