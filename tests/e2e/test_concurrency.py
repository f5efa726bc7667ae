"""One store, many starters: processes that open the same MLflow sqlite store at once.

A fresh sqlite store gets its tables (and MLflow's schema migrations) from whichever process
touches it first; two processes doing that together used to corrupt the migration
(``table _alembic_tmp_latest_metrics already exists``, ``duplicate column name: step``...) and
could leave the store unusable.  ``linreg.tracking.Store`` serialises creating the schema and the
experiment with a file lock beside the database.  Real processes (started warm, so that they
reach the store within milliseconds of one another: :func:`tests.helpers.cli.popen`), a real
store, no mocks.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import VENV_BIN, clean_env, popen, split_runs, store_runs

pytestmark = pytest.mark.slow


TIMEOUT = 240


def assert_store_healthy(db: Path, experiment: str = "linreg") -> str:
    """The store opens in a fresh client, holds ``experiment`` exactly once and no leftover of a
    broken migration; returns the experiment's id."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)  # builds the store: verifies the schema is at head
    named = [e for e in client.search_experiments() if e.name == experiment]
    assert len(named) == 1, [e.name for e in client.search_experiments()]
    client.search_runs([named[0].experiment_id])  # the store answers queries
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
    finally:
        con.close()
    assert not [t for t in tables if t.startswith("_alembic_tmp")], tables
    return named[0].experiment_id


def wait_all(procs: list) -> list[tuple[int, str, str]]:
    out = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        out.append((proc.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("round_", range(5))
def test_two_sweeps_started_together_on_a_fresh_store(tmp_path, round_):
    """Two ``linreg.train -m`` sweeps started at the same moment on a store that does not exist
    yet: both finish, every run is recorded FINISHED, the store stays usable."""
    db = tmp_path / "mlflow.db"
    assert not db.exists()
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{db}")
    argv = [
        str(VENV_BIN / "python"), "-m", "linreg.train", "-m", "train.lr=0.01,0.1",
        "backend=numpy", "train.epochs=5", "tracking.figures=false", "tracking.graph=false",
    ]  # fmt: skip
    procs = [popen([*argv, f"hydra.sweep.dir={tmp_path / f'sweep-{i}'}"], tmp_path, env)
             for i in range(2)]  # fmt: skip
    results = wait_all(procs)
    for rc, stdout, stderr in results:
        assert rc == 0, stdout + stderr

    assert_store_healthy(db)
    parents, children = split_runs(store_runs(f"sqlite:///{db}"))
    assert len(parents) == 2 and len(children) == 4
    assert {r.info.status for r in parents + children} == {"FINISHED"}
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {p.info.run_id for p in parents}


# Each starter is ready to open the store, then waits at a file barrier until all are, so that
# they touch the store within milliseconds of one another.
STARTER = """
import sys, time
from pathlib import Path
from linreg.tracking import open_store
uri, barrier, me, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
(barrier / me).touch()
deadline = time.time() + 120
while len(list(barrier.iterdir())) < n and time.time() < deadline:
    time.sleep(0.002)
print(open_store(uri, "linreg").experiment_id)
"""


@pytest.mark.parametrize("round_", range(2))
def test_many_starters_of_a_bare_store(tmp_path, round_):
    """Four processes opening a store that does not exist yet, at the same moment: all succeed
    and agree on the one experiment."""
    n = 4
    db = tmp_path / "mlflow.db"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    uri = f"sqlite:///{db}"
    procs = [popen([sys.executable, "-c", STARTER, uri, str(barrier), str(i), str(n)], tmp_path,
                   clean_env()) for i in range(n)]  # fmt: skip
    results = wait_all(procs)
    for rc, stdout, stderr in results:
        assert rc == 0, stdout + stderr
    ids = {stdout.strip().splitlines()[-1] for _, stdout, _ in results}
    assert ids == {assert_store_healthy(db)}
