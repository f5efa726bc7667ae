"""Recording in MLflow: the store (:mod:`.store`), a run (:mod:`.run`) and the sweep's parent run,
opened and closed by a Hydra callback (:mod:`.sweep`)."""

from .store import Store, dvc_experiment, git_commit, open_store, project_root, resolve_uri

__all__ = ["Store", "dvc_experiment", "git_commit", "open_store", "project_root", "resolve_uri"]
