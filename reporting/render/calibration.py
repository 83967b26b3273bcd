"""HTML of the auditor-calibration report, from the Jinja2 templates in
``templates/calibration/`` (autoescaped: auditor ids and policy names are data)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
from IPython.display import HTML
from jinja2 import Environment, FileSystemLoader, select_autoescape

__all__ = ["summary_html", "table_html"]

_TEMPLATES = Path(__file__).parent / "templates" / "calibration"


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(_TEMPLATES),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True)


def summary_html(lines: Sequence[str]) -> HTML:
    """The opening paragraph(s)."""
    return HTML(_env().get_template("summary.html.j2").render(lines=list(lines)))


def table_html(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str]],
               caption: str | None = None, max_rows: int = 100) -> HTML:
    """``frame`` as a sortable table; ``columns``: (column, heading, kind) with kind one of
    ``text``, ``int``, ``pct``, ``num``, ``bool``."""
    rows = frame.head(max_rows).astype(object).where(frame.head(max_rows).notna(), None)
    return HTML(_env().get_template("table.html.j2").render(
        columns=list(columns), rows=rows.to_dict(orient="records"), caption=caption,
        more=len(frame) if len(frame) > max_rows else 0))
