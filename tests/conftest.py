"""Shared fixtures: the walkthrough's data for the core tests; the pipeline tests' CLI, a result
made once per session, and linreg's real config composed in-process. Shared helpers (not
fixtures) live in tests/helpers/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from linreg.core import DataSpec, generate
from tests.helpers.cli import Cli, make_store


@pytest.fixture(scope="session", autouse=True)
def _cache_of_the_session(tmp_path_factory):
    """linreg's cache (drawn data) in the session's tmp dir, shared by the xdist workers and the
    processes the tests start, never the user's ~/.cache."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def walkthrough_data():
    """The walkthrough's problem: generate(DataSpec()) (100 x 1, y = 2.5x + 1 + noise, seed 42).

    Shared read-only: tests must not modify its arrays.
    """
    return generate(DataSpec())


@pytest.fixture
def cli(tmp_path) -> Cli:
    """``python -m linreg.train`` in tmp_path, whose store does not exist yet: the first run
    makes it (the tests of bad input and of making a store)."""
    return Cli(tmp_path)


@pytest.fixture
def stored_cli(tmp_path, made_store) -> Cli:
    """As :func:`cli`, with the store made already: a copy of :func:`made_store`, as linreg
    itself makes a store (beside its place, then moved in).  For the tests of runs, which then
    do not pay MLflow's schema migrations (seconds of CPU) once each."""
    shutil.copy(made_store, tmp_path / "mlflow.db")
    return Cli(tmp_path)


@pytest.fixture(scope="session")
def made_store(once) -> Path:
    """An MLflow sqlite store with its tables and migrations, made by MLflow once per session
    (in a process of its own, as linreg makes one); tests copy it, never write it."""
    folder, _ = once("made-store", lambda folder: make_store(folder / "mlflow.db"))
    return folder / "mlflow.db"


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


@pytest.fixture
def compose(hydra_compose):
    """``compose(*overrides, hydra=False)``: conftest's composition of linreg's real conf/."""
    return hydra_compose
