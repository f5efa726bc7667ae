"""A run logged to MLflow (linreg.tracking.run, linreg.tracking.store): a bounded number of points
per series, the run folder every epoch, its values in the fewest batches MLflow takes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linreg.run.record import series_name


@pytest.mark.slow
def test_mlflow_gets_the_budget_and_the_run_folder_every_epoch(stored_cli):
    proc = stored_cli.train("backend=numpy", "train.epochs=3000", "tracking.max_points=100",
                     "tracking.figures=false", "hydra.run.dir=run")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [run] = stored_cli.runs()
    client = stored_cli.client()
    for key in ("loss", "w_0", "bias", "grad_norm"):
        history = client.get_metric_history(run.info.run_id, series_name(key))
        steps = sorted(m.step for m in history)
        assert 20 < len(steps) <= 100, (key, len(steps))
        assert steps[0] == 0
    loss_steps = {m.step for m in client.get_metric_history(run.info.run_id, "epoch/loss")}
    assert 3000 in loss_steps  # the learned value, after the last epoch
    table = pd.read_parquet(stored_cli.cwd / "run" / "trajectory.parquet")
    assert table["epoch"].tolist() == list(range(3000))
    csv = pd.read_csv(stored_cli.cwd / "run" / "trajectory.csv")
    np.testing.assert_array_equal(csv["loss"].to_numpy(), table["loss"].to_numpy())
    listed = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "trajectory.parquet" in listed


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
