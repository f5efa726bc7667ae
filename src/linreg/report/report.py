"""The report a person reads: ``report.md`` and ``report.html`` from a sweep's summary table.

Best run per loss and backend first, what the numbers say in a few sentences (each computed from
the table, none written by hand), the learning-rate lesson (the data's critical step size and what
each run did), the runs that did not end ok with their reasons, the figures, then every run.

``report.html`` carries its figures inside it (data: URIs): it shows them wherever it is opened,
from results/ in a browser as in MLflow's artifact viewer, which serves each artifact alone.
``report.md`` links them, relative to itself.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from linreg.present.findings import best_per_loss_and_backend, findings
from linreg.present.tables import html_table, md_table
from linreg.report import lesson
from linreg.run.record import BEST, write_atomic

MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}

BEST_COLUMNS = [
    "run_name",
    "lr",
    "epochs",
    "bias",
    "w_0",
    "weight_error",
    "optimum_distance",
    "converged_epoch",
    "wall_s",
]
NOT_OK_COLUMNS = ["run_name", "status", "reason"]


def data_uri(path: Path) -> str:
    """The file as a data: URI (base64), for an HTML page that needs no file beside it."""
    mime = MIME.get(Path(path).suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def write(
    df, figures: list[Path], out_dir: Path, title: str, runs: list[dict] | None = None, X=None
) -> list[Path]:
    """Write report.md and report.html into ``out_dir``: report.md links the figures relative to
    it, report.html embeds them.  ``runs`` (the runs with their trajectories) and ``X`` (the
    sweep's one dataset's features) feed the learning-rate section."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lr_lines, lr_table = lesson.section(df, runs, X)
    did = (
        dict(zip(lr_table["run_name"], lr_table["behaviour"], strict=True)) if len(lr_table) else {}
    )
    every = df.assign(behaviour=df["run_name"].map(did))
    every_columns = ["run_name", "status", *(["behaviour"] if did else []), *BEST_COLUMNS[1:]]
    counts = df["status"].value_counts().to_dict()
    head = f"{len(df)} runs: " + ", ".join(
        f"{counts.get(k, 0)} {k}" for k in ("ok", "diverged", "skipped", "failed")
    )
    best, not_ok = best_per_loss_and_backend(df), df[df["status"] != "ok"]
    figs = [os.path.relpath(f, out_dir) for f in figures]
    md = [
        f"# {title}",
        "",
        head,
        "",
        "## Best run per loss and backend",
        "",
        f"Best: {BEST}.",
        "",
        md_table(best, BEST_COLUMNS),
        "",
        "## What the numbers say",
        "",
    ]
    md += [f"- {s}" for s in findings(df)]
    if lr_lines:
        md += ["", "## The learning rate", ""] + [f"- {s}" for s in lr_lines]
        if len(lr_table):
            md += ["", md_table(lr_table, list(lr_table.columns))]
    if len(not_ok):
        md += ["", "## Runs that did not end ok", "", md_table(not_ok, NOT_OK_COLUMNS)]
    none = "None: no run trained (each one skipped or failed, as listed above)."
    md += ["", "## Figures", ""] + ([f"![{Path(f).stem}]({f})" for f in figs] or [none])
    md += ["", "## Every run", "", md_table(every, every_columns)]
    md_path = out_dir / "report.md"
    write_atomic(md_path, "\n".join(md))
    page = [
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:2px 6px}img{max-width:100%}</style>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(head)}</p>",
        "<h2>Best run per loss and backend</h2>",
        f"<p>Best: {html.escape(BEST)}.</p>",
        html_table(best, BEST_COLUMNS),
        "<h2>What the numbers say</h2><ul>",
    ]
    page += [f"<li>{html.escape(s)}</li>" for s in findings(df)] + ["</ul>"]
    if lr_lines:
        page += ["<h2>The learning rate</h2><ul>"]
        page += [f"<li>{html.escape(s)}</li>" for s in lr_lines] + ["</ul>"]
        if len(lr_table):
            page += [html_table(lr_table, list(lr_table.columns))]
    if len(not_ok):
        page += ["<h2>Runs that did not end ok</h2>", html_table(not_ok, NOT_OK_COLUMNS)]
    page += (
        ["<h2>Figures</h2>"]
        + ([] if figs else [f"<p>{none}</p>"])
        + [f"<p><img src='{data_uri(f)}' alt='{html.escape(f.stem)}'>" for f in figures]
    )
    page += ["<h2>Every run</h2>", html_table(every, every_columns)]
    html_path = out_dir / "report.html"
    write_atomic(html_path, "\n".join(page))
    return [md_path, html_path]
