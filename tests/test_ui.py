"""The MLflow UI, checked in a real browser: ``mlflow ui`` on 127.0.0.1 over a store filled by a
small sweep, driven by Playwright in Debian's headless Chromium (never a browser of Playwright's
own).  The experiment page lists the runs with their parameters, a run's Model metrics show the
per-epoch chart of ``loss``, and its artifacts hold the computation graph, shown as an image.

Screenshots go to the test's tmp folder and, when LINREG_SCREENSHOT_DIR is set, there too
(docs/images/mlflow_ui.png is the chart view from such a run)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import split_runs, store_runs
from servers import HOST, free_port, mlflow_server, tail, train, wait_http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 45_000
TORCH_RUN = "torch · mse · lr=0.1 · ep=20 · cpu"
NAMES = [f"{b} · mse · lr={lr} · ep=20 · cpu" for lr in ("0.01", "0.1") for b in ("numpy", "torch")]


@pytest.fixture
def screenshots(tmp_path):
    """``shot(page, name)``: a PNG in tmp_path/screenshots (and LINREG_SCREENSHOT_DIR)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    extra = os.environ.get("LINREG_SCREENSHOT_DIR")

    def shot(page, name: str, **kw) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), **kw)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    return shot


@pytest.mark.slow
def test_mlflow_ui_shows_runs_loss_chart_and_graph(tmp_path, screenshots):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            "Debian's chromium is not installed (scripts/setup-tests.sh installs it: make test)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed (pip install -e '.[ui]'; scripts/setup-tests.sh)",
    )

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = train(tmp_path, uri, "-m", "train.lr=0.01,0.1", "backend=numpy,torch", "train.epochs=20")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    parents, children = split_runs(store_runs(uri))
    parent = parents[0].info.run_name
    exp_id = parents[0].info.experiment_id
    run_ids = {r.info.run_name: r.info.run_id for r in children}
    assert sorted(run_ids) == sorted(NAMES)

    port = free_port()
    base = f"http://{HOST}:{port}"
    log = tmp_path / "mlflow-ui.log"
    with mlflow_server("ui", port, uri, log, tmp_path) as ui, sync_api.sync_playwright() as pw:
        wait_http(f"{base}/health", ui, log, timeout=90)
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1500, "height": 720},
        )
        ctx.set_default_timeout(WAIT_MS)
        try:
            page = ctx.new_page()
            try:
                _check(page, base, exp_id, parent, run_ids, screenshots)
            except Exception:
                screenshots(page, "failure")
                raise AssertionError(f"see {tmp_path / 'screenshots'}; UI log:\n{tail(log)}")  # noqa: B904
        finally:
            ctx.close()


def _check(page, base, exp_id, parent, run_ids, shot) -> None:
    # 1. The experiment's runs, in the "Model training" view: the sweep's parent run, opened to
    #    show its children, with the parameter column train.lr.
    page.goto(f"{base}/#/experiments/{exp_id}/runs?workflowType=machine_learning")
    page.get_by_text(parent, exact=True).first.wait_for()
    assistant = page.get_by_role("button", name="Close", exact=True)
    if assistant.count():  # the side panel of MLflow's assistant
        assistant.first.click()
    parent_row = page.locator("[role=row]").filter(has_text=parent)
    parent_row.locator("[col-id='attributes.`Run Name`'] button").first.click()
    for name in run_ids:
        page.get_by_text(name, exact=True).first.wait_for()
    page.get_by_role("button", name="Columns", exact=True).click()
    search = page.get_by_placeholder("Search columns")
    # toggles: three attributes out, two parameters and a final metric in
    for column in ("Dataset", "Source", "Models", "train.lr", "backend.name", "train_loss"):
        search.fill(column)
        page.get_by_test_id("column-selector-tree").get_by_text(column, exact=True).click()
    page.keyboard.press("Escape")
    name_header = page.locator("[role=columnheader][col-id='attributes.`Run Name`']")
    name_header.hover()
    name_header.locator(".ag-header-cell-resize").first.dblclick()  # fit the run names
    header = page.locator("[role=columnheader][col-id='params.`train.lr`']")
    header.first.wait_for()
    for name, run_id in run_ids.items():
        lr = re.search(r"lr=([\d.]+)", name).group(1)
        cell = page.locator(f"[role=row][row-id='{run_id}'] [col-id='params.`train.lr`']")
        assert cell.first.inner_text().strip() == lr, name
        backend = page.locator(f"[role=row][row-id='{run_id}'] [col-id='params.`backend.name`']")
        assert backend.first.inner_text().strip() == name.split(" · ")[0]
    shot(page, "mlflow_runs")

    # 2. The same runs side by side in the chart view, filtered to the loss.
    page.locator("label").filter(
        has=page.locator("input[name=runs-view-mode][value=CHART]")
    ).click()
    page.get_by_placeholder("Search metric charts").fill("loss")
    page.get_by_text(re.compile(r"\(loss\)$")).first.wait_for()  # a legend: a per-epoch chart
    page.wait_for_timeout(1500)  # the charts' entry animation
    shot(page, "mlflow_ui")

    # 3. One run: its per-epoch chart of loss (a line chart: the legend names the series), then
    #    its artifacts, where the computation graph opens as an image.
    page.goto(
        f"{base}/#/experiments/{exp_id}/runs/{run_ids[TORCH_RUN]}?workflowType=machine_learning"
    )
    page.get_by_text(TORCH_RUN, exact=True).first.wait_for()
    page.get_by_role("tab", name="Model metrics").click()
    page.get_by_placeholder("Search metric charts").fill("loss")
    page.get_by_text(f"{TORCH_RUN} (loss)", exact=True).first.wait_for()
    page.wait_for_timeout(1000)
    shot(page, "mlflow_run_metrics")
    page.get_by_role("tab", name="Artifacts").click()
    for artifact in ("graph.dot", "loss.png", "trajectory.csv"):
        page.get_by_text(artifact, exact=True).first.wait_for()
    page.get_by_text("graph.png", exact=True).first.click()
    image = page.locator("img[src^='blob:']").first
    image.wait_for()
    loaded = "img => img.complete && img.naturalWidth > 50"
    page.wait_for_function(loaded, arg=image.element_handle())
    shot(page, "mlflow_graph")
