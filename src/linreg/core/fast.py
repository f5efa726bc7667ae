"""Fast paths for full-batch gradient descent on large data: the same trajectory, fewer reads of X.

The plain formula (:func:`linreg.core.losses.loss_and_gradient`) reads X twice an epoch: ``X @ w``
for the residuals, then ``X^T slope(r)`` for the gradient, and on data larger than the caches both
reads come from memory.  :func:`choose_path` picks one of three ways from the sizes alone (never
from timings, so a run's numbers do not depend on the machine's load):

``plain``    the formula itself: small data (``n * m < SMALL_ELEMENTS``, where X sits in the
             cache anyway) and mini-batches.
``blocked``  the same formula over row blocks of about ``BLOCK_BYTES``: a block's residuals and its
             share of the gradient are computed while the block is in the cache, so X is read from
             memory once an epoch.  Blocks are shared among threads (BLAS held to one thread
             meanwhile); each block's partial sums are kept and added in block order, in float64,
             so the result does not depend on the number of threads.
``stats``    mse and mse_half, when the run is long enough to pay for a pass of O(n m^2):
             sufficient statistics.  With Z = [1, X], A = Z^T Z / n and a reference point t
             (the least-squares solution), r_t = Z t - y, J_t = |r_t|^2 / n, g_t = Z^T r_t / n:

                 J(theta) = J_t + 2 d.g_t + d.A d,   grad = 2 (g_t + A d),   d = theta - t

             exactly, for any t.  Everything is float64 (A from float32 data is exact products
             summed in float64), and with t near the optimum the three terms do not cancel, so J
             keeps its relative precision down to the optimum (the textbook
             theta^T A theta - 2 b^T theta + c loses it all there, even in float64).  An epoch then
             costs O(m^2), whatever n.

The fast paths keep the plain formula's behaviour: the parameters live in the run's dtype and step
by the same rule; epoch 0 (whose loss sets the divergence limit) is computed by the formula; on the
stats path an epoch whose loss is non-finite or within ``BAND`` of the divergence limit is
recomputed by the formula, which decides and is what gets logged, so divergence is detected at the
same epoch with the same logged values.  :class:`FullBatch` is all a backend's loop sees of this;
the machinery is in :mod:`linreg.core.fast_kernels`.  The tests hold every path to the plain
formula's trajectory (loss, theta, grad_norm, theta_final, status, diverged_at).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .errors import check_choice
from .fast_kernels import Blocked, Plain, Stats, _Pool, default_workers, single_threaded_blas
from .losses import KINDS
from .optim import divergence_limit, drop_bias_gradient

PATHS = ("plain", "blocked", "stats")
# n * m below this (8 MB of float32): the plain formula.  X then sits in the last-level cache,
# where its two reads are cheap and a thread pool's per-epoch start costs more than it saves
# (benchmarks/RESULTS.md, growth: 10^4 x 100 takes 0.14 ms an epoch plain, 0.35 ms in blocks).
SMALL_ELEMENTS = 1 << 21
BAND = 1e-4  # stats epochs whose loss is within this of the divergence limit are recomputed
# the quadratic losses: sufficient statistics hold all of them
STATS_LOSSES = tuple(name for name, kind in KINDS.items() if kind.solver == "least_squares")


def stats_pays(epochs: int, m: int) -> bool:
    """The one-off passes (float64 W^T W: m/2 multiply-adds per value of X, then the residuals)
    cost about m/10 to m/4 row-block epochs (benchmarks/RESULTS.md, growth); ask for twice that."""
    return epochs >= 8 + m // 2


def choose_path(s, n: int, m: int, force: str | None = None) -> str:
    """``plain``, ``blocked`` or ``stats`` for settings ``s`` on n x m data.

    ``force`` picks a path (tests and benchmarks); a path that does not apply is an error, so a
    forced comparison can never pass by silently comparing the plain formula with itself.
    """
    full = s.full_batch(n)
    if force is not None:
        check_choice("path", force, PATHS)
        if force != "plain" and not full:
            raise ValueError(f"the {force} path is for full-batch runs")
        if force == "stats" and s.loss.name not in STATS_LOSSES:
            raise ValueError(
                f"the stats path is for {' and '.join(STATS_LOSSES)}, not {s.loss.name}"
            )
        return force
    if not full or n * m < SMALL_ELEMENTS:
        return "plain"
    if s.loss.name in STATS_LOSSES and n > 2 * (m + 1) and stats_pays(s.epochs, m):
        return "stats"
    return "blocked"


def stats_safe(limit: float, n: int, dtype) -> bool:
    """Whether the formula cannot overflow below the divergence limit (else stats cannot tell)."""
    return limit * n * 16 < float(np.finfo(dtype).max)


class FullBatch:
    """``(J, grad, |grad|)`` over the whole training set at theta, as the path computes them: the
    gradient in the run's dtype, b's dropped without an intercept.

    ``formula(theta)`` is the plain formula (in row blocks on the fast paths); ``make_stats()``
    builds the sufficient statistics (stats path only), once epoch 0 has set the divergence limit.
    """

    def __init__(self, formula, make_stats, s, n: int, dtype) -> None:
        self.formula, self.make_stats, self.s, self.n, self.dtype = formula, make_stats, s, n, dtype
        self.stats = None
        self.limit = None

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray, float]:
        if self.stats is not None:
            loss, grad64 = self.stats(theta)
            if loss < self.limit * (1 - BAND):
                drop_bias_gradient(grad64, self.s)
                return loss, grad64.astype(self.dtype), math.sqrt(float(grad64 @ grad64))
        # epoch 0, the plain and blocked paths, and a stats epoch near or past the limit
        loss, grad = self.formula(theta)
        drop_bias_gradient(grad, self.s)
        if self.limit is None:
            self.limit = divergence_limit(loss)
            if self.make_stats and self.s.epochs > 1 and stats_safe(self.limit, self.n, self.dtype):
                self.stats = self.make_stats()
        return loss, grad, math.sqrt(float(grad @ grad))


@contextlib.contextmanager
def full_batch(path: str, X, y, s, *, block_rows: int | None = None, workers: int | None = None):
    """Yield the :class:`FullBatch` of ``path`` for settings ``s`` on (X, y); ``block_rows`` and
    ``workers`` force the fast paths' choices (tests, benchmarks)."""
    n = len(y)
    if path == "plain":
        yield FullBatch(Plain(X, y, s.loss), None, s, n, X.dtype)
        return
    with single_threaded_blas() as ok:
        pool = _Pool((workers or default_workers()) if ok else 1)
        try:
            formula = Blocked(X, y, s.loss, pool, block_rows)
            make = (lambda: Stats(X, y, s.loss, pool, block_rows)) if path == "stats" else None
            yield FullBatch(formula, make, s, n, X.dtype)
        finally:
            pool.close()
