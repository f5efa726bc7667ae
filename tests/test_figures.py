"""Figures a learner can read: drawn at 100 dpi or more, no text under 9 pt, every axis named,
legends beside the data rather than on it, one heatmap panel per loss with a colour bar, and the
animated descent.  Trajectories come from the core's own training (numpy and python backends on
the walkthrough's data), drawn by the same functions the pipeline calls."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image

from linreg.core import DataSpec, Loss, TrainSettings, fit, generate, optimum
from linreg.present import figures
from linreg.present.run_folder import trajectory_table
from linreg.report import animation, insight
from linreg.report.comparison import param_evolution, sweep_loss_curves

DATA = generate(DataSpec())


def run(lr: float, epochs: int, loss: str = "mse", backend: str = "numpy") -> dict:
    """One run as the sweep figures read it: its row and its trajectory table, trained for real."""
    settings = TrainSettings(lr=lr, epochs=epochs, loss=Loss(loss))
    traj = fit(DATA.X, DATA.y, DATA.theta0, settings, backend)
    opt = optimum(Loss(loss), DATA.X, DATA.y)
    final = traj.theta[-1]
    diverged = traj.status != "ok" or not np.all(np.isfinite(final))
    return {
        "run_name": f"{backend} · {loss} · lr={lr:g} · ep={epochs} · cpu",
        "backend": backend, "loss": loss, "lr": lr, "epochs": epochs, "delta": None,
        "status": "diverged" if diverged else "ok",
        "optimum_distance": None if diverged else float(np.linalg.norm(final - opt)),
        "optimum_loss": float(Loss(loss).values(DATA.y - opt[0] - DATA.X[:, 0] * opt[1]).mean()),
        "bias": float(final[0]), "w_0": float(final[1]),
        "trajectory": trajectory_table(traj, 1),
    }  # fmt: skip


@pytest.fixture(scope="module")
def sweep() -> list[dict]:
    return [
        run(lr, epochs, loss, backend)
        for lr in (0.01, 0.1, 0.5)
        for epochs in (20, 60)
        for loss in ("mse", "mae")
        for backend in ("numpy", "python")
    ]


@pytest.fixture
def saved(monkeypatch):
    """Every Figure saved while the test runs (the figures' own savefig, recorded)."""
    figs: list[Figure] = []
    original = Figure.savefig

    def record(self, *args, **kwargs):
        figs.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return figs


def area(a: Bbox, b: Bbox) -> float:
    both = Bbox.intersection(a, b)
    return 0.0 if both is None else both.width * both.height


def check_legible(fig: Figure, name: str) -> None:
    assert fig.dpi >= 100, name
    canvas = FigureCanvasAgg(fig)  # the figure as it was saved, laid out again to measure it
    canvas.draw()
    renderer = canvas.get_renderer()
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            assert text.get_fontsize() >= 9, (name, text.get_text(), text.get_fontsize())
    plots = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax in plots:
        assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
    legends = [ax.get_legend() for ax in plots if ax.get_legend()] + list(fig.legends)
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in plots:
            assert area(box, ax.get_window_extent(renderer)) < 1.0, (name, "legend on the data")


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
