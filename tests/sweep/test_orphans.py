"""Runs whose process is gone (linreg.sweep.orphans): a killed sweep's runs are ended by the
next sweep."""

from __future__ import annotations

import signal
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.cli import store_runs
from tests.helpers.processes import LONG, start, wait_for_run


def statuses(cwd: Path) -> list[str]:
    return [r.info.status for r in store_runs(f"sqlite:///{cwd / 'mlflow.db'}")]


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
