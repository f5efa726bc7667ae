"""Recording cost: a run's overhead against its epochs, the floors it stands on, a grown grid.

Each figure compares two whole processes measured side by side: ``linreg`` (Hydra, the checks,
MLflow to a sqlite store whose schema exists, the run folder, figures, graph) against a bare
script that imports the core, makes the same data and calls the same ``fit()`` with nothing
recorded.  Start-up counts on both sides.  The overhead of a run is the difference; the table
shows it flat in epochs (``tracking.max_points`` bounds what MLflow gets).  The floors are what
MLflow and Hydra cost by themselves, per run, through their public APIs.  The grown grid runs
the real pipeline twice (``dvc repro`` in a temporary git repository): the walkthrough's grid,
then the same grid with one learning rate more (12 new runs of 48).
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
BARE = """
import sys, time
from linreg.core import DataSpec, Loss, TrainSettings, fit, generate
data = generate(DataSpec())
fit(data.X, data.y, data.theta0,
    TrainSettings(lr=0.01, epochs=int(sys.argv[1]), loss=Loss("mse"), device="cpu"), "numpy")
"""
FLOORS = """
import json, sys, tempfile, time
t = time.perf_counter()
import mlflow, hydra, linreg.sweep.job, linreg.train
imports = time.perf_counter() - t
from pathlib import Path
n = int(sys.argv[1])
from linreg.tracking import open_store
from hydra import compose, initialize_config_dir
from linreg.config.paths import CONF_DIR
with tempfile.TemporaryDirectory() as tmp:
    store = open_store(f"sqlite:///{tmp}/m.db", "floors")
    t = time.perf_counter()
    for i in range(n):
        run = store.start_run(f"r{i}")
        store.end_run(run)
    runs = (time.perf_counter() - t) / n
    run = store.start_run("points")
    import numpy as np
    t = time.perf_counter()
    store.log(run, series={"loss": (np.arange(4000), np.linspace(1, 0, 4000))})
    points = (time.perf_counter() - t) / 4
with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
    compose("config", return_hydra_config=True)
    t = time.perf_counter()
    for i in range(n):
        compose("config", overrides=[f"train.lr={0.001 * (i + 1)}"], return_hydra_config=True)
    composition = (time.perf_counter() - t) / n
print(json.dumps({"run": runs, "points": points, "compose": composition, "imports": imports}))
"""


def _env(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HYDRA_", "DVC_"))}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def _time(cmd: list[str], folder: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=_env(folder), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def single(folder: Path, epochs: int) -> tuple[float, float]:
    """(linreg's run, the bare fit) for one numpy run of ``epochs`` on the walkthrough data."""
    run, _ = _time([sys.executable, "-m", "linreg.train", "backend=numpy",
                    f"train.epochs={epochs}", f"hydra.run.dir=run{epochs}"], folder)  # fmt: skip
    bare, _ = _time([sys.executable, "-c", BARE, str(epochs)], folder)
    return run, bare


def floors(folder: Path, n: int = 20) -> dict:
    _, out = _time([sys.executable, "-c", FLOORS, str(n)], folder)
    return json.loads(out.splitlines()[-1])


def grown_grid(folder: Path) -> tuple[float, float]:
    """(first ``dvc repro``, second after one more lr) in a temporary copy of the project."""
    for name in ("conf", "src", "dvc.yaml", "params.yaml", ".dvc/config", ".dvc/plots"):
        src, dst = ROOT / name, folder / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(src, dst)
    env = _env(folder)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q", "--force"]):
        subprocess.run(cmd, cwd=folder, env=env, check=True, capture_output=True)
    shutil.copy(ROOT / ".dvc" / "config", folder / ".dvc" / "config")
    first, _ = _time(["dvc", "repro", "-q"], folder)
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["grid"]["train"]["lr"] = [*params["grid"]["train"]["lr"], 0.05]
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    second, _ = _time(["dvc", "repro", "-q"], folder)
    return first, second


def run(quick: bool) -> list[Row]:
    rows = []
    epochs = [100, 10_000] if quick else [100, 1_000, 10_000, 100_000, 1_000_000]
    with tempfile.TemporaryDirectory(prefix="linreg-bench-recording-") as tmp:
        folder = Path(tmp)
        _time([sys.executable, "-c", "from linreg.tracking import open_store, resolve_uri;"
               " open_store(resolve_uri(), 'linreg')"], folder)  # fmt: skip
        for e in epochs:
            run_s, bare_s = single(folder, e)
            over = run_s - bare_s
            target = 1.5 if e == 100_000 else None
            note = f"overhead {over:.2f} s"
            if e == 100_000:  # the bound: <= 1.5 x bare + 2 s, as a ratio to bare
                target = (1.5 * bare_s + 2.0) / bare_s
                note += f"; target 1.5 x bare + 2 s = {1.5 * bare_s + 2:.1f} s"
            rows.append(Row(f"recording: single run, {e:,} epochs", run_s, bare_s, target=target,
                            unit="s", baseline_name="bare fit()", note=note))  # fmt: skip
        if not quick and shutil.which("git"):
            first, second = grown_grid(folder / "grown")
            rows.append(Row("grown grid: second dvc repro (+1 lr: 12 new of 48)", second, first,
                            unit="s", baseline_name="first dvc repro (36 runs)",
                            note="tracking.reuse: the 36 earlier runs are reused"))  # fmt: skip
    return rows


def notes(rows: list[Row]) -> str:
    singles = [r for r in rows if r.name.startswith("recording: single run") and r.value]
    grown = next((r for r in rows if r.name.startswith("grown grid")), None)
    if not singles:
        return ""
    table = "\n".join(
        f"| {r.name.split(', ')[1]} | {r.value:.2f} s | {r.baseline:.2f} s | "
        f"{r.value - r.baseline:.2f} s |"
        for r in singles
    )
    long = next((r for r in singles if "100,000 epochs" in r.name), None)
    verdict = ""
    if long is not None:
        allowed = 0.5 * long.baseline + 2.0
        verdict = (
            f"The 100,000-epoch bound (1.5 x bare + 2 s) leaves {allowed:.2f} s for everything a run "
            f"does beyond its training; the run took {long.value - long.baseline:.2f} s more. That "
            "overhead is the process's start-up, paid whatever the epochs: importing MLflow and "
            "opening its sqlite store (about 2.3 s in a cProfile of one run: SQLAlchemy, alembic, "
            "MLflow's entities), Hydra composing the config for the pre-launch check and again "
            "for the job, matplotlib for the three figures, the dataset input.  What grows with "
            "epochs is now small (the Parquet of every epoch, the evaluation's passes over the "
            "trajectory): MLflow gets at most `tracking.max_points` points a series."
        )
    reuse = ""
    if grown is not None and grown.value:
        reuse = (
            f"\n\nThe grown grid: the second `dvc repro` ({grown.value:.1f} s) trains the 12 new "
            f"runs and reuses the 36 others; it still composes all 48 jobs, creates their MLflow "
            f"runs and copies their files, and the evaluate stage draws every figure of the 48 "
            f"runs again (the first took {grown.baseline:.1f} s for 36 runs)."
        )
    return f"""
Overhead per single run (numpy, the walkthrough's data), flat in epochs:

| epochs | linreg | bare fit() | overhead |
|---|---|---|---|
{table}

{verdict}{reuse}
"""


if __name__ == "__main__":
    from .common import table

    print(table(run(quick="--quick" in sys.argv)))
