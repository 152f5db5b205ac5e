"""Pages of the Snakemake report: a table or a figure with its caption under it, so that the
report shows what each result is beside the result itself (Snakemake keeps a result's caption
behind an icon). One style for all of them."""

from __future__ import annotations

import base64
import html
from pathlib import Path

STYLE = ("body{font-family:sans-serif;font-size:14px;margin:1em} table{border-collapse:collapse}"
         "th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right} th:first-child,td:first-child"
         "{text-align:left} caption{caption-side:bottom;text-align:left;color:#444;padding-top:8px;max-width:60em}"
         " img{max-width:100%} p.caption{color:#444;max-width:60em}")


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def table_page(title: str, table_html: str, caption: str) -> str:
    """A table (already HTML, from ``DataFrame.to_html``) with its caption under it."""
    body = table_html.replace("<thead>", f"<caption>{html.escape(caption)}</caption>\n<thead>", 1)
    return _page(title, body)


def figure_page(title: str, png: str | Path, caption: str, numbers: str | None = None) -> str:
    """A figure (the PNG, embedded: the report holds each page as one file) with its caption under
    it, and the name of the CSV with its numbers."""
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    note = f" The numbers: <code>{html.escape(numbers)}</code> beside the figure." if numbers else ""
    return _page(title, f"<h3>{html.escape(title)}</h3>\n<img src=\"data:image/png;base64,{data}\" alt=\"{html.escape(title)}\">\n"
                        f"<p class=\"caption\">{html.escape(caption)}{note}</p>")
