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
same epoch with the same logged values.  The tests hold every path to the plain formula's
trajectory (loss, theta, grad_norm, theta_final, status, diverged_at).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import check_choice
from .losses import Loss, loss_and_gradient

PATHS = ("plain", "blocked", "stats")
# n * m below this (8 MB of float32): the plain formula.  X then sits in the last-level cache,
# where its two reads are cheap and a thread pool's per-epoch start costs more than it saves
# (benchmarks/RESULTS.md, growth: 10^4 x 100 takes 0.14 ms an epoch plain, 0.35 ms in blocks).
SMALL_ELEMENTS = 1 << 21
BLOCK_BYTES = 2 << 20  # a row block of X: about a core's L2 cache (1 to 2.7 MB measured alike)
ROW_ALIGN = 64  # block rows are a multiple of this, see block_rows()
STATS_CHUNKS = 4  # the first stats pass sums this many fixed row ranges, added in order
BAND = 1e-4  # stats epochs whose loss is within this of the divergence limit are recomputed
STATS_LOSSES = ("mse", "mse_half")


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


def aligned_rows(rows: int) -> int:
    """Round a block's rows up to a multiple of ROW_ALIGN.

    BLAS's matrix-vector kernels handle rows in groups and the leftover rows of a call by other
    code, which may add the m products in another order.  With blocks a multiple of the group
    (4 to 16 rows in the kernels we know of; tests/test_fast_paths.py checks the BLAS at hand),
    each row's residual X_i . w is computed by the same code as in one call over all of X: the
    blocked residuals are the formula's, bit for bit.
    """
    return max(ROW_ALIGN, -(-int(rows) // ROW_ALIGN) * ROW_ALIGN)


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


_CONTROLLER = None


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread for the duration (threads of our own share the blocks instead).

    Yields whether it could: without threadpoolctl the fast paths run their blocks on one thread
    and let BLAS thread as it likes (slower; the same results to rounding).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _CONTROLLER = False
        else:
            _CONTROLLER = ThreadpoolController()  # finds the BLAS libraries once (~1 ms)
    if _CONTROLLER is False:  # pragma: no cover
        yield False
        return
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield True


def _spans(count: int, parts: int) -> list[range]:
    edges = np.linspace(0, count, parts + 1).round().astype(int)
    return [range(a, b) for a, b in itertools.pairwise(edges) if b > a]


class _Pool:
    """Runs ``fn`` over contiguous spans of ``count`` items on ``workers`` threads."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor = ThreadPoolExecutor(workers) if workers > 1 else None

    def map(self, fn, count: int, parts: int | None = None) -> list:
        spans = _spans(count, parts or self.workers)
        if self.executor is None or len(spans) == 1:
            return [fn(span) for span in spans]
        return list(self.executor.map(fn, spans))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()


class Plain:
    """The formula itself: ``loss_and_gradient``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, loss: Loss) -> None:
        self.X, self.y, self.loss = X, y, loss

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return loss_and_gradient(self.loss, self.X, self.y, theta)


class Blocked:
    """The formula over row blocks, each read from memory once; float64 partial sums in block order.

    Returns what ``loss_and_gradient`` returns, to rounding: J as a float and the gradient in the
    data's dtype.  The residuals are the formula's bit for bit (see :func:`aligned_rows`); a
    block's share of the gradient is X_b^T slope(r_b), scaled by 1/n (2/n for mse) once at the
    end rather than per value.  A float32 sum of losses that would overflow (the formula's
    float32 mean) is inf here too, so divergence is seen at the same epoch.
    """

    def __init__(self, X, y, loss: Loss, pool: _Pool, block_rows: int | None = None) -> None:
        n, m = X.shape
        self.X, self.y, self.loss, self.pool, self.n = X, y, loss, pool, n
        self.rows = aligned_rows(block_rows or BLOCK_BYTES // (m * X.itemsize))
        self.starts = np.arange(0, n, self.rows)
        self.part_loss = np.empty(len(self.starts))
        self.part_bias = np.empty(len(self.starts))
        self.part_w = np.empty((len(self.starts), m), dtype=X.dtype)
        self.scale = (2.0 if loss.name == "mse" else 1.0) / n
        self.big = np.finfo(X.dtype).max
        self.theta = None

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.theta = theta
        self.pool.map(self._blocks, len(self.starts))
        total = float(self.part_loss.sum())
        loss = math.inf if total > self.big else total / self.n
        grad = np.empty(len(theta))
        grad[0] = self.part_bias.sum()
        grad[1:] = self.part_w.sum(axis=0, dtype=np.float64)
        grad *= self.scale
        return loss, grad.astype(self.X.dtype)

    def _blocks(self, span: range) -> None:
        X, y, theta, rows, loss = self.X, self.y, self.theta, self.rows, self.loss
        w, b = theta[1:], theta[0]
        r_buf, d_buf = np.empty(rows, X.dtype), np.empty(rows, X.dtype)
        for k in span:
            i = int(self.starts[k])
            xb = X[i : i + rows]
            r = r_buf[: len(xb)]
            np.matmul(xb, w, out=r)  # r = X w + b - y, in the formula's order
            r += b
            r -= y[i : i + rows]
            if loss.name in ("mse", "mse_half"):  # slope r (times 2 for mse, in self.scale)
                d = r
                total = float(np.dot(r, r))
                self.part_loss[k] = 0.5 * total if loss.name == "mse_half" else total
            elif loss.name == "mae":
                d = np.sign(r, out=d_buf[: len(xb)])
                self.part_loss[k] = float(np.dot(d, r))  # sum |r|
            else:  # huber: slope c = clip(r), value c r - c^2 / 2 (both cases of the definition)
                d = np.clip(r, -loss.delta, loss.delta, out=d_buf[: len(xb)])
                self.part_loss[k] = float(np.dot(d, r)) - 0.5 * float(np.dot(d, d))
            self.part_bias[k] = np.add.reduce(d)
            np.matmul(d, xb, out=self.part_w[k])


class Stats:
    """mse / mse_half from sufficient statistics (see the module's docstring); float64 throughout.

    Two passes over X: W^T W with W = [1, X, y] (one syrk per block on a float64 copy of the
    block), then the residuals at the reference point.
    """

    def __init__(self, X, y, loss: Loss, pool: _Pool, block_rows: int | None = None) -> None:
        n, m = X.shape
        self.n, self.m, self.half = n, m, loss.name == "mse_half"
        self.X, self.y, self.pool = X, y, pool
        self.rows = aligned_rows(block_rows or BLOCK_BYTES // ((m + 2) * 8))
        self.starts = np.arange(0, n, self.rows)
        parts = self.pool.map(self._gram, len(self.starts), STATS_CHUNKS)
        M = parts[0]
        for p in parts[1:]:
            M += p
        M /= n
        self.A = M[: m + 1, : m + 1].copy()
        self.ref = _solve(self.A, M[: m + 1, m + 1])
        self.part = np.empty((len(self.starts), m + 2))
        self.pool.map(self._residuals, len(self.starts))
        total = self.part.sum(axis=0)
        self.J_ref = float(total[0]) / n
        self.g_ref = total[1:] / n
        self.X = self.y = None  # not needed any more

    def _buffer(self) -> np.ndarray:
        buf = np.empty((self.rows, self.m + 2))
        buf[:, 0] = 1.0
        return buf

    def _fill(self, buf: np.ndarray, i: int) -> np.ndarray:
        xb = self.X[i : i + self.rows]
        wb = buf[: len(xb)]
        wb[:, 1 : self.m + 1] = xb
        wb[:, self.m + 1] = self.y[i : i + self.rows]
        return wb

    def _gram(self, span: range) -> np.ndarray:
        buf = self._buffer()
        M = np.zeros((self.m + 2, self.m + 2))
        for k in span:
            wb = self._fill(buf, int(self.starts[k]))
            M += wb.T @ wb  # numpy calls syrk for a^T a
        return M

    def _residuals(self, span: range) -> None:
        buf, m = self._buffer(), self.m
        for k in span:
            wb = self._fill(buf, int(self.starts[k]))
            zb = wb[:, : m + 1]
            r = zb @ self.ref
            r -= wb[:, m + 1]
            self.part[k, 0] = r @ r
            self.part[k, 1:] = r @ zb

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """J and its gradient, both float64."""
        d = theta.astype(np.float64) - self.ref
        Ad = self.A @ d
        J = self.J_ref + 2.0 * float(d @ self.g_ref) + float(d @ Ad)
        g = self.g_ref + Ad
        if self.half:
            return 0.5 * J, g
        return J, 2.0 * g


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Any good point will do as the reference (the identity is exact for every t)."""
    try:
        t = np.linalg.solve(A, b)
        if np.isfinite(t).all():
            return t
    except np.linalg.LinAlgError:
        pass
    t = np.linalg.lstsq(A, b, rcond=None)[0]
    return t if np.isfinite(t).all() else np.zeros_like(b)


@contextlib.contextmanager
def kernels(
    path: str, X, y, loss: Loss, *, block_rows: int | None = None, workers: int | None = None
):
    """Yield ``(formula, make_stats)`` for ``path``.

    ``formula(theta) -> (J, grad)`` is the plain formula (blocked on the fast paths);
    ``make_stats()`` builds the :class:`Stats` kernel (stats path only, else None), lazily, so a run
    that stops at epoch 0 never pays for it.
    """
    if path == "plain":
        yield Plain(X, y, loss), None
        return
    with single_threaded_blas() as ok:
        pool = _Pool((workers or default_workers()) if ok else 1)
        try:
            formula = Blocked(X, y, loss, pool, block_rows)
            make = (lambda: Stats(X, y, loss, pool, block_rows)) if path == "stats" else None
            yield formula, make
        finally:
            pool.close()


def stats_safe(limit: float, n: int, dtype) -> bool:
    """Whether the formula cannot overflow below the divergence limit (else stats cannot tell)."""
    return limit * n * 16 < float(np.finfo(dtype).max)
