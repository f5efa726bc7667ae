"""The Hydra schema (structured configs) and the adapter from config to the core's typed arguments.

``DictConfig`` stops here: :func:`job_from_cfg` turns a composed config into plain dataclasses
(:class:`Job`) that the runner and the core take.  Defaults are the core's own (``DataSpec()``,
``TrainSettings()``): the schema refers to them instead of repeating them.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .core.data import DataSpec
from .core.datafiles import CsvSpec
from .core.device import resolve_device
from .core.errors import LinregError, check_choice
from .core.losses import Loss
from .core.optim import TrainSettings

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
DATA_KINDS = ("synthetic", "csv")
_SPEC, _TRAIN, _CSV = DataSpec(), TrainSettings(), CsvSpec.__dataclass_fields__


@dataclass
class DataConf:
    kind: str = "synthetic"  # synthetic | csv
    n_samples: int = _SPEC.n_samples
    n_features: int = _SPEC.n_features
    weights: list[float] = field(default_factory=lambda: list(_SPEC.weights))
    bias: float = _SPEC.bias
    noise_std: float = _SPEC.noise_std
    seed: int = _SPEC.seed
    n_test: int = _SPEC.n_test
    outlier_fraction: float = _SPEC.outlier_fraction
    outlier_magnitude: float = _SPEC.outlier_magnitude
    feature_scale: float = _SPEC.feature_scale
    init: str = _SPEC.init
    init_seed: int = _SPEC.init_seed
    # bring-your-own CSV (kind: csv)
    path: str | None = None
    target: str | None = None
    features: list[str] | None = None
    standardize: bool = _CSV["standardize"].default
    test_fraction: float = _CSV["test_fraction"].default
    # read saved data from this folder (the DVC pipeline's data/) instead of generating it
    dir: str | None = None


@dataclass
class LossConf:
    name: str = _TRAIN.loss.name
    delta: float = _TRAIN.loss.delta


@dataclass
class BackendConf:
    name: str = MISSING


@dataclass
class DeviceConf:
    name: str = _TRAIN.device


@dataclass
class TrainConf:
    lr: float = _TRAIN.lr
    epochs: int = _TRAIN.epochs
    momentum: float = _TRAIN.momentum
    batch_size: int | None = _TRAIN.batch_size
    schedule: str = _TRAIN.schedule
    step_size: int = _TRAIN.step_size
    gamma: float = _TRAIN.gamma
    eta_min: float = _TRAIN.eta_min
    shuffle_seed: int = _TRAIN.shuffle_seed
    dtype: str = _TRAIN.dtype


@dataclass
class TrackingConf:
    experiment: str = "linreg"
    uri: str | None = None  # default: MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db
    sweep_name: str = "sweep"  # names the sweep folder and the parent run
    parent_run_id: str | None = None  # set by linreg.train for the runs of a sweep
    vary: list[str] = field(default_factory=list)  # swept keys beyond the usual five (run names)
    figures: bool = True  # log per-run figures
    sweep_figures: bool = True  # the parent run's comparison figures (evaluate draws DVC's)
    graph: bool = True  # log the computation graph
    objective: str | None = None  # a result key each run returns as a float (Optuna)


@dataclass
class LinregConf:
    data: DataConf = field(default_factory=DataConf)
    loss: LossConf = field(default_factory=LossConf)
    backend: BackendConf = field(default_factory=BackendConf)
    device: DeviceConf = field(default_factory=DeviceConf)
    train: TrainConf = field(default_factory=TrainConf)
    tracking: TrackingConf = field(default_factory=TrackingConf)
    run_name: str = "${linreg.run_name:}"
    run_folder: str = "${linreg.run_folder:}"


_SECTIONS = {
    "data": DataConf,
    "loss": LossConf,
    "backend": BackendConf,
    "device": DeviceConf,
    "train": TrainConf,
    "tracking": TrackingConf,
}


def register() -> None:
    ConfigStore.instance().store(name="linreg_schema", node=LinregConf)
    for name, fn in (("linreg.run_name", _run_name), ("linreg.run_folder", _run_folder)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


# --- run names ----------------------------------------------------------------------------------
def run_parts(cfg: Any) -> list[str]:
    """The choices that name a run: backend, loss, lr, epochs, device, then any other swept key."""
    loss = cfg.loss.name if cfg.loss.name != "huber" else f"huber δ={cfg.loss.delta:g}"
    parts = [
        cfg.backend.name,
        loss,
        f"lr={cfg.train.lr:g}",
        f"ep={cfg.train.epochs}",
        cfg.device.name,
    ]
    for key in cfg.tracking.vary:
        if key not in _NAMED_KEYS:
            parts.append(f"{key.split('.')[-1]}={OmegaConf.select(cfg, key)}")
    return parts


_NAMED_KEYS = {
    "backend",
    "backend.name",
    "loss",
    "loss.name",
    "train.lr",
    "train.epochs",
    "device",
    "device.name",
}


def _run_name(*, _root_: DictConfig) -> str:
    return " · ".join(run_parts(_root_))


def _run_folder(*, _root_: DictConfig) -> str:
    text = "-".join(run_parts(_root_)).replace("δ", "delta")
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", text)


# --- config -> typed job -------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One run, in plain types: what the runner needs and nothing of Hydra."""

    data: DataSpec | CsvSpec
    data_dir: str | None
    settings: TrainSettings
    backend: str
    run_name: str
    run_folder: str
    tracking: dict
    params: dict  # the resolved config, flattened, for MLflow


@contextmanager
def naming(prefix: str):
    """Re-raise a core LinregError under the config key the user typed."""
    try:
        yield
    except LinregError as err:
        name = _GROUP_KEYS.get(err.param, f"{prefix}{err.param}")
        raise err.renamed(name) from None


_GROUP_KEYS = {"loss": "loss", "backend": "backend", "device": "device"}


def data_source(d: Any) -> DataSpec | CsvSpec:
    """The data section as the core's spec (DataSpec for synthetic data, CsvSpec for a CSV)."""
    d = OmegaConf.to_container(d, resolve=True) if isinstance(d, DictConfig) else dict(d)
    with naming("data."):
        check_choice("kind", d["kind"], DATA_KINDS)
        if d["kind"] == "csv":
            for key in ("path", "target"):
                if not d.get(key):
                    raise LinregError(
                        key, "set for csv data (data.path=... data.target=...)", d.get(key)
                    )
            return CsvSpec(
                path=d["path"],
                target=d["target"],
                features=d.get("features"),
                standardize=d["standardize"],
                test_fraction=d["test_fraction"],
                seed=d["seed"],
                init=d["init"],
                init_seed=d["init_seed"],
            )
        keys = {f.name for f in fields(DataSpec)}
        return DataSpec(**{k: v for k, v in d.items() if k in keys})


def _check_keys(cfg: DictConfig) -> None:
    """Keys the schema does not have (added with ``+key=...``) are typos too."""
    for name, schema in [("", LinregConf), *_SECTIONS.items()]:
        node = cfg[name] if name else cfg
        known = {f.name for f in fields(schema)}
        extra = sorted(k for k in node if k not in known and (name or k != "hydra"))
        if extra:
            raise LinregError(
                f"{name}.{extra[0]}" if name else extra[0],
                f"one of the keys of {name or 'the config'} (" + ", ".join(sorted(known)) + ")",
                extra[0],
            )


def job_from_cfg(cfg: DictConfig) -> Job:
    """Validate a composed config and adapt it to plain typed arguments; raises LinregError."""
    _check_keys(cfg)
    data = data_source(cfg.data)
    with naming("loss."):
        loss = Loss(cfg.loss.name, cfg.loss.delta)
    t = OmegaConf.to_container(cfg.train, resolve=True)
    with naming("train."):
        settings = TrainSettings(loss=loss, device=cfg.device.name, **t)
    with naming(""):
        from .core.backends import BACKENDS

        check_choice("backend", cfg.backend.name, BACKENDS)
        from .core.device import DEVICES

        check_choice("device", cfg.device.name, DEVICES)
    if isinstance(data, DataSpec):
        with naming("train."):
            settings.check_against(data.n_samples)
    return Job(
        data=data,
        data_dir=cfg.data.dir,
        settings=settings,
        backend=cfg.backend.name,
        run_name=cfg.run_name,
        run_folder=cfg.run_folder,
        tracking=OmegaConf.to_container(cfg.tracking, resolve=True),
        params=flat_params(cfg),
    )


def check_runnable(job: Job) -> None:
    """For a single run: a device that is absent is an error (a sweep records it as skipped)."""
    with naming(""):
        resolve_device(job.settings.device, job.backend)


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """The resolved config as MLflow params: dotted keys, tracking internals left out."""
    out: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}{k}.", v)
        else:
            out[prefix[:-1]] = str(node)

    for section in ("data", "loss", "backend", "device", "train"):
        walk(f"{section}.", OmegaConf.to_container(cfg[section], resolve=True))
    out["tracking.experiment"] = cfg.tracking.experiment
    return out


register()
