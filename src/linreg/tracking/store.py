"""MLflow, for the pipeline: the store, and logging a run in a handful of batched calls.

Where the store is (``mlflow.db`` at the project root, ``tracking.uri``, ``MLFLOW_TRACKING_URI``)
is :mod:`linreg.config.paths`' to say.  Everything goes through ``MlflowClient`` with explicit run
ids: no fluent "active run" state leaks between the runs of one process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock (the project targets Linux and macOS)
    fcntl = None

import numpy as np

from linreg.config.paths import artifact_location, sqlite_path
from linreg.run import signals

# MLflow's own INFO lines (creating a store's tables...) stay out of linreg's terminal; set the
# variable to INFO to see them.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
# nor its progress bars (saving a model copies its theta.json "downloading artifacts")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

MAX_VALUES_PER_BATCH = 1000  # MLflow's limits for one log_batch: metrics, params and tags in all
MAX_PARAMS_PER_BATCH = MAX_TAGS_PER_BATCH = 100
CREATE_EXPERIMENT_TRIES = 5


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Across processes, one at a time: an exclusive ``flock`` on ``<db>.lock`` beside a sqlite
    store (the lock file stays; the lock goes with the process, however it ends).  Nothing for a
    server, which serialises its own writes, nor where ``fcntl`` is missing (Windows)."""
    db = sqlite_path(uri)
    if db is None or fcntl is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_sqlite(path: Path) -> None:
    """A new MLflow sqlite store at ``path``: its schema made in a temporary file in the same
    folder (under :func:`store_lock`), then renamed to ``path`` in one step."""
    # mlflow (~1.2 s to import): only when a run is recorded
    from mlflow.tracking import MlflowClient

    for stale in path.parent.glob(f".{path.name}.*.new"):  # a maker killed before its rename
        stale.unlink(missing_ok=True)
    new = path.with_name(f".{path.name}.{os.getpid()}.new")
    MlflowClient(tracking_uri=f"sqlite:///{new}").search_experiments()  # tables and migrations
    os.replace(new, path)


class Store:
    """One MLflow store and experiment; created once per process (the schema before any worker)."""

    def __init__(self, uri: str, experiment: str) -> None:
        # mlflow (~1.2 s to import): only when a run is recorded
        from mlflow.tracking import MlflowClient

        # MLflow prints "View run ... at: <uri>" as a run ends on a server: a line per run, and
        # the URI with its password; linreg's own lines say where the runs are, redacted
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.uri = uri
        # MlflowClient's constructor builds the store: for a sqlite file that creates the tables
        # and runs MLflow's schema migrations the first time, which two processes must not do
        # at once (a broken migration can leave the store unusable).  The lock covers that and
        # getting or creating the experiment; MLflow caches the built store per process.
        # A first Ctrl-C or SIGTERM waits until the store is made (a migration cut short leaves
        # it unusable); a new sqlite file is made whole beside its place, then renamed into it,
        # so not even a SIGKILL leaves half a schema behind.
        with signals.deferred(), store_lock(uri):
            path = sqlite_path(uri)
            if path is not None and not path.exists():
                _make_sqlite(path)
            # the model registry in the same store unless MLFLOW_REGISTRY_URI names another
            registry = os.environ.get("MLFLOW_REGISTRY_URI") or uri
            self.client = MlflowClient(tracking_uri=uri, registry_uri=registry)
            self.experiment_id = self._experiment(experiment)

    def _experiment(self, name: str) -> str:
        """The experiment's id, created if missing.  Under the lock for a sqlite file; a
        server may see another client create it between our get and create: that client's
        experiment is the one (a conflict error, then found on the next try)."""
        # mlflow (~1.2 s to import): only when a run is recorded
        from mlflow.exceptions import MlflowException

        for attempt in range(CREATE_EXPERIMENT_TRIES):
            exp = self.client.get_experiment_by_name(name)
            if exp is not None:
                return exp.experiment_id
            try:
                return self.client.create_experiment(
                    name, artifact_location=artifact_location(self.uri)
                )
            except MlflowException:
                if attempt == CREATE_EXPERIMENT_TRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    # --- runs ------------------------------------------------------------------------------
    def start_run(
        self, name: str, parent_id: str | None = None, tags: Mapping | None = None
    ) -> str:
        # mlflow (~1.2 s to import): only when a run is recorded
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        tags = {k: str(v) for k, v in (tags or {}).items() if v is not None}
        if parent_id:
            tags[MLFLOW_PARENT_RUN_ID] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        return run.info.run_id

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def log(
        self,
        run_id: str,
        *,
        params: Mapping | None = None,
        tags: Mapping | None = None,
        metrics: Mapping | None = None,
        series: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Params, tags, final metrics (step 0) and per-epoch series (``name -> (steps,
        values)``) of one run in as few ``log_batch`` calls as MLflow takes: 1,000 values a call,
        100 params and 100 tags among them.  None and non-finite values are left out."""
        # mlflow (~1.2 s to import): only when a run is recorded
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        params_ = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        tags_ = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        values = [
            Metric(k, float(v), now, 0)
            for k, v in (metrics or {}).items()
            if v is not None and np.isfinite(v)
        ]
        for key, (steps, points) in (series or {}).items():
            vals = np.asarray(points, dtype=np.float64)
            keep = np.isfinite(vals)
            values.extend(
                Metric(key, v, now, step)
                for step, v in zip(
                    np.asarray(steps)[keep].tolist(), vals[keep].tolist(), strict=True
                )
            )
        while params_ or tags_ or values:
            p, params_ = params_[:MAX_PARAMS_PER_BATCH], params_[MAX_PARAMS_PER_BATCH:]
            t, tags_ = tags_[:MAX_TAGS_PER_BATCH], tags_[MAX_TAGS_PER_BATCH:]
            room = MAX_VALUES_PER_BATCH - len(p) - len(t)
            m, values = values[:room], values[room:]
            if m:
                signals.check()  # a signal a finaliser swallowed: stop within a run's values
            self.client.log_batch(run_id, metrics=m, params=p, tags=t)

    def log_artifacts(self, run_id: str, folder: str | Path, artifact_path: str | None = None):
        self.client.log_artifacts(run_id, str(folder), artifact_path)

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None):
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_dataset(self, run_id: str, frame, name: str, digest: str, source: dict, context: str):
        """The training data as an MLflow dataset input (schema, profile, digest, where it came
        from: ``source`` becomes the tags of a code source, as the data is made by linreg)."""
        import mlflow.data  # mlflow (~1.2 s to import): only when a run is recorded
        from mlflow.data.code_dataset_source import CodeDatasetSource
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.exceptions import MlflowException
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        ds = mlflow.data.from_pandas(
            frame,
            source=CodeDatasetSource(source),
            targets=frame.columns[-1],
            name=name,
            digest=digest[:20],
        )
        tag = InputTag(MLFLOW_DATASET_CONTEXT, context)
        inputs = [DatasetInput(ds._to_mlflow_entity(), tags=[tag])]
        for attempt in range(3):
            try:
                self.client.log_inputs(run_id, inputs)
                return
            except MlflowException as err:
                # Parallel workers logging the same dataset race to create its row; the loser
                # finds it there on the next try and only links it to its run.
                if "UNIQUE constraint failed: datasets" not in str(err) or attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))


@functools.lru_cache(maxsize=8)
def open_store(uri: str, experiment: str) -> Store:
    return Store(uri, experiment)
