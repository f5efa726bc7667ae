"""The evaluation of a run (linreg.core.evaluation): its fields by hand, the converged epoch,
a diverged theta, a CSV whose truth is unknown."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linreg.core import CsvSpec, Dataset, Loss, TrainSettings, evaluate, fit, load_csv, optimum
from linreg.core.evaluation import (
    LOSS_RTOL,
    converged_epoch,
    converged_rtol,
    loss_converged_epoch,
)

# --- converged_epoch -----------------------------------------------------------------------------


def test_loss_converged_epoch_semantics():
    assert LOSS_RTOL == 1e-6
    opt = 2.0
    near, far = opt * (1 + 1e-7), opt * (1 + 1e-5)
    assert loss_converged_epoch([5.0, 3.0, near, near, opt], opt) == 2
    assert loss_converged_epoch([5.0, near, far, near, near], opt) == 3  # it must *stay* close
    assert loss_converged_epoch([near, opt, near], opt) == 0
    assert loss_converged_epoch([5.0, near, far], opt) is None  # ends far: never converged
    assert loss_converged_epoch([], opt) is None
    assert loss_converged_epoch([opt * (1 - 1e-7)], opt) == 0  # below the optimum counts too
    assert loss_converged_epoch([1e-12, 0.0], 0.0) == 1  # a zero optimum: only exact zero


@pytest.mark.parametrize("chunk", [1 << 16, 2])
def test_converged_epoch_is_on_the_parameters(chunk, monkeypatch):
    from linreg.core import evaluation

    monkeypatch.setattr(evaluation, "CHUNK", chunk)  # a long trajectory is read in chunks
    assert converged_rtol("float32") == pytest.approx(3.4527e-4, rel=1e-4)
    assert converged_rtol("float64") == pytest.approx(1.4901e-8, rel=1e-4)
    opt = np.array([3.0, 4.0])  # norm 5: within 1e-3 means a distance <= 5e-3
    near, far = opt + np.array([3e-3, 0.0]), opt + np.array([0.0, 6e-3])
    assert converged_epoch([far, near, near], near, opt, 1e-3) == 1
    assert converged_epoch([near, far, near], opt, opt, 1e-3) == 2  # it must *stay* close
    assert converged_epoch([near, near], far, opt, 1e-3) is None  # the final parameters count
    assert converged_epoch([far, far], near, opt, 1e-3) == 2  # only after the last step
    assert converged_epoch(np.zeros((0, 2)), opt, opt, 1e-3) == 0


def test_converged_epoch_means_the_coefficients_are_there():
    """A flat valley: the loss is within 1e-6 of the optimum's long before the parameters are."""
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal(40)
    X = np.column_stack((x1, x1 + 0.2 * rng.standard_normal(40)))
    y = X @ [1.0, 2.0] + 0.5 + 0.1 * rng.standard_normal(40)
    ds = Dataset(X=X, y=y, X_test=X[:0], y_test=y[:0], theta0=np.zeros(3), theta_true=None, spec={})
    t = fit(X, y, ds.theta0, TrainSettings(lr=0.3, epochs=3000, dtype="float64"))
    ev = evaluate(t.theta_final, ds, Loss("mse"), trajectory=t)
    e, e_loss = ev.converged_epoch, ev.loss_converged_epoch
    assert e is not None and e_loss is not None and e_loss < e < 3000
    opt = np.array([ev.optimum_bias, *ev.optimum_weights])
    distance = np.linalg.norm(t.theta - opt, axis=1) / np.linalg.norm(opt)
    assert distance[e_loss] > 100 * converged_rtol("float64")  # the loss said converged: it was not
    assert distance[e - 1] > converged_rtol("float64") >= distance[e:].max()
    assert evaluate(t.theta_final, ds, Loss("mse")).converged_epoch is None  # no trajectory
    assert ev.test_mse is None and ev.r2_test is None  # no test set


# --- the evaluation fields ----------------------------------------------------------------------


def test_evaluation_fields_by_hand():
    """X = (0, 1, 2), y = (1, 3, 6): least squares b = 5/6, w = 5/2; truth (1, 2); theta (0, 3)."""
    ds = Dataset(
        X=np.array([[0.0], [1.0], [2.0]], dtype=np.float32),
        y=np.array([1.0, 3.0, 6.0], dtype=np.float32),
        X_test=np.array([[3.0], [4.0]], dtype=np.float32),
        y_test=np.array([7.0, 9.0], dtype=np.float32),
        theta0=np.zeros(2),
        theta_true=np.array([1.0, 2.0]),
        spec={},
    )
    ev = evaluate(np.array([0.0, 3.0]), ds, Loss("mse"))
    assert ev.truth_known
    assert (ev.bias, ev.weights) == (0.0, [3.0])
    assert ev.optimum_bias == pytest.approx(5 / 6, rel=1e-15)
    assert ev.optimum_weights == pytest.approx([5 / 2], rel=1e-15)
    assert ev.optimum_distance == pytest.approx(math.sqrt(34) / 6, rel=1e-15)
    assert ev.train_loss == pytest.approx(1 / 3, rel=1e-15)  # residuals (-1, 0, 0)
    assert ev.optimum_loss == pytest.approx(1 / 18, rel=1e-14)  # residuals (-1/6, 1/3, -1/6)
    assert ev.r2_train == pytest.approx(1 - 9 / 114, rel=1e-15)
    assert ev.test_mse == pytest.approx(6.5, rel=1e-15)  # predictions (9, 12)
    assert ev.r2_test == pytest.approx(1 - 13 / 2, rel=1e-15)
    assert ev.bias_error == pytest.approx(1.0, rel=1e-15)
    assert ev.weight_errors == pytest.approx([1.0], rel=1e-15)
    assert ev.weight_error == pytest.approx(1.0, rel=1e-15)
    assert ev.theta_error == pytest.approx(math.sqrt(2), rel=1e-15)
    assert ev.statistical_error == pytest.approx(math.sqrt(10) / 6, rel=1e-15)
    assert ev.converged_epoch is None
    d = ev.to_dict()
    assert d["statistical_error"] == ev.statistical_error and d["weights"] == [3.0]
    # a given optimum is used as is (one optimum serves a whole sweep)
    ev2 = evaluate(np.array([0.0, 3.0]), ds, Loss("mse"), theta_opt=np.array([1.0, 2.0]))
    assert ev2.optimum_distance == pytest.approx(math.sqrt(2)) and ev2.statistical_error == 0.0
    # other losses evaluate with their own optimum and loss
    ev_mae = evaluate(np.array([0.0, 3.0]), ds, Loss("mae"))
    assert ev_mae.train_loss == pytest.approx(1 / 3) and ev_mae.optimum_loss < ev_mae.train_loss


def test_evaluate_a_diverged_theta_does_not_raise():
    ds = Dataset(
        X=np.array([[0.0], [1.0], [2.0]], dtype=np.float32),
        y=np.array([1.0, 3.0, 6.0], dtype=np.float32),
        X_test=np.zeros((0, 1)),
        y_test=np.zeros(0),
        theta0=np.zeros(2),
        theta_true=np.array([1.0, 2.0]),
        spec={},
    )
    ev = evaluate(np.array([np.nan, np.nan]), ds, Loss("mse"))
    assert ev.train_loss == math.inf
    assert ev.optimum_loss == pytest.approx(1 / 18, rel=1e-14)


def test_truth_unknown_csv_gives_none_truth_fields(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0,1\n1,3\n2,6\n3,6.5\n4,9\n5,11.5\n")
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0, standardize=True))
    raw = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    opt = optimum(Loss("mse"), ds.X, ds.y)
    ev = evaluate(opt, ds, Loss("mse"))
    assert not ev.truth_known
    for name in ("bias_error", "weight_errors", "weight_error", "theta_error", "statistical_error"):
        assert getattr(ev, name) is None, name
    assert ev.test_mse is None and ev.r2_test is None
    # reported in the CSV's own units
    raw_opt = optimum(Loss("mse"), raw.X, raw.y)
    assert [ev.bias, *ev.weights] == pytest.approx(raw_opt.tolist(), rel=1e-6)
    assert ev.optimum_distance == pytest.approx(0.0, abs=1e-12)
