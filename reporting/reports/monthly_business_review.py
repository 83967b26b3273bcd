"""The monthly business review (MBR): every market on one page, from the same library calls as the
per-market reports.

:func:`mbr_report` builds, for one reporting month and a set of markets, in one pass over the
month's data:

* the **scorecard**: per market the KPIs of :func:`reporting.metrics.compute_kpis`, computed exactly
  as the ``market_accuracy`` report computes its market-level figures (same audits of the month,
  same production, same default accuracy sample, same targets), plus cases handled and headcount;
* **month over month**: :func:`reporting.stats.period_changes` per market on the accuracy samples
  of both months (as ``market_accuracy``), with intervals and p-values;
* **trends**: monthly accuracy per market over the last ``trend_months`` months with Wilson
  intervals;
* **top findings**: per market the rate/mix decomposition of the accuracy change
  (:func:`~reporting.stats.decompose_all`, :func:`~reporting.stats.rank_root_causes`) told by
  :func:`~reporting.stats.change_verdict`, on the same dimensions and with the same small-group
  protection as the ``trend_root_cause`` report;
* the **capacity outlook** of the next month per market (:func:`reporting.reports.capacity_plan.
  capacity_report`, the same plan as the ``capacity_plan`` reports of the pack);
* an **executive summary** written from those numbers.

Privacy: the MBR shows no individual. Nothing it holds has a reviewer or auditor column; segments
of fewer than three reviewers are merged before any finding is computed; reviewer-level capacity
detail stays inside the capacity plans and is never copied out.

See ``docs/reports.md`` (section *monthly_business_review*) for how to read it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.cache import ResultCache
from reporting.core.errors import NoData
from reporting.core.kpis import KPIS
from reporting.core.periods import month as _month
from reporting.metrics.appeals import appeals_summary
from reporting.metrics.compute import (
    PRODUCTION_KPIS,
    accuracy_from_counts,
    accuracy_sample,
    compute_kpis,
    count_accuracy,
)
from reporting.metrics.latent_truth import beside_accuracy
from reporting.reports._policy import (
    POLICY_CHANGE_FORMATS,
    POLICY_CHANGE_METHOD,
    analyse_policy_changes,
    counts_from_audits,
    policy_change_frame,
    read_policy_counts,
)
from reporting.reports._records import kpi_records
from reporting.reports.capacity_plan import (
    HISTORY_MONTHS,
    NoCapacityData,
    capacity_report,
    read_ramp_production,
    read_slices,
)
from reporting.stats.actions import (
    ACTION_COLUMNS,
    choose_drivers,
    follow_up,
    gap_headline,
    plan_actions,
    secondary_line,
)
from reporting.stats.change import CHANGES_COLUMNS, period_changes
from reporting.stats.decomposition import (
    COMBINE,
    DEFAULT_COMBINATIONS,
    DEFAULT_DIMENSIONS,
    decompose_all,
    rank_root_causes,
)
from reporting.stats.events import coinciding_events, event_phrase
from reporting.stats.gap import (
    DRIVER_COLUMNS,
    drivers_beyond_reviewers,
    gap_drivers,
    reviewer_concentration,
)
from reporting.stats.narrative import change_verdict
from reporting.stats.policy_change import PolicyChange

__all__ = [
    "CHANGE_KPIS",
    "FINDING_DIMENSIONS",
    "MBRReport",
    "PERSONAL_COLUMNS",
    "SCORECARD_KPIS",
    "TREND_COLUMNS",
    "mbr_no_data_message",
    "mbr_report",
    "read_mbr_data",
]

#: Rows of the scorecard, in order: (key, label). ``cases_handled`` and ``headcount`` come from
#: production; the others are KPIs of :func:`reporting.metrics.compute_kpis`.
SCORECARD_KPIS: tuple[tuple[str, str], ...] = (
    ("cases_handled", "Cases handled"),
    ("audit_volume", "Audits"),
    ("accuracy", "Accuracy"),
    ("accuracy_corrected", "Accuracy corrected for auditor error"),
    ("missed_violation_rate", "Missed violations"),
    ("over_enforcement_rate", "Over-enforcement"),
    ("productivity", "Productivity (cases/h)"),
    ("handling_time_mean", "Handling time (mean)"),
    ("sla_attainment", "SLA attainment"),
    ("headcount", "Headcount"),
)
#: KPIs compared month over month: the same as the market_accuracy report.
CHANGE_KPIS: tuple[str, ...] = (
    "accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "enforcement_precision",
    "enforcement_recall",
    "handling_time_mean",
)
#: Changes shown in the month-over-month table (all of CHANGE_KPIS are recorded).
SHOWN_CHANGES: tuple[str, ...] = (
    "accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "handling_time_mean",
)
#: Dimensions of the findings: those of the trend_root_cause report (never reviewer_id).
FINDING_DIMENSIONS: tuple[str, ...] = DEFAULT_DIMENSIONS
FINDING_COMBINATION: tuple[str, ...] = DEFAULT_COMBINATIONS[0]
#: KPIs whose gap to target is explained and acted on (proportions of audits with a target).
GAP_KPIS: tuple[str, ...] = ("accuracy", "missed_violation_rate", "over_enforcement_rate")
#: Dimensions searched for the drivers of a gap (small groups merged first, as for findings).
GAP_DIMENSIONS: tuple[str, ...] = (*FINDING_DIMENSIONS, COMBINE.join(FINDING_COMBINATION))
#: Columns read for the monthly trend (a narrow read over several months).
TREND_COLUMNS: tuple[str, ...] = (
    "market", "period", "decision_date", "reviewer_decision", "qa_decision", "sample_type",
)
#: Columns that identify a person: never kept by the MBR.
PERSONAL_COLUMNS: tuple[str, ...] = ("reviewer_id", "auditor_id")
#: Markets per scorecard table (more markets: several tables, so it fits a printed page).
MARKETS_PER_TABLE = 6

_KPI_COLS = ["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]
_GAIN_COLUMNS = ("expected_gain_pp", "gain_low_pp", "gain_high_pp")
_NBSP = "\u00a0"
_MINUS = "\u2212"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------




def _shift(period: str, months: int) -> str:
    return (_month(period) + months).strftime("%Y-%m")


def _month_name(period: str, short: bool = False) -> str:
    return _month(period).strftime("%b %Y" if short else "%B %Y")


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _fmt_value(value: Any, kpi: str) -> str:
    if not _finite(value):
        return "–"
    v = float(value)
    unit = KPIS[kpi].unit if kpi in KPIS else "count"
    if unit == "rate":
        return f"{100 * v:.1f}%"
    if unit == "seconds":
        return f"{v:.1f}{_NBSP}s"
    if unit == "cases_per_hour":
        return f"{v:.1f}"
    return f"{v:,.0f}"


def _fmt_interval(low: Any, high: Any, kpi: str) -> str:
    if not (_finite(low) and _finite(high)):
        return ""
    unit = KPIS[kpi].unit if kpi in KPIS else "count"
    if unit == "count":
        return ""
    k, d = (100.0, 1) if unit == "rate" else (1.0, 1)
    return f"[{float(low) * k:.{d}f},{_NBSP}{float(high) * k:.{d}f}]"


def _fmt_diff(diff: Any, kpi: str, unit: bool = True) -> str:
    if not _finite(diff):
        return "–"
    d = float(diff)
    if kpi.startswith("handling_time"):
        text, zero = f"{abs(d):.1f}" + (f"{_NBSP}s" if unit else ""), round(d, 1) == 0
    else:
        text, zero = f"{abs(100 * d):.1f}" + (f"{_NBSP}pp" if unit else ""), round(100 * d, 1) == 0
    return text if zero else ("+" if d > 0 else _MINUS) + text


def _fmt_p(p: Any) -> str:
    if not _finite(p):
        return "p n/a"
    p = float(p)
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _join(items: Sequence[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _higher_is_better(kpi: str) -> bool:
    return KPIS[kpi].direction == "higher" if kpi in KPIS else True


def _in_month(frame: pd.DataFrame, col: str, period: str) -> pd.DataFrame:
    p = _month(period)
    d = pd.to_datetime(frame[col]).dt.normalize()
    keep = (d >= p.start_time.normalize()) & (d <= p.end_time.normalize())
    return frame[keep.to_numpy(dtype=bool)]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MBRData:
    """What the MBR reads from a run, made to be read one market at a time (bounded memory).

    Attributes
    ----------
    base : reporting.data.Dataset
        Roster, targets and events (small); no audits or production.
    markets_with_audits : dict
        ``{month: markets with audits in that month}`` for the month and the one before.
    trend_counts : pandas.DataFrame
        Accuracy-sample counts per market and month of the trend months (``accuracy_counts``).
    read_market : callable
        ``read_market(market)``: that market's audits of the two months and production of the
        capacity history, as a Dataset.
    ramp_production : pandas.DataFrame or None
        Every market's production before the planned month (6 columns): the new-hire ramp's
        ``all_markets`` fallback, as the capacity_plan reports read it.
    """

    base: Any
    markets_with_audits: dict[str, list[str]]
    trend_counts: pd.DataFrame
    read_market: Any
    ramp_production: Any = None
    #: daily accuracy-sample counts per market and policy around the followed policy updates
    policy_counts: pd.DataFrame | None = None


def read_mbr_data(ctx: Any, period: str, markets: Sequence[str] | None = None, *,
                  trend_months: int = 6,
                  accuracy_sample_types: Sequence[str] | None = ("random",)) -> MBRData:
    """What the MBR reads, each table over the window it needs, one market at a time.

    * audits of ``period`` and the month before, all columns (KPIs, changes, findings), and
      production of the capacity history (``HISTORY_MONTHS`` months before the next month):
      read per market when :func:`mbr_report` gets to it, so only one market's rows are in
      memory at once;
    * for the trend, only counts: audits in the accuracy sample and those upheld, per market and
      month of the last ``trend_months`` months (counted inside DuckDB on a run snapshot).

    On a run snapshot every read is a DuckDB slice; opened by hand it filters the loaded data.
    ``accuracy_sample_types`` must be the one given to :func:`mbr_report`.
    """
    compare_to = _shift(period, -1)
    plan = _shift(period, 1)
    first = _shift(period, -(trend_months - 1))
    mlist = list(markets) if markets else None
    if ctx.on_snapshot:
        from reporting.data.snapshot import accuracy_counts

        counts = accuracy_counts(ctx.data_dir, ["market", "period"], market=mlist,
                                 period_from=first, period_to=period,
                                 sample_types=accuracy_sample_types)
        every = accuracy_counts(ctx.data_dir, ["market", "period"], market=mlist,
                                period_from=compare_to, period_to=period, sample_types=None)
    else:
        a = ctx.dataset.audits
        keep = (a["period"] >= first) & (a["period"] <= period)
        if mlist is not None:
            keep &= a["market"].isin(mlist)
        counts = count_accuracy(a.loc[keep.to_numpy(dtype=bool), list(TREND_COLUMNS)],
                                ["market", "period"], accuracy_sample_types)
        two = a["period"].isin([compare_to, period])
        if mlist is not None:
            two &= a["market"].isin(mlist)
        every = count_accuracy(a.loc[two.to_numpy(dtype=bool), list(TREND_COLUMNS)],
                               ["market", "period"], None)
    with_audits = {m: sorted(str(x) for x in every.loc[(every["period"] == m)
                                                      & (every["audits"] > 0), "market"])
                   for m in (compare_to, period)}

    def read_market(market: str):
        return read_slices(ctx, [market], audits_from=compare_to, audits_to=period,
                           production_from=_shift(plan, -HISTORY_MONTHS), production_to=plan)

    base = ctx.data(market=[])  # roster, targets, events; no audits or production
    policy = read_policy_counts(ctx, getattr(base, "events", None), period, mlist)
    return MBRData(base, with_audits, counts, read_market, read_ramp_production(ctx, plan),
                   policy)


def mbr_no_data_message(dataset: Any, period: str, markets: Sequence[str] | None = None
                        ) -> str | None:
    """Why the MBR cannot be built (no audit of any selected market in ``period``), or None.

    ``dataset``: a Dataset, or the :class:`MBRData` of :func:`read_mbr_data`."""
    if isinstance(dataset, MBRData):
        present = dataset.markets_with_audits.get(period, [])
        if any(m in present for m in markets) if markets else present:
            return None
    else:
        a = dataset.audits
        cur = a[(a["period"] == period).to_numpy(dtype=bool)]
        if markets:
            cur = cur[cur["market"].isin(list(markets)).to_numpy(dtype=bool)]
        if len(cur):
            return None
    which = f" for {', '.join(markets)}" if markets else ""
    return f"No audits in {period}{which}."


# --------------------------------------------------------------------------------------------
# The report object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MBRReport:
    """Everything the ``monthly_business_review`` template shows and records.

    Attributes
    ----------
    period, compare_to, plan_month : str
        The reporting month, the month it is compared with, and the month the capacity outlook
        plans.
    markets : tuple of str
        Markets covered (those without audits in the month are shown as "no data").
    level, alpha : float
        Confidence level of the intervals and significance level of the tests.
    kpis : DataFrame
        Per market: ``market, kpi, value, ci_low, ci_high, n, target, status, label, unit``:
        :func:`~reporting.metrics.compute_kpis` exactly as the market_accuracy report calls it.
    volume : DataFrame
        Per market: ``market, cases_handled, headcount`` (reviewers with production in the month).
    changes : DataFrame
        ``market`` + the changes frame (:data:`reporting.stats.CHANGES_COLUMNS`).
    trend : DataFrame
        Monthly accuracy: ``market, period, value, ci_low, ci_high, n, target, status``.
    findings : DataFrame
        One row per market: ``market, diff, p_value, significant, dimension, segment, effect,
        share_of_gap, finding`` (the cause columns describe the top significant cause, if any).
    root_causes : DataFrame
        ``market`` + :func:`~reporting.stats.rank_root_causes` rows of every market.
    capacity : DataFrame
        One row per market with the plan of ``plan_month`` (totals of the capacity plan):
        forecast and interval, required / available FTE, gap, utilisation, SLA risk, backlog,
        ``status`` (on the interval, as the capacity_plan KPI records) and ``outlook``.
    summary : tuple of str
        The executive summary, one sentence (or two) per bullet.
    notes : tuple of str
        Caveats (markets without data, capacity plans that could not be made, ...).
    """

    period: str
    compare_to: str
    plan_month: str
    markets: tuple[str, ...]
    level: float
    alpha: float
    kpis: pd.DataFrame
    volume: pd.DataFrame
    changes: pd.DataFrame
    trend: pd.DataFrame
    findings: pd.DataFrame
    root_causes: pd.DataFrame
    capacity: pd.DataFrame
    summary: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    actions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ACTION_COLUMNS))
    gap_drivers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["market", *DRIVER_COLUMNS]))
    follow_ups: tuple[dict[str, Any], ...] = ()
    previous_source: str = ""
    #: each market's appeals in the month (``appeals_summary`` records; issue 15)
    appeals: tuple[dict[str, Any], ...] = ()
    #: each policy update of the last three months and its impact (issue 15, item 4)
    policy_changes: tuple[PolicyChange, ...] = ()

    # -- what the engine records (results.json) and writes (tables.xlsx) -----------------------
    def records(self) -> dict[str, Any]:
        """results.json: every field the MBR wrote before (``kpis`` per market, ``changes``,
        ``root_causes``, ``findings``, ``capacity``, ``summary``) and ``actions``,
        ``gap_drivers``, ``follow_up`` (contract 2)."""
        findings = self.findings.drop(columns=["headlines"], errors="ignore")
        return {
            "kpis": kpi_records(self.kpi_records(), ["market"]),
            "changes": self.changes_records(),
            "root_causes": self.root_causes_records(),
            "findings": findings,
            "capacity": self.capacity_records(),
            "assumptions": self.assumptions_records(),
            "backtest": self.backtest_records(),
            "summary": list(self.summary),
            "actions": self.actions,
            "gap_drivers": self.gap_drivers,
            "follow_up": list(self.follow_ups),
            "appeals": list(self.appeals),
            "policy_changes": policy_change_frame(self.policy_changes),
        }

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """tables.xlsx: the sheets of :meth:`excel_tables`."""
        return self.excel_tables()

    # -- records -------------------------------------------------------------------------------
    def kpi_records(self) -> pd.DataFrame:
        """``market, kpi, value, ci_low, ci_high, n, target, status`` for
        ``ctx.record_kpis(..., scope=["market"])``."""
        return self.kpis[["market", *_KPI_COLS]].reset_index(drop=True)

    def changes_records(self) -> pd.DataFrame:
        """The changes frame with ``market`` on every record."""
        return self.changes.reset_index(drop=True)

    def root_causes_records(self) -> pd.DataFrame:
        """Contract columns first (``market, dimension, segment, effect, contribution_pp,
        share_of_gap, p_value``), then the rest."""
        rc = self.root_causes
        first = ["market", "dimension", "segment", "effect", "contribution_pp", "share_of_gap",
                 "p_value"]
        return rc[[*first, *[c for c in rc.columns if c not in first]]].reset_index(drop=True)

    def capacity_records(self) -> pd.DataFrame:
        """The capacity outlook per market (numbers; the sentence is in ``outlook``)."""
        return self.capacity.drop(columns=_CAPACITY_RECORDS, errors="ignore").reset_index(
            drop=True)

    def assumptions_records(self) -> list[dict[str, Any]]:
        """results.json ``assumptions``: each market plan's shrinkage (``observed``, ``default``
        or ``parameter``) and other planning assumptions."""
        if "_assumptions" not in self.capacity.columns:
            return []
        return [a for a in self.capacity["_assumptions"] if isinstance(a, dict)]

    def backtest_records(self) -> list[dict[str, Any]]:
        """results.json ``backtest``: each market's plan for a past month against what came."""
        if "_backtest" not in self.capacity.columns:
            return []
        return [r for rows in self.capacity["_backtest"] if isinstance(rows, list) for r in rows]

    # -- views: plain data for the templates of reporting.render.sections -----------------------
    def decisions_view(self) -> dict[str, Any]:
        """Per market off track or at risk (worst first): status, headlines, numbered actions."""
        order = {"off_track": 0, "at_risk": 1}
        acc = self.kpis[self.kpis["kpi"] == "accuracy"].set_index("market")["status"]
        worst = {m: min([order.get(str(s), 9) for s in self.kpis.loc[
            (self.kpis["market"] == m) & self.kpis["kpi"].isin(GAP_KPIS), "status"]] or [9])
            for m in self.markets}
        cards, fine = [], []
        for m in sorted(self.markets, key=lambda m: (worst[m], self.markets.index(m))):
            heads = self.findings.loc[self.findings["market"] == m, "headlines"]
            acts = self.actions[self.actions["market"] == m]
            if worst[m] == 9:
                fine.append(m)
                continue
            status = str(acc.get(m, "no_data"))
            if status == "on_track":
                status = "at_risk" if worst[m] == 1 else "off_track"
            cards.append({"market": m, "status": status,
                          "headlines": list(heads.iloc[0]) if len(heads) else [],
                          "actions": acts.to_dict(orient="records")})
        return {"cards": cards, "on_track": _join(fine), "method": list(DECISION_METHOD)}

    def follow_up_view(self) -> dict[str, Any]:
        """Last month's actions and whether the KPI each aimed at moved."""
        missing = (f"No actions recorded last month (looked for {self.previous_source})."
                   if self.previous_source else "No previous MBR to follow up.")
        return {"items": list(self.follow_ups), "missing": missing,
                "method": [f"Last month's actions are read from {self.previous_source}. Each is "
                           "judged on this month's change of the KPI it aimed at, with the same "
                           f"test as the month-over-month table (at the {self.alpha:.0%} level); "
                           "“no real change yet” means the change is within sampling noise."]}

    def findings_view(self) -> dict[str, Any]:
        """One plain finding per market (the accuracy headline) and the method note."""
        rows = [{"market": r["market"], "text": r["text"]}
                for r in self.findings.to_dict(orient="records")]
        method = [*FINDING_METHOD, *(POLICY_CHANGE_METHOD if self.policy_changes else ())]
        return {"findings": rows, "method": method}

    def _cell(self, market: str, key: str) -> list[dict[str, Any]]:
        if key in ("cases_handled", "headcount"):
            v = self.volume.loc[self.volume["market"] == market, key]
            ok = len(v) and _finite(v.iloc[0])
            return [{"text": _fmt_value(v.iloc[0], "audit_volume"), "bold": True}] if ok \
                else [{"text": "–"}]
        row = self.kpis[(self.kpis["market"] == market) & (self.kpis["kpi"] == key)]
        if row.empty:
            return [{"text": "–"}]
        r = row.iloc[0]
        if KPIS[key].unit == "count":
            return [{"text": _fmt_value(r["value"], key), "bold": True}]
        if r["status"] == "no_data":
            return [{"status": "no_data"}]
        parts = [{"text": _fmt_value(r["value"], key), "bold": True}]
        ci = _fmt_interval(r["ci_low"], r["ci_high"], key)
        if ci:
            parts.append({"text": ci, "note": True})
        common = self._common_target(key)
        if _finite(r["target"]) and (common is None or abs(float(r["target"]) - common) > 1e-12):
            parts.append({"text": f"target {_fmt_value(r['target'], key)}", "note": True})
        parts.append({"status": str(r["status"])})
        return parts

    def _common_target(self, key: str) -> float | None:
        t = self.kpis.loc[self.kpis["kpi"] == key, "target"].dropna()
        if t.empty:
            return None
        mode = t.round(12).mode()
        return float(mode.iloc[0]) if len(mode) else None

    def scorecard_view(self) -> dict[str, Any]:
        """KPIs as rows, markets as columns (several tables of :data:`MARKETS_PER_TABLE`)."""
        tables, markets = [], list(self.markets)
        for i in range(0, len(markets), MARKETS_PER_TABLE):
            chunk = markets[i:i + MARKETS_PER_TABLE]
            rows = []
            for key, label in SCORECARD_KPIS:
                if key not in ("cases_handled", "headcount") and not (
                        self.kpis["kpi"] == key).any():
                    continue
                common = self._common_target(key) if key in KPIS else None
                head = [{"text": label, "bold": True}]
                if key in KPIS and KPIS[key].unit != "count":
                    head.append({"text": "higher is better" if _higher_is_better(key)
                                 else "lower is better", "note": True})
                target = _fmt_value(common, key) if common is not None else "–"
                rows.append([head, [{"text": target}], *[self._cell(m, key) for m in chunk]])
            tables.append({"columns": ["KPI", "Target", *chunk], "rows": rows,
                           "numeric": [False, True, *[True] * len(chunk)]})
        return {"tables": tables, "method": list(SCORECARD_METHOD)}

    def changes_view(self) -> dict[str, Any]:
        """Markets as rows; per KPI the change, its likely range, and in words whether it is a
        real improvement or deterioration (test names and p-values in the method note)."""
        shown = [k for k in SHOWN_CHANGES if (self.changes["kpi"] == k).any()]
        rows = []
        for m in self.markets:
            cells = [[{"text": m, "bold": True}]]
            for k in shown:
                r = self.changes[(self.changes["market"] == m) & (self.changes["kpi"] == k)]
                if r.empty or not _finite(r.iloc[0]["p_value"]):
                    cells.append([{"text": "–"}])
                    continue
                cells.append(_change_cell(r.iloc[0], k))
            rows.append(cells)
        return {"tables": [{"columns": ["Market", *[KPIS[k].label for k in shown]],
                            "rows": rows, "numeric": [False, *[True] * len(shown)]}],
                "method": [*CHANGES_METHOD, "p-values: " + self._p_values(shown)]}

    def _p_values(self, shown: list[str]) -> str:
        c = self.changes[self.changes["kpi"].isin(shown)]
        return "; ".join(f"{r['market']} {KPIS[r['kpi']].label.lower()} {_fmt_p(r['p_value'])}"
                         for r in c.to_dict(orient="records") if _finite(r["p_value"]))

    def capacity_view(self) -> dict[str, Any]:
        """Markets as rows: forecast with its range, FTE required vs available, gap, SLA risk."""
        notes = [f"Plan for {_month_name(self.plan_month)} per market from production up to the "
                 f"end of {_month_name(self.period)}; each market's Capacity plan report has the "
                 "product lines, the suggested moves and the assumptions.", *self.notes]
        if len(self.capacity) == 0:
            return {"tables": [], "notes": [*notes, "No production data: no capacity outlook."]}
        rows = [_capacity_row(r) for r in self.capacity.to_dict(orient="records")]
        cols = ["Market", "Forecast cases\n(likely range)", "Required FTE\n(range)",
                "Available FTE", "Gap (FTE)", "SLA risk", "Backlog per day\nif nothing changes",
                "FTE status over\nthe forecast range"]
        return {"tables": [{"columns": cols, "rows": rows,
                            "numeric": [False, True, True, True, True, False, True, False]}],
                "notes": notes}


    # -- Excel ---------------------------------------------------------------------------------
    def scorecard_frame(self) -> pd.DataFrame:
        """The scorecard as numbers (one row per market and KPI) for tables.xlsx."""
        k = self.kpis[["market", *_KPI_COLS]]
        vol = self.volume.melt(id_vars="market", var_name="kpi", value_name="value")
        vol = vol.assign(ci_low=np.nan, ci_high=np.nan, n=np.nan, target=np.nan, status=None)
        out = pd.concat([vol[["market", *_KPI_COLS]], k], ignore_index=True)
        order = {key: i for i, (key, _) in enumerate(SCORECARD_KPIS)}
        out["_o"] = out["kpi"].map(order).fillna(len(order))
        out = out.sort_values(["market", "_o"], kind="stable").drop(columns="_o")
        return out.reset_index(drop=True)

    def excel_tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """``(sheet name, frame, formats)`` for tables.xlsx (numbers, not text)."""
        findings = self.findings
        cap = self.capacity_records()
        pct = "0.0%"
        return [
            ("Scorecard", self.scorecard_frame(), {}),
            ("Changes", self.changes_records(), {"p_value": "0.0000"}),
            ("Actions", self.actions, dict.fromkeys(_GAIN_COLUMNS, "0.0")),
            ("Findings", findings.drop(columns=["headlines"], errors="ignore").assign(
                events=[", ".join(e) for e in findings["events"]]) if "events" in findings
             else findings, {"share_of_gap": pct, "p_value": "0.0000"}),
            ("Gap drivers", self.gap_drivers, {**{c: pct for c in (
                "share", "rate", "rest_rate", "market_rate", "target", "benchmark",
                "if_fixed")}, "gain_pp": "0.0", "gain_low_pp": "0.0", "gain_high_pp": "0.0"}),
            ("Root causes", self.root_causes_records(), {"share_of_gap": pct}),
            ("Capacity", cap, {"utilisation": pct, "expected_sla_shortfall": pct}),
            ("Accuracy trend", self.trend, {"value": pct, "ci_low": pct, "ci_high": pct,
                                            "target": pct}),
            ("Policy changes", policy_change_frame(self.policy_changes), POLICY_CHANGE_FORMATS),
        ]


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


def _kpis(cur: pd.DataFrame, prod: pd.DataFrame | None, targets: Any, markets: list[str],
          level: float, types: Sequence[str] | None,
          cache: ResultCache | None = None) -> pd.DataFrame:
    """Per-market KPIs, exactly as the market_accuracy report computes its market-level frame.

    That report calls compute_kpis once per market on the market's audits and production of the
    month, with targets in force at the market's latest decision date. One call over all markets
    gives the same numbers (every KPI is computed per scope) when every market's latest decision
    date is the same; otherwise the markets are computed one by one.
    """
    cols = ["market", *_KPI_COLS, "label", "unit"]
    parts = []
    has_prod = set(prod["market"]) if prod is not None and len(prod) else set()
    present = [m for m in markets if (cur["market"] == m).any()]
    if not present:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    last = pd.to_datetime(cur["decision_date"]).groupby(cur["market"]).max()
    if last.loc[present].nunique() == 1:
        groups = [present]
    else:
        groups = [[m] for m in present]
    for group in groups:
        a = cur[cur["market"].isin(group).to_numpy(dtype=bool)]
        p = prod[prod["market"].isin(group).to_numpy(dtype=bool)] if has_prod else None
        p = p if p is not None and len(p) else None
        k = compute_kpis(a, p, targets, by=["market"], level=level, accuracy_sample_types=types)
        # a market without production in the month has no production KPIs in its own report
        k = k[~(k["kpi"].isin(PRODUCTION_KPIS) & ~k["market"].isin(has_prod))]
        parts.append(beside_accuracy(k, a, ["market"], level, cache=cache)[cols])
    out = pd.concat(parts, ignore_index=True)
    order = {m: i for i, m in enumerate(markets)}
    out["_o"] = out["market"].map(order)
    return out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def _volume(prod: pd.DataFrame | None, markets: list[str]) -> pd.DataFrame:
    if prod is None or len(prod) == 0:
        return pd.DataFrame({"market": markets, "cases_handled": np.nan, "headcount": np.nan})
    g = prod.groupby("market").agg(cases_handled=("cases_handled", "sum"),
                                   headcount=("reviewer_id", "nunique"))
    g = g.reindex(markets)
    return g.reset_index().rename(columns={"index": "market"})


def _trend(trend_audits: pd.DataFrame | None, trend_counts: pd.DataFrame | None, targets: Any,
           markets: list[str], first: str, period: str, level: float,
           types: Sequence[str] | None) -> pd.DataFrame:
    cols = ["market", "period", *_KPI_COLS]
    if trend_counts is None:
        t = trend_audits[((trend_audits["period"] >= first) & (trend_audits["period"] <= period)
                          & trend_audits["market"].isin(markets)).to_numpy(dtype=bool)]
        counts = count_accuracy(t, ["market", "period"], types)
    else:
        t = trend_counts
        counts = t[((t["period"] >= first) & (t["period"] <= period)
                    & t["market"].isin(markets)).to_numpy(dtype=bool)]
    if counts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    # each month against the target in force in that month (a target's effective_from is when
    # it starts to apply: JP's 96% from July does not judge May and June)
    parts = []
    for month, c in counts.groupby("period", sort=True):
        last = (c["last_day"].max() if "last_day" in c.columns and c["last_day"].notna().any()
                else _month(str(month)).end_time.normalize())
        parts.append(accuracy_from_counts(c, ["market", "period"], targets, level=level,
                                          as_of=pd.Timestamp(last)))
    k = pd.concat(parts, ignore_index=True).sort_values(["market", "period"], kind="stable")
    return k[cols].reset_index(drop=True)


def _finding(market: str, pair: pd.DataFrame, period: str, compare_to: str,
             change_row: pd.Series | None, level: float, alpha: float, min_reviewers: int
             ) -> tuple[dict[str, Any], pd.DataFrame]:
    """The market's accuracy finding (as the trend_root_cause verdict starts) and its causes."""
    from reporting.reports.trend_root_cause import protect_small_groups, verdict_causes

    row: dict[str, Any] = {"market": market, "diff": np.nan, "p_value": np.nan,
                           "significant": False, "dimension": None, "segment": None,
                           "effect": None, "share_of_gap": np.nan}
    if change_row is None or not _finite(change_row["p_value"]):
        missing = compare_to if (pair["period"] == period).any() else period
        row["finding"] = f"no random-sample audits in {missing}: no change to explain."
        return row, pd.DataFrame()
    row.update(diff=float(change_row["diff"]), p_value=float(change_row["p_value"]),
               significant=bool(change_row["significant"]))
    protected, _small = protect_small_groups(pair, dimensions=FINDING_DIMENSIONS,
                                             combination=FINDING_COMBINATION,
                                             min_reviewers=min_reviewers)
    a_from = protected[(protected["period"] == compare_to).to_numpy(dtype=bool)]
    a_to = protected[(protected["period"] == period).to_numpy(dtype=bool)]
    dims = [*FINDING_DIMENSIONS, COMBINE.join(FINDING_COMBINATION)]
    decomp = decompose_all(a_from, a_to, dimensions=dims, level=level, combinations=())
    ranked = rank_root_causes(decomp, alpha=alpha)
    causes = verdict_causes(ranked)
    row["finding"] = change_verdict(change_row, causes, decomp)
    sig = causes[causes["significant"].astype(bool)] if len(causes) else causes
    if len(sig):
        top = sig.sort_values("share_of_gap", ascending=False).iloc[0]
        row.update(dimension=str(top["dimension"]), segment=str(top["segment"]),
                   effect=str(top["effect"]), share_of_gap=float(top["share_of_gap"]))
    rc = ranked.drop(columns=[c for c in ("n_from", "n_to") if c in ranked.columns])
    return row, rc.assign(market=market)


# --------------------------------------------------------------------------------------------
# Decisions: the gap to target, its drivers, actions and the events that coincide
# --------------------------------------------------------------------------------------------

DECISION_METHOD = (
    "A KPI is off track when its whole 95% confidence interval is on the wrong side of the "
    "target, at risk when the interval contains the target.",
    "Expected gain: the market's rate recomputed on this month's audit counts as if the group "
    "did as well as the rest of the market, or reached the target if that is the smaller step. "
    "The range is a 95% interval (Newcombe's interval for the difference of two proportions, "
    "or the group's Wilson interval when the target is the benchmark).",
    "A group (policy, product line, queue, tenure cohort, team, site, or policy within a tenure "
    "cohort) is named only when it is worse than the rest of the market by Fisher's exact test "
    "after Holm's correction over every group tested (5% family-wise); groups of fewer than "
    "three reviewers are merged first. Overlapping groups are not counted twice.",
    "Reviewers are tested the same way against the rest of their market; the MBR only counts "
    "them (never names them): the team's own report shows who.",
    "Events are those recorded for the market (or all markets) from the first day of the month "
    "compared with to the last day of the month reported; an event about one policy or product "
    "line is named only when that group is among the drivers.",
)
FINDING_METHOD = (
    "Each finding starts from the market's accuracy against its target (see the decisions "
    "above); the change since last month is the change in the random-sample accuracy, called "
    "real only when it is beyond sampling noise (chi-square or Fisher's exact test, 5% level).",
    "The detailed split of the month's change into segments getting better or worse (rate) and "
    "audits moving between segments (mix) is in each market's Trend and root cause report and "
    "in the Findings and Root causes sheets of tables.xlsx.",
)
SCORECARD_METHOD = (
    "Each cell: the month's value, its 95% confidence interval and the status against target: "
    "on track (the whole interval on the good side of the target), at risk (the interval "
    "contains the target), off track (the whole interval on the wrong side).",
    "Rates use random audits only; cases handled, productivity, SLA attainment and headcount "
    "come from production data. The figures are those of each market's Market accuracy report.",
)
CHANGES_METHOD = (
    "Change from the previous month with its 95% interval. Rates: chi-square test, or Fisher's "
    "exact test for small counts; handling time: Welch's t test. Only a change with p < 0.05 is "
    "called better or worse.",
)


def _change_cell(r: pd.Series, k: str) -> list[dict[str, Any]]:
    lo, hi = _fmt_diff(r["ci_low"], k, unit=False), _fmt_diff(r["ci_high"], k, unit=False)
    cell = [{"text": _fmt_diff(r["diff"], k), "bold": True},
            {"text": f"[{lo},{_NBSP}{hi}]", "note": True}]
    if bool(r["significant"]):
        good = (float(r["diff"]) > 0) == _higher_is_better(k)
        cell.append({"text": "▲ better" if good else "▼ worse",
                     "tone": "on_track" if good else "off_track"})
    else:
        cell.append({"text": "no significant change", "note": True})
    return cell


_RISK = {"low": "Low risk", "medium": "Medium risk", "high": "High risk"}
_RISK_STATUS = {"low": "on_track", "medium": "at_risk", "high": "off_track"}


def _capacity_row(r: dict[str, Any]) -> list[list[dict[str, Any]]]:
    if not _finite(r.get("forecast_cases")):
        return [[{"text": str(r["market"])}], *[[{"text": "–"}]] * 6,
                [{"text": str(r.get("outlook") or "no plan")}]]
    gap = float(r["gap_fte"])
    gap_text = f"{gap:+.1f} short" if gap > 0.05 else (
        f"{-gap:.1f} spare" if gap < -0.05 else "0.0")
    status = str(r["status"])
    reading = {"on_track": "enough even at the high forecast",
               "off_track": "short even at the low forecast",
               "at_risk": "depends on where volume lands"}.get(status, "–")
    risk = str(r["sla_risk"])
    backlog = r["backlog_cases_per_day"]
    return [
        [{"text": str(r["market"]), "bold": True}],
        [{"text": f"{r['forecast_cases']:,.0f}"},
         {"text": f"{r['forecast_low']:,.0f}–{r['forecast_high']:,.0f}", "note": True}],
        [{"text": f"{r['required_fte']:.1f}"},
         {"text": f"{r['required_fte_low']:.1f}–{r['required_fte_high']:.1f}", "note": True}],
        [{"text": f"{r['available_fte']:.1f}"}],
        [{"text": gap_text}],
        [{"text": _RISK.get(risk, "n/a"),
          "tone": _RISK_STATUS.get(risk, "no_data")}],
        [{"text": f"{backlog:,.0f}" if _finite(backlog) else "–"}],
        [{"status": status}, {"text": reading, "note": True}],
    ]


def _kpi_driver_inputs(m: str, cur: pd.DataFrame, kpis_m: pd.DataFrame, level: float,
                       alpha: float, min_reviewers: int
                       ) -> tuple[dict[str, pd.DataFrame], dict[str, Any], list[pd.DataFrame]]:
    """Drivers and reviewer concentration of every gap KPI off track or at risk in ``m``."""
    from reporting.reports.trend_root_cause import protect_small_groups

    drivers: dict[str, pd.DataFrame] = {}
    conc: dict[str, Any] = {}
    frames: list[pd.DataFrame] = []
    off = kpis_m[kpis_m["kpi"].isin(GAP_KPIS) & kpis_m["status"].isin(["off_track", "at_risk"])
                 & kpis_m["target"].notna()]
    if off.empty or cur.empty:
        return drivers, conc, frames
    protected, _ = protect_small_groups(cur, dimensions=FINDING_DIMENSIONS,
                                        combination=FINDING_COMBINATION,
                                        min_reviewers=min_reviewers)
    for r in off.to_dict(orient="records"):
        kpi, higher = str(r["kpi"]), _higher_is_better(str(r["kpi"]))
        d = gap_drivers(protected, float(r["target"]), GAP_DIMENSIONS, kpi=kpi,
                        higher_is_better=higher, level=level, alpha=alpha)
        conc[kpi] = reviewer_concentration(cur, float(r["target"]), kpi=kpi,
                                           higher_is_better=higher, level=level, alpha=alpha)
        if conc[kpi] is not None and conc[kpi].closes_gap:  # a segment bad only through them
            d = drivers_beyond_reviewers(protected, d, GAP_DIMENSIONS, kpi=kpi,
                                         higher_is_better=higher, level=level, alpha=alpha)
        drivers[kpi] = d
        if len(d):
            frames.append(d.assign(market=m))
    return drivers, conc, frames


def _decisions(m: str, cur: pd.DataFrame, kpis_m: pd.DataFrame, changes_m: pd.DataFrame,
               events: pd.DataFrame | None, period: str, compare_to: str, level: float,
               alpha: float, min_reviewers: int) -> dict[str, Any]:
    """The market's headlines (one per gap KPI off track or at risk; accuracy always first),
    its numbered actions, its gap drivers and the events that coincide."""
    drivers, conc, frames = _kpi_driver_inputs(m, cur, kpis_m, level, alpha, min_reviewers)
    chosen = {k: choose_drivers(d) for k, d in drivers.items()}
    segments = [s for d in chosen.values() for s in d["segment"]] if chosen else []
    start = _month(compare_to).start_time
    ev = coinciding_events(events, m, start, _month(period).end_time, segments)
    phrases = [event_phrase(e) for e in ev.to_dict(orient="records")]
    since = _month_name(compare_to).split(" ")[0]
    row = kpis_m[kpis_m["kpi"] == "accuracy"]
    ch = changes_m[changes_m["kpi"] == "accuracy"]
    acc_text = (gap_headline(m, row.iloc[0], chosen.get("accuracy"), conc.get("accuracy"),
                             ch.iloc[0].to_dict() if len(ch) else None, since, phrases)
                if len(row) else None)
    heads = [acc_text] if acc_text else []
    lead = list(chosen["accuracy"]["segment"][:1]) if "accuracy" in chosen else []
    for kpi in GAP_KPIS[1:]:  # further KPIs: one short line each, only when off track
        r = kpis_m[(kpis_m["kpi"] == kpi) & (kpis_m["status"] == "off_track")]
        if len(r):
            heads.append(secondary_line(m, r.iloc[0], chosen.get(kpi), lead))
    acts = plan_actions(m, kpis_m, drivers, conc)
    return {"headlines": tuple(heads), "text": acc_text or f"{m}: no audits this month.",
            "events": [f"{e['description']} ({pd.Timestamp(e['date']).date()})"
                       for e in ev.to_dict(orient="records")],
            "actions": acts, "drivers": frames}


def read_previous_actions(path: str | Path | None) -> tuple[list[dict[str, Any]], str]:
    """Last month's MBR ``actions`` records from ``path`` (a results.json), and the path read;
    no records (and no error) when the file is absent or unreadable."""
    if not path:
        return [], ""
    p = Path(path)
    try:
        data = json.loads(p.read_text()) if p.is_file() else {}
    except (OSError, ValueError):
        data = {}
    acts = data.get("actions") if isinstance(data, dict) else None
    return ([a for a in acts if isinstance(a, dict)] if isinstance(acts, list) else []), str(p)


def previous_results_path(report_dir: str | Path | None, period: str) -> Path | None:
    """Where the previous month's MBR results.json is, by the engine's layout: the run writes
    ``<out>/<report-id>/`` (building in ``<out>/.staging/<job>/``), and the default ``<out>`` is
    ``outputs/<period>``, so last month's pack is ``<out>/../<previous period>/``."""
    if not report_dir:
        return None
    rd = Path(report_dir).resolve()
    out = rd.parent.parent if rd.parent.name == ".staging" else rd.parent
    return out.parent / _shift(period, -1) / "monthly_business_review" / "results.json"


_CAPACITY_COLUMNS = ["market", "month", "forecast_cases", "forecast_low", "forecast_high",
                     "required_fte", "required_fte_low", "required_fte_high", "available_fte",
                     "gap_fte", "utilisation", "sla_risk", "backlog_cases_per_day",
                     "expected_sla_shortfall", "moved_fte", "shrinkage", "observed_attendance",
                     "status", "outlook"]
#: Per-market records of the capacity plan carried in the capacity frame (not shown as columns).
_CAPACITY_RECORDS = ["_assumptions", "_backtest"]


def _capacity(dataset: Any, markets: list[str], plan_month: str, period: str,
              assumptions: Any, level: float, types: Sequence[str] | None,
              notes: list[str], cache: ResultCache | None = None,
              ramp_production: pd.DataFrame | None = None) -> pd.DataFrame:
    rows = []
    for m in markets:
        try:
            rep = capacity_report(dataset, m, plan_month, assumptions, accuracy_month=period,
                                  level=level, accuracy_sample_types=types, cache=cache,
                                  ramp_production=ramp_production)
        except NoCapacityData as exc:
            notes.append(f"Capacity outlook, {m}: {exc}")
            rows.append({"market": m, "month": plan_month, "outlook": str(exc)})
            continue
        t = rep.plan.totals.iloc[0]
        total_status = rep.kpis.loc[rep.kpis["product_line"].isna()
                                    & (rep.kpis["kpi"] == "fte_gap"), "status"]
        moves = rep.plan.redistribution
        moved = float(moves.loc[moves["action"] == "move", "fte_equivalent"].sum()) if len(
            moves) else 0.0
        rows.append({
            "market": m, "month": plan_month,
            **{c: t[c] for c in ("forecast_cases", "forecast_low", "forecast_high",
                                 "required_fte", "required_fte_low", "required_fte_high",
                                 "available_fte", "gap_fte", "utilisation", "sla_risk",
                                 "backlog_cases_per_day", "expected_sla_shortfall")},
            "moved_fte": moved,
            "shrinkage": rep.plan.assumptions.shrinkage,
            "observed_attendance": rep.plan.capacity.observed_attendance,
            "status": total_status.iloc[0] if len(total_status) else "no_data",
            "outlook": rep.outlook,
            # the plan's assumptions and last month's plan against what happened (contract 2);
            # kept beside the row, out of the capacity table and its sheet
            "_assumptions": rep.assumptions_record(),
            "_backtest": rep.backtest_records(),
        })
    out = pd.DataFrame(rows)
    for c in [*_CAPACITY_COLUMNS, *_CAPACITY_RECORDS]:
        if c not in out.columns:
            out[c] = None if c in _CAPACITY_RECORDS else np.nan
    return out[[*_CAPACITY_COLUMNS, *_CAPACITY_RECORDS]]


def _first_actions(actions: pd.DataFrame | None, markets: list[str], kpis: pd.DataFrame
                   ) -> list[str]:
    """One sentence per market off track: its first action and its expected gain."""
    if actions is None or actions.empty:
        return []
    acc = kpis[kpis["kpi"] == "accuracy"].set_index("market")["status"]
    out = []
    for m in markets:
        a = actions[(actions["market"] == m) & (actions["number"] == 1)]
        if a.empty or acc.get(m) != "off_track":
            continue
        r = a.iloc[0]
        gain = (f" (expected +{float(r['expected_gain_pp']):.1f}{_NBSP}pp)"
                if _finite(r["expected_gain_pp"]) else "")
        out.append(f"First action, {m}: {r['action'].rstrip('.')}{gain}; owner: {r['owner']}.")
    return out


def _summary(period: str, compare_to: str, plan_month: str, markets: list[str],
             kpis: pd.DataFrame, changes: pd.DataFrame, findings: pd.DataFrame,
             capacity: pd.DataFrame, alpha: float,
             actions: pd.DataFrame | None = None) -> list[str]:
    out: list[str] = []
    month, prev = _month_name(period), _month_name(compare_to)
    acc = kpis[kpis["kpi"] == "accuracy"].set_index("market")
    groups: dict[str, list[str]] = {s: [] for s in ("off_track", "at_risk", "on_track", "no_data")}
    for m in markets:
        groups[str(acc["status"].get(m, "no_data")) if m in acc.index else "no_data"].append(m)

    n = len(markets)
    off = groups["off_track"]
    if off:
        targets = {m: float(acc.loc[m, "target"]) for m in off}
        common = len(set(targets.values())) == 1
        vals = [f"{m} {_fmt_value(acc.loc[m, 'value'], 'accuracy')}"
                + ("" if common else f" (target {_fmt_value(targets[m], 'accuracy')})")
                for m in off]
        text = (f"Accuracy in {month}: {len(off)} of {n} markets "
                f"{'is' if len(off) == 1 else 'are'} off track, clearly below "
                f"target: {_join(vals)}"
                + (f" against a {_fmt_value(next(iter(targets.values())), 'accuracy')} target."
                   if common else "."))
    else:
        text = f"Accuracy in {month}: no market is off track."
    rest = []
    if groups["at_risk"]:
        rest.append(f"at risk (too close to the target to tell): {_join(groups['at_risk'])}")
    if groups["on_track"]:
        rest.append(f"on track: {_join(groups['on_track'])}")
    if groups["no_data"]:
        rest.append(f"no audits: {_join(groups['no_data'])}")
    if rest:
        joined = "; ".join(rest)
        text += " " + joined[0].upper() + joined[1:] + "."
    out.append(text)

    others = []
    for kpi in ("missed_violation_rate", "over_enforcement_rate", "sla_attainment",
                "productivity", "handling_time_mean"):
        off = kpis[(kpis["kpi"] == kpi) & (kpis["status"] == "off_track")]["market"].tolist()
        if off:
            others.append(f"{KPIS[kpi].label.lower()} in {_join(off)}")
    if others:
        out.append(f"Also off track: {'; '.join(others)}.")

    ch = changes[changes["kpi"] == "accuracy"]
    sig = ch[ch["significant"].astype(bool)].copy()
    if len(sig):
        sig = sig.reindex(sig["diff"].abs().sort_values(ascending=False).index)
        moves = [f"{r['market']} {_fmt_diff(r['diff'], 'accuracy')}"
                 for _, r in sig.iterrows()]
        quiet = [m for m in markets if m not in set(sig["market"]) and m in set(ch["market"])]
        text = f"Biggest movers in accuracy since {prev} (beyond sampling noise): {', '.join(moves)}."
        if quiet:
            text += f" {_join(quiet)}: no real change (differences within sampling noise)."
        out.append(text)
    elif len(ch):
        out.append(f"No market's accuracy really changed since {prev}; month-to-month "
                   "differences are within sampling noise.")
    out.extend(_first_actions(actions, markets, kpis))

    cap = capacity[capacity["required_fte"].notna()]
    if len(cap):
        pm = _month_name(plan_month)
        short = cap[cap["gap_fte"] > 0]
        high = cap[cap["sla_risk"] == "high"]["market"].tolist()
        sure = cap[cap["status"] == "off_track"]["market"].tolist()
        if len(short):
            text = (f"Capacity for {pm}: {len(short)} of {len(cap)} markets are forecast short "
                    f"of FTE (total gap {short['gap_fte'].sum():.1f} FTE)")
            text += (f"; high SLA risk in {_join(high)}" if high else "") + "."
            if sure:
                text += f" Short even at the low end of the forecast: {_join(sure)}."
        else:
            text = f"Capacity for {pm}: every market has enough FTE at the forecast volume."
        att = cap["observed_attendance"].astype(float)
        expected = 1.0 - cap["shrinkage"].astype(float)
        differs = (att - expected).abs() > 0.05
        if differs.any() and differs.sum() >= len(cap) / 2:
            seen = att[differs]
            span = (f"{seen.min():.0%}" if round(seen.min(), 2) == round(seen.max(), 2)
                    else f"{seen.min():.0%}\u2013{seen.max():.0%}")
            more = bool((seen > expected[differs]).all())
            text += (f" Check the shrinkage assumption first: in {_join(cap['market'][differs])}"
                     f" reviewers recently worked on {span} of weekdays, against the "
                     f"{expected.iloc[0]:.0%} it allows"
                     + ("; if that continues the gaps are smaller." if more else "."))
        out.append(text)
    return out


def mbr_report(
    dataset: Any,
    period: str,
    markets: Sequence[str] | None = None,
    *,
    trend_audits: pd.DataFrame | None = None,
    trend_counts: pd.DataFrame | None = None,
    level: float = 0.95,
    alpha: float = 0.05,
    trend_months: int = 6,
    min_reviewers: int = 3,
    capacity: bool = True,
    assumptions: Any = None,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    cache: ResultCache | None = None,
    previous_actions: Sequence[dict[str, Any]] = (),
    previous_source: str = "",
) -> MBRReport:
    """Assemble the monthly business review for ``period`` over ``markets``.

    Parameters
    ----------
    dataset : reporting.data.Dataset or MBRData
        Audits of ``period`` and the month before (all columns), production up to ``period``
        for the capacity outlook, roster, targets and events when available; or the
        :class:`MBRData` of :func:`read_mbr_data` (one market at a time; the same report).
    period : str
        The reporting month ``YYYY-MM``.
    markets : sequence of str, optional
        Markets to cover (default: every market with audits in ``period`` or the month before).
    trend_audits : pandas.DataFrame, optional
        Audits (at least ``TREND_COLUMNS``) of the trend months; default ``dataset.audits``.
    trend_counts : pandas.DataFrame, optional
        Instead of ``trend_audits``: accuracy-sample counts per market and month, as
        :func:`read_mbr_data` returns them (same ``accuracy_sample_types``).
    level, alpha : float
        Confidence level of the intervals, significance level of the tests and findings.
    trend_months : int, default 6
        Months in the trend chart (ending with ``period``).
    min_reviewers : int, default 3
        Segments of fewer reviewers are merged before findings are computed (privacy).
    capacity : bool, default True
        Plan the month after ``period`` per market (the slowest part).
    assumptions : CapacityAssumptions, optional
        Planning assumptions (default: the capacity package's defaults, as the pack's
        capacity_plan reports).
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`reporting.metrics.compute_kpis` (the market_accuracy report's default).
    cache : reporting.core.cache.ResultCache, optional
        ``ctx.cache``: forecasts and accuracy_corrected fits shared with the market reports.
    previous_actions : sequence of dict, optional
        Last month's MBR ``actions`` records (see :func:`read_previous_actions`): each is
        followed up against this month's change of the KPI it aimed at.
    previous_source : str, optional
        Where they were read (said in the report).

    Returns
    -------
    MBRReport

    Raises
    ------
    ValueError
        When ``period`` is not a month or no selected market has an audit in it (check with
        :func:`mbr_no_data_message` first).
    """
    period = _month(period).strftime("%Y-%m")
    compare_to = _shift(period, -1)
    plan_month = _shift(period, 1)
    reason = mbr_no_data_message(dataset, period, markets)
    if reason:
        raise ValueError(reason)
    src = _sources(dataset, period, compare_to, markets, trend_audits, trend_counts)
    markets = src.markets
    opts = dict(level=level, alpha=alpha, min_reviewers=min_reviewers, types=accuracy_sample_types,
                cache=cache)
    plan = (plan_month, assumptions, cache) if capacity else None
    parts, any_production = _analyse_all(src, period, compare_to, plan, opts)
    notes: list[str] = []
    if parts["no_audits"]:
        notes.append(f"No audits in {period} for {_join(parts['no_audits'])}: shown as no data.")
    kpis, changes, findings, root_causes = _assemble(parts)
    first = _shift(period, -(trend_months - 1))
    trend = _trend(src.trend_audits, src.trend_counts, src.targets, markets, first, period,
                   level, accuracy_sample_types)
    cap = _capacity_frame(parts, capacity, any_production, notes)
    actions, drivers = _decision_frames(parts)
    appeals, policy, findings = _appeals_and_policy(dataset, src, period, findings, level, alpha)
    summary = [*_summary(period, compare_to, plan_month, markets, kpis, changes, findings, cap,
                         alpha, actions), *_appeals_lines(appeals)]
    return MBRReport(
        period=period, compare_to=compare_to, plan_month=plan_month, markets=tuple(markets),
        level=level, alpha=alpha, kpis=kpis, volume=pd.concat(parts["volume"], ignore_index=True),
        changes=changes.reset_index(drop=True), trend=trend, findings=findings,
        root_causes=root_causes.reset_index(drop=True), capacity=cap, summary=tuple(summary),
        notes=tuple(notes), actions=actions, gap_drivers=drivers,
        follow_ups=tuple(follow_up(previous_actions, changes, _month_name(compare_to))),
        previous_source=previous_source, appeals=tuple(appeals), policy_changes=policy,
    )


def _appeals_and_policy(dataset: Any, src: _Sources, period: str, findings: pd.DataFrame,
                        level: float, alpha: float) -> tuple[list[dict[str, Any]],
                                                             tuple[PolicyChange, ...],
                                                             pd.DataFrame]:
    """The markets' appeals, their policy updates' impact, and the findings told it."""
    appeals = _appeals(getattr(getattr(dataset, "base", dataset), "appeals", None), period,
                       src.markets, src.targets, level)
    policy = _policy_changes(dataset, src, period, src.markets, level, alpha)
    return appeals, policy, _with_policy_changes(findings, policy)


def _policy_changes(dataset: Any, src: _Sources, period: str, markets: list[str],
                    level: float, alpha: float) -> tuple[PolicyChange, ...]:
    """Every policy update of the markets in the last three months and its impact."""
    if isinstance(dataset, MBRData):
        counts = dataset.policy_counts
    else:
        start = _month(period) - 2
        first = (start.start_time - pd.Timedelta(weeks=12)).strftime("%Y-%m")
        counts = counts_from_audits(dataset.audits, markets, first, period)
    return analyse_policy_changes(src.events, counts, period, markets, level=level, alpha=alpha)


def _with_policy_changes(findings: pd.DataFrame, changes: Sequence[PolicyChange]
                         ) -> pd.DataFrame:
    """Each market's finding followed by what its policy updates did, where they did something
    (a dip or a rise beyond noise); the update joins the finding's events."""
    news = [c for c in changes if c.significant]
    if not news or not len(findings):
        return findings
    f = findings.copy()
    for i, row in f.iterrows():
        mine = [c for c in news if c.market == row["market"]]
        if not mine:
            continue
        f.at[i, "text"] = " ".join([str(row["text"]), *(c.text for c in mine)])
        events = list(row["events"]) if isinstance(row.get("events"), list) else []
        for c in mine:
            label = f"{c.description} ({c.date.date()})"
            if label not in events:
                events.append(label)
        f.at[i, "events"] = events
    return f


def _appeals(appeals: pd.DataFrame | None, period: str, markets: list[str], targets: Any,
             level: float) -> list[dict[str, Any]]:
    """Each market's appeals resolved in ``period`` (no individual's figures)."""
    if appeals is None or len(appeals) == 0:
        return []
    out = []
    for m in markets:
        summary = appeals_summary(appeals, period, m, targets, level)
        if summary is not None and summary.appealed:
            out.append(summary.record())
    return out


def _appeals_lines(records: list[dict[str, Any]]) -> list[str]:
    """One summary line on the markets whose decisions are overturned on appeal too often."""
    off = [r for r in records if r.get("status") == "off_track"]
    if not off:
        return []
    parts = [f"{r['scope'].get('market')} {100 * r['overturn_rate']:.1f}%"
             + (f" (most in {r['worst_policy']})" if r.get("worst_policy") else "")
             for r in off]
    return [f"Appeals: decisions are overturned more often than the target allows in "
            f"{_join(parts)}; see each market's appeals report."]


@dataclass(frozen=True, eq=False)
class _Sources:
    """Where :func:`mbr_report` reads each market's rows (a Dataset or the MBRData of a run)."""

    markets: list[str]
    targets: Any
    events: Any
    trend_audits: pd.DataFrame | None
    trend_counts: pd.DataFrame | None
    market_frames: Any
    ramp_production: Any = None


def _sources(dataset: Any, period: str, compare_to: str, markets: Sequence[str] | None,
             trend_audits: pd.DataFrame | None, trend_counts: pd.DataFrame | None) -> _Sources:
    if isinstance(dataset, MBRData):  # read and analysed one market at a time
        markets = ([str(m) for m in markets] if markets
                   else sorted(set().union(*dataset.markets_with_audits.values())))

        def market_frames(m: str):
            ds_m = dataset.read_market(m)
            two_m = ds_m.audits[ds_m.audits["period"].isin([compare_to, period])
                                .to_numpy(dtype=bool)]
            prod_m = ds_m.production
            prod_cur_m = _in_month(prod_m, "date", period) if prod_m is not None else None
            return (ds_m, _in_month(two_m, "decision_date", period),
                    _in_month(two_m, "decision_date", compare_to), prod_cur_m)

        return _Sources(markets, getattr(dataset.base, "targets", None),
                        getattr(dataset.base, "events", None), trend_audits,
                        dataset.trend_counts if trend_counts is None else trend_counts,
                        market_frames, dataset.ramp_production)
    a = dataset.audits
    two = a[a["period"].isin([compare_to, period]).to_numpy(dtype=bool)]
    markets = ([str(m) for m in markets] if markets
               else sorted(str(m) for m in two["market"].dropna().unique()))
    two = two[two["market"].isin(markets).to_numpy(dtype=bool)]
    cur = _in_month(two, "decision_date", period)
    prev = _in_month(two, "decision_date", compare_to)
    production = getattr(dataset, "production", None)
    prod_cur = (_in_month(production[production["market"].isin(markets).to_numpy(dtype=bool)],
                          "date", period) if production is not None else None)

    def frames(m: str):
        return (dataset, cur[cur["market"] == m], prev[prev["market"] == m],
                prod_cur[prod_cur["market"] == m] if prod_cur is not None else None)

    if trend_audits is None and trend_counts is None:
        trend_audits = a
    return _Sources(markets, getattr(dataset, "targets", None), getattr(dataset, "events", None),
                    trend_audits, trend_counts, frames)


def _analyse_all(src: _Sources, period: str, compare_to: str, plan: tuple | None,
                 opts: dict[str, Any]) -> tuple[dict[str, list], bool]:
    """Every market in turn, one market's rows in memory at a time; ``plan`` is
    ``(plan_month, assumptions, cache)`` for the capacity outlook, or None."""
    parts: dict[str, list] = {k: [] for k in ("kpis", "volume", "changes", "findings", "rc",
                                              "cap", "cap_notes", "actions", "drivers",
                                              "no_audits")}
    any_production = False
    for m in src.markets:
        ds_m, c_m, p_m, prod_cur_m = src.market_frames(m)
        _analyse_market(m, c_m, p_m, prod_cur_m, src, period, compare_to, parts, **opts)
        production_m = getattr(ds_m, "production", None)
        if production_m is not None and (production_m["market"] == m).any():
            any_production = True
        if plan is not None:
            plan_month, assumptions, cache = plan
            parts["cap"].append(_capacity(ds_m, [m], plan_month, period, assumptions,
                                          opts["level"], opts["types"], parts["cap_notes"],
                                          cache, src.ramp_production))
        del ds_m, c_m, p_m  # one market's rows at a time
    return parts, any_production


def _analyse_market(m: str, c_m: pd.DataFrame, p_m: pd.DataFrame, prod_cur_m: Any,
                    src: _Sources, period: str, compare_to: str, parts: dict[str, list], *,
                    level: float, alpha: float, min_reviewers: int,
                    types: Sequence[str] | None, cache: ResultCache | None = None) -> None:
    """KPIs, changes, finding, decisions of one market, appended to ``parts``."""
    kpis_m = _kpis(c_m, prod_cur_m, src.targets, [m], level, types, cache)
    parts["kpis"].append(kpis_m)
    parts["volume"].append(_volume(prod_cur_m, [m]))
    if not len(c_m):
        parts["no_audits"].append(m)
    ch = pd.DataFrame(columns=["kpi", "diff", "p_value", "significant"])
    acc_row = None
    if len(accuracy_sample(c_m, types)) and len(accuracy_sample(p_m, types)):
        ch = period_changes(accuracy_sample(p_m, types), accuracy_sample(c_m, types), kpis=CHANGE_KPIS,
                            level=level, alpha=alpha, random_only=False)
        parts["changes"].append(ch.assign(market=m))
        acc_row = ch[ch["kpi"] == "accuracy"].iloc[0]
    pair = pd.concat([p_m, c_m], ignore_index=True)
    row, rc = _finding(m, pair, period, compare_to, acc_row, level, alpha, min_reviewers)
    dec = _decisions(m, accuracy_sample(c_m, types), kpis_m, ch, src.events, period, compare_to, level,
                     alpha, min_reviewers)
    row.update(text=dec["text"], kpi="accuracy", events=dec["events"],
               headlines=dec["headlines"])
    parts["findings"].append(row)
    parts["actions"].append(dec["actions"])
    parts["drivers"].extend(dec["drivers"])
    if len(rc):
        parts["rc"].append(rc)


def _capacity_frame(parts: dict[str, list], capacity: bool, any_production: bool,
                    notes: list[str]) -> pd.DataFrame:
    if capacity and any_production:
        notes.extend(parts["cap_notes"])
        return pd.concat(parts["cap"], ignore_index=True)
    if capacity:
        notes.append("No production data: no capacity outlook.")
    return pd.DataFrame({c: pd.Series(dtype=object) for c in [*_CAPACITY_COLUMNS,
                                                               *_CAPACITY_RECORDS]})


def _decision_frames(parts: dict[str, list]) -> tuple[pd.DataFrame, pd.DataFrame]:
    actions = pd.DataFrame([a for acts in parts["actions"] for a in acts], columns=ACTION_COLUMNS)
    drivers = (pd.concat(parts["drivers"], ignore_index=True) if parts["drivers"]
               else pd.DataFrame(columns=["market", *DRIVER_COLUMNS]))
    return actions, drivers[["market", *DRIVER_COLUMNS]]


def _assemble(parts: dict[str, list]) -> tuple[pd.DataFrame, ...]:
    kpi_parts = parts["kpis"]
    kpis = (pd.concat(kpi_parts, ignore_index=True) if any(len(k) for k in kpi_parts)
            else kpi_parts[0])
    changes = (pd.concat(parts["changes"], ignore_index=True) if parts["changes"]
               else pd.DataFrame(columns=CHANGES_COLUMNS))
    changes = changes[["market", *[c for c in changes.columns if c != "market"]]] if len(
        changes) else changes.assign(market=pd.Series(dtype=object))[["market", *CHANGES_COLUMNS]]
    findings = pd.DataFrame(parts["findings"])
    root_causes = (pd.concat(parts["rc"], ignore_index=True) if parts["rc"]
                   else pd.DataFrame(columns=["market", "dimension", "segment", "effect",
                                              "contribution_pp", "share_of_gap", "p_value"]))
    for col in PERSONAL_COLUMNS:  # belt and braces: no person-level column leaves this module
        if col in root_causes.columns:
            root_causes = root_causes.drop(columns=col)
    return kpis, changes, findings, root_causes


# --------------------------------------------------------------------------------------------
# The report shape: read(ctx, params) -> inputs, build(inputs, params) -> MBRReport
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MBRInputs:
    """What :func:`read` hands to :func:`build`: the run's data read market by market, the
    result cache, and last month's actions (with where they were looked for)."""

    data: MBRData
    cache: ResultCache | None
    previous_actions: tuple[dict[str, Any], ...]
    previous_source: str


def read(ctx: Any, params: Mapping[str, Any]) -> MBRInputs:
    """The only code of the MBR that touches the data; :class:`NoData` when no selected market
    has an audit in the month.

    ``params``: ``period``, optional ``markets`` and ``previous_results`` (the previous MBR's
    results.json; default: by the engine's layout, :func:`previous_results_path`).
    """
    period = _month(str(params["period"])).strftime("%Y-%m")
    markets = params.get("markets") or None
    data = read_mbr_data(ctx, period, markets)
    reason = mbr_no_data_message(data, period, markets)
    if reason:
        raise NoData(reason)
    path = params.get("previous_results") or previous_results_path(ctx.report_dir, period)
    acts, source = read_previous_actions(path)
    return MBRInputs(data, ctx.cache, tuple(acts), source)


def build(inputs: MBRInputs, params: Mapping[str, Any]) -> MBRReport:
    """The MBR of ``inputs`` for ``params`` (``period``, optional ``markets``)."""
    return mbr_report(inputs.data, str(params["period"]), params.get("markets") or None,
                      cache=inputs.cache, previous_actions=inputs.previous_actions,
                      previous_source=inputs.previous_source)
