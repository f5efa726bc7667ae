"""A report as one description of its sections, and the two renderers that write it.

A :class:`Report` is a title, an opening paragraph and a list of :class:`Section`; a section is a
heading and its blocks in order (:class:`Paragraph`, :class:`Bullets`, :class:`Table`,
:class:`Figures`). :func:`to_markdown` and :func:`to_html` turn the same description into
report.md (figures linked relative to it) and report.html (figures embedded as data: URIs), so the
two files cannot drift apart.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from linreg.present.tables import html_table, md_table

MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}

STYLE = (
    "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
    "padding:2px 6px}img{max-width:100%}</style>"
)


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    df: object
    columns: list[str]


@dataclass(frozen=True)
class Figures:
    paths: list[Path]


Block = Paragraph | Bullets | Table | Figures


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    title: str
    opening: str
    sections: list[Section]


def data_uri(path: Path) -> str:
    """The file as a data: URI (base64), for an HTML page that needs no file beside it."""
    mime = MIME.get(Path(path).suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def to_markdown(report: Report, out_dir: Path) -> str:
    """The report as Markdown, its figures linked relative to ``out_dir`` (where it is written)."""
    lines = [f"# {report.title}", "", report.opening]
    for section in report.sections:
        lines += ["", f"## {section.title}"]
        for block in section.blocks:
            lines += ["", *_markdown_block(block, out_dir)]
    return "\n".join(lines)


def _markdown_block(block: Block, out_dir: Path) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text]
    if isinstance(block, Bullets):
        return [f"- {item}" for item in block.items]
    if isinstance(block, Table):
        return [md_table(block.df, block.columns)]
    return [f"![{Path(p).stem}]({os.path.relpath(p, out_dir)})" for p in block.paths]


def to_html(report: Report) -> str:
    """The report as one HTML page that carries its figures inside it."""
    title = html.escape(report.title)
    lines = [
        f"<!doctype html><meta charset='utf-8'><title>{title}</title>",
        STYLE,
        f"<h1>{title}</h1><p>{html.escape(report.opening)}</p>",
    ]
    for section in report.sections:
        lines.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Bullets):
                lines[-1] += "<ul>"  # a list opens on the line before its items
            lines += _html_block(block)
    return "\n".join(lines)


def _html_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [f"<p>{html.escape(block.text)}</p>"]
    if isinstance(block, Bullets):
        return [f"<li>{html.escape(item)}</li>" for item in block.items] + ["</ul>"]
    if isinstance(block, Table):
        return [html_table(block.df, block.columns)]
    return [f"<p><img src='{data_uri(p)}' alt='{html.escape(Path(p).stem)}'>" for p in block.paths]
