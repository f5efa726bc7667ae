"""Exact sums of float64 products, rounded once: the residuals of iterative refinement.

Every float64 is an integer times a power of two, so an array of them is an array of Python
integers over one common power of two (:func:`as_integers`).  Products and sums of those are
exact, however large the integers grow; the result is rounded to float64 once, at the end
(Python's int / int is correctly rounded).  n * m of a least-squares problem is small enough
(NIST's Filip: 82 x 11) that this costs milliseconds.
"""

from __future__ import annotations

import numpy as np


def as_integers(a, low=None) -> tuple[np.ndarray, int]:
    """``(N, E)`` with ``a + low == N * 2**E`` exactly: N an object array of Python ints."""
    parts = np.asarray(a, dtype=np.float64) if low is None else np.stack((a, low))
    mant, exp = np.frexp(parts)
    M = (mant * 2.0**53).astype(np.int64)  # exact: a float64 has 53 significant bits
    e = exp.astype(np.int64) - 53
    nonzero = M != 0
    E = int(e[nonzero].min()) if nonzero.any() else 0
    N = np.left_shift(M.astype(object), np.where(nonzero, e - E, 0).astype(object))
    return (N if low is None else N[0] + N[1]), E


def to_float(N: np.ndarray, E: int) -> np.ndarray:
    """N * 2**E rounded to float64 (correctly: one rounding of the exact value)."""
    flat = N.ravel()
    if E >= 0:
        out = [float(v << E) for v in flat]
    else:
        d = 1 << -E
        out = [v / d for v in flat]
    return np.array(out, dtype=np.float64).reshape(N.shape)


def _common(*terms: tuple[np.ndarray, int]) -> tuple[list[np.ndarray], int]:
    """The integer arrays of ``terms`` (N, E) over their smallest power of two."""
    E = min(e for _, e in terms)
    return [N * (1 << (e - E)) if e > E else N for N, e in terms], E


def augmented_residuals(A, y, x, r) -> tuple[np.ndarray, np.ndarray]:
    """f = y - r - A x and g = -A^T r exactly, each rounded once to float64.

    ``A`` and ``y`` are (N, E) pairs from :func:`as_integers` (made once per problem); ``x`` and
    ``r`` float64 arrays.  These are the residuals of the augmented system [I A; A^T 0] [r; x] =
    [y; 0] whose solution is the least-squares one (Bjorck's refinement).
    """
    (AN, AE), (yN, yE) = A, y
    xN, xE = as_integers(x)
    rN, rE = as_integers(r)
    (yy, rr, Ax), E = _common((yN, yE), (rN, rE), (AN.dot(xN), AE + xE))
    f = to_float(yy - rr - Ax, E)
    g = -to_float(AN.T.dot(rN), AE + rE)
    return f, g
