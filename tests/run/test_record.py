"""A run's record (linreg.run.record): metric names grouped by kind, named once; its outcomes under
those names; the best run of a sweep."""

from __future__ import annotations

import pytest

from linreg.run import record
from linreg.run.record import RunRecord, best_runs, frame, metric_name, series_name


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


@pytest.mark.slow
def test_the_best_run_is_the_closest_to_its_own_optimum_then_the_first_there():
    """Among runs that reached the optimum of their loss, the one that reached it in the fewest
    epochs (the same in every repetition, where wall_s differs by microseconds), then the
    quickest; a run still on its way is never preferred, however near the true parameters its
    noise happens to put it."""

    def ran(name, optimum_distance, wall_s, converged_epoch, weight_error, epochs=100, loss="mse"):
        return RunRecord(
            run_name=name, backend="numpy", device="cpu", loss=loss, lr=0.1, epochs=epochs,
            status="ok", bias=1.0, weights=[2.5], weight_error=weight_error,
            optimum_distance=optimum_distance, converged_epoch=converged_epoch, wall_s=wall_s,
            epochs_run=epochs,
        )  # fmt: skip

    df = frame([
        ran("reached at 40, slow", 1e-9, 0.5, 40, 0.0200),
        ran("reached at 60, the fastest", 1e-7, 0.01, 60, 0.0201),
        ran("on its way, nearest the truth", 3e-3, 0.001, None, 0.0010),
        ran("reached at 20", 1e-8, 0.3, 20, 0.02, epochs=1000),
        ran("reached at 20, faster", 1e-8, 0.2, 20, 0.02),
        ran("mae: on its way", 5e-2, 0.2, None, 0.1, loss="mae"),
        ran("mae: nearer", 1e-2, 0.9, None, 0.3, loss="mae"),
    ])  # fmt: skip
    best = best_runs(df, ["loss"])
    assert list(best["run_name"]) == ["mae: nearer", "reached at 20, faster"]
    assert list(best_runs(df.iloc[::-1], ["loss"])["run_name"]) == list(best["run_name"])
    alone = best_runs(df[df["run_name"].str.startswith("on its")], ["loss"])
    assert list(alone["run_name"]) == ["on its way, nearest the truth"]
