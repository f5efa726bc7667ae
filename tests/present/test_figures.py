"""A run's figures a learner can read (linreg.present.figures): drawn at 100 dpi or more, no text
under 9 pt, every axis named, legends beside the data; a reused run shows only its latest run."""

from __future__ import annotations

import numpy as np
from PIL import Image

from linreg.present import figures
from tests.helpers.figures import DATA, check_legible


def test_every_run_figure_is_legible(tmp_path, saved, sweep):
    r = sweep[0]
    t = r["trajectory"]
    theta = t[["bias", "w_0"]].to_numpy()
    title = r["run_name"]
    figures.loss_curve(tmp_path / "loss.png", t["loss"].to_numpy(), title, 0.2)
    figures.param_trajectory(tmp_path / "params.png", theta, DATA.theta_true, title)
    figures.data_fit(tmp_path / "fit.png", DATA.X, DATA.y, theta[-1], DATA.theta_true, title)
    assert len(saved) == 3
    for fig, name in zip(saved, ("loss", "params", "fit"), strict=True):
        check_legible(fig, name)
        with Image.open(tmp_path / f"{name}.png") as png:
            assert round(png.info["dpi"][0]) >= 100 and png.size[0] >= 500, name


def test_a_reused_run_figure_shows_only_the_latest_run(tmp_path, sweep):
    """The per-run figures are drawn on one figure per kind (cheaper): the second run's picture
    is the picture a fresh figure gives, nothing of the first run's left on it."""
    a, b = sweep[0]["trajectory"], sweep[-1]["trajectory"]
    figures.loss_curve(tmp_path / "a.png", a["loss"].to_numpy(), "a", 0.2)
    figures.loss_curve(tmp_path / "b.png", b["loss"].to_numpy(), "b", None)
    figures._REUSED.clear()  # a fresh figure for the same run
    figures.loss_curve(tmp_path / "fresh.png", b["loss"].to_numpy(), "b", None)
    with Image.open(tmp_path / "b.png") as second, Image.open(tmp_path / "fresh.png") as fresh:
        assert np.array_equal(np.asarray(second), np.asarray(fresh))
    with Image.open(tmp_path / "a.png") as first, Image.open(tmp_path / "b.png") as second:
        assert not np.array_equal(np.asarray(first), np.asarray(second))
