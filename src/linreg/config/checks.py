"""Fail fast: a command line (or params.yaml) checked before anything is trained or recorded.

The base config is composed once with Hydra's public ``compose``; then each value of each swept
key is checked against the schema and the core's rules on its own (one composition per value of
a group, one cheap update per value of a plain key), never every combination.  Checks that need
a whole combination and the data (``batch_size`` > n) are the run's own: it is recorded as
failed with the one-line reason.  Every error is one line naming the key, what is allowed and
what was given (:class:`UsageError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from linreg.config.compose import compose
from linreg.config.data import load_data
from linreg.config.hydra_errors import UsageError, explain
from linreg.config.typed import GROUPS, RunConfig, check_runnable, run_config
from linreg.config.writable import check_hydra, check_store
from linreg.core.errors import LinregError


@dataclass
class Checked:
    base: DictConfig  # the composed config, hydra node included
    run: RunConfig  # the base config, typed
    sweeps: dict[str, list] = field(default_factory=dict)  # key -> its values


def check(
    overrides: list[str], multirun: bool, config_name: str = "config", config_dir: str | None = None
) -> Checked:
    """Check a Hydra command line (``config_name``/``config_dir``: Hydra's --config-name and
    --config-dir); raises UsageError with the one line to print."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise UsageError(explain(exc)) from None
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
    base = compose(plain, config_name, config_dir)
    run = adapt(base)
    if not multirun:
        _checked(check_runnable, run)
    searched = [o for o in sweeps if not _enumerable(o)]
    grid = OmegaConf.select(base, "hydra.sweeper.params") if multirun else None
    values: dict[str, list | None] = {o.key_or_group: _values(o) for o in sweeps}
    try:  # a grid or search space in config (hydra.sweeper.params): the command line wins
        for o in OverridesParser.create().parse_overrides(
            [f"{k}={v}" for k, v in (grid or {}).items()]
        ):
            if o.key_or_group not in values:
                values[o.key_or_group] = _values(o)
                searched += [o] if o.is_sweep_override() and not _enumerable(o) else []
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"hydra.sweeper.params: {explain(exc)}") from None
    _check_sampled(base, searched)
    for key, vals in values.items():
        for v in vals or []:
            check_value(base, plain, key, v, config_name, config_dir)
    if multirun:
        _check_objective(base, run, values)
    check_hydra(base, multirun)
    check_store(run)
    _checked(check_data, run)
    return Checked(base=base, run=run, sweeps=values)


def check_data(run: RunConfig) -> None:
    """Read (or make) the data now: a missing or corrupt CSV or data folder, or a spec that
    cannot be drawn, stops the command before any run.  The runs of this process reuse the
    cached copy."""
    load_data(run)


def _values(o) -> list | None:
    """The values of a sweep override to check: each of a list or range, the two ends of a search
    space (interval) that a sweeper samples; None where there is nothing to enumerate."""
    if not o.is_sweep_override():
        return [o.value()]
    try:
        values = [getattr(v, "text", v) for v in o.sweep_iterator()]  # 'quoted' -> its text
    except Exception:
        v = o.value()
        ends = [getattr(v, "start", None), getattr(v, "end", None)]
        return None if None in ends else ends
    again = next((v for v in values if values.count(v) > 1), None)
    if again is not None:
        raise UsageError(f"{o.key_or_group} must list each value once, got {again!r} twice")
    return values


GRID_SWEEPERS = ("BasicSweeper", "GridSweeper")  # Hydra's, and linreg's (hydra_plugins)


def _check_objective(base: DictConfig, run: RunConfig, swept: dict) -> None:
    """A sweeper that optimises needs a number from each run: tracking.objective names it (on
    the command line, or among the sweeper's params, as conf/hydra/sweeper/optuna_lr.yaml)."""
    target = str(OmegaConf.select(base, "hydra.sweeper._target_") or "")
    given = run.tracking.objective is not None or "tracking.objective" in swept
    if not given and not target.endswith(GRID_SWEEPERS):
        raise UsageError(
            "tracking.objective must name the record field an optimising sweeper minimises "
            f"(e.g. tracking.objective=train_loss) with {target.rsplit('.', 1)[-1]}, got null"
        )


def _enumerable(o) -> bool:
    try:
        o.sweep_iterator()
    except Exception:
        return False
    return True


def _check_sampled(base: DictConfig, searched: list) -> None:
    """A search space (interval) needs a sweeper that samples it: Hydra's basic sweeper only
    lists values."""
    target = str(OmegaConf.select(base, "hydra.sweeper._target_") or "")
    if searched and target.endswith(GRID_SWEEPERS):
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
            raise UsageError(explain(exc)) from None
    run = adapt(cfg)
    if key.startswith(("hydra.", "hydra/")):
        check_hydra(cfg, multirun=True)
    if key.startswith("tracking."):
        check_store(run)
    if key == "data" or key.startswith("data."):
        _checked(check_data, run)


def adapt(cfg: DictConfig) -> RunConfig:
    return _checked(run_config, cfg)


def _checked(fn, arg):
    try:
        return fn(arg)
    except LinregError as err:
        raise UsageError(str(err)) from None
    except Exception as exc:
        raise UsageError(explain(exc)) from None
