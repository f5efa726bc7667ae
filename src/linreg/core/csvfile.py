"""Bring-your-own data: a CSV read in float64, its decimals kept to about 32 digits when small.

The numbers are stored as float64 whatever ``train.dtype`` says (the dtype decides the training
arithmetic only).  A decimal such as 0.1 has no float64 value, and on an ill-conditioned design
(NIST's Filip) the 1e-16 that rounding drops moves the exact least-squares answer in its eighth
digit.  So for a CSV of up to ``EXACT_VALUES`` numbers the text is read again and what rounding
dropped is kept beside each array (``X_low``, ``y_low``: text value = X + X_low to about 1e-32);
the optimum is solved for the numbers as written (:mod:`linreg.core.solvers`).
"""

from __future__ import annotations

import decimal
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .data import INITS, Dataset, initial_theta, linear_init
from .errors import LinregError, check_choice, check_number

EXACT_VALUES = 1 << 20  # a CSV with up to this many numbers keeps its decimals' low parts


@dataclass(frozen=True)
class CsvSpec:
    """Bring-your-own data: a CSV, its target column and feature columns (default: all others)."""

    path: str
    target: str
    features: tuple[str, ...] | None = None
    standardize: bool = False
    test_fraction: float = 0.2
    seed: int = 42  # shuffles the train/test split and seeds the walkthrough init
    init: str = "walkthrough"
    init_seed: int = 0

    def __post_init__(self) -> None:
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features))
        check_number("test_fraction", self.test_fraction, ge=0, lt=1)
        check_number("seed", self.seed, ge=0, integer=True)
        check_choice("init", self.init, INITS)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["features"] = None if self.features is None else list(self.features)
        return d


def _read(spec: CsvSpec, **kwargs):
    """The CSV as a DataFrame; an unreadable file is one line naming ``path``."""
    import pandas as pd  # pandas: only when a CSV is read

    path = Path(spec.path)
    if not path.is_file():
        raise LinregError("path", "an existing CSV file", spec.path)
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise LinregError(
            "path", "a CSV with a header and rows", spec.path, note="the file is empty"
        ) from None
    except Exception as exc:
        raise LinregError(
            "path", "a readable CSV", spec.path, note=str(exc).splitlines()[0]
        ) from None


def _columns(spec: CsvSpec, df) -> list[str]:
    """The feature columns, checked against the file's header."""
    if spec.target not in df.columns:
        header = ", ".join(map(str, df.columns))
        raise LinregError("target", f"a column of the CSV ({header})", spec.target)
    features = list(spec.features) if spec.features else [c for c in df.columns if c != spec.target]
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise LinregError(
            "features", "columns of the CSV (" + ", ".join(map(str, df.columns)) + ")", missing
        )
    if not features:
        raise LinregError("features", "at least one feature column", [])
    return features


def _check_numbers(spec: CsvSpec, df, columns: list[str]) -> None:
    import pandas as pd  # pandas: only when a CSV is read

    for col in columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(np.float64, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise LinregError(
                f"column {col!r}",
                "finite numbers in every row",
                str(df[col].iloc[row]),
                note=f"{spec.path}, data row {row + 1}",
            )


def split_decimals(texts) -> tuple[np.ndarray, np.ndarray]:
    """(hi, low): hi = the decimal rounded to float64 (correctly, by Python's ``float``), low = the
    rest rounded to float64, so hi + low is the decimal to about 1e-32 relative."""
    hi = np.array([float(t) for t in texts], dtype=np.float64)
    with decimal.localcontext(prec=60):
        pairs = zip(texts, hi, strict=True)
        low = [float(decimal.Decimal(t.strip()) - decimal.Decimal(h)) for t, h in pairs]
    return hi, np.array(low, dtype=np.float64)


def _exact_columns(spec: CsvSpec, columns: list[str]):
    """Each column's float64 values and low parts, from the text; None when the CSV is large."""
    df = _read(spec, usecols=columns, dtype=str)
    if df.size > EXACT_VALUES:
        return None
    parts = [split_decimals(df[c].tolist()) for c in columns]
    return np.column_stack([p[0] for p in parts]), np.column_stack([p[1] for p in parts])


def _values(spec: CsvSpec, df, columns: list[str]):
    """The columns as float64 values and, read exactly from the text, their low parts (None when
    the data is standardized or large)."""
    exact = None if spec.standardize else _exact_columns(spec, columns)
    if exact is None:
        return df[columns].apply(lambda c: c.astype(np.float64)).to_numpy(), None
    return exact


def _standardized(X: np.ndarray, train_rows: np.ndarray):
    """X scaled to the training rows' mean 0 and standard deviation 1 (a constant column kept),
    with that mean and scale."""
    mean = X[train_rows].mean(axis=0)
    scale = X[train_rows].std(axis=0)
    scale[scale == 0] = 1.0
    return (X - mean) / scale, mean, scale


def load_csv(spec: CsvSpec) -> Dataset:
    """Read, check and split a CSV into float64 arrays.  Every failure is one clear line naming
    what is wrong, in the spec's terms (``path``, ``target``, ``features``; the pipeline names them
    ``data.path`` ...) or the column's."""
    df = _read(spec)
    features = _columns(spec, df)
    _check_numbers(spec, df, [*features, spec.target])
    n, m = len(df), len(features)
    n_test = round(spec.test_fraction * n)
    n_train = n - n_test
    if n_train < m + 1 or n_train < 2:
        raise LinregError(
            "path",
            f"a CSV with at least {m + 1} training rows (one per parameter)",
            f"{n_train} training rows",
            note=spec.path,
        )
    W, W_low = _values(spec, df, [*features, spec.target])
    X_all, y_all = W[:, :m], W[:, m]
    order = np.random.default_rng(spec.seed).permutation(n) if n_test else np.arange(n)
    tr, te = order[:n_train], order[n_train:]
    mean = scale = None
    if spec.standardize:
        X_all, mean, scale = _standardized(X_all, tr)
    theta0 = initial_theta(
        spec.init,
        m,
        spec.init_seed,
        linear_init(m, spec.seed) if spec.init == "walkthrough" else None,
    )
    return Dataset(
        X=np.ascontiguousarray(X_all[tr]),
        y=y_all[tr],
        X_test=X_all[te].reshape(-1, m),
        y_test=y_all[te],
        theta0=theta0,
        theta_true=None,
        spec={"kind": "csv", **spec.to_dict()},
        feature_names=[str(c) for c in features],
        target_name=str(spec.target),
        feature_mean=mean,
        feature_scale=scale,
        X_low=None if W_low is None else np.ascontiguousarray(W_low[tr, :m]),
        y_low=None if W_low is None else W_low[tr, m],
    )
