"""House style for tables and KPI cards in the HTML report (plain HTML, no scripts from outside)."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd
from IPython.display import HTML

from reporting.viz.style import STATUS_COLORS, STATUS_LABELS


def fmt_pct(value: float, decimals: int = 1) -> str:
    """0.9331 -> '93.3%'; missing -> '–'."""
    return "–" if pd.isna(value) else f"{value * 100:.{decimals}f}%"


def fmt_interval(low: float, high: float, decimals: int = 1, pct: bool = True) -> str:
    """Interval as '[92.3, 94.2]' (percent points when ``pct``)."""
    if pd.isna(low) or pd.isna(high):
        return "–"
    k = 100 if pct else 1
    return f"[{low * k:.{decimals}f}, {high * k:.{decimals}f}]"


def status_badge(status: str) -> str:
    """A coloured badge that also carries its text label (never colour alone)."""
    key = status if status in STATUS_COLORS else "no_data"
    colour = STATUS_COLORS[key]
    label = STATUS_LABELS.get(key, str(status))
    symbol = {"on_track": "●", "at_risk": "▲", "off_track": "■"}.get(key, "○")
    return (f'<span class="qa-status qa-{key}" style="border-color:{colour};color:{colour}">'
            f"{symbol} {html.escape(label)}</span>")


def _format_value(value, fmt: str | None) -> str:
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


def html_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    caption: str | None = None,
    sortable: bool = True,
    status_columns: tuple[str, ...] = ("status",),
    max_rows: int = 200,
) -> HTML:
    """Render ``frame`` as an escaped HTML table in the house style.

    ``formats`` maps a column to ``pct``, ``pp``, ``int``, ``p`` or a format spec like ``.1f``.
    Every string from the data is HTML-escaped. Status columns become labelled badges.
    """
    formats = dict(formats or {})
    shown = frame.head(max_rows)
    cls = "qa-table sortable" if sortable else "qa-table"
    parts = [f'<table class="{cls}">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>")
    for col in shown.columns:
        parts.append(f"<th>{html.escape(str(col).replace('_', ' '))}</th>")
    parts.append("</tr></thead><tbody>")
    for row in shown.itertuples(index=False):
        parts.append("<tr>")
        for col, value in zip(shown.columns, row, strict=True):
            if col in status_columns and isinstance(value, str):
                parts.append(f'<td data-sort="{html.escape(value)}">{status_badge(value)}</td>')
                continue
            text = html.escape(_format_value(value, formats.get(col)))
            numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
            sort_key = "" if not numeric or pd.isna(value) else f' data-sort="{float(value)}"'
            align = ' class="num"' if numeric else ""
            parts.append(f"<td{align}{sort_key}>{text}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if len(frame) > max_rows:
        parts.append(f'<p class="qa-note">Showing {max_rows} of {len(frame)} rows; '
                     "all rows are in tables.xlsx.</p>")
    return HTML("".join(parts))


def kpi_cards(cards: list[Mapping[str, object]], level: float = 0.95) -> HTML:
    """Headline KPI cards: each a mapping with label, value, interval, target, status, change.

    A card without ``status`` (e.g. a KPI with no target) shows no badge; ``level`` labels the
    intervals ("95% CI").
    """
    ci_label = f"{level * 100:g}% CI"
    parts = ['<div class="qa-cards">']
    for card in cards:
        status = card.get("status")
        status = None if status in (None, "") else str(status)
        colour = STATUS_COLORS.get(status or "no_data", STATUS_COLORS["no_data"])
        parts.append(f'<div class="qa-card" style="border-top:4px solid {colour}">')
        parts.append(f'<div class="qa-card-label">{html.escape(str(card.get("label", "")))}</div>')
        parts.append(f'<div class="qa-card-value">{html.escape(str(card.get("value", "–")))}</div>')
        if card.get("interval"):
            parts.append(f'<div class="qa-card-ci">{ci_label} {html.escape(str(card["interval"]))}</div>')
        if card.get("target"):
            parts.append(f'<div class="qa-card-target">Target {html.escape(str(card["target"]))}</div>')
        if status is not None:
            parts.append(f"<div>{status_badge(status)}</div>")
        if card.get("change"):
            parts.append(f'<div class="qa-card-change">{html.escape(str(card["change"]))}</div>')
        parts.append("</div>")
    parts.append("</div>")
    return HTML("".join(parts))
