"""The learning-rate lesson in numbers: how large a step gradient descent can take on this data,
and what each run's step size did.

For J(θ) = mean((Aθ − y)²) with A = [1, X], the Hessian is H = (2/n)·AᵀA, the same everywhere (the
loss is quadratic).  Plain gradient descent multiplies the error along H's eigenvector i by
(1 − lr·λ_i) each epoch, so it converges only while |1 − lr·λ_max| < 1: lr < 2/λ_max, the critical
learning rate.  Below 1/λ_max every direction creeps straight in; between 1/λ_max and 2/λ_max the
steepest direction overshoots and the path zigzags across the valley; above 2/λ_max it diverges.
λ_max/λ_min, the condition number of H, says how much slower the flattest direction is than the
steepest: unscaled features (plot sizes in the thousands) make it huge.  (Momentum and mini-batches
change the bound; the lesson is about plain full-batch descent.)
"""

from __future__ import annotations

import numpy as np

from linreg.core.curvature import curvature, standardised

BEHAVIOURS = ("converged", "too slow", "oscillating", "diverged")
ARRIVED_RTOL = (
    1e-6  # without the record's verdict: converged once the loss is this close (relative)
)
ZIGZAG_SHARE = 0.5  # steps reversing direction in at least this share of moving epochs: a zigzag
STILL = 1e-5  # a step this small against the largest one is float noise, not movement
LONG = 100.0  # a condition number above this: a long valley (scaling.png shows it, and the cure)


def classify(
    loss: np.ndarray,
    theta: np.ndarray,
    optimum_loss: float | None,
    diverged: bool = False,
    converged: bool | None = None,
) -> str:
    """What a run's step size did, from its trajectory (loss and θ per epoch):

    - ``diverged``: the run was stopped as diverged, or its loss is not finite or ends above
      where it started;
    - ``oscillating``: it went down, but zigzagging: in at least half of the epochs in which θ
      still moves, the step reverses the previous one (their dot product is negative);
    - ``converged``: a straight descent that arrived: ``converged`` (the run record's verdict),
      or, without one, its last loss within 1e-6 (relative) of the optimum's;
    - ``too slow``: a straight descent that had not arrived when its epochs ran out.
    """
    loss = np.asarray(loss, dtype=np.float64)
    if diverged or not np.all(np.isfinite(loss)) or (len(loss) > 1 and loss[-1] > loss[0]):
        return "diverged"
    steps = np.diff(np.asarray(theta, dtype=np.float64), axis=0)
    size = np.linalg.norm(steps, axis=1)
    moving = size > STILL * (size.max() if len(size) else 0.0)
    pairs = moving[1:] & moving[:-1]
    if pairs.any():
        turns = np.einsum("ij,ij->i", steps[1:], steps[:-1]) < 0
        if turns[pairs].mean() >= ZIGZAG_SHARE:
            return "oscillating"
    if converged is None:
        converged = optimum_loss is not None and bool(
            abs(loss[-1] - optimum_loss) <= ARRIVED_RTOL * abs(optimum_loss)
        )
    return "converged" if converged else "too slow"


def behaviours(runs: list[dict]) -> dict[str, str]:
    """run_name -> behaviour, for each run with a trajectory (the dicts of
    :func:`linreg.report.comparison.load_trajectories`)."""
    out = {}
    for r in runs:
        t = r.get("trajectory")
        if t is None or not len(t):
            continue
        theta = t[[c for c in t.columns if c == "bias" or c.startswith("w_")]].to_numpy()
        opt = r.get("optimum_loss")
        opt = None if opt is None or opt != opt else float(opt)
        arrived = r.get("converged_epoch")
        arrived = (
            None if "converged_epoch" not in r else not (arrived is None or arrived != arrived)
        )
        out[r["run_name"]] = classify(
            t["loss"].to_numpy(), theta, opt, r["status"] == "diverged", arrived
        )
    return out


# --- the report's section ----------------------------------------------------------------------
def section(df, runs: list[dict] | None, X: np.ndarray | None) -> tuple[list[str], object]:
    """The report's "learning rate" sentences and its table (run, lr, lr as a multiple of the
    critical lr, behaviour); ``runs``: the trajectories, ``X``: the sweep's one dataset's
    features (None when the runs do not share one)."""
    import pandas as pd  # pandas: only when the report is written

    did = behaviours(runs or [])
    lines, table = [], pd.DataFrame()
    if X is not None and len(X):
        c = curvature(X, "mse")
        lines.append(
            f"On this data the mse Hessian (2/n)·AᵀA, A = [1, X], has λ_max = {c.lambda_max:.4g} "
            f"and λ_min = {c.lambda_min:.4g}: condition number {c.condition_number:.4g}. Plain "
            f"gradient descent on mse is stable for lr < 2/λ_max = {c.critical_lr:.4g} (the "
            f"critical learning rate); above 1/λ_max = {c.critical_lr / 2:.4g} its path zigzags "
            f"across the valley, and the flattest direction closes {c.condition_number:.3g} times "
            "slower than the steepest (mse_half and huber allow twice the step; mae has no "
            "curvature and no such bound)."
        )
        if c.condition_number > LONG:
            s = curvature(standardised(X), "mse")
            lines.append(
                f"The valley is long (condition number {c.condition_number:.3g}): the steepest "
                f"direction caps the step at {c.critical_lr:.3g}, at which the flattest barely "
                f"moves. Standardised, (x − mean)/std, the condition number is "
                f"{s.condition_number:.3g} and the critical lr {s.critical_lr:.3g}: the same "
                "epochs arrive (scaling.png: before and after)."
            )
    if did:
        counted = {b: sum(v == b for v in did.values()) for b in BEHAVIOURS}
        lines.append(
            "What each run's step size did (from its trajectory): "
            + ", ".join(f"{n} {b}" for b, n in counted.items() if n)
            + ". Converged: a straight descent that arrived at the optimum; too slow: a straight "
            "descent still on its way when its epochs ran out; oscillating: steps reversing "
            "direction in at least half of the epochs it moved (a zigzag, arrived or not); "
            "diverged: the loss ends above where it started (or blew up)."
        )
        table = df[df["run_name"].isin(did)][["run_name", "lr"]].copy()
        if X is not None and len(X):
            table["lr ÷ critical (mse)"] = table["lr"] / curvature(X, "mse").critical_lr
        table["behaviour"] = table["run_name"].map(did)
    return lines, table
