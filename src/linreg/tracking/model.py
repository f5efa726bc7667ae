"""A run's learned line as an MLflow model, and the model registry.

A model is an MLflow "logged model" named ``model`` whose source is the run that learned it
(``runs:/<run id>/model`` loads it), a pyfunc from code (:mod:`.linear_pyfunc`: numpy and pandas,
no linreg) with θ in ``theta.json``, a signature (the data's feature columns in, the target out)
and an input example.  :func:`register` makes it a new version of the registered model
``<experiment>-<loss>`` (``models:/linreg-mse/latest``), linked to that run.  Logging a model
costs a few tenths of a second and some files, so a sweep logs its best run per loss
(``tracking.log_models=best``), every run only when asked (``all``).
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

NAME = "model"  # the logged model's name: runs:/<run id>/model
CODE = Path(__file__).with_name("linear_pyfunc.py")
MODEL_ID_TAG = "linreg.model_id"  # on the run whose model it is
EXAMPLE_ROWS = 3


def registered_name(experiment: str, loss: str) -> str:
    """One registered model per experiment and loss: ``linreg-mse``."""
    return f"{experiment}-{loss}"


def theta_file(rec, data) -> dict:
    """What the model predicts with: θ in the data's original units (the record's), the columns
    it reads and writes, and the standardisation already folded into θ."""
    standardised = data.feature_mean is not None
    return {
        "features": list(data.feature_names),
        "target": data.target_name,
        "bias": float(rec.bias),
        "weights": [float(w) for w in rec.weights],
        "standardisation": {
            "folded_into_theta": standardised,
            "feature_mean": np.asarray(data.feature_mean).tolist() if standardised else None,
            "feature_scale": np.asarray(data.feature_scale).tolist() if standardised else None,
        },
    }


def raw_rows(data, n: int = EXAMPLE_ROWS) -> np.ndarray:
    """The first rows of the features as the user has them (a standardised CSV's X is not)."""
    X = np.asarray(data.X[:n], dtype=np.float64)
    if data.feature_mean is None:
        return X
    return X * np.asarray(data.feature_scale) + np.asarray(data.feature_mean)


def _requirements() -> list[str]:
    """Pinned from this environment: MLflow would otherwise infer them by loading the model in
    a subprocess, which costs seconds per model."""
    return [f"{p}=={version(p)}" for p in ("mlflow", "numpy", "pandas")]


def save(folder: Path, theta: dict, example, model) -> Path:
    """The pyfunc model in ``folder/model``: the code, theta.json, signature and input example."""
    import mlflow.pyfunc  # mlflow (~1.2 s to import): only when a run is recorded
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    path = Path(folder) / "theta.json"
    path.write_text(json.dumps(theta, indent=2))
    signature = ModelSignature(
        inputs=Schema([ColSpec("double", f) for f in theta["features"]]),
        outputs=Schema([ColSpec("double", theta["target"])]),
    )
    mlflow.pyfunc.save_model(
        path=Path(folder) / NAME,
        python_model=str(CODE),
        artifacts={"theta": str(path)},
        signature=signature,
        input_example=pd.DataFrame(np.asarray(example, np.float64), columns=theta["features"]),
        pip_requirements=_requirements(),
        mlflow_model=model,
        metadata={"linreg": {"bias": theta["bias"], "weights": theta["weights"]}},
    )
    return Path(folder) / NAME


def log_model(store, run_id: str, rec, data, outputs_of: tuple[str, ...] = ()) -> str:
    """Log run ``run_id``'s learned line (``rec``, trained on ``data``) as its model; listed
    among the models of ``outputs_of`` too (a sweep's parent run).  Returns the model's id."""
    # mlflow (~1.2 s to import): only when a run is recorded
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import Model

    client = store.client
    logged = client.create_logged_model(
        store.experiment_id,
        name=NAME,
        source_run_id=run_id,
        params={"bias": str(rec.bias), "weights": str(rec.weights), "run_name": rec.run_name},
        tags={"loss": rec.loss, "backend": rec.backend},
        model_type="linear-regression",
    )
    model_id = logged.model_id
    try:
        with tempfile.TemporaryDirectory(prefix="linreg-model-") as tmp:
            where = logged.artifact_location
            spec = Model(artifact_path=where, model_uuid=model_id, run_id=run_id, model_id=model_id)
            local = save(Path(tmp), theta_file(rec, data), raw_rows(data), spec)
            client.log_model_artifacts(model_id, str(local))
        client.finalize_logged_model(model_id, "READY")
    except BaseException:
        client.finalize_logged_model(model_id, "FAILED")
        raise
    for rid in (run_id, *outputs_of):
        client.log_outputs(rid, models=[LoggedModelOutput(model_id, step=0)])
    client.set_tag(run_id, MODEL_ID_TAG, model_id)
    return model_id


def register(store, model_id: str, name: str, run_id: str, description: str, tags: dict):
    """A new version of registered model ``name`` from logged model ``model_id`` (the registered
    model created the first time), linked to run ``run_id``; the version."""
    # mlflow (~1.2 s to import): only when a run is recorded
    from mlflow.exceptions import MlflowException
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

    client = store.client
    try:
        client.create_registered_model(
            name, description=f"The best `{name.rsplit('-', 1)[-1]}` run of each linreg sweep."
        )
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    # the logged model's artifact location, not models:/<id>: MLflow's sqlite registry resolves
    # the latter with the global tracking URI, not this client's
    version = client.create_model_version(
        name,
        source=client.get_logged_model(model_id).artifact_location,
        run_id=run_id,
        tags={k: str(v) for k, v in tags.items()},
        description=description,
        model_id=model_id,
    )
    # the logged model's page lists the registered versions made from it, as log_model does
    known = client.get_logged_model(model_id).tags.get(MLFLOW_MODEL_VERSIONS)
    versions = [*json.loads(known or "[]"), {"name": name, "version": version.version}]
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(versions)})
    return version
