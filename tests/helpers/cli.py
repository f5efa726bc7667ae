"""The pipeline tests' command line: the repository, the environment under test, ``python -m
linreg.train`` as a process of its own with its own sqlite MLflow store, and that store read back.

Real components only: the CLI runs as a process of its own (started warm, :mod:`tests.helpers.warm`,
unless ``LINREG_TESTS_COLD=1`` or the working directory is a project with its own conf/), alone
(:meth:`Cli.command`) or beside others (:func:`popen`), MLflow is
a sqlite store in the test's own tmp dir read back with MlflowClient.  Nothing writes into the
repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.warm import WarmServer

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # python, dvc and mlflow of the environment under test
SERVER: dict[str, WarmServer] = {}  # this test process's warm server, once started


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
        env = clean_env(MLFLOW_TRACKING_URI=self.uri)
        python = argv[0] in (sys.executable, str(VENV_BIN / "python"))
        module = argv[2] if python and argv[1:2] == ["-m"] else ""
        if module.startswith("linreg.") and warm(self.cwd):
            return warm_server().run(module, argv[3:], self.cwd, env, timeout)
        return subprocess.run(
            argv, cwd=self.cwd, env=env, capture_output=True, text=True, timeout=timeout
        )

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def runs(self, experiment: str = "linreg") -> list:
        return store_runs(self.uri, experiment)


def popen(argv: list[str], cwd: Path, env: dict[str, str]):
    """``subprocess.Popen(argv, cwd=cwd, env=env, stdout=PIPE, stderr=PIPE, text=True)``, started
    warm (:meth:`WarmServer.start`) where it may be: ``python -m linreg.*`` or ``python -c``
    outside a project with its own conf/."""
    python = argv[0] in (sys.executable, str(VENV_BIN / "python"))
    if python and len(argv) > 2 and warm(cwd):
        if argv[1] == "-m" and argv[2].startswith("linreg."):
            return warm_server().start(argv[3:], cwd, env, module=argv[2])
        if argv[1] == "-c":
            return warm_server().start(argv[3:], cwd, env, code=argv[2])
    pipe = subprocess.PIPE
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=pipe, stderr=pipe, text=True)


def make_store(db: Path) -> None:
    """A new MLflow sqlite store at ``db``, made by MLflow in a process of its own."""
    code = "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
    argv = [sys.executable, "-c", code, f"sqlite:///{db}"]
    subprocess.run(argv, env=clean_env(), check=True, capture_output=True, timeout=300)
    assert db.is_file(), db


def warm(cwd: Path) -> bool:
    """Whether ``python -m linreg...`` in ``cwd`` may start warm: not where the suite runs cold,
    nor in a project with its own conf/ (the server read linreg's conf/ as it started)."""
    if os.environ.get("LINREG_TESTS_COLD") == "1":
        return False
    here = Path(cwd).resolve()
    return not any(
        (f / "conf" / "pipeline.yaml").is_file() and (f / "dvc.yaml").is_file()
        for f in (here, *here.parents)
    )


def warm_server() -> WarmServer:
    if "server" not in SERVER or not SERVER["server"].alive():
        SERVER["server"] = WarmServer(clean_env())
    return SERVER["server"]


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
