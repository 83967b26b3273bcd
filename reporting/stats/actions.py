"""From the gap to target to numbered actions with an owner, an expected gain and the evidence.

The MBR and the trend report open with what a lead has to do. This module turns the computed
drivers of a gap (:func:`reporting.stats.gap.gap_drivers`), the anonymous reviewer concentration
(:func:`reporting.stats.gap.reviewer_concentration`) and the coinciding events
(:func:`reporting.stats.events.coinciding_events`) into

* a **headline** per market and KPI, in words a lead can read aloud (no test or model names);
* **actions**: records ``market, action, owner, expected_gain_pp, evidence`` (contract 2) plus
  ``number, kpi, dimension, segment, gain_low_pp, gain_high_pp``, largest expected gain first;
* the **follow-up** of last month's actions against this month's change of the KPI they aimed at.

Owners are roles, never people: ``team lead``, ``market owner``, ``policy``, ``workforce
planning``, ``QA``. Expected gains are the counterfactual gains computed in ``stats.gap``; an
action without a computed gain (more QA samples) says so with ``expected_gain_pp = None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from reporting.stats.gap import ReviewerConcentration

__all__ = [
    "ACTION_COLUMNS",
    "OWNERS",
    "actionable",
    "choose_drivers",
    "follow_up",
    "gap_headline",
    "plan_actions",
    "segment_words",
]

ACTION_COLUMNS = ["market", "number", "action", "owner", "expected_gain_pp", "gain_low_pp",
                  "gain_high_pp", "evidence", "kpi", "dimension", "segment"]
OWNERS = ("team lead", "market owner", "policy", "workforce planning", "QA")

_COMBINE = " × "
_TENURE_WORDS = {
    "<90d": "reviewers in their first 90 days",
    "90-180d": "reviewers with 3 to 6 months in the job",
    "180-365d": "reviewers with 6 to 12 months in the job",
    "1y+": "reviewers with over a year in the job",
}
_KPI_WORDS = {
    "accuracy": "accuracy",
    "missed_violation_rate": "missed-violation rate",
    "over_enforcement_rate": "over-enforcement rate",
}
#: a combined cell replaces its broader segment when it carries this much of its gain ...
NESTED_GAIN = 0.75
#: ... with at most this share of its audits (else it is the same group under another name)
NESTED_AUDITS = 0.75
MAX_ACTIONS = 4


def _pct(x: float, decimals: int = 1) -> str:
    return f"{100 * float(x):.{decimals}f}%"


def _pp(x: float) -> str:
    return f"{float(x):.1f} pp"


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def kpi_words(kpi: str) -> str:
    """The KPI as a lead says it."""
    return _KPI_WORDS.get(kpi, kpi.replace("_", " "))


def segment_words(dimension: str, segment: str) -> str:
    """A segment in words: ``'Financial Services for reviewers in their first 90 days'``."""
    dims, segs = str(dimension).split(_COMBINE), str(segment).split(_COMBINE)
    words = []
    for d, s in zip(dims, segs, strict=False):
        s, pooled = _pooled(s)
        if s == SMALL_GROUPS:
            words.append("several small groups")
        elif d == "tenure_band":
            words.append(_TENURE_WORDS.get(s, f"tenure {s}"))
        elif d == "team_lead":
            words.append(f"the team of {s}")
        elif d in ("queue", "site"):
            words.append(f"the {s} {d}")
        else:
            words.append(s)
        if pooled:  # small groups merged into this one for privacy: say it in words
            words[-1] += " (with a few small groups)"
    if len(words) == 2 and dims[1] == "tenure_band":
        return f"{words[0]} for {words[1]}"
    return " and ".join(words)


SMALL_GROUPS = "(small groups)"
_POOLED = " (+ small groups)"
#: segments that are not a group anyone can act on
NOT_ACTIONABLE = (SMALL_GROUPS, "unknown", "(missing)")


def _pooled(segment: str) -> tuple[str, bool]:
    if segment.endswith(_POOLED):
        return segment[: -len(_POOLED)], True
    return segment, False


def actionable(drivers: pd.DataFrame) -> pd.DataFrame:
    """Drivers naming a real group (not the pooled small groups or an unknown label)."""
    if drivers is None or len(drivers) == 0:
        return drivers
    keep = [not any(p.strip() in NOT_ACTIONABLE for p in str(s).split(_COMBINE))
            for s in drivers["segment"]]
    out = drivers[keep]
    out.attrs.update(drivers.attrs)
    return out


def _parts(row: Mapping[str, Any]) -> set[tuple[str, str]]:
    return set(zip(str(row["dimension"]).split(_COMBINE), str(row["segment"]).split(_COMBINE),
                   strict=False))


def choose_drivers(drivers: pd.DataFrame, limit: int = MAX_ACTIONS) -> pd.DataFrame:
    """Drivers that do not overlap, largest gain first, so that gains are not counted twice.

    A combined cell (``policy × tenure``) replaces a broader segment it belongs to when it
    carries at least :data:`NESTED_GAIN` of that segment's gain with at most
    :data:`NESTED_AUDITS` of its audits (a narrower group to train); any other driver that
    shares a segment with one already chosen is dropped.
    """
    if drivers is None or len(drivers) == 0:
        return drivers
    drivers = actionable(drivers)
    rows = drivers.sort_values("gain_pp", ascending=False).to_dict(orient="records")
    cells = [r for r in rows if _COMBINE in str(r["dimension"])]
    for r in rows:  # let a narrow cell stand in for its broader segment
        if _COMBINE in str(r["dimension"]):
            continue
        for c in cells:
            if (_parts(r) <= _parts(c) and c["gain_pp"] >= NESTED_GAIN * r["gain_pp"]
                    and c["n"] <= NESTED_AUDITS * r["n"]):
                r["_replaced"] = True
    chosen: list[dict[str, Any]] = []
    for r in rows:
        if r.get("_replaced") or any(_parts(r) & _parts(c) for c in chosen):
            continue
        if _COMBINE in str(r["dimension"]) and not any(
                _parts(r) >= _parts(b) and b.get("_replaced") for b in rows):
            continue  # a cell only stands in for a broader segment it is narrower than
        chosen.append(r)
        if len(chosen) >= limit:
            break
    out = pd.DataFrame(chosen, columns=list(drivers.columns))
    out.attrs.update(drivers.attrs)
    return out


def _owner_and_action(kpi: str, dimension: str, segment: str) -> tuple[str, str]:
    who = segment_words(dimension, segment)
    what = {"accuracy": "the errors", "missed_violation_rate": "the missed violations",
            "over_enforcement_rate": "the over-enforcement"}.get(kpi, kpi_words(kpi))
    dims = str(dimension).split(_COMBINE)
    if "tenure_band" in dims:
        return "team lead", f"Run group training on {who}, built from {what} QA found."
    if dims == ["policy"]:
        return "policy", (f"Hold a calibration session on {who} and clarify the guideline where "
                          f"{what} cluster.")
    if dims == ["team_lead"]:
        return "market owner", f"Review {what} in {who} with its lead and agree a coaching plan."
    return "market owner", f"Refresh the guidelines and routing for {who}, where {what} cluster."


def _gain_text(gain: float, low: float, high: float) -> str:
    span = f" (likely {_pp(low)} to {_pp(high)})" if _finite(low) and _finite(high) else ""
    return f"+{_pp(gain)}{span}"


def _driver_action(market: str, kpi: str, r: Mapping[str, Any]) -> dict[str, Any]:
    owner, action = _owner_and_action(kpi, str(r["dimension"]), str(r["segment"]))
    who = segment_words(str(r["dimension"]), str(r["segment"]))
    bench = ("did as well as the rest of the market"
             if abs(r["benchmark"] - r["rest_rate"]) < 1e-12 else "reached the target")
    evidence = (f"{who[0].upper() + who[1:]}: {kpi_words(kpi)} {_pct(r['rate'])} on "
                f"{int(r['n']):,} audits against {_pct(r['rest_rate'])} in the rest of the "
                f"market. If they {bench} ({_pct(r['benchmark'])}), the market would be at "
                f"{_pct(r['if_fixed'])} instead of {_pct(r['market_rate'])}"
                + (", enough to reach the target." if r["closes_gap"] else "."))
    return {"market": market, "action": action, "owner": owner,
            "expected_gain_pp": float(r["gain_pp"]), "gain_low_pp": float(r["gain_low_pp"]),
            "gain_high_pp": float(r["gain_high_pp"]), "evidence": evidence, "kpi": kpi,
            "dimension": str(r["dimension"]), "segment": str(r["segment"])}


def _people(n: int) -> str:
    return "one reviewer" if n == 1 else f"{n} reviewers"


def concentration_sentence(c: ReviewerConcentration, kpi: str = "accuracy") -> str:
    """``'One reviewer accounts for the whole gap (93.9% with, 95.1% without).'`` or ''."""
    if c is None or not c.any:
        return ""
    k = c.n_needed if c.closes_gap else c.n_outliers
    who = _people(k)
    part = "the whole gap" if c.closes_gap else f"{_pp(c.gain_pp)} of the gap"
    verb = "accounts" if k == 1 else "account"
    return (f"{who[0].upper() + who[1:]} {verb} for {part} ({_pct(c.rate_with)} with, "
            f"{_pct(c.rate_without)} without).")


def _concentration_action(market: str, kpi: str, c: ReviewerConcentration) -> dict[str, Any]:
    k = c.n_needed if c.closes_gap else c.n_outliers
    return {"market": market,
            "action": (f"Coach the {_people(k)} behind the gap; the team's own report names "
                       f"{'them' if k > 1 else 'the reviewer'} and shows the cases."),
            "owner": "team lead", "expected_gain_pp": float(c.gain_pp),
            "gain_low_pp": float(c.gain_low_pp), "gain_high_pp": float(c.gain_high_pp),
            "evidence": concentration_sentence(c, kpi)[:-1]
            + f"; {_pct(c.share_of_audits)} of the market's audits.",
            "kpi": kpi, "dimension": "reviewer", "segment": _people(k)}


def plan_actions(
    market: str,
    kpi_rows: pd.DataFrame,
    drivers: Mapping[str, pd.DataFrame],
    concentration: Mapping[str, ReviewerConcentration | None] | None = None,
    limit: int = MAX_ACTIONS,
) -> list[dict[str, Any]]:
    """Numbered actions for one market, largest expected gain first.

    Parameters
    ----------
    market : str
        The market.
    kpi_rows : DataFrame
        The market's KPI rows (``kpi, value, n, target, status``).
    drivers : mapping
        ``{kpi: gap_drivers frame}`` for the KPIs off track or at risk.
    concentration : mapping, optional
        ``{kpi: ReviewerConcentration}``.
    limit : int
        At most this many actions.

    Returns
    -------
    list of dict
        :data:`ACTION_COLUMNS` records. A market off track with no driver gets one market-wide
        action whose gain is the whole gap; a market at risk with none gets a QA sampling action
        without a gain.
    """
    concentration = concentration or {}
    acts: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for kpi, d in drivers.items():
        c = concentration.get(kpi)
        if c is not None and c.any and c.closes_gap and ("reviewer", "") not in seen:
            seen.add(("reviewer", ""))  # the same few reviewers: one coaching action
            acts.append(_concentration_action(market, kpi, c))
        for r in choose_drivers(d, limit).to_dict(orient="records") if d is not None else []:
            key = (str(r["dimension"]), str(r["segment"]))
            if key in seen:  # the same group behind two KPIs: one action (the first KPI's)
                continue
            seen.add(key)
            acts.append(_driver_action(market, kpi, r))
    if not acts:
        acts.extend(_fallback(market, kpi_rows))
    acts.sort(key=lambda a: -(a["expected_gain_pp"] if _finite(a["expected_gain_pp"]) else -1))
    acts = acts[:limit]
    for i, a in enumerate(acts, start=1):
        a["number"] = i
    return [{c: a.get(c) for c in ACTION_COLUMNS} for a in acts]


def _fallback(market: str, kpi_rows: pd.DataFrame) -> list[dict[str, Any]]:
    acc = kpi_rows[kpi_rows["kpi"] == "accuracy"]
    if acc.empty or acc.iloc[0]["status"] not in ("off_track", "at_risk"):
        return []
    r = acc.iloc[0]
    value, target = float(r["value"]), float(r["target"])
    if r["status"] == "off_track":
        return [{"market": market, "owner": "market owner", "kpi": "accuracy",
                 "action": ("Run a market-wide refresher: no single group stands out, so the "
                            "gap is spread across the market."),
                 "expected_gain_pp": 100 * (target - value),
                 "evidence": (f"Accuracy {_pct(value)} against a {_pct(target)} target; no "
                              "policy, product line, queue, tenure group, team or reviewer is "
                              "clearly worse than the rest."),
                 "dimension": "market", "segment": market}]
    return [{"market": market, "owner": "QA", "kpi": "accuracy", "expected_gain_pp": None,
             "action": (f"Keep the QA sample at least at {int(r['n']):,} audits a month: this "
                        "month cannot tell whether the market is above or below target."),
             "evidence": (f"Accuracy {_pct(value)}, likely between {_pct(r['ci_low'])} and "
                          f"{_pct(r['ci_high'])}: the target {_pct(target)} is inside that range."),
             "dimension": "market", "segment": market}]


def _change_sentence(change: Mapping[str, Any] | None, since: str, kpi: str) -> str:
    if change is None or not _finite(change.get("diff")) or not _finite(change.get("p_value")):
        return ""
    d = 100 * float(change["diff"])
    if not bool(change.get("significant")):
        return f"It has not changed beyond normal month-to-month noise since {since}."
    verb = "rose" if d > 0 else "fell"
    return f"It {verb} {_pp(abs(d))} since {since}, more than normal month-to-month noise."


def gap_headline(
    market: str,
    kpi_row: Mapping[str, Any],
    drivers: pd.DataFrame | None = None,
    concentration: ReviewerConcentration | None = None,
    change: Mapping[str, Any] | None = None,
    since: str = "last month",
    events: Sequence[str] = (),
) -> str:
    """What is off, why, and what coincides, for one market and KPI, in plain words.

    ``kpi_row`` holds ``kpi, value, ci_low, ci_high, target, status``; ``drivers`` the
    (chosen) gap drivers; ``change`` the KPI's month-on-month change record; ``events`` the
    phrases of the coinciding events.
    """
    kpi = str(kpi_row["kpi"])
    value, target, status = kpi_row["value"], kpi_row.get("target"), kpi_row.get("status")
    words = kpi_words(kpi)
    if not _finite(value):
        return f"{market}: no audits this month."
    if not _finite(target):
        text = f"{market} {words} is {_pct(value)} (no target)."
    elif status == "on_track":
        text = f"{market} is on track: {words} {_pct(value)} against a {_pct(target)} target."
    elif status == "at_risk":
        text = (f"{market} {words} is {_pct(value)} against a {_pct(target)} target: too close "
                f"to tell this month (likely between {_pct(kpi_row['ci_low'])} and "
                f"{_pct(kpi_row['ci_high'])}).")
    else:
        side = "below" if value < target else "above"
        text = (f"{market} {words} is {_pct(value)}, {_pp(abs(100 * (value - target)))} {side} "
                f"its {_pct(target)} target.")
    parts = [text]
    if status in ("off_track", "at_risk"):
        parts.append(_driver_sentence(drivers, concentration, kpi))
    parts.append(_change_sentence(change, since, kpi))
    if events:
        parts.append("This coincides with " + _join(list(events)) + ".")
    return " ".join(p for p in parts if p)


def _driver_sentence(drivers: pd.DataFrame | None, c: ReviewerConcentration | None,
                     kpi: str) -> str:
    out = []
    if c is not None and c.any and c.closes_gap:
        out.append(concentration_sentence(c, kpi))
    if drivers is not None and len(drivers):
        r = drivers.iloc[0]
        who = segment_words(str(r["dimension"]), str(r["segment"]))
        bench = ("did as well as the rest of the market"
                 if abs(r["benchmark"] - r["rest_rate"]) < 1e-12 else "reached the target")
        if drivers.attrs.get("gap_pp", 1.0) <= 0:
            lead = "The clearest room to improve: if"
        else:
            lead = ("The whole gap would close if" if r["closes_gap"]
                    else "The largest part of the gap would close if")
        out.append(f"{lead} {who} {bench} ({_pct(r['rate'])} now, {_pct(r['rest_rate'])} "
                   f"elsewhere): {_pp(r['gain_pp'])} better.")
    elif not out and (drivers is None or drivers.attrs.get("gap_pp", 1.0) > 0):
        out.append("No single group stands out: the gap is spread across the market.")
    return " ".join(out)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def follow_up(previous_actions: Sequence[Mapping[str, Any]], changes: pd.DataFrame,
              since: str) -> list[dict[str, Any]]:
    """Whether the KPI each of last month's actions aimed at moved, in words.

    Parameters
    ----------
    previous_actions : sequence of mapping
        Last month's ``actions`` records (``market, action, kpi, expected_gain_pp``; ``kpi``
        defaults to accuracy for records that lack it).
    changes : DataFrame
        This month's changes (``market, kpi, diff, significant``) vs the month of the actions.
    since : str
        The month of the actions, in words.

    Returns
    -------
    list of dict
        ``market, action, kpi, expected_gain_pp, diff, significant, moved, text`` where
        ``moved`` is ``improved``, ``worsened``, ``no_change`` or ``unknown``.
    """
    from reporting.metrics.kpis import KPIS

    out = []
    for a in previous_actions:
        market, kpi = str(a.get("market")), str(a.get("kpi") or "accuracy")
        row = changes[(changes["market"] == market) & (changes["kpi"] == kpi)]
        diff = float(row["diff"].iloc[0]) if len(row) and _finite(row["diff"].iloc[0]) else None
        sig = bool(row["significant"].iloc[0]) if len(row) and diff is not None else False
        higher = KPIS[kpi].direction == "higher" if kpi in KPIS else True
        if diff is None:
            moved, said = "unknown", f"no comparable {kpi_words(kpi)} figure this month"
        elif not sig:
            moved, said = "no_change", (f"{kpi_words(kpi)} has not moved beyond noise "
                                        f"({'+' if diff >= 0 else '−'}{_pp(abs(100 * diff))})")
        else:
            good = (diff > 0) == higher
            moved = "improved" if good else "worsened"
            said = (f"{kpi_words(kpi)} {'rose' if diff > 0 else 'fell'} {_pp(abs(100 * diff))}, "
                    f"a real {'improvement' if good else 'deterioration'}")
        gain = a.get("expected_gain_pp")
        aim = f" (expected +{_pp(gain)})" if _finite(gain) else ""
        out.append({"market": market, "action": str(a.get("action")), "kpi": kpi,
                    "expected_gain_pp": gain, "diff": diff, "significant": sig, "moved": moved,
                    "text": f"{market}, from {since}: “{a.get('action')}”{aim}: {said}."})
    return out
