"""Standalone HTML pages for the Snakemake report (which shows each HTML output in a frame): tables and Markdown.

One page skeleton (:func:`page`) serves both the result tables and the methods text.
"""

from __future__ import annotations

import html as _html
import re

import numpy as np
import pandas as pd

TABLE_CSS = ("body{font-family:sans-serif;font-size:13px;margin:12px}table{border-collapse:collapse}"
             "th,td{border-bottom:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
             "th{background:#f2f2f2;position:sticky;top:0}tr:hover{background:#fafafa}"
             "p.note{color:#555;max-width:60em}")
TEXT_CSS = ("body{font-family:Georgia,serif;max-width:52em;margin:16px;line-height:1.45;font-size:15px}"
            "li{margin-bottom:4px;font-size:13px}code{font-size:13px}")


def page(title: str, body: str, css: str = TABLE_CSS) -> str:
    """A complete HTML document around ``body`` (already HTML)."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{_html.escape(title)}</title>"
            f"<style>{css}</style></head><body>{body}</body></html>\n")


def _cell(v, float_digits: int) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return ""
        if v != 0 and abs(v) < 10 ** -float_digits:
            return f"{v:.2e}"
        return f"{v:.{float_digits}g}" if abs(v) < 1e4 else f"{v:.0f}"
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return _html.escape(str(v))


def table_fragment(df: pd.DataFrame, title: str, note: str = "", float_digits: int = 3) -> str:
    """A heading, the table and an optional note, as an HTML fragment (several can share one page)."""
    head = "".join(f"<th>{_html.escape(str(c))}</th>" for c in df.columns)
    body = "\n".join("<tr>" + "".join(f"<td>{_cell(v, float_digits)}</td>" for v in r) + "</tr>"
                     for r in df.itertuples(index=False))
    empty = "<p><em>No rows.</em></p>" if df.empty else ""
    return (f"<h3>{_html.escape(title)}</h3>"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>{empty}"
            + (f"<p class='note'>{_html.escape(note)}</p>" if note else ""))


def table_html(df: pd.DataFrame, title: str, note: str = "", float_digits: int = 3) -> str:
    """A small standalone HTML page with the table."""
    return page(title, table_fragment(df, title, note, float_digits))


def markdown_to_html(md: str, title: str = "Methods") -> str:
    """Minimal Markdown (headings, paragraphs, **bold**, *italic*, `code`, numbered lists) to standalone HTML."""

    def inline(t):
        t = _html.escape(t)
        t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
        t = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)", r"<em>\1</em>", t)
        t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
        t = re.sub(r"(doi:)(10\.\S+[^\s.,;])", r'\1<a href="https://doi.org/\2">\2</a>', t)
        return t

    out = []
    for block in md.strip().split("\n\n"):
        lines = block.splitlines()
        if block.startswith("#"):
            level = len(block) - len(block.lstrip("#"))
            out.append(f"<h{level}>{inline(block.lstrip('#').strip())}</h{level}>")
        elif all(re.match(r"^\d+\. ", ln) for ln in lines):
            items = [inline(re.sub(r"^\d+\. ", "", ln)) for ln in lines]
            out.append("<ol>" + "".join(f"<li>{it}</li>" for it in items) + "</ol>")
        else:
            out.append(f"<p>{inline(' '.join(lines))}</p>")
    return page(title, "\n" + "\n".join(out) + "\n", css=TEXT_CSS)
