"""The config's types, and the adapter from a composed config to the core's typed arguments.

Every value's default lives in one YAML file under ``conf/`` (``conf/config.yaml`` and the files
of its groups).  The dataclasses below give each key its *type* only (no defaults): a composed
config is checked against them by :func:`run_config`, which is where ``DictConfig`` stops and
plain dataclasses (:class:`RunConfig`, the core's ``TrainSettings`` and data specs) begin.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from linreg.config.schema import LinregConf, TrackingConf, check_bools
from linreg.core.backends import BACKENDS
from linreg.core.data import DataSpec
from linreg.core.datafiles import CsvSpec
from linreg.core.device import DEVICES, resolve_device
from linreg.core.errors import LinregError, check_choice, check_number
from linreg.core.losses import Loss
from linreg.core.optim import TrainSettings
from linreg.core.resources import check_data_fits, check_trajectory_fits
from linreg.run.names import loss_label, name_parts, run_name
from linreg.run.record import NUMERIC

DATA_KINDS = ("synthetic", "csv")
GROUPS = ("data", "loss", "backend", "device")


# --- the typed run -----------------------------------------------------------------------------
Tracking = TrackingConf  # where a run is recorded: the schema's own section, as typed


@dataclass(frozen=True)
class RunConfig:
    """One run, in plain types: what the runner needs and nothing of Hydra."""

    data: DataSpec | CsvSpec
    data_dir: str | None
    settings: TrainSettings
    backend: str
    tracking: Tracking
    params: dict[str, str]  # the resolved config, flattened: MLflow's params

    def run_name(self, vary: dict[str, str] | None = None) -> str:
        """The run's name (:mod:`linreg.run.names`): its choices, then what its sweep varies."""
        s = self.settings
        loss = loss_label(s.loss.name, f"{s.loss.delta:g}" if s.loss.name == "huber" else None)
        return run_name(name_parts(self.backend, loss, f"{s.lr:g}", str(s.epochs), s.device, vary))


@contextmanager
def naming(prefix: str):
    """Re-raise a core LinregError under the config key the user typed."""
    try:
        yield
    except LinregError as err:
        keep = err.param in GROUPS or " " in err.param  # a group, or "column 'x'" of a CSV
        name = err.param if keep else f"{prefix}{err.param}"
        raise err.renamed(name) from None


def typed(cfg: DictConfig) -> DictConfig:
    """``cfg`` checked against the schema: unknown keys and wrong types raise OmegaConf's errors
    (:func:`linreg.config.hydra_errors.explain` turns them into one line)."""
    body = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    check_bools(body)
    return OmegaConf.merge(OmegaConf.structured(LinregConf), body)


def run_config(cfg: DictConfig) -> RunConfig:
    """Check a composed config and adapt it to plain typed arguments; raises LinregError (or
    OmegaConf's errors for unknown keys and wrong types)."""
    cfg = typed(cfg)
    check_set(cfg)
    data = data_source(cfg.data)
    loss_cfg = OmegaConf.to_container(cfg.loss)
    with naming("loss."):
        loss = Loss(loss_cfg["name"], *([loss_cfg["delta"]] if loss_cfg["delta"] != "???" else []))
    with naming(""):
        check_choice("backend", cfg.backend.name, BACKENDS)
        check_choice("device", cfg.device.name, DEVICES)
    with naming("train."):
        settings = TrainSettings(
            loss=loss, device=cfg.device.name, **OmegaConf.to_container(cfg.train, resolve=True)
        )
    check_fits(data, settings, cfg.backend.name)
    if not settings.fit_intercept and getattr(data, "standardize", False):  # centring needs b
        raise LinregError("data.standardize", "false when train.fit_intercept is false", True)
    t = cfg.tracking
    check_tracking(t)
    return RunConfig(
        data=data,
        data_dir=cfg.data.dir,
        settings=settings,
        backend=cfg.backend.name,
        tracking=OmegaConf.to_object(t),
        params=flat_params(cfg),
    )


def check_set(cfg: DictConfig) -> None:
    """Every choice and every train and tracking key is set (``~key`` removes a default)."""
    groups = [
        f"{g}.name" for g in ("loss", "backend", "device") if OmegaConf.is_missing(cfg[g], "name")
    ]
    unset = groups + [f"{s}.{k}" for s in ("train", "tracking") for k in sorted(_missing(cfg[s]))]
    if unset:
        raise LinregError(unset[0], "set (conf/ sets every default; ~key removes it)", "<nothing>")


def check_fits(data: DataSpec | CsvSpec, settings: TrainSettings, backend: str) -> None:
    """The data and the trajectory must fit in memory: one line naming data.n_samples (or
    data.n_features, data.n_test) or train.epochs and the largest value that fits, before any
    work (a CSV's size is known once read: its columns count as one feature here)."""
    used = 0
    if isinstance(data, DataSpec):
        with naming("data."):
            used = check_data_fits(data.n_samples, data.n_features, data.n_test, backend)
        m = data.n_features
    else:
        m = len(data.features or ()) or 1
    with naming("train."):
        check_trajectory_fits(settings.epochs, m, used)


LOG_MODELS = ("best", "all", "none")  # tracking.log_models
TRACKING_SCHEMES = (
    "sqlite:///",
    "http://",
    "https://",
    "postgresql",
    "mysql",
    "mssql",
    "databricks",
)


def check_tracking(t) -> None:
    """What MLflow would refuse only when the first run starts."""
    with naming("tracking."):
        if not t.experiment or not t.experiment.strip():
            raise LinregError("experiment", "a non-empty MLflow experiment name", t.experiment)
        if t.uri is not None and not t.uri.startswith(TRACKING_SCHEMES):
            allowed = "an MLflow tracking URI (sqlite:///path, http(s)://host, a database URL)"
            raise LinregError("uri", allowed, t.uri, note="MLflow 3 refuses a file store")
        if t.objective is not None:
            check_choice("objective", t.objective, NUMERIC)
        check_choice("log_models", t.log_models, LOG_MODELS)
        check_number("max_points", t.max_points, integer=True, ge=10)


def _missing(node: DictConfig) -> list[str]:
    return [k for k in node if OmegaConf.is_missing(node, k)]


def data_source(d: DictConfig) -> DataSpec | CsvSpec:
    """The data section as the core's spec (DataSpec for synthetic data, CsvSpec for a CSV)."""
    d = {k: v for k, v in OmegaConf.to_container(d, resolve=True).items() if v != "???"}
    with naming("data."):
        check_choice("kind", d.get("kind"), DATA_KINDS)
        spec_type = CsvSpec if d["kind"] == "csv" else DataSpec
        keys = {f.name for f in fields(spec_type)}
        if spec_type is CsvSpec:
            for key in ("path", "target"):
                if not d.get(key):
                    raise LinregError(key, "set for csv data (data.path=... data.target=...)", None)
        return spec_type(**{k: v for k, v in d.items() if k in keys})


def check_runnable(run: RunConfig) -> None:
    """For a single run: a device that is absent is an error (a sweep records it as skipped)."""
    with naming(""):
        resolve_device(run.settings.device, run.backend)


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """The config as MLflow params: dotted keys, string values, unset keys left out."""
    flat = flatten(OmegaConf.to_container(cfg, resolve=True))
    return {k: str(v) for k, v in flat.items() if v != "???"}


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted key -> leaf value (a list is a leaf)."""
    if not isinstance(node, dict):
        return {prefix[:-1]: node}
    out: dict[str, Any] = {}
    for k, v in node.items():
        out.update(flatten(v, f"{prefix}{k}."))
    return out
