"""The points MLflow gets (linreg.run.thinning): a series thinned to its budget, keeping its ends,
its spikes and dips, and its last finite values."""

from __future__ import annotations

import numpy as np
import pytest

from linreg.run.thinning import chosen_steps, thin


# --- the points MLflow gets --------------------------------------------------------------------
def test_a_series_within_the_budget_is_logged_whole():
    values = np.linspace(1, 0, 1000)
    assert chosen_steps(values, 1000).tolist() == list(range(1000))
    # a run of max_points epochs: its series holds one value more (the learned one), all kept
    assert chosen_steps(np.linspace(1, 0, 1001), 1000).tolist() == list(range(1001))


def test_a_thinned_series_uses_most_of_its_budget():
    smooth = np.exp(-np.arange(20_001) / 2000.0)
    assert 0.6 * 1000 < len(chosen_steps(smooth, 1000)) <= 1000


@pytest.mark.parametrize("n", [1002, 20_000, 1_000_001])
@pytest.mark.parametrize("budget", [10, 320, 1000])
def test_a_long_series_is_thinned_to_the_budget_keeping_its_ends(n, budget):
    values = np.exp(-np.arange(n) / (n / 10))
    steps = chosen_steps(values, budget)
    assert len(steps) <= budget
    assert steps[0] == 0 and steps[-1] == n - 1
    assert np.all(np.diff(steps) > 0)  # true epoch numbers, in order, each once
    if budget >= 100:
        assert np.isin([1, 2], steps).all()  # the first epochs, where the loss falls fastest


def test_a_spike_and_a_dip_are_never_sampled_away():
    rng = np.random.default_rng(0)
    values = 1 + 0.01 * rng.standard_normal(100_000)
    values[31_337] = 50.0  # one epoch's spike
    values[77_777] = -3.0  # one epoch's dip
    steps = chosen_steps(values, 300)
    assert 31_337 in steps and 77_777 in steps


def test_a_divergence_keeps_its_last_finite_values():
    values = np.r_[np.linspace(1, 0.1, 5000), np.geomspace(1, 1e30, 400), [np.inf, np.nan]]
    steps = chosen_steps(values, 200)
    assert int(np.nanargmax(np.where(np.isfinite(values), values, np.nan))) in steps
    assert len(values) - 1 in steps


def test_thin_keeps_each_value_at_its_step():
    values = np.sin(np.arange(5000) / 100.0)
    (steps, kept), = thin({"loss": values}, 100).values()  # fmt: skip
    np.testing.assert_array_equal(kept, values[steps])
