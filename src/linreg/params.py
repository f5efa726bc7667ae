"""params.yaml, the control panel of ``dvc repro``, turned into the Hydra command line.

DVC never composes Hydra configs, so the stages do: every key of params.yaml's ``data`` and
``train`` sections becomes an override of the same key, and the ``sweep`` lists become the
multirun's sweeps (``train.lr=0.001,0.01,0.1 loss=mse,mae ...``).  A key params.yaml misspells is
caught by the same schema as a command-line typo.
"""

from __future__ import annotations

import os
from pathlib import Path

SWEEP_KEYS = {
    "lr": "train.lr",
    "epochs": "train.epochs",
    "loss": "loss",
    "backend": "backend",
    "device": "device",
}
DATA_DIR = "data"
RUNS_DIR = "runs"


class ParamsError(Exception):
    """params.yaml is missing or malformed; ``str()`` is the one line to print."""


def load_params(path: str | os.PathLike = "params.yaml") -> dict:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file must exist, got {str(path)!r}")
    params = yaml.safe_load(path.read_text()) or {}
    for section in ("data", "sweep"):
        if not isinstance(params.get(section), dict):
            raise ParamsError(f"{path}: '{section}' must be a mapping, got {params.get(section)!r}")
    return params


def value(v) -> str:
    """A Python value in Hydra's override grammar."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ",".join(value(x) for x in v) + "]"
    text = str(v)
    if text and all(c.isalnum() or c in "_-./" for c in text) and not text[0].isdigit():
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def data_overrides(params: dict) -> list[str]:
    data = params["data"]
    preset = "csv" if data.get("kind") == "csv" else "walkthrough"
    return [f"data={preset}", *[f"data.{k}={value(v)}" for k, v in data.items()]]


def argv_from_params(path: str | os.PathLike = "params.yaml") -> list[str]:
    """The multirun the DVC train stage runs: the grid of ``sweep`` over the data of ``data``."""
    params = load_params(path)
    argv = ["-m", *data_overrides(params), f"data.dir={DATA_DIR}"]
    for k, v in (params.get("train") or {}).items():
        argv.append(f"train.{k}={value(v)}")
    grid = params["sweep"]
    unknown = sorted(set(grid) - set(SWEEP_KEYS))
    if unknown:
        raise ParamsError(f"sweep keys must be among {', '.join(SWEEP_KEYS)}, got {unknown[0]!r}")
    for k, target in SWEEP_KEYS.items():
        values = grid.get(k)
        if values is None:
            continue
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ParamsError(f"sweep.{k} must be a non-empty list, got []")
        argv.append(f"{target}=" + ",".join(value(v) for v in values))
    for k, v in (params.get("tracking") or {}).items():
        argv.append(f"tracking.{k}={value(v)}")
    exp = os.environ.get("DVC_EXP_NAME")
    argv += [
        f"hydra.sweep.dir={RUNS_DIR}",
        f"tracking.sweep_name={'dvc-' + exp if exp else 'dvc'}",
        "tracking.sweep_figures=false",
    ]  # the evaluate stage draws them, once
    return argv
