"""A run's name and folder name (linreg.run.names): from the config, with the other swept keys,
and a folder of its own for each run of the same name."""

from __future__ import annotations

import re
import time

import pytest
from omegaconf import OmegaConf

from linreg.config.typed import run_config
from linreg.run.record import RunRecord
from tests.helpers.commands import QUICK


# --- run names -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "name", "folder"),
    [
        ((), "torch · mse · lr=0.01 · ep=100 · cpu", "torch-mse-lr=0.01-ep=100-cpu"),
        (
            ("train.lr=0.01", "train.epochs=100", "loss=mse", "backend=torch", "device=cpu"),
            "torch · mse · lr=0.01 · ep=100 · cpu",
            "torch-mse-lr=0.01-ep=100-cpu",
        ),
        (
            ("backend=numpy", "loss=mae", "train.lr=0.001", "train.epochs=1000"),
            "numpy · mae · lr=0.001 · ep=1000 · cpu",
            "numpy-mae-lr=0.001-ep=1000-cpu",
        ),
        (
            ("backend=python", "loss=mse_half", "train.lr=1e-4", "device=auto"),
            "python · mse_half · lr=0.0001 · ep=100 · auto",
            "python-mse_half-lr=0.0001-ep=100-auto",
        ),
        (
            ("loss=huber", "loss.delta=1.5"),
            "torch · huber δ=1.5 · lr=0.01 · ep=100 · cpu",
            "torch-huber_delta=1.5-lr=0.01-ep=100-cpu",
        ),
    ],
)
def test_run_name_and_folder(compose, overrides, name, folder):
    cfg = compose(*overrides, hydra=True)
    assert run_config(cfg).run_name() == name
    assert re.fullmatch(
        rf"outputs/runs/\d{{4}}-\d\d-\d\d_\d\d-\d\d-\d\d-{re.escape(folder)}", cfg.hydra.run.dir
    )
    hydra = OmegaConf.to_container(cfg.hydra, resolve=False)
    assert hydra["sweep"]["subdir"] == "${hydra.job.num}-${linreg.run_folder:}"
    assert hydra["sweep"]["dir"] == "outputs/sweeps/${now:%Y-%m-%d_%H-%M-%S}"
    assert cfg.hydra.job.chdir is False


def test_run_name_adds_the_other_swept_keys(compose):
    run = run_config(compose("backend=numpy", "train.momentum=0.5"))
    vary = {"train.momentum": "0.5", "data": "multi"}
    assert run.run_name(vary) == "numpy · mse · lr=0.01 · ep=100 · cpu · momentum=0.5 · data=multi"


@pytest.mark.slow
def test_single_runs_with_the_same_name_keep_their_own_folders(stored_cli):
    for momentum in ("0.5", "0"):
        proc = stored_cli.train(f"train.momentum={momentum}", "backend=numpy", *QUICK)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        time.sleep(1.1)  # the folder's name has the second it started
    folders = sorted((stored_cli.cwd / "outputs" / "runs").iterdir())
    assert len(folders) == 2
    assert [RunRecord.read(f).momentum for f in folders] == [0.5, 0.0]
