"""The appeals report (template ``appeals``): how many of a market's decisions were overturned on
appeal, where, and what to do about it (issue 15).

``read(ctx, params)`` is the only code that touches the data; ``build(inputs, params)`` returns a
frozen :class:`AppealsReport` whose ``records()`` go to results.json and ``tables()`` to
tables.xlsx. The notebook shows its sections through :mod:`reporting.render.appeals` (HTML) and
:mod:`reporting.viz.appeals` (figures). No individual's figures: appeals by reviewer belong in the
team report (:func:`reporting.metrics.appeals.overturn_rates` with ``by=["reviewer_id"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.errors import NoData
from reporting.core.periods import month, previous_period
from reporting.metrics.appeals import (
    AppealsSummary,
    appeals_summary,
    audit_disagreements,
    backlog_trend,
    overturn_rates,
    resolution_time,
)
from reporting.reports._records import kpi_records

#: What the report needs and the contract's columns, for the "missing table" notice.
APPEALS_COLUMNS = ("appeal_id, market, policy, appeal_date, outcome (upheld/overturned), "
                   "optional resolved_date (empty = still open), product_line, case_id, "
                   "reviewer_id, decision_date")


@dataclass(frozen=True)
class AppealsInputs:
    """What :func:`read` hands to :func:`build`: the market's appeals (every month up to the
    period, for the backlog trend), every market's appeals (for the comparison) and the audits of
    the last three months (for the link by ``case_id``)."""

    appeals: pd.DataFrame
    all_appeals: pd.DataFrame
    audits: pd.DataFrame
    targets: pd.DataFrame | None


@dataclass(frozen=True)
class AppealsReport:
    """The appeals of one market and month.

    Attributes
    ----------
    market, period : str
    summary : AppealsSummary
        The transparency summary (appealed, overturned, median time, share open).
    by_policy, by_product_line, by_market : DataFrame
        ``overturn_rate`` rows (:func:`reporting.metrics.appeals.overturn_rates`); ``by_market``
        over every market, for comparison.
    resolution : DataFrame
        Time to resolution by policy (Kaplan-Meier, open appeals censored), plus an ``All`` row.
    backlog : DataFrame
        Weekly filed, resolved and open appeals.
    link : DataFrame or None
        Appeals resolved this month whose case was audited (None: no ``case_id`` to link by).
    actions : DataFrame
        ``market, action, owner, expected_gain_pp, evidence, policy, text``: what to do, worst
        first (decisions before statistics).
    """

    market: str
    period: str
    summary: AppealsSummary
    by_policy: pd.DataFrame
    by_product_line: pd.DataFrame
    by_market: pd.DataFrame
    resolution: pd.DataFrame
    backlog: pd.DataFrame
    link: pd.DataFrame | None
    actions: pd.DataFrame

    @property
    def disagreements(self) -> int:
        """Overturned appeals whose audits all called the decision correct."""
        return 0 if self.link is None else int(self.link["disagree"].sum())

    def kpis(self) -> pd.DataFrame:
        """Every ``overturn_rate`` row of the report (market, by policy, by product line)."""
        here = self.by_market[self.by_market["market"] == self.market]
        parts = [here,
                 self.by_policy.assign(market=self.market),
                 self.by_product_line.assign(market=self.market)]
        return pd.concat(parts, ignore_index=True)

    def records(self) -> dict[str, Any]:
        """results.json: ``kpis`` (with scope), ``appeals_summary``, ``actions``, ``audit_link``."""
        k = self.kpis()
        scope = [c for c in ("market", "policy", "product_line") if c in k.columns]
        link = None if self.link is None else {
            "linked": int(len(self.link)), "overturned_but_audit_correct": self.disagreements}
        return {"kpis": kpi_records(k, scope), "appeals_summary": self.summary.record(),
                "actions": self.actions[["market", "action", "owner", "expected_gain_pp",
                                         "evidence"]].to_dict(orient="records"),
                "audit_link": link}

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """tables.xlsx: one sheet per breakdown."""
        pct = {c: "0.0%" for c in ("value", "ci_low", "ci_high", "target")}
        out = [("By policy", self.by_policy, pct), ("By product line", self.by_product_line, pct),
               ("By market", self.by_market, pct), ("Time to resolution", self.resolution, {}),
               ("Backlog by week", self.backlog, {})]
        if self.link is not None:
            out.append(("Appeals vs audits", self.link, {"audit_correct": "0%"}))
        return out


def read(ctx: Any, params: Mapping[str, Any]) -> AppealsInputs:
    """The appeals (small: whole table) and three months of the market's audits.

    Raises :class:`NoData` naming what is missing: the appeals table, or appeals of the market.
    """
    market, period = str(params["market"]), str(params["period"])
    ds = ctx.data(market=market, period_from=previous_period(period, 2), period_to=period)
    if ds.appeals is None:
        raise NoData("This data has no appeals table, so there is nothing to report on appeals. "
                     f"Add appeals.csv (or an appeals sheet/table) with: {APPEALS_COLUMNS}.")
    end = month(period).end_time.normalize()
    mine = ds.appeals[(ds.appeals["market"] == market) & (ds.appeals["appeal_date"] <= end)]
    if mine.empty:
        raise NoData(f"No appeals in {market} up to {period}.")
    return AppealsInputs(mine.reset_index(drop=True), ds.appeals, ds.audits, ds.targets)


def build(inputs: AppealsInputs, params: Mapping[str, Any]) -> AppealsReport:
    """The appeals report of ``params['market']`` for ``params['period']``."""
    market, period = str(params["market"]), str(params["period"])
    level = float(params.get("level", 0.95))
    a, t = inputs.appeals, inputs.targets
    by_policy = overturn_rates(a, period, ["policy"], t, level)
    by_market = overturn_rates(inputs.all_appeals, period, ["market"], t, level)
    resolution = pd.concat([resolution_time(a, period, [], level).assign(policy="All"),
                            resolution_time(a, period, ["policy"], level)], ignore_index=True)
    resolution = resolution[["policy", *[c for c in resolution.columns if c != "policy"]]]
    summary = appeals_summary(a, period, market, t, level)
    return AppealsReport(
        market=market, period=period, summary=summary, by_policy=by_policy,
        by_product_line=(overturn_rates(a, period, ["product_line"], t, level)
                         if "product_line" in a.columns else by_policy.iloc[:0]),
        by_market=by_market, resolution=resolution,
        backlog=backlog_trend(a, period, months=int(params.get("trend_months", 6))),
        link=audit_disagreements(a, inputs.audits, period),
        actions=policy_actions(by_policy, market))


def policy_actions(by_policy: pd.DataFrame, market: str) -> pd.DataFrame:
    """One action per policy whose overturn rate is off track, with the expected gain: the
    market's overturn rate would fall by ``expected_gain_pp`` points if that policy's rate fell to
    that of the market's other policies (its share of decided appeals kept)."""
    cols = ["market", "action", "owner", "expected_gain_pp", "evidence", "policy", "text"]
    off = by_policy[by_policy["status"] == "off_track"]
    total = by_policy["decided"].sum()
    rows = []
    for r in off.itertuples(index=False):
        rest = by_policy[by_policy["policy"] != r.policy]
        others = rest["overturned"].sum() / rest["decided"].sum() if rest["decided"].sum() else 0
        gain_pp = float(r.decided * (r.value - others) / total * 100) if total else np.nan
        fewer = int(round(r.decided * (r.value - others)))
        rows.append({
            "market": market,
            "action": (f"Review how {r.policy} is applied: go through this month's overturned "
                       f"{r.policy} appeals with the reviewers and the appeals team, and correct "
                       "the guidance where the two read the policy differently."),
            "owner": "market quality lead with the policy owner",
            "expected_gain_pp": gain_pp,
            "evidence": (f"{r.overturned} of {r.decided} decided {r.policy} appeals overturned "
                         f"({r.value:.0%}, likely {r.ci_low:.0%}-{r.ci_high:.0%}) against "
                         f"{others:.0%} on the market's other policies and a {r.target:.0%} "
                         "target"),
            "policy": r.policy,
            "text": (f"{r.policy} decisions are overturned on appeal {r.value:.0%} of the time "
                     f"(target {r.target:.0%}). Bringing it to the level of the other policies "
                     f"would mean about {fewer} fewer overturned decisions a month and lower "
                     f"the market's overturn rate by about {gain_pp:.1f} points."),
        })
    return pd.DataFrame(rows, columns=cols)
