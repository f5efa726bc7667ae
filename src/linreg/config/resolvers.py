"""linreg's own OmegaConf resolvers, registered when :mod:`linreg.config` is imported:

* ``${linreg.run_folder:}`` names a run's folder by its choices (``hydra.run.dir``,
  ``hydra.sweep.subdir`` in conf/config.yaml), as :mod:`linreg.run.names` names the run;
* ``${linreg.critical_lr:k}`` is k × 2/λ_max of the config's own data and loss
  (conf/lesson/lr.yaml).
"""

from __future__ import annotations

import functools
import json

from omegaconf import DictConfig, OmegaConf

from linreg.config.data import dataset
from linreg.config.typed import data_source
from linreg.core.curvature import CURVATURE, curvature
from linreg.run.names import folder_name, loss_label, name_parts


def run_folder(*, _root_: DictConfig) -> str:
    """The run's folder name from its choices, whatever their YAML types (a value that does not
    fit is the checks' to report, not the folder name's)."""
    r = _root_
    lr, epochs = _as(float, r.train.lr), _as(int, r.train.epochs)
    delta = _as(float, r.loss.get("delta")) if r.loss.name == "huber" else None
    loss = loss_label(r.loss.name, delta)
    return folder_name(name_parts(r.backend.name, loss, lr, epochs, r.device.name))


def _as(kind, value) -> str:
    try:
        return f"{kind(value):g}" if kind is float else str(kind(value))
    except (TypeError, ValueError):
        return str(value)


@functools.lru_cache(maxsize=8)
def _critical_lr_of(data_key: str, data_dir: str | None, loss: str, intercept: bool) -> float:
    spec = data_source(OmegaConf.create(json.loads(data_key)))
    data = dataset(spec, data_dir)  # the pipeline's data/ when data.dir is set, as a run reads it
    return curvature(data.X, loss, intercept).critical_lr


def critical_lr(multiple, *, _root_) -> float:
    """``${linreg.critical_lr:0.5}``: half the critical lr of the config's own data and loss (the
    data drawn, or read from data.dir, as a run will read it)."""
    data = OmegaConf.to_container(_root_.data, resolve=True)
    loss = _root_.loss.name
    name = loss if loss in CURVATURE else "mse"  # mae: the mse bound of the same data
    key = json.dumps({k: v for k, v in data.items() if k != "dir"}, sort_keys=True)
    intercept = bool(OmegaConf.select(_root_, "train.fit_intercept", default=True))
    return float(multiple) * _critical_lr_of(key, data.get("dir"), name, intercept)


def register() -> None:
    """Make ``${linreg.run_folder:}`` and ``${linreg.critical_lr:k}`` known to OmegaConf (once)."""
    for name, resolver in (("linreg.run_folder", run_folder), ("linreg.critical_lr", critical_lr)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
