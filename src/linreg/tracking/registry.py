"""A sweep's models in the registry: at its close, per loss, the best ok run
(:data:`linreg.run.record.BEST`) becomes a new version of ``<experiment>-<loss>``."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import OmegaConf

from linreg.config.data import load_data
from linreg.config.typed import run_config
from linreg.run.record import RunRecord, best_runs, frame
from linreg.tracking.model import MODEL_ID_TAG, log_model, register, registered_name
from linreg.tracking.store import store_lock

log = logging.getLogger("linreg")


def run_data(folder: Path):
    """The data a run trained on, read as the run read it (its composed config)."""
    return load_data(run_config(OmegaConf.load(Path(folder) / ".hydra" / "config.yaml")))


def model_of(store, rec: RunRecord, folder: Path, parent: str) -> str:
    """The id of the run's model: the one it logged (``tracking.log_models=all``), else logged
    now; listed among the parent run's models either way."""
    # mlflow (~1.2 s to import): only when a run is recorded
    from mlflow.entities import LoggedModelOutput

    model_id = store.client.get_run(rec.mlflow_run_id).data.tags.get(MODEL_ID_TAG)
    if model_id is None:
        return log_model(store, rec.mlflow_run_id, rec, run_data(folder), outputs_of=(parent,))
    store.client.log_outputs(parent, models=[LoggedModelOutput(model_id, step=0)])
    return model_id


def register_best(store, sweep_dir: Path, manifest: dict, recs: list[RunRecord]) -> list[str]:
    """Register the best ok run per loss; returns ``name/version`` of each.  A model that cannot
    be logged is one warning line, never a failed sweep (as a figure that cannot be drawn)."""
    by_id = {r.mlflow_run_id: r for r in recs if r.mlflow_run_id}
    parent, done = manifest["parent_run_id"], []
    for _, row in best_runs(frame(recs), ["loss"]).iterrows():
        rec = by_id.get(row["mlflow_run_id"])
        if rec is None or rec.bias is None:
            continue
        name = registered_name(manifest["experiment"], rec.loss)
        try:
            model_id = model_of(store, rec, Path(sweep_dir) / rec.run_folder, parent)
            with store_lock(store.uri):  # two sweeps closing at once: one version each
                about, tags = _description(rec, manifest), _tags(rec, manifest)
                version = register(store, model_id, name, rec.mlflow_run_id, about, tags)
        except Exception as err:
            log.warning("note: the best %s run's model was not registered (%s)", rec.loss, err)
            continue
        store.client.set_tag(rec.mlflow_run_id, "linreg.registered", f"{name}/{version.version}")
        done.append(f"{name}/{version.version}")
    if done:
        store.log(parent, tags={"linreg.registered": ", ".join(done)})
    return done


def _description(rec: RunRecord, manifest: dict) -> str:
    ws = ", ".join(f"{w:.6g}" for w in rec.weights[:5]) + (", …" if len(rec.weights) > 5 else "")
    return (
        f"The best {rec.loss} run of sweep `{manifest['sweep_name']}`: **{rec.run_name}** "
        f"(b = {rec.bias:.6g}, w = [{ws}]; ‖θ − θ*‖ = {rec.optimum_distance:.3g})."
    )


def _tags(rec: RunRecord, manifest: dict) -> dict:
    return {
        "sweep": manifest["sweep_name"],
        "sweep_run_id": manifest["parent_run_id"],
        "run_name": rec.run_name,
        "backend": rec.backend,
        "loss": rec.loss,
        "lr": rec.lr,
        "epochs": rec.epochs,
    }
