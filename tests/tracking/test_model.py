"""The MLflow model of a run (linreg.tracking.model, registry, linear_pyfunc): logged, registered,
loaded and served for real (a sqlite store in the test's tmp dir, ``mlflow models serve`` on
127.0.0.1).  The model predicts b + w·x exactly as the run's θ does (on a standardised CSV too);
a sweep registers its best run per loss."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pandas as pd
import pytest

from linreg.core import DataSpec, generate
from linreg.core.datafiles import CsvSpec, load_csv
from linreg.run.record import RunRecord, best_runs, frame
from linreg.sweep.folder import records
from linreg.tracking.model import MODEL_ID_TAG, log_model, register, registered_name
from linreg.tracking.store import Store
from tests.helpers.cli import VENV_BIN, clean_env, split_runs
from tests.helpers.servers import HOST, Background, free_port, tail, wait_http

SWEEP = ("-m", "train.lr=0.01,0.1", "loss=mse,mae", "backend=numpy", "train.epochs=20",
         "tracking.figures=false", "tracking.graph=false")  # fmt: skip


def load(uri: str, model_uri: str, monkeypatch):
    """``mlflow.pyfunc.load_model`` as a user calls it: the store named by the environment."""
    import mlflow.pyfunc

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return mlflow.pyfunc.load_model(model_uri)


def predicted(model, X: np.ndarray, features: list[str]) -> np.ndarray:
    return np.asarray(model.predict(pd.DataFrame(X, columns=features)), dtype=np.float64)


def assert_line(got, rec: RunRecord, X: np.ndarray, what: str = "") -> None:
    """``got`` is b + w·x of the record's θ, to the rounding of the dot product (a few ulps of
    its terms: the order of a sum is BLAS's to choose)."""
    w = np.asarray(rec.weights)
    bound = 4 * np.finfo(np.float64).eps * (abs(rec.bias) + np.abs(X) @ np.abs(w))
    error = np.abs(np.asarray(got, np.float64) - (rec.bias + X @ w))
    assert (error <= bound).all(), (what, float((error / bound).max()))


def record(bias: float, weights: list[float], loss: str = "mse") -> RunRecord:
    return RunRecord("a run", "numpy", "cpu", loss, 0.1, 10, "ok", bias=bias, weights=weights)


# --- one model, logged and registered in-process ------------------------------------------------
def test_a_registered_model_predicts_b_plus_w_x(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = Store(uri, "linreg")
    data = generate(DataSpec(n_features=3, weights=[2.5, -1.0, 0.5]))
    rec = record(1.25, [2.4, -0.9, 0.55])
    run = store.start_run("a run")
    model_id = log_model(store, run, rec, data)
    name = registered_name("linreg", "mse")
    first = register(store, model_id, name, run, "first", {"sweep": "s1"})
    second = register(store, model_id, name, run, "second", {"sweep": "s2"})
    assert (name, str(first.version), str(second.version)) == ("linreg-mse", "1", "2")
    assert second.run_id == run and second.description == "second"
    assert store.client.get_run(run).data.tags[MODEL_ID_TAG] == model_id

    X = data.X.astype(np.float64)  # as the model reads a frame of floats
    for model_uri in (f"models:/{name}/latest", f"runs:/{run}/model", f"models:/{name}/1"):
        model = load(uri, model_uri, monkeypatch)
        got = predicted(model, X, data.feature_names)
        assert_line(got, rec, X, model_uri)
        inputs = model.metadata.signature.inputs.input_names()
        assert inputs == data.feature_names
        assert model.metadata.signature.outputs.input_names() == [data.target_name]
    # columns by name, whatever their order
    shuffled = pd.DataFrame(X, columns=data.feature_names)[data.feature_names[::-1]]
    assert_line(model.predict(shuffled), rec, X, "columns in another order")


def test_a_standardised_runs_model_takes_the_raw_features(tmp_path, monkeypatch):
    """θ of a standardised CSV run is in the raw units (the record's): the model needs no
    standardisation from its user, and its input example is raw rows of the CSV."""
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"size": rng.uniform(500, 3000, 40), "rooms": rng.integers(1, 6, 40)})
    raw["price"] = 30 + 0.1 * raw["size"] + 5 * raw["rooms"] + rng.normal(0, 1, 40)
    raw.to_csv(tmp_path / "houses.csv", index=False)
    spec = CsvSpec(path=str(tmp_path / "houses.csv"), target="price", test_fraction=0.0,
                   standardize=True)  # fmt: skip
    data = load_csv(spec)
    assert data.feature_mean is not None  # the run trained on standardised features
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = Store(uri, "linreg")
    rec = record(30.2, [0.099, 5.1])
    run = store.start_run("a run")
    log_model(store, run, rec, data)
    model = load(uri, f"runs:/{run}/model", monkeypatch)
    X = raw[["size", "rooms"]].to_numpy(np.float64)
    got = predicted(model, X, ["size", "rooms"])
    assert_line(got, rec, X)
    example = json.loads(_example(uri, run))
    assert example["columns"] == ["size", "rooms"]
    np.testing.assert_allclose(np.asarray(example["data"]), X[:3], rtol=1e-12)


def _example(uri: str, run: str) -> str:
    """The model's saved input example (input_example.json), read back from the store."""
    import mlflow.artifacts

    path = mlflow.artifacts.download_artifacts(f"runs:/{run}/model/input_example.json",
                                               tracking_uri=uri)  # fmt: skip
    return open(path).read()


# --- a sweep registers its best run per loss ----------------------------------------------------
@pytest.mark.slow
def test_a_sweep_registers_its_best_run_per_loss_and_a_new_version_each_time(
    stored_cli, monkeypatch
):
    for n in (1, 2):
        proc = stored_cli.train(*SWEEP, f"hydra.sweep.dir=outputs/sweep{n}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert f"models:  linreg-mae/{n}, linreg-mse/{n}" in proc.stdout, proc.stdout
    client = stored_cli.client()
    parents, children = split_runs(stored_cli.runs())
    recs = records(stored_cli.cwd / "outputs" / "sweep2")
    best = best_runs(frame(recs), ["loss"]).set_index("loss")
    by_id = {r.mlflow_run_id: r for r in recs}
    [parent2] = [p for p in parents if p.data.tags["sweep_dir"].endswith("sweep2")]
    data = generate(DataSpec())
    X = data.X.astype(np.float64)
    for loss in ("mse", "mae"):
        name = f"linreg-{loss}"
        versions = client.search_model_versions(f"name = '{name}'")
        assert sorted(int(v.version) for v in versions) == [1, 2]
        [latest] = [v for v in versions if str(v.version) == "2"]
        rec = by_id[best.loc[loss, "mlflow_run_id"]]
        assert latest.run_id == rec.mlflow_run_id  # the best child, linked
        assert latest.tags["sweep_run_id"] == parent2.info.run_id
        assert rec.run_name in latest.description
        child = client.get_run(rec.mlflow_run_id)
        assert child.data.tags["linreg.registered"] == f"{name}/2"
        model_id = child.data.tags[MODEL_ID_TAG]  # its logged model, listed by the parent too
        assert model_id in {o.model_id for o in parent2.outputs.model_outputs}
        assert latest.source == client.get_logged_model(model_id).artifact_location
        made = json.loads(client.get_logged_model(model_id).tags["mlflow.modelVersions"])
        assert [(m["name"], str(m["version"])) for m in made] == [(name, "2")]
        model = load(stored_cli.uri, f"models:/{name}/latest", monkeypatch)
        got = predicted(model, X, data.feature_names)
        assert_line(got, rec, X)
    # best only: the other children have no model
    with_model = [c for c in children if MODEL_ID_TAG in c.data.tags]
    assert len(with_model) == 4 and len(children) == 8


@pytest.mark.slow
@pytest.mark.parametrize("choice", ["all", "none"])
def test_log_models_all_logs_every_run_and_none_logs_no_model(stored_cli, monkeypatch, choice):
    proc = stored_cli.train(*SWEEP, f"tracking.log_models={choice}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _, children = split_runs(stored_cli.runs())
    assert len(children) == 4  # SWEEP's runs: "none" below holds for each of them
    client = stored_cli.client()
    registered = [m.name for m in client.search_registered_models()]
    if choice == "none":
        assert registered == [] and "models:" not in proc.stdout
        assert not [c for c in children if MODEL_ID_TAG in c.data.tags]
        return
    assert sorted(registered) == ["linreg-mae", "linreg-mse"]
    data = generate(DataSpec())
    X = data.X.astype(np.float64)
    recs = {
        r.mlflow_run_id: r for r in records(next((stored_cli.cwd / "outputs/sweeps").iterdir()))
    }
    for c in children:  # every run has its own model, runs:/<id>/model
        rec = recs[c.info.run_id]
        model = load(stored_cli.uri, f"runs:/{c.info.run_id}/model", monkeypatch)
        got = predicted(model, X, data.feature_names)
        assert_line(got, rec, X)
    for v in client.search_model_versions("name = 'linreg-mse'"):  # registered: the logged one
        model_id = client.get_run(v.run_id).data.tags[MODEL_ID_TAG]
        assert v.source == client.get_logged_model(model_id).artifact_location


# --- served -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_mlflow_models_serve_answers_with_the_runs_prediction(stored_cli, tmp_path):
    proc = stored_cli.train(*SWEEP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = records(next((stored_cli.cwd / "outputs/sweeps").iterdir()))
    rec = next(r for r in recs if r.mlflow_run_id == _latest_run(stored_cli, "linreg-mse"))
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/linreg-mse/latest",
           "--env-manager", "local", "-h", HOST, "-p", str(port)]  # fmt: skip
    with Background(
        cmd, log, stored_cli.cwd, clean_env(MLFLOW_TRACKING_URI=stored_cli.uri)
    ) as server:
        wait_http(f"http://{HOST}:{port}/ping", server, log, timeout=120)
        body = json.dumps({"dataframe_split": {"columns": ["x_0"], "data": [[2.0], [-1.5]]}})
        request = urllib.request.Request(
            f"http://{HOST}:{port}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            got = json.loads(answer.read())
    preds = [p["y"] if isinstance(p, dict) else p for p in got["predictions"]]
    assert_line(preds, rec, np.array([[2.0], [-1.5]]), tail(log))


def _latest_run(cli, name: str) -> str:
    versions = cli.client().search_model_versions(f"name = '{name}'")
    return max(versions, key=lambda v: int(v.version)).run_id
