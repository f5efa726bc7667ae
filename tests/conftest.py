"""Shared fixtures: small ones for the core tests, then the pipeline tests' (CLI, MLflow store)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linreg.core import DataSpec, generate


@pytest.fixture(scope="session")
def walkthrough_data():
    """The walkthrough's problem: generate(DataSpec()) (100 x 1, y = 2.5x + 1 + noise, seed 42).

    Shared read-only: tests must not modify its arrays.
    """
    return generate(DataSpec())


# --- pipeline fixtures (test_config, test_pipeline, test_report, test_dvc) ------------------------
# Real components only: Hydra composes the real conf/, the CLI runs as a subprocess, MLflow is a
# sqlite store in the test's own tmp dir read back with MlflowClient.  Nothing writes into the repo.

REPO = Path(__file__).resolve().parents[1]
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


@pytest.fixture
def cli(tmp_path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture(scope="session")
def once(tmp_path_factory):
    """``once(name, fn)``: run ``fn(folder)`` a single time per test session, even across
    pytest-xdist workers (a file lock in the session's shared tmp dir), and return
    ``(folder, fn's JSON-able result)``.  Tests must only read ``folder``."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the xdist workers of this session

    def run(name: str, fn):
        folder, done = root / f"once-{name}", root / f"once-{name}.json"
        with FileLock(str(root / f"once-{name}.lock")):
            if not done.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                done.write_text(json.dumps(fn(folder)))
        return folder, json.loads(done.read_text())

    return run


@pytest.fixture
def hydra_compose():
    """``compose(*overrides, hydra=False)``: linreg's real config composed in-process."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from linreg.config.paths import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="test"):
        yield lambda *overrides, hydra=False: compose(
            "config", overrides=list(overrides), return_hydra_config=hydra
        )
    GlobalHydra.instance().clear()
