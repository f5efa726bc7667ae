"""The sweep's pictures and report (linreg.report), and the graph without Graphviz.

One small real sweep (the walkthrough's data with outliers, mse and mae, three learning rates,
mse diverging at the largest) feeds every test here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import VENV_BIN, Cli, clean_env, store_runs
from linreg.core import DataSpec, Loss, generate
from linreg.present import graphs
from linreg.report import report
from linreg.report.comparison import sweep_figures
from linreg.run.record import BEST, RunRecord, best_runs, frame
from linreg.sweep.folder import records

pytestmark = pytest.mark.slow

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


def test_the_sweep_draws_every_figure_it_has_data_for(sweep):
    sweep_dir, _, _ = sweep
    for name in FIGURES:
        png = sweep_dir / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (sweep_dir / ANIMATION).read_bytes()[:6] == b"GIF89a"
    assert (sweep_dir / "report.html").is_file() and (sweep_dir / "report.md").is_file()


def test_figures_are_drawn_again_identically_from_the_results(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    made = sweep_figures(sweep_dir, results, tmp_path, generate(DataSpec(outlier_fraction=0.1)))
    assert sorted(p.name for p in made) == sorted([*(f"{n}.png" for n in FIGURES), ANIMATION])
    assert all(p.parent == tmp_path for p in made)


def test_no_landscape_or_outliers_figure_without_what_they_need(sweep, tmp_path):
    sweep_dir, results, _ = sweep
    made = sweep_figures(
        sweep_dir, results, tmp_path, generate(DataSpec(n_features=2, weights=(1.0, 2.0)))
    )
    names = {p.name for p in made}
    assert not names & {"loss_landscape.png", "outliers.png", ANIMATION}


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


def embedded_images(page: str) -> list[bytes]:
    """The images of an HTML page, each decoded from its data: URI; a page that refers to any
    file (a relative or absolute src) fails, as MLflow's artifact viewer would show it broken."""
    import base64
    import io
    import re

    from PIL import Image

    sources = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(sources) == page.count("<img "), "an <img> without a quoted src"
    out = []
    for src in sources:
        head, _, payload = src.partition(",")
        assert re.fullmatch(r"data:image/(png|gif);base64", head), src[:60]
        raw = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()  # a whole, decodable image
        out.append(raw)
    return out


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
    for r in results:  # one behaviour per run; mse's lr=1.5 is far past the critical lr
        row = re.escape(f"| {r.run_name} | {r.status} | ")
        assert re.search(row + r"(converged|too slow|oscillating|diverged) \|", every), r.run_name
    assert "| numpy · mse · lr=1.5 · ep=60 · cpu | diverged | diverged |" in md


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


def test_terminal_shows_a_line_per_run_and_the_summary(sweep):
    sweep_dir, results, stdout = sweep
    lines = stdout.splitlines()
    for r in results:  # its progress line, then its row of the table
        naming = [ln for ln in lines if f" {r.run_name} " in f" {ln} "]
        assert len(naming) == 2, (r.run_name, stdout)
    counts = "report: 6 runs: 5 ok, 1 diverged, 0 skipped, 0 failed"
    assert counts in lines, stdout
    after = lines[lines.index(counts) + 1 :]
    assert [ln.split()[0] for ln in after] == ["runs:", "mlflow:", "models:"], stdout
    assert f"outputs/sweeps/{sweep_dir.name}/" in after[0]
    assert after[2].split()[1:3] == ["linreg-mae/1,", "linreg-mse/1"]  # the best per loss


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
    [run] = (tmp_path / "outputs" / "runs").glob("*-torch-mse-lr=0.01-ep=5-cpu")
    assert (run / "graph.dot").is_file() and not (run / "graph.png").exists()
    assert "AccumulateGrad" in (run / "graph.dot").read_text()  # torchviz's graph
    assert (proc.stdout + proc.stderr).count("apt-get install graphviz") == 1, proc.stderr
    assert json.loads((run / "result.json").read_text())["status"] == "ok"
    [mlflow_run] = store_runs(env["MLFLOW_TRACKING_URI"])
    assert "mlflow.source.git.commit" not in mlflow_run.data.tags  # no git: left out
    assert os.environ.get("PATH")  # the test's own PATH is untouched


def test_the_walkthrough_metrics_name_only_the_walkthroughs_runs():
    """metrics.json's "walkthrough" numbers come from the walkthrough's data and plain descent
    only: on other data, or with momentum, there is nothing of the walkthrough's to report."""
    from linreg.core import DataSpec
    from linreg.evaluate import is_walkthrough, metrics
    from linreg.run.record import RunRecord, frame

    def run(momentum: float) -> RunRecord:
        return RunRecord(run_name=f"torch · mse · lr=0.01 · ep=100 · cpu · momentum={momentum}",
                         backend="torch", device="cpu", loss="mse", lr=0.01, epochs=100,
                         status="ok", bias=1.0283, weights=[2.2193], weight_error=0.28,
                         optimum_distance=0.29, momentum=momentum, schedule="constant",
                         dtype="float32")  # fmt: skip

    walkthrough = {"kind": "synthetic", **DataSpec().to_dict()}
    assert is_walkthrough({"spec": json.loads(json.dumps(walkthrough))})
    assert not is_walkthrough({"spec": {**walkthrough, "outlier_fraction": 0.1}})
    df = frame([run(0.0)])
    assert metrics(df, True)["walkthrough"] == {"epochs_100": {"weight": 2.2193, "bias": 1.0283}}
    assert "walkthrough" not in metrics(df, False)
    assert "walkthrough" not in metrics(frame([run(0.9)]), True)


def test_the_best_run_is_the_closest_to_its_own_optimum_then_the_first_there():
    """Among runs that reached the optimum of their loss, the one that reached it in the fewest
    epochs (the same in every repetition, where wall_s differs by microseconds), then the
    quickest; a run still on its way is never preferred, however near the true parameters its
    noise happens to put it."""

    def ran(name, optimum_distance, wall_s, converged_epoch, weight_error, epochs=100, loss="mse"):
        return RunRecord(
            run_name=name, backend="numpy", device="cpu", loss=loss, lr=0.1, epochs=epochs,
            status="ok", bias=1.0, weights=[2.5], weight_error=weight_error,
            optimum_distance=optimum_distance, converged_epoch=converged_epoch, wall_s=wall_s,
            epochs_run=epochs,
        )  # fmt: skip

    df = frame([
        ran("reached at 40, slow", 1e-9, 0.5, 40, 0.0200),
        ran("reached at 60, the fastest", 1e-7, 0.01, 60, 0.0201),
        ran("on its way, nearest the truth", 3e-3, 0.001, None, 0.0010),
        ran("reached at 20", 1e-8, 0.3, 20, 0.02, epochs=1000),
        ran("reached at 20, faster", 1e-8, 0.2, 20, 0.02),
        ran("mae: on its way", 5e-2, 0.2, None, 0.1, loss="mae"),
        ran("mae: nearer", 1e-2, 0.9, None, 0.3, loss="mae"),
    ])  # fmt: skip
    best = best_runs(df, ["loss"])
    assert list(best["run_name"]) == ["mae: nearer", "reached at 20, faster"]
    assert list(best_runs(df.iloc[::-1], ["loss"])["run_name"]) == list(best["run_name"])
    alone = best_runs(df[df["run_name"].str.startswith("on its")], ["loss"])
    assert list(alone["run_name"]) == ["on its way, nearest the truth"]


@pytest.mark.slow
def test_the_evaluate_stage_writes_the_gif_and_logs_it_with_the_report_to_the_parent(tmp_path):
    """The pipeline's three commands (dvc.yaml's) on a tiny grid: results/figures/descent.gif,
    report.html with every figure inside it, and both among the sweep's parent run's artifacts."""
    import sys

    import yaml
    from mlflow.tracking import MlflowClient
    from PIL import Image

    repo = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["grid"] = {"train": {"lr": [0.1, 0.5], "epochs": [20]}, "backend": ["numpy"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for name in ("generate", "train", "evaluate"):
        cmd = stages[name]["cmd"].replace("python", sys.executable, 1).split()
        proc = subprocess.run(cmd, cwd=tmp_path, env=clean_env(MLFLOW_TRACKING_URI=uri),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr[-2000:])
    results = tmp_path / "results"
    with Image.open(results / "figures" / "descent.gif") as gif:
        assert gif.n_frames > 10
    figures = sorted((results / "figures").iterdir())
    images = embedded_images((results / "report.html").read_text())
    assert sorted(images) == sorted(p.read_bytes() for p in figures)
    parent = json.loads((tmp_path / "runs" / "sweep.json").read_text())["parent_run_id"]
    client = MlflowClient(tracking_uri=uri)
    logged = {a.path for a in client.list_artifacts(parent, "evaluation/figures")}
    assert "evaluation/figures/descent.gif" in logged
    assert "evaluation/report.html" in {a.path for a in client.list_artifacts(parent, "evaluation")}
