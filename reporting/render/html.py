"""Notebook -> self-contained HTML with the project's own nbconvert template.

Code is hidden, the header carries the report's title, period, parameters, data snapshot hash and
generation time, a table of contents is built from the markdown headings, and nothing is loaded
from the network (the stock templates' CDN scripts are removed, images are embedded).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

TEMPLATE_ROOT = Path(__file__).parent / "templates"
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    qa = TEMPLATE_ROOT / "qa"
    return (qa / "report.css").read_text(encoding="utf-8"), (qa / "sortable.js").read_text(
        encoding="utf-8")


_local = threading.local()


def _exporter():
    """This thread's exporter: building one compiles ten Jinja templates (0.1 s), so it is
    reused for every report the thread renders (one per thread: exporters keep state)."""
    exporter = getattr(_local, "exporter", None)
    if exporter is None:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(
            template_name="qa",
            extra_template_basedirs=[str(TEMPLATE_ROOT)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        _local.exporter = exporter
    return exporter


def _strip_markdown(text: str) -> str:
    text = re.sub(r"[`*_]", "", text)
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text).strip()


def table_of_contents(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(level, text, anchor) of the level-2 and level-3 markdown headings, in order."""
    toc = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        in_code = False
        for line in cell.source.splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
            match = None if in_code else _HEADING.match(line)
            if match and len(match.group(1)) in (2, 3):
                text = _strip_markdown(match.group(2))
                toc.append((len(match.group(1)), text, text.replace(" ", "-")))
    return toc


def render_html(
    nb: nbformat.NotebookNode,
    *,
    title: str,
    params: Mapping[str, Any],
    data_hash: str | None = None,
    kicker: str = "Quality operations report",
    generated_at: datetime | None = None,
) -> str:
    """Render an executed notebook to a self-contained HTML page."""
    css, js = _assets()
    generated = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    meta: list[tuple[str, str]] = []
    for key, value in params.items():
        if value in (None, "", []):
            continue
        meta.append((key.replace("_", " "), ", ".join(map(str, value)) if isinstance(value, list)
                     else str(value)))
    if data_hash:
        meta.append(("data snapshot", data_hash[:12]))
    meta.append(("generated", generated))
    body = nb
    # The first markdown heading is the report title: shown in the header instead.
    if body.cells and body.cells[0].cell_type == "markdown" and body.cells[0].source.lstrip(
    ).startswith("# "):
        body = nbformat.from_dict(dict(nb))
        first = body.cells[0]
        lines = first.source.lstrip().splitlines()
        first.source = "\n".join(lines[1:])
    resources = {
        "qa": {"title": title, "kicker": kicker, "meta": meta, "toc": table_of_contents(body),
               "css": css, "js": js},
        "metadata": {"name": title},
    }
    html, _ = _exporter().from_notebook_node(body, resources=resources)
    # The lab CSS carries comments with URLs; drop comments from the head so the page holds no
    # address at all (it loads none either way).
    head_end = html.find("<body")
    if head_end > 0:
        html = _CSS_COMMENT.sub("", html[:head_end]) + html[head_end:]
    return html
