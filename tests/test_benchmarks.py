"""The benchmark harness's plumbing (rows, verdicts, the table, RESULTS.md); never its timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import MODULES
from benchmarks.common import Row, table, write_results

ROOT = Path(__file__).resolve().parent.parent


def test_rows_compute_their_ratio_and_verdict():
    met = Row("a", 2.0, 4.0, target=1.0)
    assert met.ratio == 0.5 and met.verdict == "met"
    missed = Row("b", 3.0, 2.0, target=1.0)
    assert missed.ratio == 1.5 and missed.verdict == "NOT met"
    assert Row("c", 1.0, 2.0).verdict == ""  # informative: no target
    skipped = Row("d", None, None, target=1.5, note="skipped: no CUDA device here")
    assert skipped.ratio is None and skipped.verdict == "skipped"
    assert Row("e", 1.0, 2.0, ratio=0.4).ratio == 0.4  # a side-by-side median stays as given


def test_table_and_results_file(tmp_path):
    rows = [
        Row("walk", 0.1, 0.2, target=1.0, baseline_name="bare loop"),
        Row("gpu", None, None, target=1.5, note="skipped: no CUDA device here"),
    ]
    text = table(rows)
    assert "walk" in text and "met" in text and "skipped" in text and "bare loop" in text
    out = write_results(
        [("walkthrough", "The walkthrough.", rows, "Some *notes*.")],
        12.0,
        "python -m benchmarks",
        tmp_path / "RESULTS.md",
    )
    md = out.read_text()
    assert md.startswith("# Benchmarks")
    assert "## Machine" in md and "- cpu:" in md and "- numpy:" in md
    assert "| walk | 100 µs | 200 µs (bare loop) | 0.50x | <= 1x | met |" in md
    assert "1 target(s) met, 0 not met." in md
    assert "## walkthrough: The walkthrough.\n\nSome *notes*." in md


def test_every_module_has_the_interface():
    import importlib
    import importlib.util

    assert MODULES
    for name in MODULES:
        if importlib.util.find_spec(f"benchmarks.{name}") is None:
            assert name == "sweep"  # the one optional module
            continue
        mod = importlib.import_module(f"benchmarks.{name}")
        assert callable(mod.run) and mod.__doc__


@pytest.mark.slow
def test_quick_run_of_the_walkthrough_benchmark(tmp_path):
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "walkthrough",
            "--only",
            "gpu",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "walkthrough 100x1 mse: torch per epoch" in done.stdout
    assert "walkthrough 100x1 mse: torch per epoch" in out.read_text()


def test_sweep_benchmark_grids_are_what_the_train_stage_reads(tmp_path):
    """benchmarks/sweep.py runs dvc.yaml's train command on params.yaml with its own grids: each
    must be a grid the stage accepts, of the size the benchmark reports."""
    import itertools

    import yaml

    from benchmarks import sweep
    from linreg.config import params

    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert pipeline["stages"]["train"]["cmd"] == sweep.STAGE
    for n, grid in sweep.GRIDS.items():
        folder = tmp_path / f"grid{n}"
        folder.mkdir()
        written = sweep._project(folder, grid)
        _, sweeps = params.split(folder / "params.yaml")
        assert len(list(itertools.product(*sweeps.values()))) == n, n
        g = written["grid"]  # what the bare side loops over
        bare = [g["train"]["lr"], g["train"]["epochs"], g["loss"], g["backend"], g["device"]]
        assert len(list(itertools.product(*bare))) == n, n


@pytest.mark.slow
def test_sweep_benchmark_stage_and_bare_side_run(tmp_path):
    """The 6-run grid once through both sides (timings not checked)."""
    import pandas as pd

    from benchmarks import sweep

    params = sweep._setup(tmp_path, sweep.GRIDS[6])
    assert sweep.stage(tmp_path) > 0
    summary = pd.read_csv(tmp_path / "runs" / "summary.csv")
    assert len(summary) == 6 and set(summary["status"]) == {"ok"}
    assert (tmp_path / "mlflow.db").is_file()
    assert sweep.bare(tmp_path, params) > 0
