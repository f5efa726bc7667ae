"""Before and after a Hydra run: validate every combination, open the parent run, sum it up.

``prepare`` expands the command line exactly as Hydra's basic sweeper will, composes each
combination and adapts it with :func:`linreg.config.job_from_cfg`, so a typo or a bad value in
any run stops the whole command with one line before anything is trained or recorded.  For a
multirun it then creates the MLflow store's schema (once, before any parallel worker starts), the
parent run and the sweep manifest, and hands the launcher the overrides that tie each run to them.
``finish`` reads the runs' results back, writes the summary, fills the parent run and returns the
exit status.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import CONF_DIR, check_runnable, job_from_cfg
from .core.datafiles import write_json_atomic
from .core.errors import LinregError

MANIFEST = "sweep.json"
HYDRA_FLAGS_WE_HANDLE = {"-m", "--multirun"}
FIVE = ("backend", "loss", "train.lr", "train.epochs", "device")


class UsageError(Exception):
    """A bad command line; ``str()`` is the one line to print."""


@dataclass
class Plan:
    argv: list[str]
    multirun: bool
    out_dirs: list[Path] = field(default_factory=list)
    run_names: list[str] = field(default_factory=list)
    sweep_dir: Path | None = None
    sweep_name: str | None = None
    parent_run_id: str | None = None
    tracking: dict = field(default_factory=dict)
    data: object = None  # the sweep's dataset, when every run shares one
    searched: bool = False  # a sweeper chooses the runs as it goes (Optuna): none known ahead


def explain(exc: BaseException) -> str:
    """Hydra's and OmegaConf's errors as one line naming the key, what is allowed and the value."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigKeyError, ValidationError

    if isinstance(exc, LinregError):
        return str(exc)
    if isinstance(exc, MissingConfigException) and exc.options:
        group, _, given = (exc.missing_cfg_file or "").rpartition("/")
        group = group or "config group"
        return f"{group} must be one of {', '.join(exc.options)}, got {given!r}"
    from omegaconf.errors import ConfigAttributeError

    cause = exc.__cause__ or exc
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and key:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        return (
            f"{key} must be one of the keys of {parent or 'the config'} ({_keys_of(parent)}), "
            f"got {key.rsplit('.', 1)[-1]!r}"
        )
    if isinstance(cause, ValidationError) and key:
        msg = str(cause).splitlines()[0]
        match = re.search(r"Value '(.*)' of type '\w+' could not be converted to (\w+)", msg)
        if match:
            kind = _KINDS.get(match.group(2), f"a {match.group(2).lower()}")
            return f"{key} must be {kind}, got {match.group(1)!r}"
        if "is not a ListConfig" in msg:
            return f"{key} must be a list such as [2.5, -1.0], got a single value"
        return f"{key}: {msg}"
    return str(exc).split("\n")[0] or type(exc).__name__


_KINDS = {
    "Integer": "an integer",
    "Float": "a number",
    "Boolean": "true or false",
    "String": "a string",
}


def _keys_of(section: str) -> str:
    from .config import LinregConf

    node = LinregConf()
    for part in filter(None, section.split(".")):
        node = getattr(node, part, None)
    fields_ = getattr(node, "__dataclass_fields__", {})
    return ", ".join(sorted(fields_)) or "no such key"


def _split(argv: list[str]) -> tuple[bool, list[str], bool]:
    """(multirun, overrides, passthrough): flags other than -m go to Hydra untouched."""
    multirun = any(a in HYDRA_FLAGS_WE_HANDLE for a in argv)
    others = [a for a in argv if a.startswith("-") and a not in HYDRA_FLAGS_WE_HANDLE]
    overrides = [a for a in argv if not a.startswith("-")]
    return multirun, overrides, bool(others)


def expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The list of override lists, one per run, as Hydra's basic sweeper makes it."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if sweeps and not multirun:
        raise UsageError(
            f"{sweeps[0].input_line} is a sweep: add -m (--multirun) to run every value"
        )
    if not multirun:
        return [overrides]
    return BasicSweeper.split_arguments(parsed, None)[0]


def _custom_sweeper(overrides: list[str]) -> bool:
    return any(o.split("=")[0].lstrip("+") == "hydra/sweeper" for o in overrides)


def prepare(argv: list[str]) -> Plan | None:
    """Validate the command and set up the sweep; None when Hydra should handle it alone
    (--help, --cfg, ...).  Raises UsageError or LinregError with the one line to print."""
    multirun, overrides, passthrough = _split(argv)
    if passthrough:
        return None
    searched = _custom_sweeper(overrides)
    if searched:  # Optuna & co. choose their own points: check the base config
        combos = [[o for o in overrides if "," not in o.split("=", 1)[-1]]]
    else:
        combos = expand(overrides, multirun)
    plan = Plan(argv=list(argv), multirun=multirun, searched=searched and multirun)
    if multirun:
        keys = {o.split("=")[0] for o in overrides}
        if "tracking.sweep_name" not in keys:
            digest = hashlib.sha256(" ".join(sorted(overrides)).encode()).hexdigest()[:8]
            plan.argv.append(f"tracking.sweep_name=sweep-{digest}")
        extra = [k for k in swept_keys(combos) if k not in FIVE]
        if extra:
            plan.argv.append("tracking.vary=[" + ",".join(extra) + "]")
        added = plan.argv[len(argv) :]
        combos = [[*c, *added] for c in combos]
    jobs, cfgs = _compose_all(combos)
    plan.data = _check_data(jobs)
    if not multirun:
        check_runnable(jobs[0])
        plan.out_dirs = [Path(cfgs[0].hydra.run.dir)]
        return plan
    plan.sweep_name = cfgs[0].tracking.sweep_name
    plan.sweep_dir = Path(cfgs[0].hydra.sweep.dir)
    plan.tracking = dict(jobs[0].tracking)
    plan.run_names = [j.run_name for j in jobs]
    folders = [j.run_folder for j in jobs]
    if len(set(folders)) != len(folders):
        raise UsageError("two runs of this sweep would share a folder name; sweep fewer keys")
    plan.out_dirs = [plan.sweep_dir / f for f in folders]
    if plan.searched:  # finish reads back the runs the sweeper chose
        plan.out_dirs, plan.run_names = [], []
    _open_parent(plan, overrides)
    plan.argv.append(f"tracking.parent_run_id={plan.parent_run_id}")
    return plan


def _compose_all(combos: list[list[str]]):
    """Compose and adapt every combination.  Hydra composes once per distinct set of group
    choices (and hydra.* / +add / ~delete overrides); the plain ``key=value`` overrides of each run
    are then set on a copy with OmegaConf, which checks keys and types against the same schema.
    For the default grid that is 6 compositions instead of 36."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    parser = OverridesParser.create()
    base: dict[tuple[str, ...], object] = {}
    jobs, cfgs = [], []
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="train"):
        for combo in combos:
            try:
                parsed = parser.parse_overrides(combo)
                structural = tuple(o.input_line for o in parsed if _structural(o))
                if structural not in base:
                    base[structural] = compose(
                        "config", overrides=list(structural), return_hydra_config=True
                    )
                cfg = base[structural].copy()
                for o in parsed:
                    if not _structural(o):
                        OmegaConf.update(cfg, o.key_or_group, o.value(), merge=False)
                job = job_from_cfg(cfg)
            except LinregError:
                raise
            except Exception as exc:
                raise UsageError(explain(exc)) from None
            jobs.append(job)
            cfgs.append(cfg)
    return jobs, cfgs


def _structural(o) -> bool:
    """Overrides that change which files compose the config, or Hydra's own settings."""
    key = o.key_or_group
    return (
        o.is_add()
        or o.is_delete()
        or o.is_force_add()
        or "." not in key
        or "/" in key
        or key.startswith("hydra.")
        or o.package is not None
    )


def _check_data(jobs) -> None:
    """Read (or make) each distinct dataset once now: a missing or corrupt CSV or data folder
    stops the command before any run.  The runs of this process reuse the cached copy."""
    from .config import naming
    from .core.data import DataSpec
    from .runner import load_data

    seen = {}
    for job in jobs:
        key = (job.data_dir, repr(job.data))
        if key not in seen:
            if job.data_dir is None and isinstance(job.data, DataSpec):
                with naming("data."):  # a spec that cannot be drawn: name the data.* key
                    seen[key] = load_data(job)
            else:  # data.dir / data.path errors already name the key
                seen[key] = load_data(job)
    return next(iter(seen.values())) if len(seen) == 1 else None


def swept_keys(combos: list[list[str]]) -> list[str]:
    """Keys whose value differs between runs, in command-line order."""
    seen: dict[str, set] = {}
    for combo in combos:
        for o in combo:
            key, _, value = o.partition("=")
            seen.setdefault(key.lstrip("+~"), set()).add(value)
    return [k for k, v in seen.items() if len(v) > 1]


def _open_parent(plan: Plan, overrides: list[str]) -> None:
    from . import graphs
    from .tracking import dvc_experiment, git_commit, open_store, resolve_uri

    store = open_store(resolve_uri(plan.tracking["uri"]), plan.tracking["experiment"])
    plan.parent_run_id = store.start_run(
        f"{plan.sweep_name} · {'search' if plan.searched else f'{len(plan.out_dirs)} runs'}",
        tags={
            "kind": "sweep",
            "git_commit": git_commit(),
            "dvc_experiment": dvc_experiment(),
            "sweep_dir": str(plan.sweep_dir.resolve()),
            "status": "running",
        },
    )
    store.log_params(
        plan.parent_run_id,
        {
            "overrides": " ".join(overrides) or "(none)",
            "n_runs": "search" if plan.searched else len(plan.out_dirs),
        },
    )
    plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    stale = (
        list(plan.sweep_dir.glob("*/result.json"))
        if plan.searched
        else [d / "result.json" for d in plan.out_dirs]
    )
    for path in stale:  # a stale result must never pass for this sweep's
        path.unlink(missing_ok=True)
    write_json_atomic(
        plan.sweep_dir / MANIFEST,
        {
            "sweep_name": plan.sweep_name,
            "parent_run_id": plan.parent_run_id,
            "tracking_uri": store.uri,
            "experiment": plan.tracking["experiment"],
            "overrides": overrides,
            "runs": None if plan.searched else [d.name for d in plan.out_dirs],
            "run_names": None if plan.searched else plan.run_names,
        },
    )
    if not graphs.dot_available():
        import warnings

        warnings.warn(graphs.INSTALL_HINT, stacklevel=1)


def read_results(sweep_dir: Path) -> tuple[dict, list[dict]]:
    """The manifest and each run's result; a run without result.json counts as failed.  For a
    search (``runs`` null) the runs are those that finished, in the order they did."""
    manifest = json.loads((sweep_dir / MANIFEST).read_text())
    if manifest["runs"] is None:
        paths = sorted(sweep_dir.glob("*/result.json"), key=lambda p: p.stat().st_mtime_ns)
        return manifest, [json.loads(p.read_text()) for p in paths]
    results = []
    for folder, name in zip(manifest["runs"], manifest["run_names"], strict=True):
        path = sweep_dir / folder / "result.json"
        if path.is_file():
            results.append(json.loads(path.read_text()))
        else:
            results.append(
                {
                    "run_name": name,
                    "run_folder": folder,
                    "status": "failed",
                    "reason": "no result.json: the run was interrupted",
                }
            )
    return manifest, results


def counts(results: list[dict]) -> dict[str, int]:
    out = {"ok": 0, "diverged": 0, "skipped": 0, "failed": 0}
    for r in results:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def finish(plan: Plan) -> int:
    """Summarise the sweep into its folder and its parent run; the exit status (1 if any run
    failed)."""
    from . import summary
    from .tracking import open_store, resolve_uri

    _, results = read_results(plan.sweep_dir)
    c = counts(results)
    table = summary.frame(results)
    summary.write_csv(table, plan.sweep_dir / "summary.csv")
    store = open_store(resolve_uri(plan.tracking["uri"]), plan.tracking["experiment"])
    try:
        figs = (
            summary.sweep_figures(plan.sweep_dir, results, plan.sweep_dir, plan.data)
            if plan.tracking.get("sweep_figures", True)
            else []
        )
        store.log_artifact(plan.parent_run_id, plan.sweep_dir / "summary.csv")
        for f in figs:
            store.log_artifact(plan.parent_run_id, f, "figures")
        store.log_metrics(plan.parent_run_id, {f"n_{k}": v for k, v in c.items()})
        store.set_tags(plan.parent_run_id, {"status": "failed" if c["failed"] else "ok"})
    finally:
        store.end_run(plan.parent_run_id, "FAILED" if c["failed"] else "FINISHED")
    print(summary.console_table(table))
    line = (
        f"{plan.sweep_name}: {len(results)} runs: {c['ok']} ok, {c['diverged']} diverged, "
        f"{c['skipped']} skipped, {c['failed']} failed -> {plan.sweep_dir}"
    )
    print(line, flush=True)
    return 1 if c["failed"] else 0
