"""Running linreg's commands as subprocesses and reading what they leave: the stage modules and
``python -m linreg.train`` in a tmp dir, params.yaml written there, the one-line error checked,
the files written listed, the counts line read."""

from __future__ import annotations

import copy
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from linreg.core import resources
from linreg.core.device import available_devices
from tests.helpers.cli import REPO

PARAMS = REPO / "params.yaml"


def command(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m linreg.<module> args`` in ``cwd``, its MLflow store a sqlite file there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "HYDRA_"))}
    env |= {"MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", f"linreg.{module}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert re.search(message, lines[0]), lines[0]


def write_params(folder: Path, change) -> Path:
    """A copy of the committed params.yaml, changed by ``change(dict)`` (or replaced by text)."""
    path = folder / "params.yaml"
    if isinstance(change, str):
        path.write_text(change)
    else:
        params = copy.deepcopy(yaml.safe_load(PARAMS.read_text()))
        change(params)
        path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _set(section: str, key: str, value):
    def change(params: dict) -> None:
        node = params
        for part in section.split("."):
            node = node.setdefault(part, {})
        node[key] = value

    return change


def has_optuna() -> bool:
    from importlib.util import find_spec

    return find_spec("hydra_plugins.hydra_optuna_sweeper") is not None


OPTUNA = pytest.mark.skipif(not has_optuna(), reason="hydra-optuna-sweeper is not installed")


FAST_S = 5.0  # a bound is reported before any work: well under this, Python's start included


def cpu_s() -> float:
    """CPU seconds used so far by this process and its ended children (a command run through
    subprocess): what work costs, which the wall clock on a busy machine (the CI's two xdist
    workers on two cores) would stretch several times."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def files(folder: Path) -> dict[str, float]:
    """Every path under ``folder`` with its mtime: what a failing command must leave as it was."""
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in sorted(folder.rglob("*"))}


def one_line_error(proc: subprocess.CompletedProcess, pattern: str) -> str:
    """The command exited 2 with exactly one line on stderr, "error: " + ``pattern``."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(f"error: {pattern}", lines[0]), lines[0]
    return lines[0]


def too_many_epochs() -> int:
    """10**9 epochs (the issue's case) unless this machine could hold that; then far more."""
    fits = resources.run_bytes(10**9, 1) <= resources.budget_bytes()
    return 10**15 if fits else 10**9


HAS_CUDA = "cuda" in available_devices()


QUICK = ["train.epochs=5", "tracking.figures=false", "tracking.graph=false"]


def assert_ran(proc, code: int = 0) -> None:
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


def counts_line(stdout: str) -> str:
    """The sweep's counts line: '<name>: N runs: a ok, b diverged, c skipped, d failed'."""
    found = [ln for ln in stdout.splitlines() if re.search(r": \d+ runs: \d+ ok, ", ln)]
    assert len(found) == 1, stdout
    return found[0]


# --- a grid in config: hydra.sweeper.params ------------------------------------------------------
# Hydra 1.3 cannot set hydra.sweeper.params from the command line (its null default refuses a
# merge: '+hydra.sweeper.params={train.lr:"0.01,0.1"}' fails in Hydra itself), so a grid in
# config comes from a config file: a `# @package _global_` group on hydra.searchpath, as
# lightning-hydra-template's hparams_search, or a primary config of one's own (--config-dir).
def grid_group(cli, values: str) -> list[str]:
    folder = cli.cwd / "myconf" / "hparams_search"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lr.yaml").write_text(
        f'# @package _global_\nhydra:\n  sweeper:\n    params:\n      train.lr: "{values}"\n'
    )
    return [f"hydra.searchpath=[file://{cli.cwd / 'myconf'}]", "+hparams_search=lr"]


def grid_config(cli, grid: dict[str, str]) -> list[str]:
    folder = cli.cwd / "myconf"
    folder.mkdir(exist_ok=True)
    params = "".join(f'      {k}: "{v}"\n' for k, v in grid.items())
    text = f"defaults:\n  - config\n  - _self_\nhydra:\n  sweeper:\n    params:\n{params}"
    (folder / "grid.yaml").write_text(text)
    return ["--config-dir", str(folder), "--config-name", "grid"]
