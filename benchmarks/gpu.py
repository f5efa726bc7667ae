"""GPU: the torch backend on cuda at 10,000,000 x 100 float32, per epoch against the HBM read bound.

Skipped, with a message, where no CUDA device is present.  The bound is X's bytes over the read
bandwidth measured on the card in the same run (the fastest of a few ``sum`` reductions over X,
timed with CUDA events).  Per-epoch time is the trajectory's own ``wall_s`` (the training loop,
synchronised at its end) over its epochs: the one host-to-device copy of X is reported apart.
The loop must not wait on the host each epoch: CUDA's sync-debug mode counts the synchronising
calls of a run.
"""

from __future__ import annotations

import time
import warnings

from linreg.core import Loss, TrainSettings
from linreg.core.backends import get_backend

from .common import Row, median

TARGET = 1.5


def available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


def hbm_read_ms(Xd) -> float:
    import torch

    times = []
    for _ in range(5):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        Xd.sum()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return min(times[1:])


def count_syncs(fn) -> tuple[object, int | None]:
    """Run ``fn`` under CUDA's sync-debug mode "warn"; return its result and the syncs seen."""
    import torch

    try:
        torch.cuda.set_sync_debug_mode("warn")
    except (AttributeError, RuntimeError):  # pragma: no cover
        return fn(), None
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            out = fn()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return out, sum("synchroniz" in str(w.message) for w in seen)


def run(quick: bool) -> list[Row]:
    n, m = (1_000_000, 100) if quick else (10_000_000, 100)
    if not available():
        msg = "skipped: no CUDA device here"
        print(f"gpu: {msg}")
        return [
            Row(f"gpu {n:,}x{m} f32 cuda: {loss} per epoch", None, None, target=TARGET, note=msg)
            for loss in ("mse", "mae")
        ]
    import torch

    from .large import problem

    X, y, theta0 = problem(n, m)
    Xd = torch.from_numpy(X).cuda()
    bound = median([hbm_read_ms(Xd) for _ in range(3)])
    del Xd
    torch.cuda.empty_cache()
    backend = get_backend("torch")
    rows = []
    epochs = 100 if quick else 500
    cases = [
        ("mse", {}, TARGET),
        ("mae", {}, TARGET),
        ("mse, autograd loop forced", {"path": "plain"}, None),
    ]
    for label, force, target in cases:
        s = TrainSettings(lr=0.1, epochs=epochs, loss=Loss(label.split(",")[0]), device="cuda")
        backend.fit(X[:1000], y[:1000], theta0, TrainSettings(epochs=3, device="cuda"), "cuda")
        start = time.perf_counter()
        t, syncs = count_syncs(
            lambda s=s, force=force: backend.fit(X, y, theta0, s, "cuda", **force)
        )
        total = time.perf_counter() - start
        assert t.status == "ok", t.status
        per_epoch = t.wall_s / t.epochs_run * 1e3
        note = f"{epochs} epochs; whole call {total:.1f} s incl. the copy of X to the card" + (
            f"; {syncs} host syncs in the run" if syncs is not None else ""
        )
        rows.append(
            Row(
                f"gpu {n:,}x{m} f32 cuda: {label} per epoch",
                per_epoch,
                bound,
                target=target,
                note=note,
                baseline_name="one HBM read of X",
            )
        )
    rows.append(
        Row(
            f"gpu {n:,}x{m} f32 cuda: HBM read bandwidth",
            X.nbytes / bound / 1e6,
            None,
            unit="GB/s",
            note=torch.cuda.get_device_name(0),
        )
    )
    return rows


def notes(rows: list[Row]) -> str:
    if rows and rows[0].value is None:
        return (
            "Not measured here: this machine has no CUDA device (the rows above say "
            "skipped).  On a GPU, `python -m benchmarks --only gpu` measures it.  What the "
            "code does there: the training loop keeps the whole trajectory on the device and "
            "copies it to the host once at the end, and checks divergence every 64 epochs "
            "(a sync every 64 epochs, none in between); mse and mse_half take the "
            "sufficient statistics in float64 on the device (one pass of W^T W, then O(m^2) "
            "an epoch); other losses run the autograd loop, which reads X twice an epoch "
            "(forward, then the weight gradient), so about 2x the one-read bound is expected "
            "for mae: a single-read kernel for it would need a fused custom kernel."
        )
    return (
        "mse runs on the sufficient statistics (float64 on the device); mae on the autograd "
        "loop, which reads X twice an epoch (the forward pass and the weight gradient)."
    )
