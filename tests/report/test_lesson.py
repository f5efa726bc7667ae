"""The learning-rate lesson (linreg.report.lesson): what each run did, on constructed trajectories,
and the preset run for real (``linreg -m +lesson=lr``)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from linreg.core import DataSpec, generate
from linreg.core.curvature import curvature
from linreg.report.lesson import classify
from tests.helpers.cli import Cli


def path(factors: tuple[float, float], epochs: int = 40, start=(1.0, 1.0)) -> tuple:
    """θ_t = θ* + diag(factors)^t (θ0 − θ*) with θ* = 0, and the loss of an isotropic bowl."""
    theta = np.array([[start[0] * factors[0] ** t, start[1] * factors[1] ** t]
                      for t in range(epochs)])  # fmt: skip
    return 1.0 + (theta**2).sum(axis=1), theta


def test_runs_are_classified_by_what_their_path_did():
    assert classify(*path((0.5, 0.6)), optimum_loss=1.0) == "converged"
    assert classify(*path((0.99, 0.98)), optimum_loss=1.0) == "too slow"
    assert classify(*path((-0.8, 0.5)), optimum_loss=1.0) == "oscillating"  # a zigzag...
    assert classify(*path((-0.3, -0.2)), optimum_loss=1.0) == "oscillating"  # ...even arriving
    assert classify(*path((-1.2, 0.5)), optimum_loss=1.0) == "diverged"
    loss, theta = path((0.5, 0.6))
    assert classify(loss, theta, 1.0, diverged=True) == "diverged"  # the run's own verdict
    assert classify(np.r_[loss[:5], np.inf], theta[:6], 1.0) == "diverged"
    assert classify(loss, theta, 1.0, converged=False) == "too slow"  # the record's verdict wins


def test_float_noise_after_arriving_is_not_a_zigzag():
    loss, theta = path((0.5, 0.6), epochs=60)
    noise = np.random.default_rng(0).normal(scale=1e-9, size=theta.shape)
    assert classify(loss, theta + noise * (np.arange(60) > 30)[:, None], 1.0) == "converged"


@pytest.mark.slow
def test_the_lesson_preset_shows_the_four_behaviours_around_the_critical_lr(tmp_path):
    proc = Cli(tmp_path).linreg("-m", "+lesson=lr", "hydra.sweep.dir=outputs/sweeps/lesson")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "outputs" / "sweeps" / "lesson"
    critical = curvature(generate(DataSpec()).X).critical_lr
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    multiples = sorted(float(r["lr"]) / critical for r in rows)
    assert multiples == pytest.approx([0.1, 0.5, 0.9, 1.05], rel=1e-5)
    assert {r["loss"] for r in rows} == {"mse"} and {r["backend"] for r in rows} == {"numpy"}
    report = (sweep / "report.md").read_text()
    assert f"2/λ_max = {critical:.4g}" in report
    table = dict(re.findall(r"\| ([\d.]+) \| (converged|too slow|oscillating|diverged) \|", report))
    assert table == {"0.1": "too slow", "0.5": "converged", "0.9": "oscillating",
                     "1.05": "diverged"}  # fmt: skip
    assert (sweep / "descent.gif").is_file() and (sweep / "loss_landscape.png").is_file()
