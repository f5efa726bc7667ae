"""A table of runs as Markdown or HTML: the one helper the report and MLflow's descriptions use."""

from __future__ import annotations

import html


def cell(v) -> str:
    """A value as a table cell: blank for none, 4 significant digits for a float."""
    import pandas as pd  # pandas: only when a table is written

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "/")


def md_table(df, columns) -> str:
    """``df``'s ``columns`` (those it has) as a Markdown table."""
    cols = [c for c in columns if c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        rows.append("| " + " | ".join(cell(r[c]) for c in cols) + " |")
    return "\n".join(rows)


def html_table(df, columns) -> str:
    """``df``'s ``columns`` (those it has) as an HTML table, every cell escaped."""
    cols = [c for c in columns if c in df.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = [f"<table><tr>{head}</tr>"]
    for _, r in df[cols].iterrows():
        rows.append("<tr>" + "".join(f"<td>{html.escape(cell(r[c]))}</td>" for c in cols) + "</tr>")
    return "\n".join(rows) + "</table>"
