"""Policy-change impact as the trend report and the MBR read and record it (issue 15, item 4).

Both reports look at the ``policy_update`` events dated in the reported month and the
``FOLLOW_MONTHS - 1`` months before it (the trend chart's window), each against the policy's
weekly accuracy from ``PRE_WEEKS`` weeks before the update to the end of the reported month
(:mod:`reporting.stats.policy_change`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from reporting.core.periods import month as _month
from reporting.metrics.compute import count_accuracy
from reporting.stats.policy_change import (
    POLICY_CHANGE_COLUMNS,
    PolicyChange,
    policy_changes,
    policy_update_events,
)

__all__ = ["POLICY_CHANGE_FORMATS", "POLICY_CHANGE_METHOD", "FOLLOW_MONTHS", "PRE_WEEKS", "analyse_policy_changes", "counts_from_audits",
           "policy_change_table", "policy_change_frame",
           "policy_window", "read_policy_counts"]

#: The "How this was computed" note of every report showing policy changes.
POLICY_CHANGE_METHOD = (
    "Each recorded policy update (events of kind policy_update naming a policy) is checked on that "
    "policy's random-sample accuracy in the market, week by week from 12 weeks before the update "
    "(week 0 is the 7 days from the update) to the end of the month reported.",
    "Segmented (interrupted time-series) regression: a binomial model of the weekly counts with a "
    "level and a trend before the update and a step and a new trend after it; the week-to-week "
    "variation beyond sampling is allowed for (quasi-binomial, Student's t). The dip is the step "
    "at the update in accuracy points with its 95% interval; it counts only when beyond noise "
    "(two-sided, 5% level).",
    "Recovered: the first week whose fitted accuracy after the update is back within the 95% "
    "interval of the pre-update level; the fitted line after the update is straight, so the week "
    "assumes a steady recovery. An update needs 4 weeks with audits before it and 2 after to be "
    "judged.",
)
#: Excel formats of the "Policy changes" sheet.
POLICY_CHANGE_FORMATS = {
    **dict.fromkeys(("pre_level", "pre_low", "pre_high", "after_level", "since_level"), "0.0%"),
    **dict.fromkeys(("dip_pp", "dip_low_pp", "dip_high_pp"), "0.0"), "p_value": "0.0000"}
#: Months of updates followed (the reported month and the ones before it).
FOLLOW_MONTHS = 3
#: Weeks before an update that make its baseline.
PRE_WEEKS = 12
_COUNT_COLUMNS = ["market", "policy", "decision_date", "audits", "correct", "reviewers"]


def policy_window(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the updates followed for ``period``."""
    p = _month(period)
    return (p - (FOLLOW_MONTHS - 1)).start_time.normalize(), p.end_time.normalize()


def read_policy_counts(ctx: Any, events: pd.DataFrame | None, period: str,
                       markets: Sequence[str] | None = None) -> pd.DataFrame:
    """Daily accuracy-sample counts per market and policy (``market, policy, decision_date,
    audits, correct``) of the markets and policies with an update to follow, over the weeks the
    analysis needs; empty when there is none (no data read). Counted inside DuckDB on a run
    snapshot."""
    start, end = policy_window(period)
    ev = policy_update_events(events, start, end, markets)
    if not len(ev):
        return pd.DataFrame(columns=_COUNT_COLUMNS)
    first = (start - pd.Timedelta(weeks=PRE_WEEKS)).strftime("%Y-%m")
    wanted = sorted(set(ev["market"]))
    if not ctx.on_snapshot:
        c = counts_from_audits(ctx.dataset.audits, wanted, first, period)
    else:
        from reporting.data.snapshot import accuracy_counts, distinct_reviewers

        c = accuracy_counts(ctx.data_dir, ["market", "policy", "decision_date"], market=wanted,
                            period_from=first, period_to=period)
        r = distinct_reviewers(ctx.data_dir, ["market", "policy"], market=wanted,
                               period_from=first, period_to=period)
        c = c.merge(r, on=["market", "policy"], how="left")
    keep = pd.MultiIndex.from_frame(ev[["market", "policy"]])
    c = c[pd.MultiIndex.from_frame(c[["market", "policy"]]).isin(keep)]
    return c[_COUNT_COLUMNS].reset_index(drop=True)


def counts_from_audits(audits: pd.DataFrame, markets: Sequence[str], first: str, last: str
                       ) -> pd.DataFrame:
    """The counts of :func:`read_policy_counts` from audits in memory (months ``first`` to
    ``last``)."""
    a = audits[(audits["market"].isin(list(markets)) & (audits["period"] >= first)
                & (audits["period"] <= last)).to_numpy(bool)]
    c = count_accuracy(a, ["market", "policy", "decision_date"])
    sample = a["sample_type"].fillna("random") if "sample_type" in a.columns else None
    r = (a if sample is None else a[(sample.astype(str).str.lower() == "random").to_numpy(bool)])
    r = r.groupby(["market", "policy"], observed=True)["reviewer_id"].nunique()
    return c.merge(r.rename("reviewers").reset_index(), on=["market", "policy"], how="left")


def analyse_policy_changes(events: pd.DataFrame | None, counts: pd.DataFrame | None,
                           period: str, markets: Sequence[str] | None = None, *,
                           level: float = 0.95, alpha: float = 0.05) -> tuple[PolicyChange, ...]:
    """Every followed update of ``markets`` with its impact (see the module docstring)."""
    if counts is None:
        return ()
    start, end = policy_window(period)
    return tuple(policy_changes(events, counts, start, end, markets, pre_weeks=PRE_WEEKS,
                                level=level, alpha=alpha))


def policy_change_frame(changes: Sequence[PolicyChange]) -> pd.DataFrame:
    """The ``policy_changes`` records (results.json) and Excel sheet, one row per update."""
    return pd.DataFrame([c.record() for c in changes], columns=POLICY_CHANGE_COLUMNS)


_STATUS_WORDS = {"dip": "dropped", "rise": "rose", "no_change": "no real change",
                 "too_little_data": "too early to judge",
                 "too_few_reviewers": "not shown (under 3 reviewers)"}


def policy_change_table(changes: Sequence[PolicyChange]) -> pd.DataFrame:
    """Display rows (one per update): policy, date, level before, step with interval, verdict,
    recovery."""
    rows = []
    for c in changes:
        judged = c.status not in ("too_little_data", "too_few_reviewers")
        rec = ("n/a" if not c.status == "dip" else f"after {c.weeks_to_recover} wk"
               if c.recovered else f"not yet ({c.days_observed // 7} wk)")
        rows.append({
            "Market": c.market, "Policy": c.policy, "Update": f"{c.date.day} {c.date:%b %Y}",
            "Before": c.pre_level if judged else float("nan"),
            "Dip (pp)": f"{c.dip_pp:.1f} ({c.dip_low_pp:.1f} to {c.dip_high_pp:.1f})"
            if judged else "",
            "Verdict": _STATUS_WORDS[c.status], "Recovered": rec,
            "Audits before / after": f"{c.n_pre:,} / {c.n_post:,}"})
    return pd.DataFrame(rows)
