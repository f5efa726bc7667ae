"""Growth: how an epoch's cost grows with n (10^4 ... 10^7) and m (1 ... 1000), float32, numpy.

For each size: the one-read bound, an epoch on the row-block path (mae: every loss costs the
same there), an epoch of the plain formula, and the sufficient statistics' one-off pass and their
epoch (mse, mse_half).  Enough to predict what a bigger run will cost.
"""

from __future__ import annotations

import time

import numpy as np

from linreg.core import Loss, TrainSettings, fast, fast_kernels
from linreg.core.backends import get_backend

from .common import Row, read_bandwidth
from .large import problem

run_tables: dict[str, list[dict]] = {}


def epoch_ms(X, y, theta0, loss: str, path: str, budget_s: float = 0.6) -> float:
    """Milliseconds per epoch of a forced path, epochs chosen to fill about ``budget_s``."""
    numpy = get_backend("numpy")
    s1 = TrainSettings(lr=0.01, epochs=2, loss=Loss(loss))
    start = time.perf_counter()
    numpy.train(X, y, theta0, s1, "cpu", path=path)
    took = time.perf_counter() - start
    if took >= budget_s / 2:  # slow enough: these two epochs are the measure
        return took / 2 * 1e3
    epochs = int(min(500, max(2, budget_s / max(took / 2, 1e-6))))
    s = TrainSettings(lr=0.01, epochs=epochs, loss=Loss(loss))
    start = time.perf_counter()
    t = numpy.train(X, y, theta0, s, "cpu", path=path)
    took = time.perf_counter() - start
    assert t.status == "ok", t.status
    return took / epochs * 1e3


def stats_costs(X, y) -> tuple[float, float]:
    """(ms of the one-off pass, µs per epoch) of the sufficient statistics for mse."""
    theta = np.zeros(X.shape[1] + 1, dtype=X.dtype)
    with fast_kernels.single_threaded_blas() as ok:
        pool = fast_kernels._Pool(fast_kernels.default_workers() if ok else 1)
        start = time.perf_counter()
        stats = fast_kernels.Stats(X, y, Loss("mse"), pool)
        setup = time.perf_counter() - start
        pool.close()
        reps = 2000 if X.shape[1] <= 100 else 200
        start = time.perf_counter()
        for _ in range(reps):
            stats(theta)
        each = (time.perf_counter() - start) / reps
    return setup * 1e3, each * 1e6


def measure(X, y, theta0) -> dict:
    n, m = X.shape
    bw, _ = read_bandwidth(X)
    bound = X.nbytes / bw * 1e3
    blocked = epoch_ms(X, y, theta0, "mae", "blocked")
    plain = epoch_ms(X, y, theta0, "mae", "plain", budget_s=0.4)
    setup, each = stats_costs(X, y)
    return {
        "n": n,
        "m": m,
        "mb": X.nbytes / 1e6,
        "bound": bound,
        "blocked": blocked,
        "plain": plain,
        "setup": setup,
        "stats_us": each,
    }


def run(quick: bool) -> list[Row]:
    ns = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000, 10_000_000]
    ms = [1, 10, 100] if quick else [1, 10, 100, 1000]
    n_for_m = 20_000 if quick else 100_000
    X, y, theta0 = problem(max(ns), 100)
    by_n = []
    for n in ns:
        by_n.append(measure(X[:n], y[:n], theta0))
    del X, y
    by_m = []
    for m in ms:
        Xm, ym, t0 = problem(n_for_m, m, seed=m)
        by_m.append(measure(Xm, ym, t0))
    run_tables["n"], run_tables["m"] = by_n, by_m
    rows = []
    for r in (by_n[-1], by_m[-1]):
        tag = f"growth {r['n']:,}x{r['m']} f32"
        rows.append(
            Row(
                f"{tag}: row-block epoch (mae)",
                r["blocked"],
                r["bound"],
                baseline_name="one read of X",
                note="the full tables are in RESULTS.md",
            )
        )
        rows.append(
            Row(
                f"{tag}: stats one-off pass",
                r["setup"],
                r["blocked"],
                baseline_name="one row-block epoch",
                note=f"then {r['stats_us']:.0f} µs an epoch",
            )
        )
    return rows


def _table(rows: list[dict]) -> list[str]:
    out = [
        "| n | m | X (MB) | one read | row-block epoch | ratio | plain-formula epoch | "
        "stats pass (once) | stats epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['n']:,} | {r['m']} | {r['mb']:,.1f} | {r['bound']:.3g} ms | "
            f"{r['blocked']:.3g} ms | {r['blocked'] / r['bound']:.2f}x | {r['plain']:.3g} ms | "
            f"{r['setup']:.3g} ms | {r['stats_us']:.3g} µs |"
        )
    return out


def notes(rows: list[Row]) -> str:
    by_n, by_m = run_tables.get("n"), run_tables.get("m")
    if not by_n:
        return ""
    big = by_n[-1]
    values = big["n"] * big["m"]
    per_value_ns = big["blocked"] * 1e6 / values
    plain_ns = big["plain"] * 1e6 / values
    widest = by_m[-1]
    setup_ns = widest["setup"] * 1e6 / (widest["n"] * widest["m"] ** 2)
    return "\n".join(
        [
            "Against n (m = 100):",
            "",
            *_table(by_n),
            "",
            f"Against m (n = {by_m[0]['n']:,}):",
            "",
            *_table(by_m),
            "",
            "Rules of thumb from these tables (float32; float64 reads twice the bytes):",
            "",
            f"- an epoch on the row-block path (every loss, large data) costs about "
            f"{per_value_ns:.2f} ns per value of X (n x m), so {per_value_ns:.2f} s per "
            f"10^9 values ({big['blocked'] / big['bound']:.1f}x the one-read bound at "
            f"{big['n']:,} x {big['m']}, where X is far larger than the caches); the plain formula "
            f"costs about {plain_ns:.2f} ns per value;",
            f"- the sufficient statistics (mse, mse_half) cost one pass of about {setup_ns:.3f} ns "
            "per n x m^2 (float64 products), then an epoch independent of n: the table's last "
            "column, growing as m^2;",
            f"- small data (n x m below {fast.SMALL_ELEMENTS:,} values) stays on the plain "
            "formula, which is faster there (the first rows of the tables);",
            "- a run costs epochs x epoch (+ the stats pass), and a sweep the sum of its runs.",
        ]
    )
