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
    "change_actions",
    "change_headline",
    "choose_drivers",
    "follow_up",
    "gap_headline",
    "number_actions",
    "secondary_line",
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
    return number_actions(acts, limit)


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
    from reporting.core.kpis import KPIS

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


def secondary_line(market: str, kpi_row: Mapping[str, Any], drivers: pd.DataFrame | None,
                   lead_segments: Sequence[str] = ()) -> str:
    """One short line for a further KPI off track (the accuracy headline says the rest):
    ``'Over-enforcement rate is off track too: 3.3% against a 2.0% target; fixing Financial
    Services for reviewers in their first 90 days would recover 1.0 pp of it.'``"""
    kpi = str(kpi_row["kpi"])
    words = kpi_words(kpi)
    text = (f"{words[0].upper() + words[1:]} is off track too: {_pct(kpi_row['value'])} against "
            f"a {_pct(kpi_row['target'])} target")
    if drivers is not None and len(drivers):
        r = drivers.iloc[0]
        who = segment_words(str(r["dimension"]), str(r["segment"]))
        same = " (the same group)" if str(r["segment"]) in set(lead_segments) else ""
        part = "all" if r["closes_gap"] else f"{_pp(r['gain_pp'])}"
        text += f"; fixing {who}{same} would recover {part} of it"
    return text + "."


def change_actions(market: str, causes: pd.DataFrame | None, covered: Sequence[str] = (),
                   kpi: str = "accuracy") -> list[dict[str, Any]]:
    """Actions for the segments that made a KPI worse since the month compared with.

    ``causes``: the significant parts of :func:`reporting.stats.decomposition.rank_root_causes`
    (``dimension, segment, effect, contribution_pp, rate_from, rate_to, share_from, share_to,
    n_to``). The expected gain of a worsened *rate* is what restoring the segment's previous
    rate on this month's audits gives back: ``-contribution_pp``, computed, not guessed. A *mix*
    shift (more audits in a harder segment) goes to workforce planning with its contribution as
    the gain of moving the share back. ``covered``: segments already given an action.
    """
    if causes is None or len(causes) == 0:
        return []
    higher = kpi == "accuracy"
    out = []
    for r in causes.to_dict(orient="records"):
        c = float(r["contribution_pp"])
        bad = c < 0 if higher else c > 0
        if not bad or not bool(r.get("significant", True)) or str(r["segment"]) in covered:
            continue
        seg = str(r["segment"])
        if any(p.strip() in NOT_ACTIONABLE or p.endswith(_POOLED) for p in seg.split(_COMBINE)):
            continue
        who = segment_words(str(r["dimension"]), seg)
        if r["effect"] == "mix" and not float(r["share_to"]) > float(r["share_from"]):
            continue  # the easier segment that shrank: the same shift, told once
        if r["effect"] == "mix":
            owner = "workforce planning"
            action = (f"Rebalance work: {who} grew from {_pct(r['share_from'], 0)} to "
                      f"{_pct(r['share_to'], 0)} of audits and is harder than average; route it "
                      "to experienced reviewers.")
            evidence = (f"{who[0].upper() + who[1:]}: {_pct(r['share_from'], 0)} → "
                        f"{_pct(r['share_to'], 0)} of audits, {kpi_words(kpi)} "
                        f"{_pct(r['rate_to'])}.")
        else:
            owner, action = _owner_and_action(kpi, str(r["dimension"]), seg)
            evidence = (f"{who[0].upper() + who[1:]}: {kpi_words(kpi)} went from "
                        f"{_pct(r['rate_from'])} to {_pct(r['rate_to'])} on "
                        f"{int(r['n_to']):,} audits; back at its previous level the market "
                        f"would regain {_pp(abs(c))}.")
        out.append({"market": market, "action": action, "owner": owner,
                    "expected_gain_pp": abs(c), "gain_low_pp": _abs_low(r),
                    "gain_high_pp": _abs_high(r), "evidence": evidence, "kpi": kpi,
                    "dimension": str(r["dimension"]), "segment": seg})
    return out


def _abs_low(r: Mapping[str, Any]) -> float | None:
    lo, hi = r.get("ci_low_pp"), r.get("ci_high_pp")
    return min(abs(float(lo)), abs(float(hi))) if _finite(lo) and _finite(hi) and \
        float(lo) * float(hi) > 0 else None


def _abs_high(r: Mapping[str, Any]) -> float | None:
    lo, hi = r.get("ci_low_pp"), r.get("ci_high_pp")
    return max(abs(float(lo)), abs(float(hi))) if _finite(lo) and _finite(hi) and \
        float(lo) * float(hi) > 0 else None


def number_actions(actions: list[dict[str, Any]], limit: int = MAX_ACTIONS
                   ) -> list[dict[str, Any]]:
    """Largest expected gain first (actions without a gain last), numbered from 1."""
    acts = sorted(actions, key=lambda a: -(a["expected_gain_pp"]
                                           if _finite(a.get("expected_gain_pp")) else -1))[:limit]
    for i, a in enumerate(acts, start=1):
        a["number"] = i
    return [{c: a.get(c) for c in ACTION_COLUMNS} for a in acts]


def _share_words(share: float) -> str:
    if share > 1.0:
        return "all of the change (the rest of the market moved slightly the other way)"
    if share >= 0.9:
        return "nearly all of the change"
    if share >= 0.5:
        return "most of the change"
    return "part of the change"


def change_headline(market: str, change: Mapping[str, Any], compare_to: str, period: str,
                    cause: Mapping[str, Any] | None = None, shift: str = "",
                    kpi_row: Mapping[str, Any] | None = None) -> str:
    """What changed, since when and why, in a lead's words (no test names, no p-values).

    ``change``: the accuracy change record (``from, to, diff, significant``); ``cause``: the top
    significant part of the decomposition; ``shift``: a sentence on when it began (from the
    confirmed change points); ``kpi_row``: this month's accuracy with its target and status.
    """
    a, b, d = float(change["from"]), float(change["to"]), 100 * float(change["diff"])
    if bool(change.get("significant")):
        verb = "rose" if d > 0 else "fell"
        parts = [f"{market} accuracy {verb} {_pp(abs(d))} from {compare_to} to {period} "
                 f"({_pct(a)} → {_pct(b)}), more than normal month-to-month noise."]
    else:
        parts = [f"{market} accuracy did not change beyond normal month-to-month noise from "
                 f"{compare_to} to {period} ({_pct(a)} → {_pct(b)})."]
    if shift:
        parts.append(shift)
    if cause is not None and bool(change.get("significant")):
        who = segment_words(str(cause["dimension"]), str(cause["segment"]))
        share = _share_words(float(cause["share_of_gap"]))
        if cause["effect"] == "mix":
            parts.append(f"Why: {who} grew from {_pct(cause['share_from'], 0)} to "
                         f"{_pct(cause['share_to'], 0)} of audits and is harder than average; "
                         f"that explains {share}.")
        else:
            parts.append(f"Why: in {who} accuracy went from {_pct(cause['rate_from'])} to "
                         f"{_pct(cause['rate_to'])}; that explains {share}.")
    if kpi_row is not None and _finite(kpi_row.get("target")):
        v, t = float(kpi_row["value"]), float(kpi_row["target"])
        where = ("it is on track" if kpi_row.get("status") == "on_track" else
                 "it is too close to tell this month" if kpi_row.get("status") == "at_risk"
                 else f"it is {_pp(abs(100 * (v - t)))} {'below' if v < t else 'above'}")
        parts.append(f"Against its {_pct(t)} target {where}.")
    return " ".join(parts)
