"""A sweep folder as the train stage leaves it: its manifest (``sweep.json``) and each run's
record, a run without ``result.json`` (interrupted, or never started) included as failed."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from linreg.run.names import name_parts, run_name
from linreg.run.record import MANIFEST, RunRecord


def read_manifest(sweep_dir: Path) -> dict:
    return json.loads((Path(sweep_dir) / MANIFEST).read_text())


def job_folders(sweep_dir: Path, manifest: dict) -> list[Path]:
    """This sweep's run folders, in job order: those whose .hydra/config.yaml Hydra wrote since
    the sweep started (a folder of an earlier sweep into the same place is not this one's)."""
    folders = [
        p.parent.parent
        for p in Path(sweep_dir).glob("*/.hydra/config.yaml")
        if p.stat().st_mtime >= manifest.get("started", 0) - 1
    ]
    return sorted(folders, key=lambda p: (int(p.name.split("-", 1)[0]), p.name))


def records(sweep_dir: Path, manifest: dict | None = None) -> list[RunRecord]:
    """Each run's record; a folder without result.json is a run that was interrupted."""
    manifest = manifest or read_manifest(sweep_dir)
    out = []
    for folder in job_folders(sweep_dir, manifest):
        try:
            out.append(RunRecord.read(folder))
        except (OSError, ValueError):
            out.append(interrupted(folder))
    return out


def interrupted(folder: Path) -> RunRecord:
    try:
        cfg = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        what = dict(
            backend=cfg["backend"]["name"],
            device=cfg["device"]["name"],
            loss=cfg["loss"]["name"],
            lr=cfg["train"]["lr"],
            epochs=cfg["train"]["epochs"],
        )
    except Exception:
        what = dict(backend="?", device="?", loss="?", lr=float("nan"), epochs=0)
    lr, epochs = f"{what['lr']:g}", str(what["epochs"])
    name = run_name(name_parts(what["backend"], what["loss"], lr, epochs, what["device"]))
    return RunRecord(
        run_name=name,
        **what,
        status="failed",
        reason="no result.json: the run was interrupted"
        if (folder / "config.yaml").is_file()
        else "the run never started: the sweep stopped first",
        run_folder=folder.name,
    )
