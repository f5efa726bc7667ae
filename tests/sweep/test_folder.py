"""A sweep's folder (linreg.sweep.folder): a rerun into it counts this sweep's runs; an optimising
sweeper that revisits a point gets a folder per trial."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers.cli import split_runs, store_runs
from tests.helpers.commands import QUICK, counts_line
from tests.helpers.processes import SHORT, start


# --- nothing lost or overwritten: reruns, same-named runs, YAML types -----------------------------
@pytest.mark.slow
def test_a_sweep_rerun_into_its_folder_counts_this_sweeps_runs(stored_cli):
    args = ["-m", "train.lr=0.1,0.2", "backend=numpy", *QUICK, "hydra.sweep.dir=again"]
    for _ in range(2):
        proc = stored_cli.train(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert counts_line(proc.stdout) == "again: 2 runs: 2 ok, 0 diverged, 0 skipped, 0 failed"
    assert len(pd.read_csv(stored_cli.cwd / "again" / "summary.csv")) == 2


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
