"""The sweep's report: its figures (``comparison``, ``insight``, ``animation``, ``scaling``), the
learning-rate lesson (``lesson``) and the report itself (``report``: report.md and report.html).
The evaluate stage writes them into results/; an ad-hoc sweep into its own folder
(:func:`write_sweep_report`)."""

from __future__ import annotations

from pathlib import Path

from linreg.report import report
from linreg.report.comparison import load_trajectories, sweep_figures
from linreg.run.record import RunRecord, frame


def write_sweep_report(records: list[RunRecord], folder: Path, data=None) -> list[Path]:
    """The comparison figures and the report (report.md, report.html: the learning-rate lesson's
    numbers among them) in the sweep's ``folder``; returns the files written."""
    folder = Path(folder)
    runs = load_trajectories(folder, records)
    drawn = sweep_figures(folder, records, folder, data, loaded=runs)
    X = None if data is None else data.X
    title = f"linreg · {folder.name}"
    return drawn + report.write(frame(records), drawn, folder, title, runs=runs, X=X)
