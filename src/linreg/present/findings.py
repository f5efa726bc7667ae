"""What a sweep's numbers say, in a table and a few sentences: the best run per loss and backend,
how closely the backends agree, when the parameters reached the optimum, what did not end ok.

Shared by the report (the evaluate stage, ad-hoc sweeps) and the sweep's MLflow description (the
train stage), so a change to the report's layout reruns only the evaluate stage."""

from __future__ import annotations

import numpy as np

from linreg.run.record import best_runs

SAME_SETTINGS = ["loss", "lr", "epochs", "momentum", "batch_size", "schedule", "dtype"]


def backend_agreement(df) -> float | None:
    """The largest difference in learned parameters between runs that differ in backend alone
    (ok runs only): how closely numpy, python and torch agree."""
    ok = df[df["status"] == "ok"]
    params = ["bias", *[c for c in df.columns if c.startswith("w_")]]
    worst = None
    for _, group in ok.groupby(SAME_SETTINGS, dropna=False):
        if group["backend"].nunique() < 2:
            continue
        values = group[params].to_numpy(np.float64)
        spread = float(np.nanmax(values.max(axis=0) - values.min(axis=0)))
        worst = spread if worst is None else max(worst, spread)
    return worst


def best_per_loss_and_backend(df):
    """Per loss and backend, the best ok run (:data:`linreg.run.record.BEST`)."""
    return best_runs(df, ["loss", "backend"])


def findings(df) -> list[str]:
    """Sentences the numbers support."""
    out = []
    ok = df[df["status"] == "ok"]
    for loss, group in ok.groupby("loss"):
        parts, never = [], []
        for lr, g in sorted(group.groupby("lr"), key=lambda kv: -kv[0]):
            conv = g["converged_epoch"].dropna()
            if len(conv):
                parts.append(f"by epoch {int(conv.min())} at lr={lr:g}")
            else:
                never.append(f"lr={lr:g}")
        most = int(group["epochs"].max())
        if parts:
            text = (
                f"With {loss}, the parameters reached the optimum (within √ε of their dtype, "
                "relative) " + " and ".join(parts)
            )
            if never:
                text += f"; {', '.join(never)} did not within {most} epochs"
        else:
            text = (
                f"With {loss}, no run's parameters reached the optimum (within √ε of their "
                f"dtype, relative) within {most} epochs"
            )
        out.append(text + ".")
    if ok["statistical_error"].notna().any():
        best = best_per_loss_and_backend(df)
        for _, r in best.drop_duplicates("loss").iterrows():
            out.append(
                f"The exact {r['loss']} optimum lies {r['statistical_error']:.3g} from the true "
                f"parameters (the data's share of the error, which no training removes); its "
                f"best run ends {r['optimum_distance']:.2g} from that optimum."
            )
    agree = backend_agreement(df)
    if agree is not None:
        out.append(
            f"The backends agree: runs with the same settings learn parameters within "
            f"{agree:.2g} of each other."
        )
    bad = df[df["status"] != "ok"]
    for status, g in bad.groupby("status"):
        names = ", ".join(g["run_name"].head(3)) + (" ..." if len(g) > 3 else "")
        out.append(f"{len(g)} run(s) {status}: {names}.")
    return out
