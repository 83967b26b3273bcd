"""Plain-language summaries generated from computed numbers (never typed by hand)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reporting.core.kpis import KPIS

__all__ = [
    "Headline",
    "accuracy_headline",
    "accuracy_summary_text",
    "format_p_value",
    "format_value",
    "gap_closing_gain",
    "target_sources",
]

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


# --------------------------------------------------------------------------------------------
# Decisions first: what is off, where, what to do, with the expected gain
# --------------------------------------------------------------------------------------------

#: ``target_sources`` values.
TARGET_FROM_TABLE = "targets table"
TARGET_DEFAULT = "built-in default"


def target_sources(kpis: pd.DataFrame, targets: pd.DataFrame | None) -> pd.Series:
    """Where each row's target comes from: the targets table, the KPI's built-in default, or none.

    Parameters
    ----------
    kpis : pandas.DataFrame
        KPI rows with ``kpi`` and ``target`` and optionally ``market`` / ``product_line`` scope
        columns (a missing scope value matches only the table's ``'*'`` rows, as in
        :func:`reporting.core.kpis.resolve_targets`).
    targets : pandas.DataFrame or None
        The targets table (``kpi, target, market, product_line``).

    Returns
    -------
    pandas.Series
        ``"targets table"``, ``"built-in default"`` (a reader must know that nobody set it) or
        ``""`` where the row has no target, aligned with ``kpis.index``.
    """
    out = pd.Series("", index=kpis.index, dtype=object)
    if len(kpis) == 0:
        return out
    has_target = kpis["target"].notna() if "target" in kpis.columns else out.astype(bool)
    t = targets if targets is not None and len(targets) else None
    for idx, row in kpis[has_target].iterrows():
        out[idx] = TARGET_DEFAULT
        if t is None:
            continue
        scope = {c: (str(row[c]) if c in row.index and not _isnan(row[c]) else "*")
                 for c in ("market", "product_line")}
        hit = t["kpi"].astype(str) == str(row["kpi"])
        for c, v in scope.items():
            col = t[c].astype(object).where(t[c].notna(), "*").astype(str) if c in t else "*"
            hit &= pd.Series(col, index=t.index).isin([v, "*"])
        if hit.any():
            out[idx] = TARGET_FROM_TABLE
    return out


def gap_closing_gain(n_segment: float, rate_segment: float, target: float, n_total: float
                     ) -> float:
    """Percentage points the overall rate gains if one segment reaches ``target``, all else equal.

    The segment's audits are ``n_segment`` of ``n_total``; raising its rate from
    ``rate_segment`` to ``target`` removes ``n_segment * (target - rate_segment)`` errors, which
    is that many hundredths of a point per audit of the whole. A segment already at or above
    target gains nothing (0.0). E.g. 771 audits at 85.9% of 3,090, target 95%: +2.3 pp.
    """
    if n_total <= 0 or _isnan(rate_segment) or _isnan(target):
        return 0.0
    return max(0.0, float(target) - float(rate_segment)) * float(n_segment) / float(n_total) * 100


@dataclass(frozen=True)
class Headline:
    """A report's opening, in words a lead can read aloud.

    Attributes
    ----------
    lead : str
        What is off (or that nothing is), in one sentence.
    points : tuple of str
        Where the gap is and what coincides with it; other KPIs off track.
    actions : tuple of dict
        ``action, owner, expected_gain_pp, evidence`` for each thing to do, most gain first.
    """

    lead: str
    points: tuple[str, ...] = ()
    actions: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _lead(label: str, row: Mapping[str, Any], change: Mapping[str, Any] | None) -> str:
    value, target, status = row["value"], row["target"], str(row["status"])
    v, t = format_value(value), format_value(target)
    if _isnan(target):
        text = f"{label}'s accuracy is {v} (no target set)."
    elif status == "on_track":
        text = f"{label}'s accuracy is on track: {v} against a {t} target."
    elif status == "off_track":
        text = (f"{label}'s accuracy is off track: {v} against a {t} target, "
                f"{(target - value) * 100:.1f} pp short.")
    else:
        text = (f"{label}'s accuracy is {v}, too close to the {t} target to call with this "
                "month's audits.")
    if change is not None and not _isnan(change.get("p_value")):
        diff, since = float(change["diff"]), change.get("from")
        if bool(change.get("significant")) and diff != 0:
            word = "rose" if diff > 0 else "fell"
            text += f" It {word} {abs(diff) * 100:.1f} pp since {_month_name(since)}."
        else:
            text += f" That is no real change from {_month_name(since)}."
    return text


def _error_kind(mix_row: Mapping[str, Any] | None) -> tuple[str, str]:
    """(what the errors mostly are, what to train on) from an error-mix row."""
    share = None if mix_row is None else _get(mix_row, "missed_violation_share")
    if share is None or _isnan(share):
        return "", "its guidelines"
    if 0.4 <= share <= 0.6:  # neither kind dominates: say so rather than pick one
        return (f"its errors are both ads wrongly approved ({share:.0%}) and ads wrongly "
                f"rejected ({1 - share:.0%})", "where its line between approve and reject lies")
    if share > 0.6:
        return (f"{share:.0%} of its errors are ads approved that should have been rejected",
                "what must be rejected")
    return (f"{1 - share:.0%} of its errors are ads rejected that should have been approved",
            "what may be approved")


def _day(date: Any) -> str:
    """'1 Oct' (no leading zero, on every platform)."""
    d = pd.Timestamp(date)
    return f"{d.day} {d:%b}"


def _policy_events(events: pd.DataFrame | None, policy: str) -> list[tuple[str, str, bool]]:
    """(day, description, is a policy change) of the events recorded for ``policy``."""
    if events is None or len(events) == 0 or "policy" not in events.columns:
        return []
    ev = events[events["policy"].astype(object) == policy]
    kinds = ev["kind"] if "kind" in ev.columns else pd.Series(None, index=ev.index)
    return [(_day(d), str(desc), str(k) == "policy_update")
            for d, desc, k in zip(ev["date"], ev["description"], kinds, strict=True)]


def _month_name(period: Any) -> str:
    try:
        return pd.Period(str(period), freq="M").strftime("%B %Y")
    except (ValueError, TypeError):
        return str(period)


def _gap_action(label: str, row: Mapping[str, Any], seg: Mapping[str, Any], seg_col: str,
                mix_row: Mapping[str, Any] | None, events: pd.DataFrame | None
                ) -> tuple[list[str], dict[str, Any]]:
    name, n, acc = str(seg[seg_col]), int(seg["n"]), float(seg["accuracy"])
    excess = n * (float(seg["target"]) - acc)
    total = float(row["n"]) * (float(row["target"]) - float(row["value"]))
    kind, train_on = _error_kind(mix_row)
    where = (f"The gap is mostly in {name}: {format_value(acc)} on {n:,} audits, "
             f"{excess:.0f} more errors than its target allows")
    where += f" ({label} as a whole: {total:.0f})." if total >= 0.5 else "."
    points = [where + (f" {kind[0].upper()}{kind[1:]}." if kind else "")]
    dated = _policy_events(events, name)
    if dated:
        points.append(("It coincides with what was recorded on " if len(dated) == 1 else
                       "It coincides with what was recorded: ")
                      + "; ".join(f"{d}: {t}" for d, t, _ in dated) + ".")
    changes = [d for d, _, is_change in dated if is_change]
    gain = gap_closing_gain(n, acc, float(seg["target"]), float(row["n"]))
    reach = float(row["value"]) + gain / 100
    enough = "enough to reach" if reach >= float(row["target"]) - 1e-12 else "not enough alone for"
    # A guideline change calls for a briefing on it; anything else (a campaign, an incident)
    # for retraining on what the errors are.
    what = (f"Brief {name} reviewers on the {changes[-1]} policy change and re-calibrate them "
            "on its examples" if changes else f"Retrain {name} reviewers on {train_on}")
    action = {
        "action": (f"{what}. Expected gain: +{gain:.1f} pp on {label}'s accuracy (to about "
                   f"{format_value(reach)}), {enough} the target."),
        "owner": "policy and team leads" if changes else "team leads",
        "expected_gain_pp": round(gain, 2),
        "evidence": (f"{name} accuracy {format_value(acc)} on {n:,} random audits against "
                     f"{format_value(float(seg['target']))}" + (f"; {kind}" if kind else "")),
    }
    return points, action


def _also_off(others: pd.DataFrame | None) -> str | None:
    if others is None or len(others) == 0:
        return None
    parts = []
    for _, r in others.iterrows():
        unit = _get(r, "unit") or "rate"
        txt = (f"{str(_get(r, 'label') or r['kpi']).lower()} {format_value(r['value'], unit)} "
               f"(target {format_value(r['target'], unit)}")
        default = _get(r, "target_source") == TARGET_DEFAULT
        parts.append(txt + (", a built-in default nobody has set)" if default else ")"))
    return "Also off track: " + "; ".join(parts) + "."


def accuracy_headline(
    label: str,
    accuracy_row: Mapping[str, Any] | pd.Series,
    *,
    change: Mapping[str, Any] | None = None,
    breakdown: pd.DataFrame | None = None,
    segment: str = "policy",
    mix: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    others_off: pd.DataFrame | None = None,
    min_n: int = 30,
) -> Headline:
    """The opening of a market report: is accuracy off, where, and what to do about it.

    Parameters
    ----------
    label : str
        The scope in words (``"BR"``, ``"BR / TopView"``).
    accuracy_row : mapping
        The accuracy KPI row (``value, target, status, n``).
    change : mapping, optional
        Accuracy's change vs the comparison month (``diff, p_value, significant, from``).
    breakdown : pandas.DataFrame, optional
        :func:`~reporting.metrics.compute.accuracy_table` by ``segment`` (with ``target`` and
        ``status``); the off-track segment with the most errors above its target (and at least
        ``min_n`` audits) is named, with the gain from bringing it to target.
    segment : str, default "policy"
        The segment column of ``breakdown`` (and ``mix``, ``events``).
    mix : pandas.DataFrame, optional
        :func:`~reporting.metrics.compute.error_mix` by ``segment``: says which kind of error.
    events : pandas.DataFrame, optional
        Dated events with ``date, description`` and ``policy``: those on the named policy are
        quoted, and the action becomes a briefing on the change.
    others_off : pandas.DataFrame, optional
        Other KPI rows off track (``kpi, value, target``, optionally ``label, unit,
        target_source``): listed, saying which targets are built-in defaults.
    min_n : int, default 30
        Segments with fewer audits are never named.

    Returns
    -------
    Headline
    """
    lead = _lead(label, accuracy_row, change)
    points: list[str] = []
    actions: list[dict[str, Any]] = []
    seg = None
    if (breakdown is not None and len(breakdown) and str(accuracy_row["status"]) != "on_track"
            and {"target", "status"} <= set(breakdown.columns)):
        cand = breakdown[(breakdown["n"] >= min_n) & (breakdown["status"] == "off_track")]
        if len(cand):
            seg = cand.loc[(cand["n"] * (cand["target"] - cand["accuracy"])).idxmax()]
    if seg is not None:
        mix_row = None
        if mix is not None and len(mix) and segment in mix.columns:
            hit = mix[mix[segment].astype(str) == str(seg[segment])]
            mix_row = None if hit.empty else hit.iloc[0]
        more, action = _gap_action(label, accuracy_row, seg, segment, mix_row, events)
        points += more
        actions.append(action)
    also = _also_off(others_off)
    if also:
        points.append(also)
    return Headline(lead, tuple(points), tuple(actions))

