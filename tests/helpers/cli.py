"""The pipeline tests' command line: the repository, the environment under test, ``python -m
linreg.train`` as a subprocess with its own sqlite MLflow store, and that store read back.

Real components only: the CLI runs as a subprocess, MLflow is a sqlite store in the test's own
tmp dir read back with MlflowClient.  Nothing writes into the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # python, dvc and mlflow of the environment under test


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without MLflow/DVC/Hydra settings, the environment's bin first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "HYDRA_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


class Cli:
    """``python -m linreg.train`` (or the ``linreg`` script) in ``cwd`` with its own MLflow store
    ``cwd/mlflow.db``."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = Path(cwd)
        self.db = self.cwd / "mlflow.db"
        self.uri = f"sqlite:///{self.db}"

    def train(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return self.command([str(VENV_BIN / "python"), "-m", "linreg.train", *args], timeout)

    def linreg(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """The ``linreg`` console script of the environment under test (== linreg.train)."""
        return self.command([str(VENV_BIN / "linreg"), *args], timeout)

    def command(self, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv,
            cwd=self.cwd,
            env=clean_env(MLFLOW_TRACKING_URI=self.uri),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def runs(self, experiment: str = "linreg") -> list:
        return store_runs(self.uri, experiment)


def store_runs(uri: str, experiment: str = "linreg") -> list:
    """Every run of ``experiment`` in the store at ``uri`` (no filter, all lifecycle stages)."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} missing from {uri}"
    return client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000)


def split_runs(runs: list) -> tuple[list, list]:
    """(parents, children) by the mlflow.parentRunId tag."""
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children
