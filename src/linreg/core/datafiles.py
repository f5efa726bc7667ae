"""Datasets on disk: Parquet + a JSON of the truth, theta0 and the spec (the CSV reader is
:mod:`linreg.core.csvfile`; its names are re-exported here).

Large datasets stream: Parquet is written row group by row group from slices of X and read back
batch by batch into one preallocated array, the digest computed alongside on another thread, so
saving or loading n x m data needs about one X of memory (plus a row group), not two or three.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .csvfile import CsvSpec, load_csv  # noqa: F401 (re-exported: the pipeline reads both here)
from .data import Dataset, as_bytes
from .errors import LinregError

META = "meta.json"
TRAIN = "train.parquet"
TEST = "test.parquet"


ROW_GROUP_BYTES = 64 << 20  # Parquet row groups of about this many bytes
READ_BATCH_BYTES = 4 << 20  # rows are read back in batches of about this (cache-sized) many bytes


def save_dataset(
    ds: Dataset, folder: str | os.PathLike, *, rows_per_group: int | None = None
) -> Path:
    """Write the dataset atomically: the files appear together or not at all.

    Written in row groups from slices of the arrays (no copy of X as a whole), while the digest
    is computed on another thread (hashing releases the GIL): memory stays near the size of X.
    ``rows_per_group`` overrides the row-group size (tests).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "spec": ds.spec,
        "theta0": ds.theta0.tolist(),
        "theta_true": None if ds.theta_true is None else ds.theta_true.tolist(),
        "feature_names": ds.feature_names,
        "target_name": ds.target_name,
        "feature_mean": None if ds.feature_mean is None else ds.feature_mean.tolist(),
        "feature_scale": None if ds.feature_scale is None else ds.feature_scale.tolist(),
        "n_train": len(ds.y),
        "n_test": len(ds.y_test),
    }
    parts = {TRAIN: (ds.X, ds.y), TEST: (ds.X_test, ds.y_test)}
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(lambda: ds.digest)
        for name, (X, y) in parts.items():
            tmp = folder / f".{name}.tmp"
            _write_parquet(tmp, X, y, ds.feature_names, ds.target_name, rows_per_group)
            os.replace(tmp, folder / name)
        meta["digest"] = digest.result()
    write_json_atomic(folder / META, meta)
    return folder


def _write_parquet(
    path: Path,
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    target: str,
    rows: int | None,
    compression: str = "snappy",
) -> None:
    import pyarrow as pa  # pyarrow: only when a dataset is written
    import pyarrow.parquet as pq

    n, m = X.shape
    schema = pa.schema(
        [pa.field(str(c), pa.from_numpy_dtype(X.dtype)) for c in names]
        + [pa.field(str(target), pa.from_numpy_dtype(y.dtype))]
    )
    rows = max(1, min(n, rows or ROW_GROUP_BYTES // ((m + 1) * X.itemsize)))  # 1: an empty set
    cols = np.empty((m, rows), dtype=X.dtype)  # one row group's features, each contiguous
    with pq.ParquetWriter(path, schema, compression=compression, use_dictionary=False) as writer:
        for i in range(0, n, rows):
            k = min(rows, n - i)
            _transpose_into(cols[:, :k], X[i : i + k])
            arrays = [pa.array(c[:k]) for c in cols]  # views of the buffer, no copy
            arrays.append(pa.array(np.ascontiguousarray(y[i : i + k])))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=k)
        if n == 0:
            writer.write_table(schema.empty_table())


def _transpose_into(out: np.ndarray, X: np.ndarray, step: int = 256) -> None:
    """out = X.T, a few hundred rows at a time: each piece of X is read from the cache m times
    instead of from memory (a plain transposed copy reads a cache line per value)."""
    for a in range(0, X.shape[0], step):
        out[:, a : a + step] = X[a : a + step].T


def _read_parquet(
    path: Path, names: list[str], target: str, on_rows=None, batch_rows: int | None = None
):
    """X (n, m) and y (n,) in the file's dtype (float32 synthetic data, float64 a CSV's), filled in
    place (no second copy of X).

    One row group is decoded at a time (arrow's own reader would read ahead, holding much of the
    file), and copied into X in cache-sized batches of rows; ``on_rows(X_rows)`` sees each
    batch's rows of X in order, once they are filled.
    """
    import pyarrow.parquet as pq  # pyarrow: only when a dataset is read

    pf = pq.ParquetFile(path)
    n, m = pf.metadata.num_rows, len(names)
    dtype = pf.schema_arrow.field(target).type.to_pandas_dtype()
    X = np.empty((n, m), dtype=dtype)
    y = np.empty(n, dtype=dtype)
    batch_rows = batch_rows or max(1, READ_BATCH_BYTES // ((m + 1) * X.itemsize))
    at = 0
    for g in range(pf.num_row_groups):
        group = pf.read_row_group(g, columns=[*names, target])
        k = group.num_rows
        if at + k > n:
            raise ValueError(f"{path.name} holds more rows than its metadata says ({n})")
        cols = [group.column(j).to_numpy() for j in range(m + 1)]
        for a in range(0, k, batch_rows):
            b = min(k, a + batch_rows)
            rows = X[at + a : at + b]
            for j in range(m):
                rows[:, j] = cols[j][a:b]
            y[at + a : at + b] = cols[m][a:b]
            if on_rows is not None:
                on_rows(rows)
        at += k
        del group, cols
    if at != n:
        raise ValueError(f"{path.name} holds {at} rows, its metadata says {n}")
    return X, y


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def load_dataset(
    folder: str | os.PathLike, expect_spec: dict | None = None, *, batch_rows: int | None = None
) -> Dataset:
    """Read a saved dataset, checking its digest and, if given, that ``expect_spec`` made it.

    X is filled in place as the file is read, and hashed on another thread as its rows arrive, so
    memory stays near the size of X and the check costs no second pass.  ``batch_rows``
    overrides the read batch size (tests).
    """
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise LinregError("dir", f"a folder holding {META} (run the generate stage)", str(folder))
    h = hashlib.sha256()
    try:
        meta = json.loads(meta_path.read_text())
        arrays = _read_arrays(folder, meta, h, batch_rows)
    except Exception as exc:  # any unreadable piece means the same thing to the user
        raise LinregError(
            "dir",
            "a readable dataset (rerun the generate stage)",
            str(folder),
            note=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        ) from None
    ds = _dataset(meta, *arrays)
    for a in ds.digested_arrays()[1:]:  # X is hashed already
        h.update(as_bytes(a))
    ds.__dict__["digest"] = h.hexdigest()  # the cached_property's value
    if ds.digest != meta["digest"]:
        raise LinregError(
            "dir",
            "an intact dataset (its arrays no longer match the digest in meta.json; "
            "rerun the generate stage)",
            str(folder),
        )
    if expect_spec is not None:
        _check_spec(folder, expect_spec, meta["spec"])
    return ds


def _read_arrays(folder: Path, meta: dict, h, batch_rows: int | None):
    """X, y, X_test, y_test from the Parquet files, X's rows fed to the hash ``h`` in order."""
    names, target = meta["feature_names"], meta["target_name"]
    with ThreadPoolExecutor(1) as pool:  # one worker: the hash sees the rows in order
        pending = []
        X, y = _read_parquet(
            folder / TRAIN,
            names,
            target,
            batch_rows=batch_rows,
            on_rows=lambda rows: pending.append(pool.submit(h.update, as_bytes(rows))),
        )
        for job in pending:
            job.result()
    X_test, y_test = _read_parquet(folder / TEST, names, target, batch_rows=batch_rows)
    return X, y, X_test, y_test


def _dataset(meta: dict, X, y, X_test, y_test) -> Dataset:
    """The dataset the arrays and meta.json's values make."""

    def optional(key):
        return None if meta[key] is None else np.array(meta[key])

    return Dataset(
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        theta0=np.array(meta["theta0"], dtype=np.float64),
        theta_true=optional("theta_true"),
        spec=meta["spec"],
        feature_names=meta["feature_names"],
        target_name=meta["target_name"],
        feature_mean=optional("feature_mean"),
        feature_scale=optional("feature_scale"),
    )


def _check_spec(folder: Path, expect_spec: dict, spec: dict) -> None:
    """The dataset was generated from ``expect_spec``, or one line naming the keys that differ."""
    if _canon(expect_spec) == _canon(spec):
        return
    diff = sorted(
        k for k in set(expect_spec) | set(spec) if _canon(expect_spec.get(k)) != _canon(spec.get(k))
    )
    raise LinregError(
        "dir",
        "data generated from the configured spec (rerun the generate stage)",
        str(folder),
        note="it differs in " + ", ".join(diff),
    )


def _canon(v):
    return json.loads(json.dumps(v, sort_keys=True))
