"""A run's data, loaded here alone: read from ``data.dir`` (the DVC pipeline's data/, checked
against the run's spec) or made in memory (drawn, or read from its CSV); and its exact optimum,
solved once per process for every run on the same data."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from linreg.config.typed import RunConfig, naming
from linreg.core.data import Dataset, DataSpec, generate
from linreg.core.datafiles import CsvSpec, load_csv, load_dataset
from linreg.core.evaluation import find_optimum


@functools.lru_cache(maxsize=4)
def dataset(spec: DataSpec | CsvSpec, data_dir: str | None = None) -> Dataset:
    """The data of ``spec``: read from ``data_dir`` when it is set (checked against ``spec``),
    else drawn (synthetic) or read from its CSV.  Cached, so the runs of a sweep in one process
    share one copy.  Raises the core's errors, naming the core's keys (``path``, ``dir``)."""
    if data_dir:
        kind = "csv" if isinstance(spec, CsvSpec) else "synthetic"
        return load_dataset(data_dir, expect_spec={"kind": kind, **spec.to_dict()})
    return generate(spec) if isinstance(spec, DataSpec) else load_csv(spec)


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
