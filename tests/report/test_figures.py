"""The sweep's figures a learner can read (linreg.report.comparison, insight, animation, scaling):
legible, one heatmap panel per loss with a colour bar, the animated descent, the long valley."""

from __future__ import annotations

import numpy as np
from PIL import Image

from linreg.core import DataSpec, generate
from linreg.report import animation, insight
from linreg.report.comparison import param_evolution, sweep_loss_curves
from tests.helpers.figures import DATA, check_legible


def test_every_sweep_figure_is_legible(tmp_path, saved, sweep):
    sweep_loss_curves(tmp_path / "curves.png", sweep)
    param_evolution(tmp_path / "params.png", sweep, DATA.theta_true)
    insight.loss_landscape(tmp_path / "landscape.png", sweep, DATA)
    insight.error_heatmap(tmp_path / "heatmap.png", sweep)
    assert len(saved) == 4
    for fig, name in zip(saved, ("curves", "params", "landscape", "heatmap"), strict=True):
        check_legible(fig, name)


def test_heatmap_has_one_panel_per_loss_and_a_colour_bar_when_backends_agree(saved, tmp_path,
                                                                             sweep):  # fmt: skip
    insight.error_heatmap(tmp_path / "heatmap.png", sweep)
    (fig,) = saved
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = sorted(ax.get_title() for ax in panels)
    assert titles == ["loss = mae\nnumpy, python agree", "loss = mse\nnumpy, python agree"]
    assert len(fig.axes) == len(panels) + 1  # the colour bar
    assert all(len(ax.images) == 1 for ax in panels)


def test_heatmap_shows_each_backend_where_they_disagree(saved, tmp_path, sweep):
    """A backend that ends elsewhere (here: its runs swapped for other learning rates' runs)
    gets its own panel: the note is only written when it is true."""
    others = {0.01: 0.5, 0.1: 0.01, 0.5: 0.1}
    python = {(r["lr"], r["epochs"], r["loss"]): r for r in sweep if r["backend"] == "python"}
    unlike = [r for r in sweep if r["backend"] == "numpy"] + [
        {**python[others[r["lr"]], r["epochs"], r["loss"]], "lr": r["lr"]}
        for r in sweep if r["backend"] == "python"
    ]  # fmt: skip
    insight.error_heatmap(tmp_path / "heatmap.png", unlike)
    (fig,) = saved
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>")
    assert titles == ["loss = mae · numpy", "loss = mae · python", "loss = mse · numpy",
                      "loss = mse · python"]  # fmt: skip


def test_the_descent_gif_has_its_frames_and_stays_small(tmp_path, sweep):
    gif = animation.descent_gif(tmp_path / "descent.gif", sweep, DATA)
    assert gif is not None and gif.stat().st_size <= 2_000_000
    longest = max(len(r["trajectory"]) for r in sweep)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.is_animated
        assert im.n_frames == len(animation.frame_epochs(longest))
        assert im.info.get("loop") == 0
        first = np.asarray(im.convert("RGB"))
        im.seek(im.n_frames - 1)
        assert not np.array_equal(first, np.asarray(im.convert("RGB")))  # it moves


def test_frames_sample_a_long_run_on_a_log_scale():
    epochs = animation.frame_epochs(1000)
    assert epochs[0] == 0 and epochs[-1] == 999 and len(epochs) <= animation.FRAMES
    assert np.all(np.diff(epochs) > 0) and epochs[5] < 10  # the early epochs, one by one
    assert list(animation.frame_epochs(7)) == list(range(7))


def test_no_gif_without_one_feature(tmp_path, sweep):
    two = generate(DataSpec(n_features=2, weights=(1.0, 2.0)))
    assert animation.descent_gif(tmp_path / "x.gif", sweep, two) is None
    assert not (tmp_path / "x.gif").exists()


def test_scaling_shows_the_long_valley_and_its_cure(tmp_path, saved):
    """Plot sizes in the thousands: at 0.9 × its own critical lr, descent on the raw feature is
    still far from the optimum after 100 epochs; standardised, the same epochs arrive."""
    from linreg.core.curvature import curvature, standardised
    from linreg.report import scaling

    sizes = generate(DataSpec(feature_scale=1000.0))
    X, y = np.asarray(sizes.X, np.float64), np.asarray(sizes.y, np.float64)
    ends = []
    for features in (X, standardised(X)):
        lr = scaling.STEP * curvature(features).critical_lr
        path = scaling.descend(features[:, 0], y, sizes.theta0, lr, scaling.EPOCHS)
        opt = np.linalg.lstsq(np.column_stack((np.ones(len(y)), features)), y, rcond=None)[0]
        ends.append(np.linalg.norm(path[-1] - opt))
    assert ends[0] > 0.1 and ends[1] < 1e-4
    assert scaling.scaling(tmp_path / "scaling.png", sizes) == tmp_path / "scaling.png"
    (fig,) = saved
    check_legible(fig, "scaling")
    assert "κ = 9.7e+05" in fig.axes[0].get_title() and "κ = 1," in fig.axes[1].get_title()
    assert scaling.scaling(tmp_path / "round.png", DATA) is None  # a round valley: no figure
