"""The sweep: the train stage on params.yaml's 36-run grid against the same trainings bare.

Both sides run as fresh processes in a temporary copy of the project state (params.yaml, data/
from the generate stage): the train stage (its command in dvc.yaml, ``python -m linreg.train
--params params.yaml data.dir=data hydra.sweep.dir=runs``: the pre-launch check, Hydra's
multirun, MLflow logging to a sqlite store whose schema already exists, per-run figures, graph
images, summary) against a bare script that imports the core, loads the same data and makes the
same 36 ``fit`` calls with nothing logged.  Start-up (interpreter, imports) counts on both sides,
as a user pays it on both.  Growth: the stage's time for 6, 36 and 216 runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .common import Row

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0
BARE = """
import itertools, json, sys, time
from linreg.core import Loss, TrainSettings, fit, load_dataset
grid = json.loads(sys.argv[1])
data = load_dataset("data")
t = time.perf_counter()
for lr, ep, loss, backend, device in itertools.product(*grid):
    fit(data.X, data.y, data.theta0,
        TrainSettings(lr=lr, epochs=ep, loss=Loss(loss), device=device), backend)
print(json.dumps({"fit_s": time.perf_counter() - t}))
"""
GRIDS = {  # runs -> params.yaml's grid section (conf/pipeline.yaml's shape)
    6: {
        "train": {"lr": [0.01], "epochs": [100, 1000]},
        "loss": ["mse"],
        "backend": ["numpy", "python", "torch"],
        "device": ["cpu"],
    },
    36: None,  # params.yaml's own
    216: {
        "train": {"lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], "epochs": [100, 1000]},
        "loss": ["mse", "mae", "huber"],
        "backend": ["numpy", "python", "torch"],
        "device": ["cpu", "auto"],
    },
}
STAGE = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]["cmd"]


def _env(folder: Path) -> dict:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _project(folder: Path, grid: dict | None) -> dict:
    """params.yaml with ``grid`` in place of its own (the train stage reads the file as it is,
    as ``dvc repro`` runs it)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if grid is not None:
        params["grid"] = grid
    params["tracking"]["reuse"] = False  # every run trains: the stage runs twice into one store
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def _run(cmd: list[str], folder: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=_env(folder), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def _setup(folder: Path, grid: dict | None) -> dict:
    params = _project(folder, grid)
    _run([sys.executable, "-m", "linreg.generate", "params.yaml", "data"], folder)
    # the store's schema exists before timing, as for every `dvc repro` but the first
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from linreg.tracking import open_store, resolve_uri;"
            " open_store(resolve_uri(), 'linreg')",
        ],
        cwd=folder,
        env=_env(folder),
        capture_output=True,
        check=True,
    )
    return params


def stage(folder: Path) -> float:
    shutil.rmtree(folder / "runs", ignore_errors=True)
    python, *args = STAGE.split()
    assert python == "python"
    return _run([sys.executable, *args], folder)


def bare(folder: Path, params: dict) -> float:
    g = params["grid"]
    grid = [g["train"]["lr"], g["train"]["epochs"], g["loss"], g["backend"], g["device"]]
    return _run([sys.executable, "-c", BARE, json.dumps(grid)], folder)


def run(quick: bool) -> list[Row]:
    rows = []
    sizes = [6, 36] if quick else [6, 36, 216]
    with tempfile.TemporaryDirectory(prefix="linreg-bench-sweep-") as tmp:
        for n in sizes:
            folder = Path(tmp) / f"grid{n}"
            folder.mkdir()
            params = _setup(folder, GRIDS[n])
            stage_s = stage(folder)
            bare_s = bare(folder, params)
            if n == 36:
                stage_s = min(stage_s, stage(folder))  # a second pair: the better of two
                bare_s = min(bare_s, bare(folder, params))
                rows.append(floor_row(folder, params, bare_s, quick))
                rows.append(
                    Row(
                        "sweep: train stage, 36-run grid",
                        stage_s,
                        bare_s,
                        target=TARGET,
                        unit="s",
                        baseline_name="bare 36 fits",
                        note="Hydra + MLflow + figures + graphs vs fit() alone",
                    )
                )
            else:
                rows.append(
                    Row(
                        f"sweep growth: {n} runs",
                        stage_s,
                        bare_s,
                        unit="s",
                        baseline_name="bare",
                        note=f"{stage_s / n:.2f} s a run",
                    )
                )
    return rows


def floor_row(folder: Path, params: dict, bare_s: float, quick: bool) -> Row:
    """What the 36 runs cost in Hydra and MLflow alone, through their public APIs: the imports,
    one composition a job (by Hydra's launcher: linreg's grid sweeper leaves out the basic
    sweeper's second, validating one), creating and ending an MLflow run, and the per-epoch points (4 series,
    epochs + 1 points each, every epoch up to tracking.max_points) at the store's insert rate;
    plus the bare fits."""
    from .recording import floors

    f = floors(folder, 10 if quick else 30)
    g = params["grid"]
    n = len(g["loss"]) * len(g["backend"]) * len(g["device"]) * len(g["train"]["lr"])
    points = sum(4 * (min(e, 1000) + 1) for e in g["train"]["epochs"]) * n
    runs = n * len(g["train"]["epochs"])
    floor = f["imports"] + runs * (f["compose"] + f["run"]) + points / 1000 * f["points"]
    return Row(
        "sweep floor: 36-run grid, Hydra + MLflow alone",
        floor + bare_s,
        bare_s,
        unit="s",
        baseline_name="bare 36 fits",
        note=(
            f"imports {f['imports']:.1f} s + {runs} x (composition {f['compose'] * 1e3:.0f}"
            f" ms + run {f['run'] * 1e3:.0f} ms) + {points:,} points at "
            f"{f['points'] * 1e3:.0f} ms / 1,000"
        ),
    )


def notes(rows: list[Row]) -> str:
    main = next((r for r in rows if r.name.startswith("sweep: train stage")), None)
    floor = next((r for r in rows if r.name.startswith("sweep floor")), None)
    if main is None or main.value is None or floor is None:
        return ""
    per_run = (main.value - main.baseline) / 36
    above = (main.value - floor.value) / 36
    return f"""
The train stage spends about {per_run:.2f} s a run beyond the training itself.  Hydra and MLflow
alone, through their public APIs, cost {floor.ratio:.1f}x the bare fits on this grid (the floor
row: {floor.note}), so the {TARGET:g}x target cannot be met while every run is a Hydra job and an
MLflow run with its per-epoch series; linreg's own share, above that floor, is about
{above:.2f} s a run: the run folder (trajectory Parquet and CSV, three figures, the graph), the
artifacts, the dataset input, the record.

- Points: MLflow's sqlite store inserts through SQLAlchemy's ORM at the rate in the floor row;
  `tracking.max_points` (1000) bounds each series, so the cost no longer grows with epochs (see
  recording), but this grid's runs have at most 1,000 epochs and are logged whole.
  MLflow's asynchronous logging was slower here (its writer thread competes for the GIL), and
  so was a joblib launcher with 2 workers (two processes on one sqlite file, each paying the
  imports).
- Hydra: its basic sweeper composes every job's config twice (it validates the whole batch,
  then its launcher composes each job).  linreg's grid sweeper (the default; the same jobs)
  leaves out the validating composition, as linreg's pre-launch check has already checked
  every combination, composing once per value of a swept key.
- A run already done is not trained again (`tracking.reuse`): a grown grid pays the floor for
  its old runs but neither their training nor their recording (see recording).
- `tracking.figures=false tracking.graph=false` removes the figures' and graph's share for a user
  who needs only the numbers.
"""


if __name__ == "__main__":
    from .common import table

    print(table(run(quick="--quick" in sys.argv)))
