"""The sweep's pictures and report (linreg.insight, linreg.report), and the graph without Graphviz.

One small real sweep (the walkthrough's data with outliers, mse and mae, three learning rates,
mse diverging at the largest) feeds every test here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import VENV_BIN, Cli, clean_env
from linreg import graphs, report, summary
from linreg.core import DataSpec, Loss, generate
from linreg.sweep import read_results

pytestmark = pytest.mark.slow

GRID = [
    "-m",
    "data=outliers",
    "train.lr=0.01,0.1,1.5",
    "train.epochs=60",
    "loss=mse,mae",
    "backend=numpy",
    "tracking.sweep_name=report",
]


@pytest.fixture(scope="module")
def sweep(once):
    def make(folder: Path):
        proc = Cli(folder).train(*GRID)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"stdout": proc.stdout}

    folder, out = once("report-sweep", make)
    sweep_dir = folder / "outputs" / "sweeps" / "report"
    _, results = read_results(sweep_dir)
    return sweep_dir, results, out["stdout"]


def test_the_sweep_draws_every_figure_it_has_data_for(sweep):
    sweep_dir, _, _ = sweep
    for name in ("loss_curves", "param_evolution", "error_heatmap", "loss_landscape", "outliers"):
        png = sweep_dir / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_figures_are_drawn_again_identically_from_the_results(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    made = summary.sweep_figures(
        sweep_dir, results, tmp_path, generate(DataSpec(outlier_fraction=0.1))
    )
    assert sorted(p.name for p in made) == sorted(
        [
            "loss_curves.png",
            "param_evolution.png",
            "error_heatmap.png",
            "loss_landscape.png",
            "outliers.png",
        ]
    )


def test_no_landscape_or_outliers_figure_without_what_they_need(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    made = summary.sweep_figures(
        sweep_dir, results, tmp_path, generate(DataSpec(n_features=2, weights=(1.0, 2.0)))
    )
    names = {p.name for p in made}
    assert "loss_landscape.png" not in names and "outliers.png" not in names


def test_report_states_what_the_numbers_support(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    df = summary.frame(results)
    md, html = report.write(df, sorted(sweep_dir.glob("*.png")), tmp_path, "test sweep")
    text = md.read_text()
    assert text.startswith("# test sweep")
    assert "6 runs: 5 ok, 1 diverged, 0 skipped, 0 failed" in text
    assert "## Runs that did not end ok" in text and "loss exploded at epoch" in text
    # the best mse run is listed first among mse rows, with its numbers from the table
    ok = df[df["status"] == "ok"]
    best_mse = ok[ok["loss"] == "mse"].sort_values("weight_error").iloc[0]
    assert best_mse["run_name"] in text.split("## What the numbers say")[0]
    # the statistical error sentence quotes the optimum's distance from the truth
    stat = ok[ok["loss"] == "mae"]["statistical_error"].iloc[0]
    assert f"The exact mae optimum lies {stat:.3g} from the true parameters" in text
    # with outliers MAE's optimum is nearer the truth than MSE's: the figures' point
    assert stat < ok[ok["loss"] == "mse"]["statistical_error"].iloc[0]
    assert "1 run(s) diverged: numpy · mse · lr=1.5" in text
    assert (
        "<img src='loss_landscape.png'" in html.read_text() or "loss_landscape" in html.read_text()
    )


def test_convergence_sentence_names_the_epoch_from_the_table():
    df = pd.DataFrame(
        [
            {
                "run_name": "a",
                "backend": "numpy",
                "loss": "mse",
                "lr": 0.1,
                "epochs": 100,
                "status": "ok",
                "converged_epoch": 41,
                "statistical_error": None,
                "momentum": 0.0,
                "batch_size": None,
                "schedule": "constant",
                "dtype": "float32",
                "bias": 1.0,
                "w_0": 2.0,
                "weight_error": 0.1,
            },
            {
                "run_name": "b",
                "backend": "numpy",
                "loss": "mse",
                "lr": 0.001,
                "epochs": 100,
                "status": "ok",
                "converged_epoch": None,
                "statistical_error": None,
                "momentum": 0.0,
                "batch_size": None,
                "schedule": "constant",
                "dtype": "float32",
                "bias": 0.5,
                "w_0": 1.0,
                "weight_error": 1.0,
            },
        ]
    )
    (sentence,) = [s for s in report.findings(df) if s.startswith("With mse")]
    assert sentence == (
        "With mse, the loss came within 1e-6 (relative) of the optimum's by "
        "epoch 41 at lr=0.1; lr=0.001 did not within 100 epochs."
    )


def test_terminal_shows_a_line_per_run_and_the_summary(sweep):
    _, results, stdout = sweep
    for r in results:
        assert r["run_name"] in stdout
    assert stdout.strip().splitlines()[-1].startswith("report: 6 runs: 5 ok, 1 diverged")


def test_graph_without_graphviz_writes_dot_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not graphs.dot_available()
    written = graphs.write_graph(tmp_path, graphs.formula_dot("numpy", Loss("mae"), 100, 1))
    assert [p.name for p in written] == ["graph.dot"]
    assert "sign(r)" in (tmp_path / "graph.dot").read_text()


def test_a_run_without_graphviz_completes_and_says_how_to_get_images(tmp_path):
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    env["PATH"] = str(VENV_BIN)  # no /usr/bin: no `dot` (and no git: the commit tag is left out)
    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "linreg.train", "backend=torch", "train.epochs=5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "outputs" / "runs" / "torch-mse-lr=0.01-ep=5-cpu"
    assert (run / "graph.dot").is_file() and not (run / "graph.png").exists()
    assert "AccumulateGrad" in (run / "graph.dot").read_text()  # torchviz's graph
    assert proc.stderr.count("apt-get install graphviz") == 1
    assert json.loads((run / "result.json").read_text())["status"] == "ok"
    assert os.environ.get("PATH")  # the test's own PATH is untouched
