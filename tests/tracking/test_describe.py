"""What a run looks like in MLflow besides its metrics (linreg.tracking.describe): params only where
they apply, MLflow's standard tags, the markdown descriptions of a run and of a sweep."""

from __future__ import annotations

import getpass

from linreg.config.typed import run_config
from linreg.run.record import RunRecord
from linreg.tracking.describe import MAX_NOTE, applicable_params, run_note, source_tags, sweep_note


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
