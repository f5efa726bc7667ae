"""The report a person reads: ``report.md`` and ``report.html`` from a sweep's summary table.

Best run per loss and backend first, what the numbers say in a few sentences (each computed from
the table, none written by hand), the learning-rate lesson (the data's critical step size and what
each run did), the runs that did not end ok with their reasons, the figures, then every run.
:func:`sections` describes them once; :mod:`linreg.report.document` renders that description as
both files.

``report.html`` carries its figures inside it (data: URIs): it shows them wherever it is opened,
from results/ in a browser as in MLflow's artifact viewer, which serves each artifact alone.
``report.md`` links them, relative to itself.
"""

from __future__ import annotations

from pathlib import Path

from linreg.present.findings import best_per_loss_and_backend, findings
from linreg.report import lesson
from linreg.report.document import (
    Bullets,
    Figures,
    Paragraph,
    Report,
    Section,
    Table,
    to_html,
    to_markdown,
)
from linreg.run.record import BEST, write_atomic

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
NO_FIGURES = "None: no run trained (each one skipped or failed, as listed above)."
STATUSES = ("ok", "diverged", "skipped", "failed")


def write(
    df, figures: list[Path], out_dir: Path, title: str, runs: list[dict] | None = None, X=None
) -> list[Path]:
    """Write report.md and report.html into ``out_dir``: report.md links the figures relative to
    it, report.html embeds them.  ``runs`` (the runs with their trajectories) and ``X`` (the
    sweep's one dataset's features) feed the learning-rate section."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(title, opening(df), sections(df, figures, runs, X))
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    write_atomic(md_path, to_markdown(report, out_dir))
    write_atomic(html_path, to_html(report))
    return [md_path, html_path]


def opening(df) -> str:
    """How many runs, and how many ended each way."""
    counts = df["status"].value_counts().to_dict()
    return f"{len(df)} runs: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in STATUSES)


def sections(df, figures: list[Path], runs: list[dict] | None, X) -> list[Section]:
    """The report's sections, in order, each present only when it has something to show."""
    lr_lines, lr_table = lesson.section(df, runs, X)
    not_ok = df[df["status"] != "ok"]
    out = [
        Section(
            "Best run per loss and backend",
            [Paragraph(f"Best: {BEST}."), Table(best_per_loss_and_backend(df), BEST_COLUMNS)],
        ),
        Section("What the numbers say", [Bullets(findings(df))]),
    ]
    if lr_lines:
        table = [Table(lr_table, list(lr_table.columns))] if len(lr_table) else []
        out.append(Section("The learning rate", [Bullets(lr_lines), *table]))
    if len(not_ok):
        out.append(Section("Runs that did not end ok", [Table(not_ok, NOT_OK_COLUMNS)]))
    shown = Figures(list(figures)) if figures else Paragraph(NO_FIGURES)
    out.append(Section("Figures", [shown]))
    out.append(Section("Every run", [every_run(df, lr_table)]))
    return out


def every_run(df, lr_table) -> Table:
    """Every run with its status, and what it did at its learning rate when the lesson says."""
    did = (
        dict(zip(lr_table["run_name"], lr_table["behaviour"], strict=True)) if len(lr_table) else {}
    )
    columns = ["run_name", "status", *(["behaviour"] if did else []), *BEST_COLUMNS[1:]]
    return Table(df.assign(behaviour=df["run_name"].map(did)), columns)
