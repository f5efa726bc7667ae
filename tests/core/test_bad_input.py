"""Every bad input to the core is one LinregError naming the parameter, what is allowed and what
was given: training settings, devices, data specs, CSV files, NaN and inf, wrong shapes, and
what cannot fit in memory (linreg.core.resources), named before any work."""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest

from linreg.core import (
    BACKENDS,
    DEVICES,
    LOSSES,
    SCHEDULES,
    CsvSpec,
    DataSpec,
    LinregError,
    Loss,
    TrainSettings,
    UnsupportedCombination,
    evaluate,
    fit,
    generate,
    get_backend,
    load_csv,
    resolve_device,
    resources,
)
from linreg.core.data import INITS
from linreg.core.device import available_devices
from tests.helpers.commands import too_many_epochs


def _tiny():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    return X, 1.0 + 2.0 * X[:, 0], np.zeros(2)


# --- training settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(lr=0), r"^lr must be a number > 0, got 0$"),
        (dict(lr=-0.1), r"^lr must be a number > 0, got -0\.1$"),
        (dict(lr="abc"), r"^lr must be a number > 0, got 'abc'$"),
        (dict(lr=None), r"^lr must be a number > 0, got None$"),
        (dict(lr=float("nan")), r"^lr must be a number > 0, got nan$"),
        (dict(lr=float("inf")), r"^lr must be a number > 0, got inf$"),
        (dict(lr=True), r"^lr must be a number > 0, got True$"),
        (dict(epochs=0), r"^epochs must be an integer >= 1, got 0$"),
        (dict(epochs=-5), r"^epochs must be an integer >= 1, got -5$"),
        (dict(epochs=1.5), r"^epochs must be an integer >= 1, got 1\.5$"),
        (dict(epochs="10"), r"^epochs must be an integer >= 1, got '10'$"),
        (dict(momentum=1.0), r"^momentum must be a number >= 0 and < 1, got 1\.0$"),
        (dict(momentum=-0.1), r"^momentum must be a number >= 0 and < 1, got -0\.1$"),
        (dict(batch_size=0), r"^batch_size must be an integer >= 1, got 0$"),
        (dict(batch_size=2.5), r"^batch_size must be an integer >= 1, got 2\.5$"),
        (
            dict(schedule="linear"),
            r"^schedule must be one of constant, step, exponential, cosine, got 'linear'$",
        ),
        (dict(step_size=0), r"^step_size must be an integer >= 1, got 0$"),
        (dict(gamma=0), r"^gamma must be a number > 0 and <= 1, got 0$"),
        (dict(gamma=1.5), r"^gamma must be a number > 0 and <= 1, got 1\.5$"),
        (dict(eta_min=-1.0), r"^eta_min must be a number >= 0, got -1\.0$"),
        (dict(dtype="float16"), r"^dtype must be one of float32, float64, got 'float16'$"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_bad_train_settings(kw, message):
    with pytest.raises(LinregError, match=message) as info:
        TrainSettings(**kw)
    name = next(iter(kw))
    assert info.value.param == name
    assert info.value.given is kw[name]


def test_good_settings_pass_and_integers_are_accepted_as_numbers():
    s = TrainSettings(lr=1, epochs=np.int64(3), momentum=0, batch_size=4)
    assert s.lr == 1 and s.epochs == 3


@pytest.mark.parametrize("batch_size", [5, 100])
def test_batch_size_larger_than_the_data(batch_size):
    X, y, theta0 = _tiny()
    with pytest.raises(
        LinregError, match=rf"^batch_size must be an integer >= 1 and <= 4, got {batch_size}$"
    ):
        fit(X, y, theta0, TrainSettings(batch_size=batch_size))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Loss("l2"), rf"^loss must be one of {', '.join(LOSSES)}, got 'l2'$"),
        (lambda: Loss("huber", 0), r"^delta must be a number > 0, got 0$"),
        (lambda: Loss("huber", -1.0), r"^delta must be a number > 0, got -1\.0$"),
        (lambda: Loss("huber", "big"), r"^delta must be a number > 0, got 'big'$"),
        (lambda: get_backend("jax"), r"^backend must be one of numpy, python, torch, got 'jax'$"),
        (
            lambda: fit(*_tiny(), TrainSettings(), "jax"),
            r"^backend must be one of numpy, python, torch, got 'jax'$",
        ),
        (lambda: resolve_device("tpu"), r"^device must be one of cpu, cuda, mps, auto, got 'tpu'$"),
        (
            lambda: fit(*_tiny(), TrainSettings(device="tpu"), "torch"),
            r"^device must be one of cpu, cuda, mps, auto, got 'tpu'$",
        ),
    ],
    ids=[
        "loss",
        "delta-0",
        "delta-neg",
        "delta-str",
        "backend",
        "fit-backend",
        "device",
        "fit-device",
    ],
)
def test_unknown_choices_list_the_choices(make, message):
    with pytest.raises(LinregError, match=message):
        make()


def test_choice_lists_are_the_documented_ones():
    assert BACKENDS == ("numpy", "python", "torch")
    assert DEVICES == ("cpu", "cuda", "mps", "auto")
    assert LOSSES == ("mse", "mse_half", "mae", "huber")
    assert SCHEDULES == ("constant", "step", "exponential", "cosine")
    assert INITS == ("walkthrough", "zeros", "normal")


# --- devices -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_absent_device_is_an_unsupported_combination(device):
    present = available_devices()
    if device in present:
        pytest.skip(f"{device} is present here")
    msg = (
        rf"^device must be a device present on this machine \({', '.join(present)}\), "
        rf"got '{device}'$"
    )
    with pytest.raises(UnsupportedCombination, match=msg):
        resolve_device(device)
    with pytest.raises(UnsupportedCombination, match=msg):
        fit(*_tiny(), TrainSettings(device=device, epochs=1), "torch")


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_cpu_only_backends_refuse_accelerators(backend, device):
    msg = (
        rf"^device must be cpu or auto for the {backend} backend "
        rf"\(only torch runs on {device}\), got '{device}'$"
    )
    with pytest.raises(UnsupportedCombination, match=msg):
        fit(*_tiny(), TrainSettings(device=device, epochs=1), backend)


def test_auto_and_cpu_resolve():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto", "numpy") == "cpu"
    assert resolve_device("auto") in available_devices()


# --- data spec -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(n_samples=1), r"^n_samples must be an integer >= 2, got 1$"),
        (dict(n_samples=10.5), r"^n_samples must be an integer >= 2, got 10\.5$"),
        (dict(n_features=0), r"^n_features must be an integer >= 1, got 0$"),
        (dict(n_features=2), r"^weights must be a list of n_features = 2 numbers, got \[2\.5\]$"),
        (
            dict(weights=(1.0, 2.0)),
            r"^weights must be a list of n_features = 1 numbers, got \[1\.0, 2\.0\]$",
        ),
        (dict(weights=("a",)), r"^weights\[0\] must be a number, got 'a'$"),
        (dict(noise_std=-0.5), r"^noise_std must be a number >= 0, got -0\.5$"),
        (dict(outlier_fraction=1.0), r"^outlier_fraction must be a number >= 0 and < 1, got 1\.0$"),
        (
            dict(outlier_fraction=-0.1),
            r"^outlier_fraction must be a number >= 0 and < 1, got -0\.1$",
        ),
        (dict(init="he"), r"^init must be one of walkthrough, zeros, normal, got 'he'$"),
        (dict(seed=-1), r"^seed must be an integer >= 0, got -1$"),
        (dict(feature_scale=0), r"^feature_scale must be a number > 0, got 0$"),
        (dict(bias=float("nan")), r"^bias must be a number, got nan$"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_bad_data_spec(kw, message):
    with pytest.raises(LinregError, match=message):
        DataSpec(**kw)


def test_bad_csv_spec():
    with pytest.raises(
        LinregError, match=r"^test_fraction must be a number >= 0 and < 1, got 1\.0$"
    ):
        CsvSpec(path="x.csv", target="y", test_fraction=1.0)
    with pytest.raises(LinregError, match=r"^init must be one of walkthrough, zeros, normal"):
        CsvSpec(path="x.csv", target="y", init="uniform")


# --- CSV files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kw", "message"),
    [
        (
            "",
            {},
            r"^path must be a CSV with a header and rows, got '.*e\.csv' "
            r"\(the file is empty\)$",
        ),
        (
            "x,y\n",
            {},
            r"^path must be a CSV with at least 2 training rows \(one per "
            r"parameter\), got '0 training rows'",
        ),
        (
            "x,y\n1,2\n2,4\n3,6\n",
            dict(target="z"),
            r"^target must be a column of the CSV \(x, y\), got 'z'$",
        ),
        (
            "x,y\n1,2\n2,4\n3,6\n",
            dict(features=("x", "w")),
            r"^features must be columns of the CSV \(x, y\), got \['w'\]$",
        ),
        (
            "x,y\n1,2\nabc,4\n3,6\n",
            {},
            r"^column 'x' must be finite numbers in every row, got 'abc' \(.*e\.csv, data row 2\)$",
        ),
        (
            "x,y\n1,2\n2,4\n3,six\n",
            {},
            r"^column 'y' must be finite numbers in every row, got 'six' \(.*, data row 3\)$",
        ),
        ("x,y\n1,2\n,4\n3,6\n", {}, r"^column 'x' must be finite numbers in every row, got 'nan'"),
        (
            "x,y\n1,2\n2,nan\n3,6\n",
            {},
            r"^column 'y' must be finite numbers in every row, got 'nan'",
        ),
        (
            "x,y\n1,2\n2,4\ninf,6\n",
            {},
            r"^column 'x' must be finite numbers in every row, got 'inf' \(.*, data row 3\)$",
        ),
        (
            "x,y\n1,2\n2,-inf\n3,6\n",
            {},
            r"^column 'y' must be finite numbers in every row, got '-inf'",
        ),
        (
            "a,b,y\n1,2,3\n4,5,7\n",
            {},
            r"^path must be a CSV with at least 3 training rows \(one per parameter\), "
            r"got '2 training rows' \(.*e\.csv\)$",
        ),
        (
            "a,y\n1,2\n2,3\n3,4\n4,5\n5,6\n",
            dict(test_fraction=0.8),
            r"^path must be a CSV with at least 2 training rows .*got '1 training rows'",
        ),
        ("y\n1\n2\n3\n", {}, r"^features must be at least one feature column, got \[\]$"),
    ],
    ids=[
        "empty",
        "header-only",
        "no-target",
        "no-feature",
        "text-x",
        "text-y",
        "blank",
        "nan",
        "inf",
        "-inf",
        "too-few-rows",
        "too-few-after-split",
        "no-features",
    ],
)
def test_bad_csv_files(tmp_path, content, kw, message):
    path = tmp_path / "e.csv"
    path.write_text(content)
    if content == "":
        assert path.stat().st_size == 0
    spec = dict(path=str(path), target="y", test_fraction=0.0) | kw
    with pytest.raises(LinregError, match=message):
        load_csv(CsvSpec(**spec))


def test_missing_csv(tmp_path):
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(
        LinregError,
        match=rf"^path must be an existing CSV file, got "
        rf"'{re.escape(missing)}'$",
    ):
        load_csv(CsvSpec(path=missing, target="y"))


# --- the error itself ----------------------------------------------------------------------------


def test_error_is_a_value_error_that_pickles_and_renames():
    err = LinregError("lr", "a number > 0", -1, note="from the sweep")
    assert isinstance(err, ValueError)
    assert str(err) == "lr must be a number > 0, got -1 (from the sweep)"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is LinregError and str(back) == str(err)
    assert str(err.renamed("train.lr")) == "train.lr must be a number > 0, got -1 (from the sweep)"
    unsupported = UnsupportedCombination("device", "cpu", "cuda")
    assert isinstance(unsupported, LinregError)
    assert type(pickle.loads(pickle.dumps(unsupported))) is UnsupportedCombination
    assert type(unsupported.renamed("device.name")) is UnsupportedCombination


# --- data that does not fit the float32 datasets --------------------------------------------------


def test_data_overflowing_float32_is_a_linreg_error(tmp_path):
    from linreg.core import generate

    with pytest.raises(
        LinregError,
        match=r"^feature_scale must be a number small enough that "
        r"feature_scale \* N\(0, 1\) stays finite in float32",
    ):
        generate(DataSpec(n_samples=10, n_test=2, feature_scale=1e39))
    with pytest.raises(
        LinregError,
        match=r"^weights must be numbers small enough that y = X w "
        r"\+ bias stays finite",
    ):
        generate(DataSpec(n_samples=10, n_test=2, weights=(1e38,), feature_scale=100.0))
    path = tmp_path / "big.csv"
    path.write_text("x,y\n0.5,2\n-1,-1\n1e39,3\n2,5\n")
    # a CSV is float64: 1e39 is kept as written, and float32 training of it is refused, named
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    assert ds.X.dtype == np.float64 and ds.X.max() == 1e39
    with pytest.raises(
        LinregError, match=r"^X must be numbers that fit in float32 .*in float32, got 1e\+39"
    ):
        fit(ds.X, ds.y, ds.theta0, TrainSettings(dtype="float32"))
    fit(ds.X, ds.y, ds.theta0, TrainSettings(dtype="float64", epochs=1))


# --- the core's memory bounds -----------------------------------------------------------------


def test_trajectory_bound_names_epochs_and_the_largest_that_fits():
    budget = resources.budget_bytes()
    assert 0 < budget <= resources.machine_bytes() // 2 + 1
    with pytest.raises(LinregError) as info:
        resources.check_trajectory_fits(too_many_epochs(), 1)
    err = info.value
    assert err.param == "epochs" and err.given == too_many_epochs()
    limit = int(re.match(r"an integer <= (\d+) ", err.allowed).group(1))
    assert resources.run_bytes(limit, 1) <= budget < resources.run_bytes(limit + 1, 1)
    assert f"half of this machine's {resources.machine_bytes() / 2**30:.1f} GiB" in str(err)
    resources.check_trajectory_fits(limit, 1)  # the limit itself fits
    # the data's share leaves less for the trajectory
    with pytest.raises(LinregError, match=r"beside the data's"):
        resources.check_trajectory_fits(limit, 1, data=budget // 2)


def test_data_bound_names_the_largest_size_and_its_limit():
    with pytest.raises(LinregError) as info:
        resources.check_data_fits(10**12, 1, 100)
    assert info.value.param == "n_samples"
    limit = int(re.match(r"an integer <= (\d+) ", info.value.allowed).group(1))
    assert resources.data_bytes(limit, 1, 100) <= resources.budget_bytes()
    assert resources.data_bytes(limit + 1, 1, 100) > resources.budget_bytes()
    with pytest.raises(LinregError) as info:
        resources.check_data_fits(100, 10**12, 100)
    assert info.value.param == "n_features"
    assert resources.check_data_fits(100, 1, 100) == resources.data_bytes(100, 1, 100)


# --- the core: NaN and inf in, wrong lengths -------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return generate(DataSpec(n_samples=20, n_test=5))


@pytest.mark.parametrize("backend", ["numpy", "python", "torch"])
@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (
            "X",
            np.nan,
            r"^X must be finite numbers \(no NaN or inf\), got <1 NaN value\(s\), "
            r"the first at \[3, 0\]>$",
        ),
        ("X", np.inf, r"^X must be finite numbers \(no NaN or inf\), got <1 inf value\(s\)"),
        (
            "y",
            np.nan,
            r"^y must be finite numbers \(no NaN or inf\), got <1 NaN value\(s\), "
            r"the first at \[3\]>$",
        ),
        ("theta0", np.nan, r"^theta0 must be finite numbers \(no NaN or inf\), got \[nan, "),
        ("theta0", -np.inf, r"^theta0 must be finite numbers \(no NaN or inf\), got \[-inf, "),
    ],
)
def test_fit_refuses_non_finite_input_naming_it(small, backend, where, value, message):
    X, y, theta0 = small.X.copy(), small.y.copy(), small.theta0.copy()
    {"X": lambda: X.__setitem__((3, 0), value), "y": lambda: y.__setitem__(3, value),
     "theta0": lambda: theta0.__setitem__(0, value)}[where]()  # fmt: skip
    with pytest.raises(LinregError, match=message) as info:
        fit(X, y, theta0, TrainSettings(epochs=5), backend)
    assert info.value.param == where


def test_fit_refuses_wrong_shapes_as_linreg_errors(small):
    with pytest.raises(LinregError, match=r"^theta0 must be m \+ 1 = 2 values"):
        fit(small.X, small.y, np.zeros(3), TrainSettings(epochs=2))
    with pytest.raises(LinregError, match=r"^X must be a 2-d array"):
        fit(small.X[:, 0], small.y, np.zeros(2), TrainSettings(epochs=2))


@pytest.mark.parametrize("theta", [[1.0], [1.0, 2.0, 3.0], np.zeros((2, 2))], ids=str)
def test_evaluate_refuses_a_theta_of_the_wrong_length(small, theta):
    with pytest.raises(LinregError, match=r"^theta must be n_features \+ 1 = 2 numbers") as info:
        evaluate(np.asarray(theta), small, Loss("mse"))
    assert info.value.param == "theta"


def test_evaluate_still_takes_a_diverged_theta(small):
    ev = evaluate(np.array([np.nan, np.nan]), small, Loss("mse"))
    assert ev.train_loss == math.inf


def test_float32_training_of_numbers_beyond_float32_is_named_before_any_work(tmp_path):
    from linreg.core import LinregError

    path = tmp_path / "big.csv"
    path.write_text("x,y\n0.5,2\n-1,-1\n1e300,3\n2,5\n")
    ds = load_csv(CsvSpec(path=str(path), target="y", test_fraction=0.0))
    ds.check_trainable_in("float64")  # float64 holds them
    with pytest.raises(
        LinregError, match=r"^column 'x' must be numbers that fit in float32 .*1e\+300"
    ):
        ds.check_trainable_in("float32")
