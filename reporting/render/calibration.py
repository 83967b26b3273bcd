"""HTML of the auditor-calibration report, from the Jinja2 templates in
``templates/calibration/`` (autoescaped: auditor ids and policy names are data)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from IPython.display import HTML

from reporting.render import jinja

__all__ = ["summary_html", "table_html"]


def summary_html(lines: Sequence[str]) -> HTML:
    """The opening paragraph(s)."""
    return HTML(jinja.render("calibration/summary.html.j2", strict=False, lines=list(lines)))


def table_html(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str]],
               caption: str | None = None, max_rows: int = 100) -> HTML:
    """``frame`` as a sortable table; ``columns``: (column, heading, kind) with kind one of
    ``text``, ``int``, ``pct``, ``num``, ``bool``."""
    rows = frame.head(max_rows).astype(object).where(frame.head(max_rows).notna(), None)
    return HTML(jinja.render("calibration/table.html.j2", strict=False,
        columns=list(columns), rows=rows.to_dict(orient="records"), caption=caption,
        more=len(frame) if len(frame) > max_rows else 0))
