"""Recording: the MLflow store (:mod:`.store`) and the sweep's parent run (:mod:`.sweep`)."""

from .store import Store, dvc_experiment, git_commit, open_store, project_root, resolve_uri
from .sweep import SweepCallback

__all__ = [
    "Store",
    "SweepCallback",
    "dvc_experiment",
    "git_commit",
    "open_store",
    "project_root",
    "resolve_uri",
]
