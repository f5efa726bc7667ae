"""Fail fast: a command line (or params.yaml) checked before anything is trained or recorded.

The base config is composed once with Hydra's public ``compose``; then each value of each swept
key is checked against the schema and the core's rules on its own (one composition per value of
a group, one cheap update per value of a plain key), never every combination.  Checks that need
a whole combination and the data (``batch_size`` > n) are, in a sweep, the run's own: it is
recorded as failed with the one-line reason; a single run's are checked here, its data known.
Every error is one line naming the key, what is allowed and what was given (:class:`UsageError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

from linreg.config.compose import compose
from linreg.config.data import load_data
from linreg.config.hydra_errors import explained
from linreg.config.plugins import class_name, sweeper, sweeper_target
from linreg.config.typed import GROUPS, RunConfig, check_runnable, naming, run_config
from linreg.config.writable import check_hydra, check_store
from linreg.core.data import Dataset
from linreg.core.errors import UsageError


@dataclass
class Checked:
    base: DictConfig  # the composed config, hydra node included
    run: RunConfig  # the base config, typed
    sweeps: dict[str, list] = field(default_factory=dict)  # key -> its values


@dataclass
class CommandLine:
    """A command line's overrides, parsed: its plain values and its sweeps."""

    plain: list[str]  # the overrides that set one value, as typed
    sweeps: list[Override]
    config_name: str = "config"
    config_dir: str | None = None


def check(
    overrides: list[str], multirun: bool, config_name: str = "config", config_dir: str | None = None
) -> Checked:
    """Check a Hydra command line (``config_name``/``config_dir``: Hydra's --config-name and
    --config-dir); raises UsageError with the one line to print."""
    line = parse(overrides, multirun, config_name, config_dir)
    base = compose(line.plain, config_name, config_dir)
    run = adapt(base)
    if not multirun:
        _checked(check_runnable, run)
    values = swept_values(base, line.sweeps, multirun)
    for key, vals in values.items():
        for value in vals or []:
            check_value(base, line.plain, key, value, config_name, config_dir)
    if multirun:
        _check_objective(base, run, values)
    check_hydra(base, multirun)
    check_store(run)
    data = _checked(check_data, run)
    if not multirun:
        with naming("train."):  # the one run's batch against its data, known now
            run.settings.check_against(len(data.y))
    return Checked(base=base, run=run, sweeps=values)


def parse(
    overrides: list[str], multirun: bool, config_name: str, config_dir: str | None
) -> CommandLine:
    """The overrides parsed: each key given once, and a sweep only with -m."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise explained(exc) from None
    keys = [o.key_or_group for o in parsed]
    twice = next((k for k in keys if keys.count(k) > 1), None)
    if twice:
        raise UsageError(f"{twice} must be given once, got it {keys.count(twice)} times")
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if sweeps and not multirun:
        raise UsageError(
            f"{sweeps[0].input_line} is a sweep: add -m (--multirun) to run each value"
        )
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    return CommandLine(plain, sweeps, config_name, config_dir)


def _in_config(grid: DictConfig | None) -> list[Override]:
    """A grid or search space in config (``hydra.sweeper.params``: key -> override value),
    parsed as the command line's overrides are."""
    try:
        return OverridesParser.create().parse_overrides(
            [f"{k}={v}" for k, v in (grid or {}).items()]
        )
    except Exception as exc:
        raise explained(exc, "hydra.sweeper.params") from None


def swept_values(base: DictConfig, sweeps: list[Override], multirun: bool) -> dict[str, list]:
    """Each swept key's values to check, the command line's first, then those of a grid or search
    space in config (``hydra.sweeper.params``) that the command line does not sweep; a search
    space (interval) is refused unless the sweeper samples."""
    values: dict[str, list | None] = {o.key_or_group: _values(o) for o in sweeps}
    searched = [o for o in sweeps if not _enumerable(o)]
    grid = OmegaConf.select(base, "hydra.sweeper.params") if multirun else None
    for o in _in_config(grid):
        if o.key_or_group not in values:
            values[o.key_or_group] = _values(o)
            searched += [o] if o.is_sweep_override() and not _enumerable(o) else []
    _check_sampled(base, searched)
    return values


def check_data(run: RunConfig) -> Dataset:
    """Read (or make) the data now: a missing or corrupt CSV or data folder, or a spec that
    cannot be drawn, stops the command before any run.  The runs of this process reuse the
    cached copy."""
    return load_data(run)


def _values(o: Override) -> list | None:
    """The values of a sweep override to check: each of a list or range, the two ends of a search
    space (interval) that a sweeper samples; None where there is nothing to enumerate."""
    if not o.is_sweep_override():
        return [o.value()]
    try:
        values = [getattr(v, "text", v) for v in o.sweep_iterator()]  # 'quoted' -> its text
    except Exception:  # not enumerable: an interval, a glob, a range Python refuses
        v = o.value()
        ends = [getattr(v, "start", None), getattr(v, "end", None)]
        return None if None in ends else ends
    again = next((v for v in values if values.count(v) > 1), None)
    if again is not None:
        raise UsageError(f"{o.key_or_group} must list each value once, got {again!r} twice")
    return values


def _enumerable(o: Override) -> bool:
    try:
        o.sweep_iterator()
    except Exception:  # Hydra enumerates lists and ranges only
        return False
    return True


def _check_objective(base: DictConfig, run: RunConfig, swept: dict) -> None:
    """A sweeper that optimises needs a number from each run: tracking.objective names it (on
    the command line, or among the sweeper's params, as conf/hydra/sweeper/optuna_lr.yaml)."""
    given = run.tracking.objective is not None or "tracking.objective" in swept
    if not given and not sweeper(base).lists_values:
        raise UsageError(
            "tracking.objective must name the record field an optimising sweeper minimises "
            f"(e.g. tracking.objective=train_loss) with {class_name(sweeper_target(base))}, "
            "got null"
        )


def _check_sampled(base: DictConfig, searched: list[Override]) -> None:
    """A search space (interval) needs a sweeper that samples it: Hydra's basic sweeper only
    lists values."""
    if searched and sweeper(base).lists_values:
        o = searched[0]
        raise UsageError(
            f"{o.key_or_group} must be a list of values (a,b,c) or a range() with the grid "
            f"sweeper, got {o.input_line.partition('=')[2]!r}; a search space needs a sampling "
            "sweeper (hydra/sweeper=optuna_lr)"
        )


def check_value(
    base: DictConfig, plain: list[str], key: str, value, name: str, folder: str | None
) -> None:
    """One value of one swept key, on top of the base config."""
    if key in GROUPS or "/" in key or key.startswith("hydra") or key.startswith("+"):
        cfg = compose([*plain, f"{key}={value}"], name, folder)
    else:
        cfg = base.copy()
        try:
            OmegaConf.update(cfg, key, value, merge=False, force_add=False)
        except Exception as exc:
            raise explained(exc) from None
    run = adapt(cfg)
    if key.startswith(("hydra.", "hydra/")):
        check_hydra(cfg, multirun=True)
    if key.startswith("tracking."):
        check_store(run)
    if key == "data" or key.startswith("data."):
        _checked(check_data, run)


def adapt(cfg: DictConfig) -> RunConfig:
    """A composed config typed and checked (:func:`~linreg.config.typed.run_config`)."""
    return _checked(run_config, cfg)


def _checked(fn, arg):
    """``fn(arg)``; OmegaConf's errors (and any other) as the family's one line."""
    try:
        return fn(arg)
    except UsageError:
        raise
    except Exception as exc:
        raise explained(exc) from None
