"""Plain-language summaries generated from computed numbers (never typed by hand)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from reporting.core.kpis import KPIS

__all__ = ["accuracy_summary_text", "format_p_value", "format_value"]

_STATUS_TEXT = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "no_data": "no data",
}
_TABLE_COLS = {
    "n",
    "correct",
    "accuracy",
    "ci_low",
    "ci_high",
    "missed_violations",
    "over_enforcements",
    "margin_of_error",
    "audits_needed_for_1pp",
    "target",
    "status",
}


def _isnan(v: Any) -> bool:
    try:
        return v is None or pd.isna(v)
    except (TypeError, ValueError):
        return False


def format_value(value: float, unit: str = "rate", decimals: int = 1) -> str:
    """Format a KPI value for prose: ``0.9334 -> '93.3%'``, seconds ``'61 s'``, counts ``'1,204'``."""
    if _isnan(value):
        return "n/a"
    if unit == "rate":
        return f"{value * 100:.{decimals}f}%"
    if unit == "seconds":
        return f"{value:.0f} s"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "cases_per_hour":
        return f"{value:.1f} cases/h"
    return f"{value:.{decimals}f}"


def _format_interval(low: float, high: float, unit: str, decimals: int = 1) -> str:
    if _isnan(low) or _isnan(high):
        return "[interval n/a]"
    if unit == "rate":
        return f"[{low * 100:.{decimals}f}, {high * 100:.{decimals}f}]"
    if unit == "seconds":
        return f"[{low:.0f}, {high:.0f}]"
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"


def format_p_value(p: float) -> str:
    """``'p = 0.003'``, ``'p = 0.41'``, ``'p < 0.001'``."""
    if _isnan(p):
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def _get(row: Mapping[str, Any] | pd.Series, key: str, default: Any = None) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError):
        return default


def _change_text(change: Mapping[str, Any], alpha: float) -> str:
    diff = float(change["diff"])
    p = change.get("p_value", math.nan)
    vs = change.get("from", change.get("vs"))
    vs_txt = f" vs {vs}" if vs is not None and not _isnan(vs) else ""
    pp = abs(diff) * 100
    sig = change.get("significant")
    if sig is None or _isnan(sig):
        sig = (not _isnan(p)) and float(p) < alpha
    if bool(sig) and diff != 0:
        direction = "up" if diff > 0 else "down"
        return f"{direction} {pp:.1f} pp{vs_txt} ({format_p_value(float(p))})"
    sign = "+" if diff >= 0 else "-"
    return f"not significantly different{vs_txt} ({sign}{pp:.1f} pp, {format_p_value(float(p))})"


def _segment_column(breakdown: pd.DataFrame) -> list[str]:
    return [c for c in breakdown.columns if c not in _TABLE_COLS]


def accuracy_summary_text(
    kpi_row: Mapping[str, Any] | pd.Series,
    breakdown_df: pd.DataFrame | None = None,
    change: Mapping[str, Any] | None = None,
    *,
    min_n: int = 30,
    alpha: float = 0.05,
) -> str:
    """One-sentence summary of a KPI, its status and its weakest segment.

    Parameters
    ----------
    kpi_row : mapping or pandas.Series
        A row of the KPI frame (:func:`~reporting.metrics.compute.compute_kpis`): ``value,
        ci_low, ci_high, n, target, status`` and optionally ``kpi`` / ``label`` / ``unit``
        (default: accuracy).
    breakdown_df : pandas.DataFrame, optional
        An :func:`~reporting.metrics.compute.accuracy_table` (segment column(s), ``n``,
        ``accuracy``, ``ci_low``, ``ci_high``).
    change : mapping, optional
        Period-over-period change with ``diff`` (a fraction: -0.012 = -1.2 pp), ``p_value`` and
        optionally ``from`` (the comparison period) and ``significant``. A change is called
        "up"/"down" only when significant (``significant`` if given, else ``p_value < alpha``).
    min_n : int, default 30
        Segments with fewer audits are never named as the largest gap (too noisy).
    alpha : float, default 0.05
        Significance level for ``change`` when it carries no ``significant`` flag.

    Returns
    -------
    str
        E.g. ``"Accuracy 93.3% [92.3, 94.2], down 1.2 pp vs 2026-09 (p = 0.003), off track
        against 95.0%; the largest gap is Financial Services at 88.1% [85.0, 90.7] on 412
        audits."``. The gap clause names the segment with the lowest accuracy among segments
        with at least ``min_n`` audits, and only when that accuracy is below the target (or,
        without a target, below the overall value).
    """
    kpi = _get(kpi_row, "kpi", "accuracy")
    spec = KPIS.get(str(kpi)) if kpi is not None else None
    label = _get(kpi_row, "label") or (spec.label if spec else str(kpi))
    unit = _get(kpi_row, "unit") or (spec.unit if spec else "rate")
    value = _get(kpi_row, "value", math.nan)
    n = _get(kpi_row, "n", None)
    status = _get(kpi_row, "status", None)
    target = _get(kpi_row, "target", math.nan)

    if status == "no_data" or _isnan(value) or (n is not None and not _isnan(n) and n == 0):
        return f"{label}: no audits in scope, so no figure is reported."

    text = (
        f"{label} {format_value(value, unit)} "
        f"{_format_interval(_get(kpi_row, 'ci_low'), _get(kpi_row, 'ci_high'), unit)}"
    )
    if change is not None:
        text += ", " + _change_text(change, alpha)
    if not _isnan(target):
        st = _STATUS_TEXT.get(str(status), str(status)) if status is not None else None
        if st:
            text += f", {st} against {format_value(target, unit)}"
        else:
            text += f", target {format_value(target, unit)}"
    elif status is not None and status != "at_risk":
        text += f", {_STATUS_TEXT.get(str(status), str(status))}"

    gap = _largest_gap(breakdown_df, target if not _isnan(target) else value, min_n)
    if gap is not None:
        name, seg = gap
        text += (
            f"; the largest gap is {name} at {format_value(seg['accuracy'])} "
            f"{_format_interval(seg['ci_low'], seg['ci_high'], 'rate')} "
            f"on {int(seg['n']):,} audits"
        )
    return text + "."


def _largest_gap(
    breakdown: pd.DataFrame | None, reference: float, min_n: int
) -> tuple[str, pd.Series] | None:
    if breakdown is None or len(breakdown) == 0:
        return None
    if not {"accuracy", "n", "ci_low", "ci_high"} <= set(breakdown.columns):
        raise ValueError(
            "breakdown_df must be an accuracy_table (columns n, accuracy, ci_low, ci_high)"
        )
    seg_cols = _segment_column(breakdown)
    cand = breakdown[(breakdown["n"] >= min_n) & breakdown["accuracy"].notna()]
    if cand.empty or _isnan(reference):
        return None
    worst = cand.sort_values(["accuracy", "n"], ascending=[True, False], kind="stable").iloc[0]
    if not worst["accuracy"] < reference:
        return None
    name = " / ".join(str(worst[c]) for c in seg_cols) if seg_cols else "one segment"
    return name, worst
