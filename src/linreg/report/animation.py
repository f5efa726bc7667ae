"""Gradient descent as it happens: an animated GIF of a sweep (matplotlib's Pillow writer).

Left, the loss landscape with each learning rate's θ moving epoch by epoch and its trail behind
it; right, the data with each learning rate's fitted line turning towards the truth.  Frames are
epochs sampled on a log scale (the first epochs move most; a long run's last hundreds barely do),
so a 1000-epoch sweep and a 30-epoch lesson both play in a few seconds and the file stays small.

The still parts (contours, axes, labels: most of the drawing) are drawn once and each frame draws
only what moves on a copy of them (blitting), which PillowWriter, redrawing the whole figure per
frame, cannot do; the frames go to Pillow, as PillowWriter's do, with one palette for all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linreg.core import optimum
from linreg.core.data import Dataset
from linreg.present.figures import DPI, styled
from linreg.report.landscape import LOSSES, contours, frame_of, loss_of, paths_by_lr, subsample
from linreg.report.lesson import behaviours

FRAMES = 48  # at most: about 4 s at FPS
FPS = 12
HOLD = 8  # the last frame, repeated: a pause before the loop starts again


def frame_epochs(longest: int, frames: int = FRAMES) -> np.ndarray:
    """Which epochs to show: 0, then log-spaced up to the last, each once."""
    if longest <= frames:
        return np.arange(longest)
    picked = np.geomspace(1, longest, frames - 1).astype(int) - 1
    return np.unique(np.concatenate(([0], picked, [longest - 1])))


@styled
def descent_gif(path: Path, runs: list[dict], data: Dataset) -> Path | None:
    """The animation of one loss's runs (mse when the sweep has it), one path per learning rate;
    None without one feature or a finished run."""
    if data.n_features != 1:
        return None
    name = next((n for n in LOSSES if paths_by_lr(runs, n)), None)
    if name is None:
        return None
    from matplotlib.figure import Figure  # matplotlib: only when drawing

    paths = paths_by_lr(runs, name)
    did = behaviours(list(paths.values()))
    X, y = subsample(data)
    loss = loss_of(runs, name)
    opt = optimum(loss, X, y)
    thetas = {lr: r["trajectory"][["bias", "w_0"]].to_numpy() for lr, r in sorted(paths.items())}
    calm = [t for lr, t in thetas.items() if did.get(paths[lr]["run_name"]) != "diverged"]
    truth = [] if data.theta_true is None else [data.theta_true]
    lo, hi = frame_of([opt, data.theta0, *truth, *calm])

    fig = Figure(figsize=(9, 4.1), dpi=DPI)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.74, wspace=0.25)
    land, scatter = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    contours(land, loss, X, y, lo, hi, n=70)
    land.plot(*opt, "*", c="red", ms=12, mec="k", mew=0.5, zorder=5)
    land.set(xlabel="bias b", ylabel="weight w", title=f"J(b, w), loss = {loss.label()}")
    grid = _data_side(scatter, data)
    labels = {lr: f"lr={lr:.4g}: {did.get(paths[lr]['run_name'], '')}" for lr in thetas}
    moving = _moving_artists(land, scatter, thetas, labels, grid)
    fig.legend(*scatter.get_legend_handles_labels(), loc="upper center", ncol=3, frameon=False)
    clock = fig.text(0.5, 0.79, "", ha="center", fontsize=11, animated=True)
    longest = max(len(t) for t in thetas.values())
    return save_gif(path, _frames(fig, moving, clock, grid, longest))


def _data_side(scatter, data: Dataset) -> np.ndarray:
    """The right panel's still part: the data and the true line; returns the x range the fitted
    lines span."""
    x = np.asarray(data.X, np.float64)[:, 0]
    scatter.scatter(x, data.y, s=8, c="grey", alpha=0.5, lw=0)
    grid = np.array([x.min(), x.max()])
    if data.theta_true is not None:
        truth = data.theta_true[0] + data.theta_true[1] * grid
        scatter.plot(grid, truth, "k--", lw=1.2, label="true line")
    scatter.set(xlabel="feature x", ylabel="target y", title="the data and each fitted line")
    scatter.set_ylim(*scatter.get_ylim())  # a diverged line leaves the frame, not rescales it
    return grid


def _moving_artists(land, scatter, thetas: dict, labels: dict, grid: np.ndarray) -> list:
    """Per learning rate, its path and the (empty, animated) trail, point and fitted line that
    each frame moves."""
    from matplotlib import colormaps  # matplotlib: only when drawing

    colours = colormaps["plasma"](np.linspace(0, 0.85, max(len(thetas), 1)))
    moving = []
    for (lr, t), c in zip(thetas.items(), colours, strict=True):
        trail = land.plot([], [], "-", lw=1.3, c=c, animated=True)[0]
        point = land.plot([], [], "o", ms=7, c=c, mec="k", mew=0.6, animated=True)[0]
        line = scatter.plot(grid, grid, "-", lw=1.8, c=c, label=labels[lr], animated=True)[0]
        moving.append((t, trail, point, line))
    return moving


def _frames(fig, moving: list, clock, grid: np.ndarray, longest: int) -> list[np.ndarray]:
    """Each frame's pixels: the still parts drawn once, then per frame only what moves, on a copy
    of them (blitting)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib: only when drawing

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # everything but the animated artists
    still = canvas.copy_from_bbox(fig.bbox)
    frames = []
    for e in frame_epochs(longest):
        canvas.restore_region(still)
        for t, trail, point, line in moving:
            i = min(e, len(t) - 1)
            trail.set_data(t[: i + 1, 0], t[: i + 1, 1])
            point.set_data([t[i, 0]], [t[i, 1]])
            line.set_ydata(t[i, 0] + t[i, 1] * grid)
            for artist in (trail, point, line):
                fig.draw_artist(artist)
        clock.set_text(f"epoch {e}")
        fig.draw_artist(clock)
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return frames


def save_gif(path: Path, frames: list[np.ndarray]) -> Path:
    """The frames as a looping GIF, FPS a second, the last held a moment; one palette (taken
    from the last frame, which shows every trail) keeps the colours steady and the file small."""
    from PIL import Image  # Pillow: only when an animation is saved

    images = [Image.fromarray(f) for f in frames]
    palette = images[-1].quantize(colors=128)
    still = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [1000 // FPS] * (len(still) - 1) + [HOLD * 1000 // FPS]
    rest = still[1:]
    still[0].save(
        path, save_all=True, append_images=rest, duration=durations, loop=0, optimize=False
    )
    return Path(path)
