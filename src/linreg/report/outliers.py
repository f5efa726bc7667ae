"""The outliers figure: the data with its outliers, the true line and the best mse and mae fits,
for a sweep on one feature's data with outliers (MSE bends towards them, MAE does not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from linreg.core.data import Dataset
from linreg.present.figures import legend_above, new_figure, save, styled
from linreg.run.record import best_runs


@styled
def outliers(path: Path, runs: list[dict], data: Dataset) -> Path | None:
    """The data with its outliers, the true line and the best mse and mae fits: MSE bends
    towards the outliers, MAE does not."""
    if data.n_features != 1 or not float(data.spec.get("outlier_fraction") or 0):
        return None
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "trajectory"} for r in runs])
    best = {r["loss"]: r for _, r in best_runs(table, ["loss"]).iterrows()}
    best = {k: v for k, v in best.items() if k in ("mse", "mae")}
    if len(best) < 2:
        return None
    fig, (ax,) = new_figure(6, 4.2, top=0.78)
    x, y = np.asarray(data.X)[:, 0], np.asarray(data.y)
    ax.scatter(x, y, s=10, alpha=0.5, c="grey", label="data")
    if data.theta_true is not None:
        far = np.abs(y - (data.theta_true[0] + data.theta_true[1] * x)) > 5 * max(
            float(data.spec.get("noise_std") or 0), 1e-9
        )
        ax.scatter(x[far], y[far], s=22, c="red", marker="x", label="outliers")
    grid = np.linspace(x.min(), x.max(), 2)
    if data.theta_true is not None:
        ax.plot(grid, data.theta_true[0] + data.theta_true[1] * grid, "k--", lw=1.2, label="true")
    for name, colour in (("mse", "tab:blue"), ("mae", "tab:orange")):
        r = best[name]
        ax.plot(
            grid,
            r["bias"] + r["w_0"] * grid,
            c=colour,
            lw=1.6,
            label=f"{name}: w={r['w_0']:.3f}, b={r['bias']:.3f}",
        )
    ax.set(xlabel="feature x", ylabel="target y")
    legend_above(ax, ncol=2)
    ax.set_title("MSE against MAE with outliers", y=1.28)
    return save(fig, path)
