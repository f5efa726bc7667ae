"""Where things are: the project, its conf/, the stages' folders and the MLflow store.

Two questions, answered here side by side so their rules stay one:

* :func:`conf_dir`: the ``conf/`` of the project *being run*.  A queued DVC experiment runs in a
  temporary copy of the project, with its own conf/ (``-S`` overrides included), so this is the
  working directory's project (or a parent's), never ``DVC_ROOT``.
* :func:`project_root`: the project's *home*, where its MLflow store lives.  Under DVC that is
  ``DVC_ROOT`` (the real root, not the temporary copy), so every experiment shares one store.

The default store is a sqlite file ``mlflow.db`` at the project root with artifacts in
``mlruns/``; ``tracking.uri`` in the config, then ``MLFLOW_TRACKING_URI``, override it.
"""

from __future__ import annotations

import os
from pathlib import Path

PARAMS = "params.yaml"  # the DVC pipeline's params (dvc.yaml)
DATA_DIR, RUNS_DIR, RESULTS_DIR = "data", "runs", "results"  # the stages' folders (dvc.yaml)
STORE_FILE = "mlflow.db"


def _nearest(holds) -> Path | None:
    """The working directory, or the nearest folder above it, for which ``holds`` is true."""
    here = Path.cwd().resolve()
    return next((folder for folder in (here, *here.parents) if holds(folder)), None)


def conf_dir() -> Path:
    """The conf/ of the linreg project being run: the working directory's (or a parent's) when
    it is a linreg project (a queued DVC experiment runs in a temporary copy with its own), else
    the one beside this package's source."""
    found = _nearest(
        lambda f: (f / "conf" / "pipeline.yaml").is_file() and (f / "dvc.yaml").is_file()
    )
    return found / "conf" if found else Path(__file__).resolve().parents[3] / "conf"


CONF_DIR = conf_dir()


def cache_dir() -> Path:
    """linreg's cache on this machine: ``$XDG_CACHE_HOME/linreg``, else ``~/.cache/linreg`` (a
    relative ``XDG_CACHE_HOME`` is ignored, as the XDG base directory specification says)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "linreg"


def project_root() -> Path:
    """``DVC_ROOT`` when DVC runs the stage, else the nearest folder holding ``dvc.yaml``, else
    the working directory."""
    env = os.environ.get("DVC_ROOT")
    if env:
        return Path(env).resolve()
    return _nearest(lambda f: (f / "dvc.yaml").is_file()) or Path.cwd().resolve()


def resolve_uri(configured: str | None = None) -> str:
    """tracking.uri, else MLFLOW_TRACKING_URI, else sqlite:///<project root>/mlflow.db (a
    relative sqlite path is taken from the project root)."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return f"sqlite:///{project_root() / STORE_FILE}"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rel = uri[len("sqlite:///") :]
        return f"sqlite:///{(project_root() / rel).resolve()}"
    return uri


def artifact_location(uri: str) -> str | None:
    """Artifacts beside a local sqlite store (``mlruns/``); a server decides for itself."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).parent / "mlruns").resolve().as_uri()
    return None


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for anything else (a server, memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)
