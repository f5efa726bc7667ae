"""linreg.report.document: the report is one description of its sections, rendered as Markdown
and as HTML (each cell, heading and paragraph escaped in the HTML)."""

from __future__ import annotations

import pandas as pd

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


def test_markdown_and_html_come_from_one_description(tmp_path):
    png = tmp_path / "figs" / "a.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\nxx")
    df = pd.DataFrame({"run_name": ["r<1>"], "lr": [0.1]})
    report = Report(
        "t & co",
        "1 runs: 1 ok",
        [
            Section("S", [Paragraph("p <b>"), Table(df, ["run_name", "lr"])]),
            Section("L", [Bullets(["x", "y"])]),
            Section("F", [Figures([png])]),
        ],
    )
    md = to_markdown(report, tmp_path)
    assert md == (
        "# t & co\n\n1 runs: 1 ok\n\n## S\n\np <b>\n\n| run_name | lr |\n|---|---|\n| r<1> | 0.1 |"
        "\n\n## L\n\n- x\n- y\n\n## F\n\n![a](figs/a.png)"
    )
    page = to_html(report)
    assert "<h1>t &amp; co</h1><p>1 runs: 1 ok</p>" in page
    assert "<h2>L</h2><ul>\n<li>x</li>\n<li>y</li>\n</ul>" in page
    assert "<p>p &lt;b&gt;</p>" in page and "<td>r&lt;1&gt;</td>" in page
    assert "<img src='data:image/png;base64," in page and "alt='a'" in page
