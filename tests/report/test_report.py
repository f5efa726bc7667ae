"""The sweep's pictures and report (linreg.report), from one small real sweep (the walkthrough's
data with outliers, mse and mae, three learning rates): every figure it has data for, drawn
again identically; what the report states; the terminal's summary."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from linreg.core import DataSpec, generate
from linreg.report import report
from linreg.report.comparison import sweep_figures
from linreg.run.record import BEST, RunRecord, frame
from linreg.sweep.folder import records
from tests.helpers.cli import Cli
from tests.helpers.figures import embedded_images

GRID = [
    "-m",
    "data=outliers",
    "train.lr=0.01,0.1,1.5",
    "train.epochs=60",
    "loss=mse,mae",
    "backend=numpy",
    "hydra.sweep.dir=outputs/sweeps/report",
]


FIGURES = ["loss_curves", "param_evolution", "error_heatmap", "loss_landscape", "outliers"]


ANIMATION = "descent.gif"


@pytest.fixture(scope="module")
def sweep(once):
    def make(folder: Path):
        proc = Cli(folder).train(*GRID)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"stdout": proc.stdout}

    folder, out = once("report-sweep", make)
    sweep_dir = folder / "outputs" / "sweeps" / "report"
    return sweep_dir, records(sweep_dir), out["stdout"]


@pytest.mark.slow
def test_the_sweep_draws_every_figure_it_has_data_for(sweep):
    sweep_dir, _, _ = sweep
    for name in FIGURES:
        png = sweep_dir / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (sweep_dir / ANIMATION).read_bytes()[:6] == b"GIF89a"
    assert (sweep_dir / "report.html").is_file() and (sweep_dir / "report.md").is_file()


@pytest.mark.slow
def test_figures_are_drawn_again_identically_from_the_results(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    made = sweep_figures(sweep_dir, results, tmp_path, generate(DataSpec(outlier_fraction=0.1)))
    assert sorted(p.name for p in made) == sorted([*(f"{n}.png" for n in FIGURES), ANIMATION])
    assert all(p.parent == tmp_path for p in made)


@pytest.mark.slow
def test_no_landscape_or_outliers_figure_without_what_they_need(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    made = sweep_figures(
        sweep_dir, results, tmp_path, generate(DataSpec(n_features=2, weights=(1.0, 2.0)))
    )
    names = {p.name for p in made}
    assert not names & {"loss_landscape.png", "outliers.png", ANIMATION}


@pytest.mark.slow
def test_report_states_what_the_numbers_support(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    df = frame(results)
    pngs = sorted(sweep_dir.glob("*.png"))
    md, html = report.write(df, pngs, tmp_path, "test sweep")
    text = md.read_text()
    assert text.startswith("# test sweep")
    assert "6 runs: 5 ok, 1 diverged, 0 skipped, 0 failed" in text
    assert "## Runs that did not end ok" in text and "loss exploded at epoch" in text
    # the best mse run is listed first among mse rows, with its numbers from the table
    ok = df[df["status"] == "ok"]
    best_mse = ok[ok["loss"] == "mse"].sort_values("optimum_distance").iloc[0]
    assert best_mse["run_name"] in text.split("## What the numbers say")[0]
    assert f"Best: {BEST}." in text
    # the statistical error sentence quotes the optimum's distance from the truth
    stat = ok[ok["loss"] == "mae"]["statistical_error"].iloc[0]
    assert f"The exact mae optimum lies {stat:.3g} from the true parameters" in text
    # with outliers MAE's optimum is nearer the truth than MSE's: the figures' point
    assert stat < ok[ok["loss"] == "mse"]["statistical_error"].iloc[0]
    assert "1 run(s) diverged: numpy · mse · lr=1.5 · ep=60 · cpu." in text
    # every figure of the sweep: linked relative to report.md, inside report.html
    assert pngs
    for png in pngs:
        assert f"![{png.stem}]({os.path.relpath(png, tmp_path)})" in text, png.name
    assert embedded_images(html.read_text()) == [p.read_bytes() for p in pngs]


@pytest.mark.slow
def test_the_report_in_a_sweep_folder_carries_its_figures_and_the_lesson(sweep):
    """The sweep's own report.html: its figures (the GIF among them) inside it, so it opens
    whole from the folder, alone in a browser or in MLflow; the learning-rate section classifies
    each run."""
    sweep_dir, results, _ = sweep
    page = (sweep_dir / "report.html").read_text()
    images = embedded_images(page)
    assert len(images) == len(FIGURES) + 1 and any(i[:6] == b"GIF89a" for i in images)
    md = (sweep_dir / "report.md").read_text()
    assert "## The learning rate" in md and "2/λ_max = " in md
    every = md.split("## Every run")[1]
    assert len(results) == 6  # GRID's runs: the loop below checks each
    for r in results:  # one behaviour per run; mse's lr=1.5 is far past the critical lr
        row = re.escape(f"| {r.run_name} | {r.status} | ")
        assert re.search(row + r"(converged|too slow|oscillating|diverged) \|", every), r.run_name
    assert "| numpy · mse · lr=1.5 · ep=60 · cpu | diverged | diverged |" in md


@pytest.mark.slow
def test_convergence_sentence_names_the_epoch_from_the_table():
    def ok_run(name, lr, converged_epoch, bias, w, weight_error):
        return RunRecord(
            run_name=name, backend="numpy", device="cpu", loss="mse", lr=lr, epochs=100,
            status="ok", bias=bias, weights=[w], weight_error=weight_error,
            converged_epoch=converged_epoch, momentum=0.0, schedule="constant", dtype="float32",
        )  # fmt: skip

    df = frame([ok_run("a", 0.1, 41, 1.0, 2.0, 0.1), ok_run("b", 0.001, None, 0.5, 1.0, 1.0)])
    (sentence,) = [s for s in report.findings(df) if s.startswith("With mse")]
    assert sentence == (
        "With mse, the parameters reached the optimum (within √ε of their dtype, relative) by "
        "epoch 41 at lr=0.1; lr=0.001 did not within 100 epochs."
    )


@pytest.mark.slow
def test_terminal_shows_a_line_per_run_and_the_summary(sweep):
    sweep_dir, results, stdout = sweep
    lines = stdout.splitlines()
    assert len(results) == 6  # GRID's runs: the loop below checks each
    for r in results:  # its progress line, then its row of the table
        naming = [ln for ln in lines if f" {r.run_name} " in f" {ln} "]
        assert len(naming) == 2, (r.run_name, stdout)
    counts = "report: 6 runs: 5 ok, 1 diverged, 0 skipped, 0 failed"
    assert counts in lines, stdout
    after = lines[lines.index(counts) + 1 :]
    assert [ln.split()[0] for ln in after] == ["runs:", "mlflow:", "models:"], stdout
    assert f"outputs/sweeps/{sweep_dir.name}/" in after[0]
    assert after[2].split()[1:3] == ["linreg-mae/1,", "linreg-mse/1"]  # the best per loss
