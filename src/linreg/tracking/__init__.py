"""Recording in MLflow: the store (:mod:`.store`), a run (:mod:`.run`) and the sweep's parent run,
opened and closed by a Hydra callback (:mod:`.sweep`)."""

from linreg.config.paths import project_root, resolve_uri
from linreg.tracking.store import Store, open_store

__all__ = ["Store", "open_store", "project_root", "resolve_uri"]
