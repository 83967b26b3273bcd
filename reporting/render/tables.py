"""House style for tables, KPI cards, badges and prose blocks in the HTML report.

These functions decide *what* is shown (formatting numbers, choosing a badge, a sort key); the
markup is in the Jinja2 components of :mod:`reporting.render.components`, rendered with autoescape,
so every string from the data is escaped by the template engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML

from reporting.render.components import render_component
from reporting.viz.style import STATUS_COLORS, STATUS_LABELS

__all__ = ["callout", "fmt_interval", "fmt_pct", "grid", "html_table", "kpi_cards",
           "status_badge", "summary_box"]

_SYMBOLS = {"on_track": "●", "at_risk": "▲", "off_track": "■"}


def fmt_pct(value: float, decimals: int = 1) -> str:
    """0.9331 -> '93.3%'; missing -> '–'."""
    return "–" if pd.isna(value) else f"{value * 100:.{decimals}f}%"


def fmt_interval(low: float, high: float, decimals: int = 1, pct: bool = True) -> str:
    """Interval as '[92.3, 94.2]' (percent points when ``pct``)."""
    if pd.isna(low) or pd.isna(high):
        return "–"
    k = 100 if pct else 1
    return f"[{low * k:.{decimals}f}, {high * k:.{decimals}f}]"


def _badge(status: str) -> dict[str, str]:
    key = status if status in STATUS_COLORS else "no_data"
    return {"key": key, "colour": STATUS_COLORS[key], "symbol": _SYMBOLS.get(key, "○"),
            "label": STATUS_LABELS.get(key, str(status))}


def status_badge(status: str) -> str:
    """A coloured badge that also carries its text label (never colour alone), as HTML."""
    return render_component("status_badge", b=_badge(status))


def _format_value(value: Any, fmt: str | None) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if fmt == "pct":
        return fmt_pct(float(value))
    if fmt == "pp":
        return f"{float(value) * 100:+.1f} pp"
    if fmt == "int":
        return f"{int(round(float(value))):,}"
    if fmt == "p":
        v = float(value)
        return "< 0.001" if v < 0.001 else f"{v:.3f}"
    if fmt and fmt.startswith("."):
        return f"{float(value):,{fmt}}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.2f}"
    return str(value)


def _cell(col: str, value: Any, fmt: str | None, status_columns: tuple[str, ...]) -> dict:
    if col in status_columns and isinstance(value, str):
        return {"badge": _badge(value), "sort": value, "num": False, "text": ""}
    numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    sort = None if not numeric or pd.isna(value) else str(float(value))
    return {"text": _format_value(value, fmt), "sort": sort, "num": numeric, "badge": None}


def html_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    caption: str | None = None,
    sortable: bool = True,
    status_columns: tuple[str, ...] = ("status",),
    max_rows: int = 200,
    note: str | None = None,
) -> HTML:
    """Render ``frame`` as an HTML table in the house style.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show (the first ``max_rows``; a note says when more are in tables.xlsx).
    formats : mapping, optional
        Column -> ``pct``, ``pp``, ``int``, ``p`` or a format spec like ``.1f``.
    caption : str, optional
        Shown above the table.
    sortable : bool, default True
        Click a header to sort (numbers sort by value, not by their text).
    status_columns : tuple of str, default ("status",)
        Columns whose codes become labelled badges.
    max_rows : int, default 200
        Rows shown.
    note : str, optional
        A sentence under the table (what the columns mean, how to read it).
    """
    formats = dict(formats or {})
    shown = frame.head(max_rows)
    rows = [[_cell(col, value, formats.get(col), status_columns)
             for col, value in zip(shown.columns, row, strict=True)]
            for row in shown.itertuples(index=False)]
    return HTML(render_component(
        "table", caption=caption, sortable=sortable, note=note, rows=rows,
        headers=[str(c).replace("_", " ") for c in shown.columns],
        truncated=len(frame) > max_rows, shown=max_rows, total=len(frame)))


def kpi_cards(cards: list[Mapping[str, object]], level: float = 0.95) -> HTML:
    """Headline KPI cards: each a mapping with label, value, interval, target, status, change.

    A card without ``status`` (e.g. a KPI with no target) shows no badge; a card with a true
    ``target_default`` says its target is a built-in default (nobody set it); ``level`` labels
    the intervals ("95% CI").
    """
    shown = []
    for card in cards:
        status = card.get("status")
        status = None if status in (None, "") else str(status)
        shown.append({
            "label": str(card.get("label", "")), "value": str(card.get("value", "–")),
            "interval": str(card.get("interval") or ""), "target": str(card.get("target") or ""),
            "target_default": bool(card.get("target_default")),
            "change": str(card.get("change") or ""),
            "colour": STATUS_COLORS.get(status or "no_data", STATUS_COLORS["no_data"]),
            "badge": _badge(status) if status is not None else None,
        })
    return HTML(render_component("kpi_cards", cards=shown, ci_label=f"{level * 100:g}% CI"))


def callout(paragraphs: str | Sequence[str] = (), *, lead: str | None = None,
            points: Sequence[str] = (), points_title: str | None = None, kind: str = "note"
            ) -> HTML:
    """A block of prose: an optional bold ``lead`` line, paragraphs and a numbered list of
    ``points`` (under ``points_title``, e.g. "What to do").

    ``kind`` is ``"summary"`` (the boxed summary at the top of a report) or ``"note"`` (small
    grey text, e.g. *How this was computed*).
    """
    paras = [paragraphs] if isinstance(paragraphs, str) else list(paragraphs)
    return HTML(render_component("callout", kind=kind, lead=lead, paragraphs=paras,
                                 points=list(points), points_title=points_title))


def summary_box(text: str) -> HTML:
    """The report's summary, boxed (``class="qa-summary"``)."""
    return callout(text, kind="summary")


def grid(items: Sequence[HTML | str], min_width: int = 320) -> HTML:
    """Components side by side (cards, small tables), wrapping to one column on narrow pages.

    ``items`` are rendered components (their HTML is kept as is); plain strings are escaped.
    """
    from markupsafe import Markup, escape

    html = [Markup(i.data) if isinstance(i, HTML) else escape(i) for i in items]
    return HTML(render_component("grid", items=html, min_width=int(min_width)))
