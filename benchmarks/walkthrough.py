"""The walkthrough problem (100 x 1, 1000 epochs, mse): each backend against the walkthrough's loop.

The baseline is the blog's own loop, bare: nn.Linear + nn.MSELoss + torch.optim.SGD,
``loss.item()`` each epoch (as it prints the loss), nothing logged.  Each backend is timed as a
whole ``fit()`` call (conversions, set-up and the whole trajectory included), right after a run of
the bare loop; the ratio is the median of those side-by-side pairs.
"""

from __future__ import annotations

import time

from linreg.core import DataSpec, TrainSettings, fit, generate

from .common import Row, paired

TARGETS = {"torch": 1.0}  # the target: the torch backend no slower than the bare loop


def bare_loop(epochs: int) -> float:
    """Seconds per epoch of the walkthrough's loop (data and model made before the clock)."""
    import torch
    from torch import nn

    torch.manual_seed(42)
    X = torch.randn(100, 1)
    y = 2.5 * X + 1.0 + torch.randn(100, 1) * 0.5
    model = nn.Linear(1, 1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(epochs):
        loss = criterion(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
    return (time.perf_counter() - start) / epochs


def run(quick: bool) -> list[Row]:
    epochs, repeat = (200, 3) if quick else (1000, 9)
    ds = generate(DataSpec())
    settings = TrainSettings(lr=0.01, epochs=epochs)
    rows = []
    bare_loop(epochs)  # warm-up: first calls allocate and load kernels
    for backend in ("torch", "numpy", "python"):
        reps = 1 if backend == "python" and quick else (3 if backend == "python" else repeat)
        fit(ds.X, ds.y, ds.theta0, settings, backend)  # warm-up

        def measure(backend=backend):
            base = bare_loop(epochs)
            start = time.perf_counter()
            t = fit(ds.X, ds.y, ds.theta0, settings, backend)
            took = (time.perf_counter() - start) / epochs
            assert t.status == "ok" and t.epochs_run == epochs
            return took * 1e3, base * 1e3

        value, base, ratio = paired(measure, reps)
        target = TARGETS.get(backend)
        note = "whole fit() call, trajectory included" if backend == "torch" else ""
        if backend == "numpy":
            note = "vectorised formula (data this small stays on the plain path)"
        if backend == "python":
            note = "plain Python loops over samples (the walkthrough's slow version)"
        rows.append(
            Row(
                f"walkthrough 100x1 mse: {backend} per epoch",
                value,
                base,
                ratio,
                target,
                note,
                baseline_name="bare loop",
            )
        )
    return rows


def notes(rows: list[Row]) -> str:
    lines = [
        "Per epoch, 1000 epochs, float32, the walkthrough's data (`generate(DataSpec())`).  "
        "The bare loop is the blog's loop with `loss.item()` each epoch and nothing else.",
        "",
        "| backend | per epoch | bare loop | ratio |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name.split(': ')[1].split()[0]} | {r.value * 1e3:.1f} µs | "
            f"{r.baseline * 1e3:.1f} µs | {r.ratio:.2f}x |"
        )
    lines += [
        "",
        "What the torch backend trims from the naive version of its loop (the same numbers, bit "
        "for bit, as the test suite checks): it reads the parameters through numpy views instead "
        "of copying them into history tensors (three tensor operations an epoch), takes the "
        "gradient norm from numpy views of the gradients instead of `torch.cat(...).norm()`, "
        "checks divergence on the Python float of `loss.item()` (which the walkthrough computes "
        "anyway) instead of on tensors, and runs `torch.optim.SGD`'s single-tensor update "
        "directly (`p.add_(grad, alpha=-lr)`, the same operation) instead of going through "
        "`optimizer.step()` and `zero_grad()`, whose per-call bookkeeping costs about as much as "
        "the update.  The forward pass and autograd's backward are left as they are: they are the "
        "walkthrough.",
    ]
    return "\n".join(lines)
