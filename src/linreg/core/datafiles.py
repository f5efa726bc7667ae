"""Datasets on disk (Parquet + a JSON of the truth, theta0 and the spec) and bring-your-own CSV."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .data import INITS, Dataset, initial_theta, linear_init
from .errors import LinregError, check_choice, check_number

META = "meta.json"
TRAIN = "train.parquet"
TEST = "test.parquet"


def _frame(X: np.ndarray, y: np.ndarray, names: list[str], target: str):
    import pandas as pd

    df = pd.DataFrame(X, columns=names, copy=False)
    df[target] = y
    return df


def save_dataset(ds: Dataset, folder: str | os.PathLike) -> Path:
    """Write the dataset atomically: the files appear together or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "spec": ds.spec,
        "digest": ds.digest,
        "theta0": ds.theta0.tolist(),
        "theta_true": None if ds.theta_true is None else ds.theta_true.tolist(),
        "feature_names": ds.feature_names,
        "target_name": ds.target_name,
        "feature_mean": None if ds.feature_mean is None else ds.feature_mean.tolist(),
        "feature_scale": None if ds.feature_scale is None else ds.feature_scale.tolist(),
        "n_train": len(ds.y),
        "n_test": len(ds.y_test),
    }
    parts = {
        TRAIN: _frame(ds.X, ds.y, ds.feature_names, ds.target_name),
        TEST: _frame(ds.X_test, ds.y_test, ds.feature_names, ds.target_name),
    }
    for name, df in parts.items():
        tmp = folder / f".{name}.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, folder / name)
    write_json_atomic(folder / META, meta)
    return folder


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def load_dataset(folder: str | os.PathLike, expect_spec: dict | None = None) -> Dataset:
    """Read a saved dataset, checking its digest and, if given, that it was made from ``expect_spec``."""
    import pandas as pd

    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise LinregError("data.dir", f"a folder holding {META} (run the generate stage)", str(folder))
    try:
        meta = json.loads(meta_path.read_text())
        names, target = meta["feature_names"], meta["target_name"]
        train = pd.read_parquet(folder / TRAIN)
        test = pd.read_parquet(folder / TEST)
        X = train[names].to_numpy(np.float32)
        y = train[target].to_numpy(np.float32)
        X_test = test[names].to_numpy(np.float32).reshape(-1, len(names))
        y_test = test[target].to_numpy(np.float32)
    except Exception as exc:  # any unreadable piece means the same thing to the user
        raise LinregError(
            "data.dir", "a readable dataset (rerun the generate stage)", str(folder),
            note=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        ) from None
    ds = Dataset(
        X=X, y=y, X_test=X_test, y_test=y_test,
        theta0=np.array(meta["theta0"], dtype=np.float64),
        theta_true=None if meta["theta_true"] is None else np.array(meta["theta_true"]),
        spec=meta["spec"], feature_names=names, target_name=target,
        feature_mean=None if meta["feature_mean"] is None else np.array(meta["feature_mean"]),
        feature_scale=None if meta["feature_scale"] is None else np.array(meta["feature_scale"]),
    )
    if ds.digest != meta["digest"]:
        raise LinregError(
            "data.dir", "an intact dataset (its arrays no longer match the digest in meta.json; "
            "rerun the generate stage)", str(folder),
        )
    if expect_spec is not None and _canon(expect_spec) != _canon(meta["spec"]):
        diff = sorted(k for k in set(expect_spec) | set(meta["spec"])
                      if _canon(expect_spec.get(k)) != _canon(meta["spec"].get(k)))
        raise LinregError(
            "data.dir", "data generated from the configured spec (rerun the generate stage)",
            str(folder), note="it differs in " + ", ".join(diff),
        )
    return ds


def _canon(v):
    return json.loads(json.dumps(v, sort_keys=True))


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


def load_csv(spec: CsvSpec) -> Dataset:
    """Read, check and split a CSV.  Every failure is one clear line naming what is wrong."""
    import pandas as pd

    path = Path(spec.path)
    if not path.is_file():
        raise LinregError("data.path", "an existing CSV file", spec.path)
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise LinregError("data.path", "a CSV with a header and rows", spec.path,
                          note="the file is empty") from None
    except Exception as exc:
        raise LinregError("data.path", "a readable CSV", spec.path,
                          note=str(exc).splitlines()[0]) from None
    if spec.target not in df.columns:
        raise LinregError("data.target", "a column of the CSV (" + ", ".join(map(str, df.columns))
                          + ")", spec.target)
    features = list(spec.features) if spec.features else [c for c in df.columns if c != spec.target]
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise LinregError("data.features", "columns of the CSV (" + ", ".join(map(str, df.columns))
                          + ")", missing)
    if not features:
        raise LinregError("data.features", "at least one feature column", [])
    for col in [*features, spec.target]:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(np.float64, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise LinregError(f"column {col!r}", "finite numbers in every row", str(df[col].iloc[row]),
                              note=f"{spec.path}, data row {row + 1}")
    X_all = df[features].to_numpy(np.float64)
    y_all = df[spec.target].to_numpy(np.float64)
    n = len(df)
    n_test = int(round(spec.test_fraction * n))
    n_train = n - n_test
    m = len(features)
    if n_train < m + 1 or n_train < 2:
        raise LinregError("data.path", f"a CSV with at least {m + 1} training rows (one per "
                          "parameter)", f"{n_train} training rows", note=spec.path)
    order = np.random.default_rng(spec.seed).permutation(n) if n_test else np.arange(n)
    tr, te = order[:n_train], order[n_train:]
    mean = scale = None
    if spec.standardize:
        mean = X_all[tr].mean(axis=0)
        scale = X_all[tr].std(axis=0)
        scale[scale == 0] = 1.0
        X_all = (X_all - mean) / scale
    theta0 = initial_theta(
        spec.init, m, spec.init_seed, linear_init(m, spec.seed) if spec.init == "walkthrough" else None
    )
    return Dataset(
        X=X_all[tr].astype(np.float32), y=y_all[tr].astype(np.float32),
        X_test=X_all[te].astype(np.float32).reshape(-1, m), y_test=y_all[te].astype(np.float32),
        theta0=theta0, theta_true=None, spec={"kind": "csv", **spec.to_dict()},
        feature_names=[str(c) for c in features], target_name=str(spec.target),
        feature_mean=mean, feature_scale=scale,
    )
