"""The fast paths' machinery: row blocks shared among threads, and sufficient statistics.

:mod:`linreg.core.fast` says when each is used and why they give the plain formula's trajectory.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
    ThreadpoolController = None

from .losses import Loss, loss_and_gradient

BLOCK_BYTES = 2 << 20  # a row block of X: about a core's L2 cache (1 to 2.7 MB measured alike)
ROW_ALIGN = 64  # block rows are a multiple of this, see aligned_rows()
STATS_CHUNKS = 4  # the first stats pass sums this many fixed row ranges, added in order


def aligned_rows(rows: int) -> int:
    """Round a block's rows up to a multiple of ROW_ALIGN.

    BLAS's matrix-vector kernels handle rows in groups and the leftover rows of a call by other
    code, which may add the m products in another order.  With blocks a multiple of the group
    (4 to 16 rows in the kernels we know of; tests/core/test_fast.py checks the BLAS at hand),
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


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread for the duration (threads of our own share the blocks instead).

    Yields whether it could: without threadpoolctl the fast paths run their blocks on one thread
    and let BLAS thread as it likes (slower; the same results to rounding).
    """
    controller = blas_controller()
    if controller is None:  # pragma: no cover
        yield False
        return
    with controller.limit(limits=1, user_api="blas"):
        yield True


@functools.lru_cache(maxsize=1)
def blas_controller():
    """threadpoolctl's controller, made once (it finds the BLAS libraries, ~1 ms); None without
    threadpoolctl."""
    return None if ThreadpoolController is None else ThreadpoolController()


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
        self.scale = loss.kind.slope_scale / n
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
        kind = loss.kind
        w, b = theta[1:], theta[0]
        r_buf, d_buf = np.empty(rows, X.dtype), np.empty(rows, X.dtype)
        for k in span:
            i = int(self.starts[k])
            xb = X[i : i + rows]
            r = r_buf[: len(xb)]
            np.matmul(xb, w, out=r)  # r = X w + b - y, in the formula's order
            r += b
            r -= y[i : i + rows]
            # the slope up to its constant (applied once at the end), and the sum of the values
            d = kind.unit(r, loss.delta, d_buf[: len(xb)])
            self.part_loss[k] = kind.unit_sum(r, d, loss.delta)
            self.part_bias[k] = np.add.reduce(d)
            np.matmul(d, xb, out=self.part_w[k])


class Stats:
    """mse / mse_half from sufficient statistics (see the module's docstring); float64 throughout.

    Two passes over X: W^T W with W = [1, X, y] (one syrk per block on a float64 copy of the
    block), then the residuals at the reference point.
    """

    def __init__(self, X, y, loss: Loss, pool: _Pool, block_rows: int | None = None) -> None:
        n, m = X.shape
        self.n, self.m, self.slope_scale = n, m, loss.kind.slope_scale  # mse 2, mse_half 1
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
        # J of mse is mean r^2, its gradient 2 (g_t + A d); mse_half: half of each
        return 0.5 * self.slope_scale * J, self.slope_scale * g


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
