"""A run's data, loaded here alone: read from ``data.dir`` (the DVC pipeline's data/, checked
against the run's spec) or made in memory (drawn, or read from its CSV); and its exact optimum,
solved once per process for every run on the same data.

Drawn data are kept in linreg's cache on this machine (:func:`drawn`): torch draws them, and
importing torch costs seconds, most of a short numpy run's start; the next process reads them
back, checked against their digest, in a fraction of that."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from linreg.config.paths import cache_dir
from linreg.config.typed import RunConfig, naming
from linreg.core.data import Dataset, DataSpec, generate
from linreg.core.datafiles import CsvSpec, load_csv, load_dataset, save_dataset
from linreg.core.errors import LinregError
from linreg.core.evaluation import find_optimum

CACHED_VALUES = 2_000_000  # drawn data up to this many numbers (8 MB) are kept in the cache


@functools.lru_cache(maxsize=4)
def dataset(spec: DataSpec | CsvSpec, data_dir: str | None = None) -> Dataset:
    """The data of ``spec``: read from ``data_dir`` when it is set (checked against ``spec``),
    else drawn (synthetic) or read from its CSV.  Cached, so the runs of a sweep in one process
    share one copy.  Raises the core's errors, naming the core's keys (``path``, ``dir``)."""
    if data_dir:
        kind = "csv" if isinstance(spec, CsvSpec) else "synthetic"
        return load_dataset(data_dir, expect_spec={"kind": kind, **spec.to_dict()})
    return drawn(spec) if isinstance(spec, DataSpec) else load_csv(spec)


def drawn(spec: DataSpec) -> Dataset:
    """The data of ``spec`` as :func:`linreg.core.data.generate` draws them, bit for bit: read
    from the cache when an intact copy is there, else drawn and (when small) kept there.  A
    damaged copy is drawn again and replaced; a cache that cannot be read or written is skipped."""
    folder = _cached(spec)
    data = _read(folder, {"kind": "synthetic", **spec.to_dict()}) if folder else None
    if data is None:
        data = generate(spec)
        if folder and (spec.n_samples + spec.n_test) * (spec.n_features + 1) <= CACHED_VALUES:
            _keep(data, folder)
    return data


def _read(folder: Path, spec: dict) -> Dataset | None:
    """The cached copy in ``folder``, or None: absent, unreadable, or damaged (then removed)."""
    try:
        if not (folder / "meta.json").is_file():
            return None
        return load_dataset(folder, expect_spec=spec)
    except OSError:
        return None
    except LinregError:  # damaged or half-removed: drawn again, and replaced
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _cached(spec: DataSpec) -> Path | None:
    """The cache folder of ``spec``'s data, named by the spec and torch's version (its random
    numbers may change with a release); None where there is no home to hold a cache."""
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "none"
    key = json.dumps({"spec": spec.to_dict(), "torch": torch}, sort_keys=True)
    try:
        return cache_dir() / "data" / hashlib.sha256(key.encode()).hexdigest()[:32]
    except RuntimeError:  # Path.home(): no HOME and no entry in the password database
        return None


def _keep(data: Dataset, folder: Path) -> None:
    """``data`` saved whole beside ``folder`` and moved into place in one step; a process that
    got there first keeps its copy (the same numbers)."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}")
    try:
        save_dataset(data, tmp)
        os.replace(tmp, folder)
    except OSError:  # read-only, full, or another process's copy already in place
        pass
    finally:  # whatever stopped it (a signal too), no half-made copy is left behind
        shutil.rmtree(tmp, ignore_errors=True)


def load_data(run: RunConfig) -> Dataset:
    """The run's data (:func:`dataset`), checked trainable in the run's dtype; the core's errors
    are raised naming the ``data.*`` key the user typed."""
    with naming("data."):
        data = dataset(run.data, run.data_dir)
    data.check_trainable_in(run.settings.dtype)  # a CSV's float64 numbers, trained in float32
    return data


@dataclass(frozen=True)
class _OptimumOf:
    """The key of an exact optimum: the data (by its digest), the loss and the intercept."""

    digest: str
    loss: object
    fit_intercept: bool
    data: Dataset = field(compare=False, hash=False)


@functools.lru_cache(maxsize=8)
def _solved(key: _OptimumOf):
    return find_optimum(key.data, key.loss, key.fit_intercept)


def optimum_of(data: Dataset, loss, fit_intercept: bool = True):
    """The exact optimum, solved once per (data, loss, intercept) in a process: one serves every
    run."""
    return _solved(_OptimumOf(data.digest, loss, fit_intercept, data))
