"""The config's schema: each key's type, and no value (every default lives in one YAML file under
``conf/``; a field without a default is MISSING).  :func:`linreg.config.typed.typed` checks a
composed config against it."""

from __future__ import annotations

from dataclasses import dataclass, fields

from omegaconf import DictConfig, OmegaConf

from linreg.core.errors import LinregError


@dataclass
class DataConf:
    kind: str  # synthetic | csv
    n_samples: int
    n_features: int
    weights: list[float]
    bias: float
    noise_std: float
    seed: int
    n_test: int
    outlier_fraction: float
    outlier_magnitude: float
    feature_scale: float
    init: str
    init_seed: int
    path: str | None
    target: str | None
    features: list[str] | None
    standardize: bool
    test_fraction: float
    dir: str | None


@dataclass
class LossConf:
    name: str
    delta: float


@dataclass
class NameConf:
    name: str


@dataclass
class TrainConf:
    lr: float
    epochs: int
    momentum: float
    batch_size: int | None
    schedule: str
    step_size: int
    gamma: float
    eta_min: float
    shuffle_seed: int
    dtype: str
    fit_intercept: bool


@dataclass
class TrackingConf:
    experiment: str
    uri: str | None
    figures: bool
    graph: bool
    objective: str | None
    log_models: str  # best | all | none
    max_points: int
    reuse: bool


@dataclass
class LinregConf:
    data: DataConf
    loss: LossConf
    backend: NameConf
    device: NameConf
    train: TrainConf
    tracking: TrackingConf


SECTIONS = {
    "data": DataConf,
    "loss": LossConf,
    "backend": NameConf,
    "device": NameConf,
    "train": TrainConf,
    "tracking": TrackingConf,
}


def schema_keys(section: str = "") -> list[str]:
    """The keys of a section of the schema ("" for the top level)."""
    node = SECTIONS.get(section) if section else LinregConf
    return sorted(f.name for f in fields(node)) if node else []


_BOOL_WORDS = ("true", "false", "yes", "no", "on", "off")  # YAML's booleans, in any case


def check_bools(body: DictConfig) -> None:
    """A boolean key takes true or false (or YAML's yes/no/on/off): OmegaConf would also take any
    integer, so that ``tracking.reuse=2`` meant true."""
    for section, node in SECTIONS.items():
        given = body.get(section)
        if not isinstance(given, DictConfig):
            continue
        values = OmegaConf.to_container(given, resolve=False)
        for f in fields(node):
            if f.type == "bool":
                _check_bool(body, f"{section}.{f.name}", values.get(f.name, True))


_UNRESOLVED = object()  # an interpolation whose resolver is known only later (Hydra's)


def _check_bool(body: DictConfig, key: str, value) -> None:
    """``value`` of the boolean ``key`` as given (an interpolation: what it resolves to)."""
    if isinstance(value, str) and "${" in value:
        value = _resolved(body, key)
    if value is _UNRESOLVED or isinstance(value, bool):  # unresolved: OmegaConf checks it
        return
    if isinstance(value, str) and value.lower() in _BOOL_WORDS:
        return
    if value == "???":  # unset: named by run_config
        return
    raise LinregError(key, "true or false", value)


def _resolved(body: DictConfig, key: str):
    try:
        return OmegaConf.select(body, key)
    except Exception:  # a resolver known only later (Hydra's): OmegaConf checks it
        return _UNRESOLVED
