"""Figures for the present and report tests: a small sweep trained by the core, figures saved to
tmp, legibility checked, the images embedded in a report page."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from linreg.core import DataSpec, Loss, TrainSettings, fit, generate, optimum
from linreg.present.run_folder import trajectory_table

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


def embedded_images(page: str) -> list[bytes]:
    """The images of an HTML page, each decoded from its data: URI; a page that refers to any
    file (a relative or absolute src) fails, as MLflow's artifact viewer would show it broken."""
    import base64
    import io
    import re

    from PIL import Image

    sources = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(sources) == page.count("<img "), "an <img> without a quoted src"
    out = []
    for src in sources:
        head, _, payload = src.partition(",")
        assert re.fullmatch(r"data:image/(png|gif);base64", head), src[:60]
        raw = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()  # a whole, decodable image
        out.append(raw)
    return out
