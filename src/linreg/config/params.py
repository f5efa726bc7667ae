"""params.yaml, the DVC pipeline's config, as the train stage's Hydra command line.

``dvc exp run`` composes params.yaml from ``conf/pipeline.yaml`` (DVC's Hydra composition,
``.dvc/config``); ``dvc repro`` reads it as it is.  Its sections are the config's (``data``,
``loss``, ``backend``, ``device``, ``train``, ``tracking``) plus ``grid``: each leaf list under
``grid`` names a config key and its values.  The train stage turns the file into overrides of the
same keys and the grid into Hydra sweeps (``train.lr=0.001,0.01,0.1 loss=mse,mae ...``), so the
multirun is Hydra's own.  Anything that would be ignored is an error: an unknown section, a grid
key that is not a config key, an empty list, or a swept key whose single value was changed too.
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from linreg.config.compose import compose
from linreg.config.paths import DATA_DIR, PARAMS
from linreg.config.schema import SECTIONS, schema_keys
from linreg.config.typed import GROUPS, flatten
from linreg.core.errors import UsageError

PRESETS = {"synthetic": "walkthrough", "csv": "csv"}  # data.kind -> the preset with its keys


def load(path: str | os.PathLike = PARAMS) -> dict:
    """params.yaml read and parsed strictly: its sections checked, nothing of it ignored."""
    path = Path(path)
    params = _parse(_read(path), path)
    allowed = [*SECTIONS, "grid"]
    if not isinstance(params, dict):
        raise UsageError(f"{path} must be a mapping of {', '.join(allowed)}, got {params!r}")
    for key, value in params.items():
        if key not in allowed:
            raise UsageError(f"{path}: sections must be among {', '.join(allowed)}, got {key!r}")
        if not isinstance(value, dict):
            raise UsageError(f"{path}: {key} must be a mapping, got {value!r}")
    return params


def _read(path: Path) -> str:
    if not path.is_file():
        raise UsageError(f"params file must exist, got {str(path)!r}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise UsageError(
            f"{path} must be UTF-8 text, got byte {byte:#04x} at offset {exc.start}"
        ) from None
    except OSError as exc:
        raise UsageError(f"{path} must be a readable file, got {exc.strerror or exc}") from None


def _parse(text: str, path: Path):
    try:
        return yaml.load(text, Loader=StrictLoader) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} must be valid YAML, got: {_yaml_problem(exc)}") from None


def _yaml_problem(exc) -> str:
    """A YAML error as one line: what is wrong and where (line and column, 1-based)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else problem
    return f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else text


class StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key written twice (the last would win without a word)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        twice = next((k for k in keys if keys.count(k) > 1), None)
        if twice is not None:
            line = node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key {twice!r} is written twice (in the mapping at line {line})",
            )
        return super().construct_mapping(node, deep)


def grid(params: dict) -> dict[str, list]:
    """The grid as config key -> values, each key checked."""
    out = flatten(params.get("grid") or {})
    for key, values in out.items():
        _check_grid_key(key)
        if not isinstance(values, list) or not values:
            raise UsageError(f"grid.{key} must be a non-empty list of values, got {values!r}")
        twice = next((v for v in values if values.count(v) > 1), None)
        if twice is not None:
            raise UsageError(f"grid.{key} must list each value once, got {twice!r} twice")
    return out


def _check_grid_key(key: str) -> None:
    """A grid key is a config key the pipeline may sweep (not data: one dataset per pipeline)."""
    section, _, name = key.partition(".")
    if section == "data":
        raise UsageError(
            f"grid.{key} must not be swept in the pipeline (the generate stage makes one "
            "dataset; sweep data in an ad-hoc multirun: linreg -m data=walkthrough,multi)"
        )
    if key in GROUPS or (section in SECTIONS and name in schema_keys(section)):
        return
    section_keys = schema_keys(section) if section in ("train", "tracking") else []
    allowed = (
        f"one of the keys of {section} ({', '.join(section_keys)})"
        if section_keys
        else "a config key: loss, backend, device, train.<key> or tracking.<key>"
    )
    raise UsageError(f"grid.{key} must be {allowed}, got {key!r}")


def overrides(path: str | os.PathLike = PARAMS) -> list[str]:
    """The train stage's Hydra command line: every value of params.yaml, the grid as sweeps."""
    args, sweeps = split(path)
    return args + [f"{k}=" + ",".join(value(v) for v in vals) for k, vals in sweeps.items()]


def stage_argv(args: list[str]) -> list[str]:
    """``linreg --params FILE [wiring...]``: the multirun of FILE.  After the file come only the
    stage's wiring (``data.dir=``, ``hydra.*``) and Hydra's flags: a value given there would
    override the file's without a trace in ``dvc params``."""
    if not args or args[0].startswith("-") or "=" in args[0]:
        raise UsageError(f"--params must be followed by a params file, got {' '.join(args)!r}")
    for before, a in itertools.pairwise(args):
        key = a.split("=", 1)[0].lstrip("+~")
        flag_value = before.startswith("-") and "=" not in a  # --cfg job, -cn name
        wiring = key == "data.dir" or key.startswith(("hydra.", "hydra/"))
        if not (a.startswith("-") or flag_value or wiring):
            raise UsageError(
                f"the arguments after --params {args[0]} must be data.dir=... or hydra.* (the "
                f"values are the params file's: dvc exp run -S {a}), got {a!r}"
            )
    if any(a.startswith("-") for a in args[1:]):  # --cfg job, --info ...: the base config
        return [*split(args[0])[0], *args[1:]]
    return ["-m", *overrides(args[0]), *args[1:]]


def split(path: str | os.PathLike = PARAMS) -> tuple[list[str], dict[str, list]]:
    """params.yaml as (the overrides of its single values, the grid)."""
    params = load(path)
    sweeps = grid(params)
    data = params.get("data", {})
    args = [f"data={PRESETS.get(data.get('kind'), 'walkthrough')}"]
    for group in GROUPS[1:]:
        name = params.get(group, {}).get("name")
        if name is not None and group not in sweeps:
            args.append(f"{group}={value(name)}")
    for section in SECTIONS:
        for key, v in params.get(section, {}).items():
            full = f"{section}.{key}"
            if not (key == "name" and section in GROUPS) and full not in (*sweeps, "data.dir"):
                args.append(f"{full}={value(v)}")
    if data.get("dir") is not None:
        raise UsageError(
            f"data.dir must be null in the pipeline (the generate stage writes {DATA_DIR}/ and "
            f"the train stage reads it), got {data['dir']!r}"
        )
    check_single_homes(params, sweeps)
    return args, sweeps


def note_stale(path: str | os.PathLike = PARAMS) -> None:
    """Say where params.yaml differs from conf/: ``dvc repro`` runs params.yaml as it is, so an
    edit of conf/ takes effect only once ``dvc exp run`` composes it again."""
    if os.environ.get("DVC_EXP_NAME"):  # `dvc exp run` composed params.yaml just now, -S and all
        return
    try:
        composed = flatten(OmegaConf.to_container(compose([], "pipeline")))
    except UsageError:
        return
    composed = {k: v for k, v in composed.items() if not k.startswith("hydra.")}
    given = flatten(load(path))
    differ = [k for k in sorted(set(composed) | set(given)) if composed.get(k) != given.get(k)]
    if differ:
        k = differ[0]
        more = f" and {len(differ) - 1} more" if len(differ) > 1 else ""
        logging.getLogger("linreg").warning(
            f"note: params.yaml differs from conf/ in {k} ({given.get(k)!r} here, "
            f"{composed.get(k)!r} in conf/){more}: dvc repro runs params.yaml as it is; "
            "dvc exp run composes it from conf/ and -S"
        )


def check_single_homes(params: dict, sweeps: dict[str, list]) -> None:
    """A swept key's single value must be conf/'s default: changed, it would be ignored."""
    defaults = compose([])
    for key in sweeps:
        path = f"{key}.name" if key in GROUPS else key
        section, _, name = path.partition(".")
        given = params.get(section, {}).get(name, None)
        default = defaults[section][name]
        if given is not None and given != default:
            raise UsageError(
                f"{path} must be left to the grid (grid.{key} sweeps it; set -S "
                f"'grid.{key}=[{value(given)}]' instead), got {path}={value(given)}"
            )


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
