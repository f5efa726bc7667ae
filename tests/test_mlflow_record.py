"""What a run looks like in MLflow besides its model: metric names grouped by kind (named once, in
linreg.run.record), MLflow's standard tags, params only where they apply, and the markdown
descriptions (``mlflow.note.content``) of a run and of a sweep."""

from __future__ import annotations

import getpass
import math

import pytest

from linreg.config.typed import run_config
from linreg.run import record
from linreg.run.record import RunRecord, metric_name, series_name
from linreg.tracking.describe import MAX_NOTE, applicable_params, run_note, source_tags, sweep_note
from test_pipeline import multirun  # noqa: F401  (the shared 8-run sweep)

KINDS = {"epoch", "final", "error", "time"}


# --- names ------------------------------------------------------------------------------------
def test_each_numeric_column_has_one_metric_name_of_its_kind():
    numeric = [c for c in record.columns(3) if c not in record.TEXT and c not in record.SETTINGS]
    names = [metric_name(c) for c in numeric]
    assert len(set(names)) == len(names)
    assert {n.split("/", 1)[0] for n in names} == {"final", "error", "time"}
    assert metric_name("w_2") == "final/w_2" and metric_name("train_loss") == "final/train_loss"
    assert metric_name("weight_error") == "error/weight_error"
    assert metric_name("optimum_distance") == "error/optimum_distance"
    assert metric_name("wall_s") == "time/wall_s" and metric_name("job_s") == "time/job_s"
    assert metric_name("final_grad_norm") == "final/grad_norm"
    assert series_name("loss") == "epoch/loss" and series_name("w_0") == "epoch/w_0"
    assert record.sweep_metrics({"ok": 3, "failed": 1}) == {"sweep/ok": 3, "sweep/failed": 1}


def test_the_records_metrics_are_its_outcomes_under_their_names():
    rec = RunRecord("r", "numpy", "cpu", "mse", 0.1, 10, "ok", bias=1.0, weights=[2.0, 3.0],
                    weight_error=0.5, train_loss=0.25, wall_s=0.01, momentum=0.9)  # fmt: skip
    assert rec.metrics() == {"final/bias": 1.0, "final/w_0": 2.0, "final/w_1": 3.0,
                             "error/weight_error": 0.5, "final/train_loss": 0.25,
                             "time/wall_s": 0.01}  # fmt: skip


# --- params that apply ------------------------------------------------------------------------
def params_of(compose, *overrides) -> dict:
    return applicable_params(run_config(compose(*overrides)))


def test_params_only_where_they_apply(hydra_compose):
    plain = params_of(hydra_compose)
    assert plain["loss.name"] == "mse" and plain["train.lr"] == "0.01"
    assert plain["data.kind"] == "synthetic" and plain["data.n_samples"] == "100"
    for absent in ("loss.delta", "data.dir", "data.path", "data.target", "data.standardize",
                   "train.step_size", "train.gamma", "train.eta_min", "train.shuffle_seed",
                   "tracking.uri", "tracking.objective"):  # fmt: skip
        assert absent not in plain, absent
    assert plain["train.batch_size"] == "None"  # full batch: a setting, not an unset key
    assert params_of(hydra_compose, "loss=huber")["loss.delta"] == "1.0"
    step = params_of(hydra_compose, "train.schedule=step")
    assert {"train.step_size", "train.gamma"} <= set(step) and "train.eta_min" not in step
    cosine = params_of(hydra_compose, "train.schedule=cosine")
    assert "train.eta_min" in cosine and "train.gamma" not in cosine
    assert params_of(hydra_compose, "train.batch_size=10")["train.shuffle_seed"] == "0"
    assert params_of(hydra_compose, "data.dir=data")["data.dir"] == "data"
    csv = params_of(hydra_compose, "data=csv", "data.path=houses.csv", "data.target=price")
    assert (csv["data.path"], csv["data.target"], csv["data.kind"]) == (
        "houses.csv",
        "price",
        "csv",
    )
    assert not {"data.n_samples", "data.weights", "data.noise_std", "data.features"} & set(csv)
    # every kept key is the config's own, value unchanged
    run = run_config(hydra_compose("loss=huber"))
    assert applicable_params(run).items() <= run.params.items()


# --- tags and descriptions --------------------------------------------------------------------
def test_source_tags_are_mlflows_own():
    tags = source_tags()
    assert tags["mlflow.source.name"] == "linreg.train"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"] == getpass.getuser()
    assert "mlflow.source.git.commit" in tags and "dvc_experiment" in tags


def test_a_runs_note_is_one_sentence():
    ok = RunRecord("r", "numpy", "cpu", "mse", 0.1, 10, "ok", bias=1.02, weights=[2.48],
                   weight_error=0.022, optimum_distance=0.0285, converged_epoch=None,
                   epochs_run=20)  # fmt: skip
    note = run_note(ok)
    assert note.startswith("**ok**: learned b = 1.02, w = [2.48]; ") and note.endswith(".")
    assert "did not reach the optimum in 20 epochs" in note
    assert "0.0285 from the mse optimum" in note and "weight error 0.022" in note
    assert note.count(". ") == 0  # one sentence
    failed = RunRecord("r", "numpy", "cpu", "mse", 0.1, 10, "failed", reason="boom")
    assert run_note(failed) == "**failed**: boom."


def test_a_sweeps_note_has_the_summary_and_findings_and_fits_a_tag():
    def rec(i: int, loss: str) -> RunRecord:
        return RunRecord(f"numpy · {loss} · lr={i}", "numpy", "cpu", loss, 0.01 * (i + 1), 20,
                         "ok", bias=1.0, weights=[2.5], optimum_distance=0.1 / (i + 1),
                         weight_error=0.2, converged_epoch=10 if i else None, wall_s=0.01,
                         statistical_error=0.05, epochs_run=20)  # fmt: skip

    few = [rec(i, loss) for i in range(3) for loss in ("mse", "mae")]
    note = sweep_note(few)
    assert note.startswith("6 runs: 6 ok.\n\n**Best run per loss and backend**")
    assert "**Best run per loss and backend**" in note and "| run_name | status |" in note
    assert "**Findings**" in note and "- With mse, the parameters reached the optimum" in note
    assert "**Every run**" in note and all(r.run_name in note for r in few)
    many = [rec(i, loss) for i in range(150) for loss in ("mse", "mae")]
    long = sweep_note(many)
    assert len(long) < MAX_NOTE and "**Every run**" not in long and "**Findings**" in long
    assert long.endswith("… (the rest is in report.html, under Artifacts)")


# --- a real sweep -----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_sweeps_runs_carry_grouped_metrics_standard_tags_and_notes(multirun):  # noqa: F811
    from conftest import split_runs

    cli, _ = multirun
    parents, children = split_runs(cli.runs())
    [parent] = parents
    assert {k.split("/", 1)[0] for k in parent.data.metrics} == {"sweep"}
    note = parent.data.tags["mlflow.note.content"]
    assert note.startswith("8 runs: 8 ok.\n\n**Best run per loss and backend**")
    assert "**Best run per loss and backend**" in note and "**Findings**" in note
    for r in [parent, *children]:
        assert r.data.tags["mlflow.source.name"] == "linreg.train"
        assert r.data.tags["mlflow.source.type"] == "LOCAL"
        assert r.data.tags["mlflow.user"] == getpass.getuser()
    for r in children:
        assert r.info.run_name in note
        assert {k.split("/", 1)[0] for k in r.data.metrics} == KINDS, sorted(r.data.metrics)
        assert math.isclose(r.data.metrics["epoch/w_0"], r.data.metrics["final/w_0"],
                            rel_tol=1e-6)  # fmt: skip
        assert r.data.tags["mlflow.note.content"].startswith("**ok**: learned b = ")
        assert "loss.delta" not in r.data.params and "data.dir" not in r.data.params
        assert not [k for k in r.data.params if k.startswith("data.") and k[5:] in
                    ("path", "target", "features", "standardize", "test_fraction")]  # fmt: skip


def test_a_runs_values_go_in_the_fewest_batches_mlflow_takes(tmp_path):
    """Params, tags, finals and series share log_batch calls (1,000 values a call, at most 100
    params and 100 tags among them); nothing is lost, non-finite values are left out."""
    import numpy as np

    from linreg.tracking.store import Store

    store = Store(f"sqlite:///{tmp_path / 'm.db'}", "batches")
    run_id = store.start_run("r")
    calls, real = [], store.client.log_batch
    store.client.log_batch = lambda *a, **k: calls.append(k) or real(*a, **k)
    loss = np.linspace(2.0, 1.0, 2400)
    loss[7] = np.inf
    store.log(
        run_id,
        params={f"p{i}": i for i in range(150)},
        tags={f"t{i}": i for i in range(120)},
        metrics={"final/a": 1.5, "final/b": float("nan"), "final/c": None},
        series={"epoch/loss": (np.arange(2400), loss)},
    )
    # 150 params + 120 tags + 2,400 values: 3 calls (the params alone need 2)
    assert [(len(k["params"]), len(k["tags"]), len(k["metrics"])) for k in calls] == [
        (100, 100, 800),
        (50, 20, 930),
        (0, 0, 670),
    ]
    run = store.client.get_run(run_id)
    assert run.data.params == {f"p{i}": str(i) for i in range(150)}
    assert {k: v for k, v in run.data.tags.items() if k.startswith("t")} == {
        f"t{i}": str(i) for i in range(120)
    }
    assert run.data.metrics["final/a"] == 1.5 and "final/b" not in run.data.metrics
    history = store.client.get_metric_history(run_id, "epoch/loss")
    assert sorted(m.step for m in history) == [s for s in range(2400) if s != 7]
    assert sorted(m.value for m in history)[-1] == loss[0]
