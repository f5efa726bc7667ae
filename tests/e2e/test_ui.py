"""The MLflow UI, checked in a real browser: ``mlflow ui`` on 127.0.0.1 over a store filled by a
small sweep, driven by Playwright in Debian's headless Chromium (never a browser of Playwright's
own).  The experiment page lists the runs with their parameters; a run's Model metrics show the
per-epoch series (``epoch/…``) as line charts in a section of their own, apart from the final
numbers; its artifacts hold the computation graph, shown as an image; the Models page lists the
registered model of the sweep's best run; the parent run's description shows the sweep's summary;
its ``report.html`` opens in MLflow's artifact viewer with every image loaded.

Screenshots go to the test's tmp folder and, when LINREG_SCREENSHOT_DIR is set, there too (the
README's images in docs/images come from such a run: mlflow_ui.png, mlflow_run_metrics.png,
mlflow_models.png, mlflow_sweep_description.png, mlflow_report.png)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers.cli import split_runs, store_runs
from tests.helpers.servers import HOST, free_port, mlflow_server, tail, train, wait_http

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


SERIES = ("bias", "grad_norm", "loss", "w_0")  # the per-epoch series of a one-feature run


MODEL = "linreg-mse"  # the registered model: experiment linreg, loss mse


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
def test_mlflow_ui_shows_runs_charts_graph_model_description_and_report(tmp_path, screenshots):
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
    parent, parent_id = parents[0].info.run_name, parents[0].info.run_id
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
                _check(page, base, exp_id, (parent, parent_id), run_ids, screenshots)
            except Exception:
                screenshots(page, "failure")
                raise AssertionError(f"see {tmp_path / 'screenshots'}; UI log:\n{tail(log)}")  # noqa: B904
        finally:
            ctx.close()


def _check(page, base, exp_id, parent_run, run_ids, shot) -> None:
    parent, parent_id = parent_run
    # 1. The experiment's runs, in the "Model training" view: the sweep's parent run, opened to
    #    show its children, with the parameter column train.lr.
    page.goto(f"{base}/#/experiments/{exp_id}/runs?workflowType=machine_learning")
    page.get_by_text(parent, exact=True).first.wait_for()
    close_assistant(page)
    parent_row = page.locator("[role=row]").filter(has_text=parent)
    parent_row.locator("[col-id='attributes.`Run Name`'] button").first.click()
    for name in run_ids:
        page.get_by_text(name, exact=True).first.wait_for()
    page.get_by_role("button", name="Columns", exact=True).click()
    search = page.get_by_placeholder("Search columns")
    # toggles: three attributes out, two parameters and a final metric in
    for column in ("Dataset", "Source", "Models", "train.lr", "backend.name", "final/train_loss"):
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
    page.get_by_placeholder("Search metric charts").fill("epoch/loss")
    page.get_by_text(re.compile(r"\(epoch/loss\)$")).first.wait_for()  # a legend: per epoch
    page.wait_for_timeout(1500)  # the charts' entry animation
    shot(page, "mlflow_ui")

    # 3. One run: its charts in sections by kind, the per-epoch series (line charts: each legend
    #    names its series) in the section "epoch", the final numbers apart; then its artifacts,
    #    where the computation graph opens as an image.
    page.goto(
        f"{base}/#/experiments/{exp_id}/runs/{run_ids[TORCH_RUN]}?workflowType=machine_learning"
    )
    page.get_by_text(TORCH_RUN, exact=True).first.wait_for()
    page.get_by_role("tab", name="Model metrics").click()
    epoch = section(page, "epoch")
    for series in SERIES:
        epoch.get_by_text(f"{TORCH_RUN} (epoch/{series})", exact=True).first.wait_for()
    titles = epoch.get_by_test_id("experiment-view-compare-runs-card")
    assert titles.count() == len(SERIES), [
        titles.nth(i).inner_text() for i in range(titles.count())
    ]
    for kind in ("final", "error", "time"):  # the single numbers: sections of their own
        section(page, kind).wait_for()
    close_assistant(page)
    page.wait_for_timeout(1000)  # the charts' entry animation
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

    # 4. The Models page: the sweep's best mse run, registered.
    page.goto(f"{base}/#/models")
    page.keyboard.press("Escape")  # a dialog announcing the new registry UI, where it opens
    link = page.get_by_role("link", name=MODEL, exact=True)
    link.first.wait_for()
    close_assistant(page)
    page.wait_for_timeout(500)
    shot(page, "mlflow_models")

    # 5. The parent run's description: the sweep's summary table and findings.
    page.goto(f"{base}/#/experiments/{exp_id}/runs/{parent_id}?workflowType=machine_learning")
    page.get_by_text(parent, exact=True).first.wait_for()
    page.get_by_text("4 runs: 4 ok.", exact=True).first.wait_for()
    more = page.get_by_text("Show more", exact=True)
    if more.count():
        more.first.click()
    page.get_by_text("Best run per loss and backend", exact=True).first.wait_for()
    page.get_by_text("Findings", exact=True).first.wait_for()
    for name in run_ids:  # every run in the table
        page.get_by_role("cell", name=name, exact=True).first.wait_for()
    close_assistant(page)
    shot(page, "mlflow_sweep_description", full_page=True)

    # 6. The parent's report.html in MLflow's artifact viewer: every image loaded (data: URIs).
    page.get_by_role("tab", name="Artifacts").click()
    page.get_by_text("figures", exact=True).first.click()
    page.get_by_text("report.html", exact=True).first.click()
    frame = page.frame_locator("iframe.mlflow-html-iframe")
    frame.get_by_text("Best run per loss and backend", exact=True).first.wait_for()
    images = frame.locator("img")
    images.first.wait_for()
    assert images.count() >= 4, images.count()
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        image.evaluate(  # resolves once the image has loaded; throws if it broke
            "img => img.decode()"
        )
        width = image.evaluate("img => img.complete && img.naturalWidth")
        assert width and width > 50, (i, image.get_attribute("alt"), width)
    images.first.scroll_into_view_if_needed()
    shot(page, "mlflow_report")


def section(page, title: str):
    """The charts' section named ``title`` (MLflow groups a run's metrics by the part of their
    names before "/"): the innermost block holding its header and its charts."""
    header = page.get_by_test_id("experiment-view-compare-runs-section-header").filter(
        has=page.get_by_text(title, exact=True)
    )
    grid = page.get_by_test_id("draggable-chart-cards-grid")
    return page.locator("div").filter(has=header).filter(has=grid).last


def close_assistant(page) -> None:
    """The side panel of MLflow's assistant, open by default, out of the screenshots."""
    close = page.get_by_role("button", name="Close", exact=True)
    if close.count():
        close.first.click()
