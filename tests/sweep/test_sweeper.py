"""linreg's grid sweeper (hydra_plugins/linreg_sweeper, the default) launches exactly the jobs of
Hydra's basic sweeper, in the same order, numbers and batches; a grid in config
(hydra.sweeper.params: a config group or a primary config of one's own) runs each value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from linreg.sweep import folder as sweep_folder
from tests.helpers.cli import Cli, split_runs
from tests.helpers.commands import QUICK, assert_ran, counts_line, grid_config, grid_group


def sweep(cwd: Path, folder: str, *args: str) -> list[list[str]]:
    """A real multirun into ``cwd/folder``; each job's overrides, in job order."""
    proc = Cli(cwd).train("-m", *args, "backend=numpy", "train.epochs=5", "tracking.figures=false",
                          "tracking.graph=false", f"hydra.sweep.dir={folder}")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = sorted((cwd / folder).glob("*/.hydra/overrides.yaml"),
                  key=lambda p: int(p.parent.parent.name.split("-", 1)[0]))  # fmt: skip
    assert [int(p.parent.parent.name.split("-", 1)[0]) for p in jobs] == list(range(len(jobs)))
    target = yaml.safe_load((cwd / folder / "multirun.yaml").read_text())["hydra"]["sweeper"]
    return [target["_target_"].rsplit(".", 1)[-1], *(yaml.safe_load(p.read_text()) for p in jobs)]


@pytest.mark.slow
def test_the_grid_sweeper_launches_the_basic_sweepers_jobs(tmp_path):
    """Three keys (a group, a value list, a range), in batches of 4: the same 12 jobs, numbered
    and ordered as Hydra's basic sweeper numbers and orders them."""
    args = ["train.lr=0.01,0.1", "loss=mse,mae,huber", "train.momentum=range(0,0.9,0.45)",
            "hydra.sweeper.max_batch_size=4"]  # fmt: skip
    ours = sweep(tmp_path, "grid", *args)
    hydras = sweep(tmp_path, "basic", "hydra/sweeper=basic", *args)
    assert ours[0] == "GridSweeper" and hydras[0] == "BasicSweeper"
    assert len(ours) == 1 + 12
    assert ours[1:] == hydras[1:]
    assert ours[1][:3] == ["train.lr=0.01", "loss=mse", "train.momentum=0.0"]


@pytest.mark.slow
def test_a_grid_in_hydra_sweeper_params_on_the_command_line(tmp_path):
    """Hydra's basic sweeper cannot take hydra.sweeper.params on the command line (its schema
    holds None); linreg's takes the dict whole, the command line's own keys winning."""
    jobs = sweep(tmp_path, "sw", "hydra.sweeper.params={train.lr:'0.1,1',loss:'mse,mae'}",
                 "loss=huber")  # fmt: skip
    assert [j[:2] for j in jobs[1:]] == [
        ["train.lr=0.1", "loss=huber"],
        ["train.lr=1", "loss=huber"],
    ]


def assert_lr_grid_ran(cli, proc) -> None:
    assert_ran(proc)
    recs = sweep_folder.records(cli.cwd / "sweep")
    assert sorted(r.lr for r in recs) == [0.01, 0.1] and {r.status for r in recs} == {"ok"}
    assert counts_line(proc.stdout) == "sweep: 2 runs: 2 ok, 0 diverged, 0 skipped, 0 failed"
    parents, children = split_runs(cli.runs())
    assert len(children) == 2 and parents[0].data.params["n_runs"] == "2"
    assert {r.info.status for r in [*parents, *children]} == {"FINISHED"}


@pytest.mark.slow
def test_a_grid_in_a_config_group_runs_each_value(stored_cli):
    proc = stored_cli.train("-m", *grid_group(stored_cli, "0.01,0.1"), "backend=numpy", *QUICK,
                     "hydra.sweep.dir=sweep")  # fmt: skip
    assert_lr_grid_ran(stored_cli, proc)


@pytest.mark.slow
def test_a_grid_in_a_primary_config_of_ones_own_runs_each_value(stored_cli):
    grid = grid_config(stored_cli, {"train.lr": "0.01,0.1"})
    proc = stored_cli.train("-m", *grid, "backend=numpy", *QUICK, "hydra.sweep.dir=sweep")
    assert_lr_grid_ran(stored_cli, proc)
