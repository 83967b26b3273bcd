"""The capacity-plan report: every number the ``capacity_plan`` template shows, in one object.

Shape (issue 12): :func:`read` is the only code that touches the data (it raises
:class:`NoCapacityData`, a :class:`~reporting.core.errors.NoData`, when there is nothing to plan
from), :func:`build` returns a frozen :class:`CapacityReport` that knows its ``records()``
(results.json) and ``tables()`` (tables.xlsx). Its HTML is in the Jinja2 templates of
``reporting/render/templates/capacity/`` (:mod:`reporting.render.capacity`).

:func:`capacity_report` plans one market for one month with :func:`reporting.capacity.capacity_plan`
and adds what a reader needs around it:

* the **accuracy constraint** of the work distribution: reviewers off track on a product line in
  the month before the plan (:func:`off_track_reviewers`: Wilson upper bound of their accuracy
  below target on at least ``min_audits`` random audits) never receive more of its work;
* the **outlook** in words (forecast with its interval vs capacity, the risk if nothing changes,
  what the suggested moves achieve);
* display tables (capacity by product line, forecast back-test, work distribution, assumptions),
  the KPI records of ``results.json`` (:meth:`CapacityReport.kpi_records`) and the sheets of
  ``tables.xlsx``.

Privacy: the report is about a market. Reviewer-level detail (``plan.capacity``, the off-track
frame) is used for the plan but never shown or recorded; the tables hold product lines and counts.

See ``docs/capacity.md`` for the methods and ``docs/reports.md`` (section *capacity_plan*) for how
to read the report and the KPI records it writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporting.capacity.absence import ShrinkageEstimate
from reporting.capacity.backtest import BACKTEST_COLUMNS, backtest_month, capacity_backtest
from reporting.capacity.distribution import MOVE_COLUMNS
from reporting.capacity.forecast import month_bounds
from reporting.capacity.fte import (
    PLAN_COLUMNS,
    CapacityAssumptions,
    CapacityPlan,
    capacity_plan,
    planning_date,
    ramp_text,
)
from reporting.capacity.ramp import (
    MIN_REVIEWERS,
    estimate_ramp,
    new_hire_production,
    productivity_ramp,
)
from reporting.core.cache import ResultCache
from reporting.core.errors import NoData
from reporting.core.periods import month as _month
from reporting.metrics.compute import compute_kpis
from reporting.reports._records import kpi_records

__all__ = [
    "CAPACITY_KPIS",
    "HISTORY_MONTHS",
    "RISK_TEXT",
    "CapacityInputs",
    "CapacityReport",
    "NoCapacityData",
    "backtest_text",
    "build",
    "capacity_kpis",
    "capacity_report",
    "off_track_reviewers",
    "outlook_text",
    "plan_month",
    "read",
    "read_capacity_data",
    "read_slices",
    "risk_view",
]

#: KPI names written to results.json (scope market, or market + product_line).
CAPACITY_KPIS: tuple[str, ...] = ("forecast_cases", "required_fte", "available_fte", "fte_gap")
#: Months of production read for a plan: the forecast uses at most the last 364 days.
HISTORY_MONTHS = 13
#: SLA risk -> (status colour key, label). Colour and text always go together.
RISK_TEXT: dict[str, tuple[str, str]] = {
    "low": ("on_track", "Low risk"),
    "medium": ("at_risk", "Medium risk"),
    "high": ("off_track", "High risk"),
}
_RISK_SYMBOL = {"low": "●", "medium": "▲", "high": "■"}
_ALL = "All product lines"
_NBSP = "\u00a0"
_DASH = "\u2013"


class NoCapacityData(NoData, ValueError):
    """The market has no production to plan from (the template shows a 'no data' report)."""


# --------------------------------------------------------------------------------------------
# Periods and data
# --------------------------------------------------------------------------------------------




def plan_month(period: str, months_ahead: int = 0) -> str:
    """The month a capacity plan is made for: ``period`` shifted by ``months_ahead`` months.

    The monthly pack runs every report for the *reporting* month (e.g. 2026-10); its capacity
    plans use ``months_ahead=1`` to plan the month after it (2026-11). An ad-hoc plan passes the
    month to plan as ``period`` and keeps ``months_ahead=0``.

    Raises
    ------
    ValueError
        When ``period`` is not a month or ``months_ahead`` is negative.
    """
    if int(months_ahead) < 0:
        raise ValueError(f"months_ahead must be 0 or more, got {months_ahead!r}")
    return (_month(period) + int(months_ahead)).strftime("%Y-%m")


def _filter(frame: pd.DataFrame | None, markets: Sequence[str] | None, period_from: str | None,
            period_to: str | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    keep = pd.Series(True, index=frame.index)
    if markets is not None:
        keep &= frame["market"].isin(list(markets))
    if period_from is not None:
        keep &= frame["period"] >= period_from
    if period_to is not None:
        keep &= frame["period"] <= period_to
    return frame[keep.to_numpy(dtype=bool)].reset_index(drop=True)


def read_slices(
    ctx: Any,
    markets: str | Sequence[str] | None,
    *,
    audits_from: str,
    audits_to: str,
    production_from: str | None,
    production_to: str | None,
):
    """The data a capacity plan (or the MBR) reads, each table over its own window.

    Audits are needed for a month or two (off-track reviewers, KPIs), production for up to a year
    (the forecast): one :meth:`ReportContext.data` slice for the audits, and the production read
    separately over its window (DuckDB pushdown on a run snapshot; a pandas filter otherwise).

    Parameters
    ----------
    ctx : reporting.notebook.ReportContext
    markets : str, list of str or None
        None: every market.
    audits_from, audits_to, production_from, production_to : str
        Inclusive ``YYYY-MM`` bounds.

    Returns
    -------
    reporting.data.Dataset
    """
    mlist = [markets] if isinstance(markets, str) else (list(markets) if markets else None)
    base = ctx.data(market=mlist, period_from=audits_from, period_to=audits_to)
    if ctx.on_snapshot:
        from reporting.data import read_production

        production = read_production(ctx.data_dir, market=mlist, period_from=production_from,
                                     period_to=production_to)
    else:
        production = _filter(ctx.dataset.production, mlist, production_from, production_to)
    return dataclasses.replace(base, production=production)


RAMP_PRODUCTION_COLUMNS = ["date", "reviewer_id", "market", "product_line", "cases_handled",
                           "productive_hours"]


def read_ramp_production(ctx: Any, month: str) -> pd.DataFrame | None:
    """Every market's production of the ``HISTORY_MONTHS`` months before ``month`` (the columns
    the new-hire ramp needs): the fallback when the market's own new hires are too few."""
    first = (_month(month) - HISTORY_MONTHS).strftime("%Y-%m")
    last = (_month(month) - 1).strftime("%Y-%m")
    if ctx.on_snapshot:
        from reporting.data import read_production

        return read_production(ctx.data_dir, period_from=first, period_to=last,
                               columns=RAMP_PRODUCTION_COLUMNS)
    prod = _filter(ctx.dataset.production, None, first, last)
    return None if prod is None else prod[RAMP_PRODUCTION_COLUMNS]


def read_capacity_data(ctx: Any, market: str, month: str):
    """What a capacity plan of ``market`` for ``month`` reads: the audits of the month before
    (the accuracy constraint) and ``HISTORY_MONTHS`` months of production up to ``month``."""
    acc = (_month(month, "month") - 1).strftime("%Y-%m")
    return read_slices(ctx, market, audits_from=acc, audits_to=acc,
                       production_from=(_month(month) - HISTORY_MONTHS).strftime("%Y-%m"),
                       production_to=_month(month).strftime("%Y-%m"))


# --------------------------------------------------------------------------------------------
# The accuracy constraint
# --------------------------------------------------------------------------------------------

_OFF_TRACK_COLUMNS = ["reviewer_id", "product_line", "kpi", "value", "ci_low", "ci_high", "n",
                      "target", "status"]


def off_track_reviewers(
    audits: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    *,
    min_audits: int = 30,
    level: float = 0.95,
    accuracy_sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """Accuracy of each reviewer on each product line, judged only with enough audits.

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits of the month the judgement is made on (usually one market, the month
        before the planned one).
    targets : pandas.DataFrame, optional
        Targets table (product-line targets such as TopView's apply).
    min_audits : int, default 30
        Reviewer x product line pairs with fewer audits in the accuracy sample are dropped: they
        are never judged (an individual is never flagged on 4 audits).
    level : float, default 0.95
        Level of the Wilson interval.
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`reporting.metrics.compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        ``reviewer_id, product_line, kpi, value, ci_low, ci_high, n, target, status``, one row per
        judged pair. ``status == "off_track"`` (the whole interval, i.e. its Wilson upper bound,
        below target) is what :func:`reporting.capacity.capacity_plan` uses to keep a reviewer's
        work off that product line. Private: never show it in a market report.
    """
    if audits is None or len(audits) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _OFF_TRACK_COLUMNS})
    k = compute_kpis(audits, None, targets, by=["reviewer_id", "product_line"], kpis=["accuracy"],
                     level=level, accuracy_sample_types=accuracy_sample_types)
    k = k[k["n"] >= int(min_audits)]
    return k[_OFF_TRACK_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# KPI records
# --------------------------------------------------------------------------------------------


def _capacity_status(req: float, low: float, high: float, avail: float) -> str:
    if not np.isfinite(req):
        return "no_data"
    low = req if not np.isfinite(low) else low
    high = req if not np.isfinite(high) else high
    if high <= avail:
        return "on_track"
    if low > avail:
        return "off_track"
    return "at_risk"


def capacity_kpis(plan: CapacityPlan) -> pd.DataFrame:
    """The plan as a KPI frame: ``market, product_line, kpi, value, ci_low, ci_high, n, target,
    status`` (``product_line`` NA on the market's total row).

    One status per product line, on the interval of the required FTE against the available FTE:
    ``on_track`` when even the high end of the forecast fits the capacity, ``off_track`` when
    even the low end does not, ``at_risk`` in between, ``no_data`` without a forecast. Every KPI
    of the product line carries that status; the targets make it readable per KPI:

    * ``forecast_cases`` (cases in the month, prediction interval): target = cases the available
      FTE can handle (``capacity_cases``); ``n`` = days of history behind the forecast.
    * ``required_fte`` (interval from the forecast's): target = available FTE; ``n`` as above.
    * ``available_fte`` (no interval: ``ci_low = ci_high = value``): target = required FTE;
      ``n`` = headcount (active reviewers with production on the product line; NA on the total).
    * ``fte_gap`` = required - available (positive = shortfall; interval from the required
      FTE's): target 0; ``n`` as for the forecast.
    """
    frame = pd.concat([plan.by_product_line, plan.totals], ignore_index=True)
    rows: list[dict[str, object]] = []
    for r in frame.to_dict(orient="records"):
        pl = r["product_line"]
        scope_pl = pd.NA if pl == _ALL else pl
        req = float(r["required_fte"])
        lo, hi = float(r["required_fte_low"]), float(r["required_fte_high"])
        avail = float(r["available_fte"])
        status = _capacity_status(req, lo, hi, avail)
        if pl == _ALL:
            days = max((len(s) for s in plan.history.values()), default=0)
            headcount = np.nan
        else:
            days = len(plan.history.get(pl, ()))
            headcount = r["headcount"]
        if not np.isfinite(req):
            days = 0
        rows += [
            dict(product_line=scope_pl, kpi="forecast_cases", value=r["forecast_cases"],
                 ci_low=r["forecast_low"], ci_high=r["forecast_high"], n=days,
                 target=r["capacity_cases"], status=status),
            dict(product_line=scope_pl, kpi="required_fte", value=req, ci_low=lo, ci_high=hi,
                 n=days, target=avail, status=status),
            dict(product_line=scope_pl, kpi="available_fte", value=avail, ci_low=avail,
                 ci_high=avail, n=headcount, target=req, status=status),
            dict(product_line=scope_pl, kpi="fte_gap", value=r["gap_fte"], ci_low=lo - avail,
                 ci_high=hi - avail, n=days, target=0.0, status=status),
        ]
    out = pd.DataFrame(rows)
    out.insert(0, "market", plan.market)
    return out


# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------


def _month_name(month: str) -> str:
    return _month(month).strftime("%B %Y")


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _moved(plan: CapacityPlan) -> pd.DataFrame:
    moves = plan.redistribution
    return moves[moves["action"] == "move"] if len(moves) else moves


#: A product line short by more than this (half a reviewer) is "short"; less is "at capacity".
SHORT_FTE = 0.5


def _move_words(plan: CapacityPlan) -> str:
    mv = _moved(plan)
    if not len(mv):
        return ""
    pairs = _join([f"{r.from_product_line} to {r.to_product_line}" for r in mv.itertuples()])
    return (f"move {mv['reviewer_days'].sum():,.0f} reviewer-days "
            f"({mv['fte_equivalent'].sum():.1f} FTE) from {pairs}")


def _decision(plan: CapacityPlan) -> str:
    """The first sentence: is the market short, and what to do about it."""
    t, by = plan.totals.iloc[0], plan.by_product_line
    month = _month_name(plan.month)
    req, avail, gap = float(t["required_fte"]), float(t["available_fte"]), float(t["gap_fte"])
    gaps = by.set_index(by["product_line"].astype(str))["gap_fte"].astype(float)
    short = [f"{pl} ({g:.1f} FTE)" for pl, g in gaps.items() if g > SHORT_FTE]
    tight = [pl for pl, g in gaps.items() if 0.05 < g <= SHORT_FTE]
    move = _move_words(plan)
    if gap > 0.05:
        rest = plan.redistribution
        rest = rest[rest["action"] == "gap_remains"] if len(rest) else rest
        left = float(rest["remaining_gap_fte"].sum()) if len(rest) else 0.0
        where = _join(rest["to_product_line"].astype(str).tolist()) if len(rest) else ""
        todo = ("plan overtime, hiring or borrowed reviewers" if not move
                else f"{move}, and cover the {left:.1f} FTE still short on {where} with "
                     "overtime, hiring or borrowed reviewers" if left > 0.05
                else f"{move}, which closes it")
        return (f"{plan.market} is {gap:.1f} FTE short for {month} ({req:.1f} FTE needed, "
                f"{avail:.1f} available): {todo}.")
    if short:
        todo = move or "nobody eligible can be moved there, so plan overtime or borrowed reviewers"
        return (f"{plan.market} has {-gap:.1f} FTE to spare overall for {month}, but "
                f"{_join(short)} {'is' if len(short) == 1 else 'are'} short: {todo}.")
    text = (f"{plan.market} has enough reviewers for {month}: {req:.1f} FTE needed, "
            f"{avail:.1f} available ({-gap:.1f} FTE to spare)")
    if tight:
        verb = "is" if len(tight) == 1 else "are"
        return (f"{text}; {_join(tight)} {verb} at capacity (short by less than half a "
                f"reviewer): {move or 'watch the backlog there'}.")
    return text + "; no action needed."


def _shrinkage_words(plan: CapacityPlan) -> str:
    est, a = plan.shrinkage, plan.assumptions
    if est is None or est.source == "parameter":
        text = f"This uses the {a.shrinkage:.0%} shrinkage set for the plan"
        if est is not None and np.isfinite(est.observed):
            text += (f" (reviewers were actually off on {max(est.observed, 0):.0%} of working "
                     f"days in the last {a.productivity_weeks} weeks)")
        return text + "."
    if est.source == "default":
        why = ("production shows " + f"{max(est.observed, 0):.0%}" if np.isfinite(est.observed)
               else "too few reviewers with production to measure it")
        return (f"This assumes reviewers are off on {a.shrinkage:.0%} of working days (the "
                f"default; {why}).")
    return (f"This counts reviewers off on {est.shrinkage:.0%} of working days, as they were "
            f"over the last {a.productivity_weeks} weeks (leave, sickness and training, net of "
            "weekend shifts), not an assumed figure.")


def _forecast_words(plan: CapacityPlan) -> list[str]:
    t = plan.totals.iloc[0]
    parts = [f"{t['forecast_cases']:,.0f} cases are expected in {_month_name(plan.month)} "
             f"(likely range {t['forecast_low']:,.0f}{_DASH}{t['forecast_high']:,.0f}), "
             f"needing {t['required_fte_low']:.1f}{_DASH}{t['required_fte_high']:.1f} FTE."]
    if np.isfinite(t["actual_cases"]):
        parts.append(f"The plan is made as of {plan.as_of:%Y-%m-%d}, before the month; the data "
                     f"already shows {t['actual_cases']:,.0f} cases handled in it.")
    status = _capacity_status(float(t["required_fte"]), float(t["required_fte_low"]),
                              float(t["required_fte_high"]), float(t["available_fte"]))
    parts.append({
        "on_track": "Even at the high end of that range there are enough reviewers.",
        "off_track": "Even at the low end of that range the market is short.",
        "at_risk": "Whether the market is short depends on where volume lands in that range.",
    }.get(status, ""))
    return parts


def _risk_words(plan: CapacityPlan) -> list[str]:
    by, t = plan.by_product_line, plan.totals.iloc[0]
    high = by.loc[by["sla_risk"] == "high", "product_line"].astype(str).tolist()
    medium = by.loc[by["sla_risk"] == "medium", "product_line"].astype(str).tolist()
    parts = []
    if high:
        which = "every product line" if len(high) == len(by) and len(by) > 1 else _join(high)
        backlog = float(by.loc[by["sla_risk"] == "high", "backlog_cases_per_day"].sum())
        share = backlog * _calendar_days(plan.month) / float(t["forecast_cases"])
        parts.append(f"SLA risk is high on {which}: if nothing changes, about {backlog:,.0f} "
                     f"cases a day ({share:.0%} of the month's volume) would miss the SLA or "
                     "roll into backlog.")
    if medium:
        parts.append(f"SLA risk is medium (90{_DASH}100% of capacity used) on {_join(medium)}.")
    if not high and not medium and len(by):
        parts.append("SLA risk is low on every product line.")
    mv = _moved(plan)
    if len(mv):
        parts.append(f"The suggested moves shift {mv['reviewer_days'].sum():,.0f} reviewer-days "
                     f"({mv['fte_equivalent'].sum():.1f} FTE) between product lines (see Work "
                     "distribution).")
    elif len(plan.redistribution) and (plan.redistribution["action"] == "gap_remains").any():
        parts.append("Moving work between product lines cannot close the gap (see Work "
                     "distribution for why): it needs overtime, hiring or borrowed reviewers.")
    return parts


def _shrinkage_check(plan: CapacityPlan) -> str:
    """A warning when the shrinkage used is not the observed one and production disagrees."""
    est = plan.shrinkage
    if est is not None and est.source == "observed":
        return ""
    att = float(plan.capacity.observed_attendance)
    expected = 1.0 - plan.assumptions.shrinkage
    if not np.isfinite(att) or abs(att - expected) <= 0.05:
        return ""
    direction = "smaller" if att > expected else "larger"
    return (f"Check the shrinkage assumption: in the last {plan.assumptions.productivity_weeks} "
            f"weeks reviewers worked on {att:.0%} of weekdays, while "
            f"{plan.assumptions.shrinkage:.0%} shrinkage allows for {expected:.0%}; if that "
            f"continues the gap is {direction} than shown.")


def backtest_text(backtest: pd.DataFrame | None) -> str:
    """"Last month's plan said X; Y happened", from the market-total row of a back-test."""
    if backtest is None or len(backtest) == 0:
        return ""
    total = backtest[backtest["product_line"].isna()]
    if total.empty or not np.isfinite(float(total["forecast_cases"].iloc[0])):
        return ""
    r = total.iloc[0]
    fc, act = float(r["forecast_cases"]), float(r["actual_cases"])
    diff = (act - fc) / fc if fc > 0 else float("nan")
    way = "more" if diff > 0 else "fewer"
    text = (f"The plan for {_month_name(r['month'])}, made the day before it, said "
            f"{fc:,.0f} cases (likely range {r['ci_low']:,.0f}{_DASH}{r['ci_high']:,.0f}) and "
            f"{r['required_fte']:.1f} FTE; {act:,.0f} came ({abs(diff):.0%} {way} than planned, "
            f"{'inside' if bool(r['within_interval']) else 'outside'} the range), which needed "
            f"{r['actual_required_fte']:.1f} FTE")
    sla, miss = float(r["actual_sla_attainment"]), float(r["predicted_sla_shortfall"])
    if np.isfinite(sla):
        text += f", and {sla:.1%} of cases met the SLA"
        if np.isfinite(miss):
            # The plan's SLA risk is a capacity proxy: say how it compared with what happened.
            text += (f" (the plan expected {miss:.0%} of cases beyond capacity; "
                     f"{1 - sla:.1%} missed the SLA)")
    return text + "."


def outlook_text(plan: CapacityPlan, backtest: pd.DataFrame | None = None) -> str:
    """The outlook in a lead's words: the decision first (short or not, what to do), the
    shrinkage it counts, the forecast with its range, SLA risk if nothing changes, the suggested
    moves, and how last month's plan fared (``backtest``, from :func:`capacity_backtest`)."""
    t = plan.totals.iloc[0]
    if not np.isfinite(t["forecast_cases"]):
        return (f"No product line of {plan.market} has enough history for a forecast of "
                f"{_month_name(plan.month)}; see the notes under Assumptions.")
    parts = [_decision(plan), _shrinkage_words(plan), *_forecast_words(plan),
             *_risk_words(plan), _shrinkage_check(plan), backtest_text(backtest)]
    return " ".join(p for p in parts if p)


def _calendar_days(month: str) -> int:
    start, end = month_bounds(month)
    return (end - start).days + 1


def _model_reason(fc) -> str:
    if fc is None:
        return "too little history for a forecast"
    if fc.backtest_weeks < 1:
        return "history too short for a back-test"
    if fc.used_model == "ets":
        return "ETS beat seasonal naive"
    if np.isfinite(fc.model_mape):
        return "ETS did not beat seasonal naive"
    return "ETS could not be fitted"


# --------------------------------------------------------------------------------------------
# Display values (text only: the markup is in reporting/render/templates/capacity/)
# --------------------------------------------------------------------------------------------


def _num(x: float, fmt: str = ",.0f") -> str:
    return "–" if x is None or not np.isfinite(float(x)) else format(float(x), fmt)


def _range(lo: float, hi: float, fmt: str) -> str:
    if not (np.isfinite(float(lo)) and np.isfinite(float(hi))):
        return "–"
    return f"{format(float(lo), fmt)}{_DASH}{format(float(hi), fmt)}"


def _pct(x: float) -> str:
    return "–" if x is None or not np.isfinite(float(x)) else f"{float(x):.1%}"


def _gap_text(gap: float) -> str:
    if not np.isfinite(gap):
        return "–"
    return f"{gap:+.1f} short" if gap > 0.05 else (f"{-gap:.1f} spare" if gap < -0.05 else "0.0")


def risk_view(risk: object) -> dict[str, str]:
    """An SLA-risk badge as data: status key, symbol and label (the template adds the colour of
    the status key: colour is never the only sign)."""
    if not isinstance(risk, str) or risk not in RISK_TEXT:
        return {"key": "no_data", "symbol": "○", "label": "n/a"}
    key, label = RISK_TEXT[risk]
    return {"key": key, "symbol": _RISK_SYMBOL[risk], "label": label}


# --------------------------------------------------------------------------------------------
# The report object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CapacityReport:
    """Everything the ``capacity_plan`` template shows and records.

    Attributes
    ----------
    market : str
    month : str
        The planned month ``YYYY-MM``.
    accuracy_month : str
        Month whose audits decide which reviewers are off track on a product line.
    min_audits : int
        Audits a reviewer needs on a product line to be judged at all.
    plan : CapacityPlan
        The plan (``plan.capacity`` is reviewer-level: never show it).
    kpis : pandas.DataFrame
        :func:`capacity_kpis` of the plan.
    outlook : str
        :func:`outlook_text` of the plan and its back-test.
    judged_pairs, off_track_pairs : int
        Reviewer x product line pairs judged (>= ``min_audits`` audits) and found off track
        (counts only).
    backtest : pandas.DataFrame
        :func:`reporting.capacity.capacity_backtest` of the back-tested month (empty when no
        complete month can be back-tested).
    cohorts : pandas.DataFrame
        :func:`market_ramp_curves`: the market's hiring cohorts, productivity by week since
        hire (weeks with fewer than ``MIN_REVIEWERS`` reviewers left out: no individual).
    """

    market: str
    month: str
    accuracy_month: str
    min_audits: int
    plan: CapacityPlan
    kpis: pd.DataFrame
    outlook: str
    judged_pairs: int
    off_track_pairs: int
    backtest: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=BACKTEST_COLUMNS))
    cohorts: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    @property
    def month_name(self) -> str:
        return _month_name(self.month)

    @property
    def level(self) -> float:
        return self.plan.assumptions.forecast_level

    @property
    def shrinkage(self) -> ShrinkageEstimate:
        """The shrinkage the plan used and its source."""
        return self.plan.shrinkage or ShrinkageEstimate(self.plan.assumptions.shrinkage,
                                                        "parameter")

    # -- records -------------------------------------------------------------------------------
    def kpi_records(self) -> pd.DataFrame:
        """KPI frame for ``ctx.record_kpis(..., scope=["market", "product_line"])``."""
        return self.kpis

    def assumptions_record(self) -> dict[str, Any]:
        """results.json ``assumptions``: the shrinkage used, its source and interval, and the
        other planning assumptions."""
        a = self.plan.assumptions
        return {"scope": {"market": self.market}, "month": self.month,
                **self.shrinkage.record(),
                "productive_hours_per_day": a.productive_hours_per_day,
                "working_days": a.working_days_in(self.month),
                "days_per_fte": a.days_per_fte(self.month),
                "observed_hours_per_day": self.plan.capacity.observed_hours_per_day,
                "as_of": f"{self.plan.as_of:%Y-%m-%d}",
                **(self.plan.ramp.record() if self.plan.ramp is not None else {})}

    def backtest_records(self) -> list[dict[str, Any]]:
        """results.json ``backtest``: ``month, scope, forecast_cases, ci_low, ci_high,
        actual_cases, error_pct, within_interval`` and what the plan said in FTE and SLA."""
        out = []
        for r in self.backtest.to_dict(orient="records"):
            scope = {"market": r.pop("market")}
            pl = r.pop("product_line")
            if isinstance(pl, str):
                scope["product_line"] = pl
            out.append({"month": r.pop("month"), "scope": scope, **r})
        return out

    def records(self) -> dict[str, Any]:
        """What goes to results.json."""
        return {"kpis": kpi_records(self.kpis, ["market", "product_line"]),
                "plan_month": self.month, "outlook": self.outlook,
                "work_distribution": self.plan.redistribution,
                "assumptions": self.assumptions_record(),
                "backtest": self.backtest_records(),
                "ramp": self.ramp_records()}

    def ramp_records(self) -> list[dict[str, Any]]:
        """results.json ``ramp``: the market's cohorts by week since hire (scope market and
        cohort) and the weekly factors the plan used (scope market, cohort ``all``, with
        ``source``)."""
        out = []
        for r in self.cohorts.to_dict(orient="records"):
            out.append({"scope": {"market": self.market, "cohort": r.pop("cohort")},
                        "measure": "productivity", **{k: v for k, v in r.items()
                                                      if k != "scope"}})
        ramp = self.plan.ramp
        if ramp is not None and ramp.estimated:
            for r in ramp.curve.to_dict(orient="records"):
                out.append({"scope": {"market": self.market, "cohort": "all"},
                            "measure": "ramp_used", "source": ramp.source,
                            **{k: v for k, v in r.items() if k not in ("scope", "cohort")}})
        return out

    @property
    def ramp_used_curve(self) -> pd.DataFrame | None:
        """The weekly factors the plan used (None when it used the assumed ramp)."""
        ramp = self.plan.ramp
        return ramp.curve if ramp is not None and ramp.estimated else None

    @property
    def ramp_sentence(self) -> str:
        """Which ramp the plan used and why (one sentence)."""
        return self.plan.ramp.sentence() if self.plan.ramp is not None else ""

    def cohort_rows(self) -> list[dict[str, str]]:
        """The market's hiring cohorts in words: size, weeks seen, latest relative output."""
        rows = []
        for cohort, c in self.cohorts.groupby("cohort", sort=True):
            last = c.sort_values("week").iloc[-1]
            rows.append({"cohort": str(cohort), "reviewers": f"{int(c['reviewers'].max())}",
                         "weeks": f"{int(c['week'].max()) + 1}",
                         "output": _range_pct(last["factor"], last["factor_ci_low"],
                                              last["factor_ci_high"]),
                         "productivity": _num(last["productivity"], ".1f")})
        return rows

    # -- display -------------------------------------------------------------------------------
    @property
    def headline(self) -> str:
        """The decision in one sentence (the outlook's first)."""
        return _decision(self.plan)

    @property
    def backtest_sentence(self) -> str:
        return backtest_text(self.backtest)

    @property
    def outlook_body(self) -> str:
        """The outlook after its headline, without the back-test (shown in its own section)."""
        body = self.outlook.removeprefix(self.headline)
        return body.replace(self.backtest_sentence, "").strip() if self.backtest_sentence \
            else body.strip()

    def capacity_rows(self) -> list[dict[str, Any]]:
        """The table a lead acts on, as text: one row per product line and the market total."""
        frame = pd.concat([self.plan.by_product_line, self.plan.totals], ignore_index=True)
        rows = []
        for r in frame.to_dict(orient="records"):
            util = r["utilisation"]
            rows.append({
                "product_line": str(r["product_line"]),
                "forecast": _num(r["forecast_cases"]),
                "forecast_range": _range(r["forecast_low"], r["forecast_high"], ",.0f"),
                "productivity": _num(r["productivity"], ".1f"),
                "required": _num(r["required_fte"], ".1f"),
                "required_range": _range(r["required_fte_low"], r["required_fte_high"], ".1f"),
                "available": _num(r["available_fte"], ".1f"),
                "gap": _gap_text(float(r["gap_fte"])),
                "utilisation": f"{100 * util:.0f}%" if np.isfinite(util) else "–",
                "risk": risk_view(r["sla_risk"]),
                "backlog": _num(r["backlog_cases_per_day"]),
                "headcount": "–" if pd.isna(r["headcount"]) else f"{int(r['headcount'])}",
            })
        return rows

    def backtest_rows(self) -> list[dict[str, str]]:
        """The back-test as text, per product line and the market total."""
        rows = []
        for r in self.backtest.to_dict(orient="records"):
            pl = r["product_line"] if isinstance(r["product_line"], str) else "All product lines"
            err = r["error_pct"]
            rows.append({
                "product_line": pl,
                "forecast": _num(r["forecast_cases"]),
                "range": _range(r["ci_low"], r["ci_high"], ",.0f"),
                "actual": _num(r["actual_cases"]),
                "error": ("–" if not np.isfinite(err) else "0%" if abs(err) < 0.005
                          else f"{err:+.0%}"),
                "inside": "yes" if bool(r["within_interval"]) else "no",
                "required": _num(r["required_fte"], ".1f"),
                "needed": _num(r["actual_required_fte"], ".1f"),
                "sla": (f"{r['actual_sla_attainment']:.1%}"
                        if np.isfinite(r["actual_sla_attainment"]) else "–"),
            })
        return rows

    def model_table(self) -> tuple[pd.DataFrame, dict[str, str]]:
        """Per product line: the forecast model used, why, and its back-test errors."""
        rows = []
        for pl in self.plan.by_product_line["product_line"]:
            fc = self.plan.forecasts.get(pl)
            bt = fc.backtest.set_index("model") if fc is not None and len(fc.backtest) else None

            def get(model: str, col: str, bt=bt) -> float:
                if bt is None or model not in bt.index:
                    return float("nan")
                return float(bt.loc[model, col])

            used = fc.used_model if fc is not None else None
            rows.append({
                "product line": pl,
                "model used": fc.model if fc is not None else "none",
                "why (back-test)": _model_reason(fc),
                "MAPE ETS": get("ets", "mape"),
                "MAPE seasonal naive": get("seasonal_naive", "mape"),
                "error of held-out total": get(used, "total_error") if used else float("nan"),
                "back-test weeks": fc.backtest_weeks if fc is not None else 0,
            })
        return pd.DataFrame(rows), {"MAPE ETS": "pct", "MAPE seasonal naive": "pct",
                                    "error of held-out total": "pct", "back-test weeks": "int"}

    def moves_table(self) -> tuple[pd.DataFrame, dict[str, str]]:
        """The suggested moves and the gaps that remain (product lines and counts only)."""
        m = self.plan.redistribution.copy()
        gap_rows = (m["action"] != "move").to_numpy(dtype=bool)
        for col in ("reviewer_days", "fte_equivalent", "cases_covered", "eligible_reviewers"):
            m[col] = m[col].astype(float).mask(gap_rows)  # nothing moves on a 'gap remains' row
        frame = pd.DataFrame({
            "action": ["move" if a == "move" else "gap remains" for a in m["action"]],
            "from": m["from_product_line"].astype(object).where(m["from_product_line"].notna(),
                                                                "–"),
            "to": m["to_product_line"].astype(str),
            "reviewer-days": m["reviewer_days"],
            "FTE": m["fte_equivalent"],
            "cases covered": m["cases_covered"],
            "eligible reviewers": m["eligible_reviewers"],
            "gap before (FTE)": m["gap_before_fte"],
            "gap after (FTE)": m["remaining_gap_fte"],
            "backlog per day after": m["backlog_cases_per_day_after"],
        })
        return frame, {"reviewer-days": "int", "FTE": ".1f", "cases covered": "int",
                       "eligible reviewers": "int", "gap before (FTE)": ".1f",
                       "gap after (FTE)": ".1f", "backlog per day after": "int"}

    def moves_rows(self) -> list[dict[str, str]]:
        """:meth:`moves_table` as text (a dash where nothing moves)."""
        frame, _ = self.moves_table()
        rows = []
        for r in frame.to_dict(orient="records"):
            rows.append({"action": r["action"], "from": str(r["from"]), "to": r["to"],
                         "days": _num(r["reviewer-days"]), "fte": _num(r["FTE"], ".1f"),
                         "cases": _num(r["cases covered"]),
                         "eligible": _num(r["eligible reviewers"]),
                         "before": _num(r["gap before (FTE)"], ".1f"),
                         "after": _num(r["gap after (FTE)"], ".1f"),
                         "backlog": _num(r["backlog per day after"])})
        return rows

    def model_rows(self) -> list[dict[str, str]]:
        """:meth:`model_table` as text."""
        frame, formats = self.model_table()
        out = []
        for r in frame.to_dict(orient="records"):
            out.append({k: (_pct(v) if formats.get(k) == "pct" else
                            _num(v) if formats.get(k) == "int" else str(v))
                        for k, v in r.items()})
        return out

    @property
    def has_moves(self) -> bool:
        """Whether the plan suggests moving any reviewer-days (not only gaps that remain)."""
        return bool(len(_moved(self.plan)))

    def move_sentences(self) -> list[str]:
        """One sentence per suggested move or remaining gap (empty: no product line has a gap)."""
        return [str(s) for s in self.plan.redistribution["sentence"]]

    def assumptions_table(self) -> pd.DataFrame:
        """The planning assumptions with their values and meaning."""
        a, est = self.plan.assumptions, self.shrinkage
        ramp = ramp_text(a.ramp_up)
        if self.plan.ramp is not None:
            ramp += f" ({_RAMP_SOURCE[self.plan.ramp.source]})"
        how = {"observed": f"measured: working days without production in the "
                           f"{est.working_days} working days to {est.window_end}, net of "
                           f"weekend shifts (range {est.ci_low:.0%}{_DASH}{est.ci_high:.0%})",
               "parameter": "set for this plan",
               "default": "default (too few reviewers with production to measure it)"}
        rows = [
            ("Productive hours per FTE-day", f"{a.productive_hours_per_day:g}",
             "hours of case work in a normal working day"),
            ("Working days", f"{a.working_days_in(self.month)}",
             "given" if a.working_days is not None else "weekdays of the month minus holidays"),
            ("Shrinkage", f"{a.shrinkage:.0%} ({est.source})", how[est.source]),
            ("Days of case work per FTE", f"{a.days_per_fte(self.month):.1f}",
             "working days x (1 - shrinkage)"),
            ("New-hire ramp-up", ramp, "share of an FTE counted by tenure at mid-month"),
            ("Productivity window", f"{a.productivity_weeks} weeks",
             "cases per productive hour of fully ramped reviewers"),
            ("Forecast range", f"{a.forecast_level:.0%}", "chance the month's volume lands in it"),
            ("SLA risk thresholds", f"{a.risk_thresholds[0]:.0%} / {a.risk_thresholds[1]:.0%}",
             "share of capacity used (required / available FTE): low below the first, high "
             "above the second"),
            ("Accuracy constraint", f"{self.accuracy_month}, >= {self.min_audits} audits",
             "reviewers whose accuracy interval lies wholly below target on a product line "
             "receive none of its extra work"),
        ]
        return pd.DataFrame(rows, columns=["assumption", "value", "meaning"])

    def notes(self) -> list[str]:
        """The plan's notes plus the accuracy-constraint summary (counts only)."""
        judged = (f"Accuracy constraint: {self.judged_pairs} reviewer x product line pair(s) had "
                  f"at least {self.min_audits} random audits in {self.accuracy_month}; "
                  f"{self.off_track_pairs} of them off track (never given more of that work).")
        return [*self.plan.notes, judged]

    # -- Excel ---------------------------------------------------------------------------------
    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """``(sheet name, frame, formats)`` for tables.xlsx (numbers, not text)."""
        cols = [c for c in PLAN_COLUMNS if c != "off_track_reviewers"]
        plan = pd.concat([self.plan.by_product_line, self.plan.totals], ignore_index=True)[cols]
        plan = plan.copy()
        plan.insert(0, "market", self.market)
        plan.insert(1, "month", self.month)
        daily_cols = ["product_line", "date", "forecast", "pi_low", "pi_high"]
        daily = [fc.daily.assign(product_line=pl) for pl, fc in self.plan.forecasts.items()]
        daily_frame = (pd.concat(daily, ignore_index=True)[daily_cols] if daily
                       else pd.DataFrame(columns=daily_cols))
        back_cols = ["product_line", "model", "used", "mape", "wape", "total_error"]
        back = [fc.backtest.assign(product_line=pl, used=fc.backtest["model"] == fc.used_model)
                for pl, fc in self.plan.forecasts.items() if len(fc.backtest)]
        back_frame = (pd.concat(back, ignore_index=True)[back_cols] if back
                      else pd.DataFrame(columns=back_cols))
        pct = "0.0%"
        return [
            ("Capacity by product line", plan,
             {"utilisation": pct, "expected_sla_shortfall": pct, "model_mape": pct,
              "baseline_mape": pct}),
            ("Last month's plan vs actual", self.backtest,
             {"error_pct": pct, "predicted_sla_shortfall": pct, "actual_sla_attainment": pct,
              "shrinkage": pct}),
            ("Work distribution", self.plan.redistribution[MOVE_COLUMNS], {}),
            ("Forecast back-test", back_frame, {"mape": pct, "wape": pct, "total_error": pct}),
            ("Daily forecast", daily_frame, {}),
            ("Assumptions", self.assumptions_table(), {}),
            ("New-hire ramp", self.ramp_sheet(), {"factor": "0.00", "factor_ci_low": "0.00",
                                                  "factor_ci_high": "0.00"}),
            ("KPIs", self.kpis, {}),
        ]

    excel_tables = tables

    def ramp_sheet(self) -> pd.DataFrame:
        """Long table a lead can pivot: the market's cohorts and the ramp the plan used."""
        cols = ["market", "curve", "cohort", "week", "reviewers", "days", "cases",
                "productive_hours", "productivity", "productivity_ci_low",
                "productivity_ci_high", "factor", "factor_ci_low", "factor_ci_high",
                "factor_used"]
        parts = [self.cohorts.assign(curve="market cohort")]
        ramp = self.plan.ramp
        if ramp is not None and ramp.estimated:
            parts.append(ramp.curve.assign(curve=f"used by the plan ({ramp.source})"))
        frame = pd.concat([p for p in parts if len(p)], ignore_index=True) \
            if any(len(p) for p in parts) else pd.DataFrame(columns=cols)
        frame["market"] = self.market
        return frame.reindex(columns=cols)



_RAMP_SOURCE = {"market": "estimated from this market's new hires",
                "all_markets": "estimated from all markets' new hires",
                "assumed": "assumed: too little history"}


def _range_pct(x: float, lo: float, hi: float) -> str:
    if not np.isfinite(x):
        return "–"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{x:.0%}"
    return f"{x:.0%} ({lo:.0%}{_DASH}{hi:.0%})"


def market_ramp_curves(production: pd.DataFrame, roster: pd.DataFrame | None, market: str,
                       as_of: pd.Timestamp) -> pd.DataFrame:
    """The market's hiring cohorts by week since hire, up to ``as_of``, without any week of
    fewer than ``MIN_REVIEWERS`` reviewers (a cohort of one is one person's results)."""
    rows = new_hire_production(production[(production["market"] == market).to_numpy()],
                               roster, as_of)
    curves = productivity_ramp(rows, scope=market)
    return curves[curves["reviewers"] >= MIN_REVIEWERS].reset_index(drop=True)


def _check_production(dataset: Any, market: str, month: str) -> pd.DataFrame:
    """The production to plan from; :class:`NoCapacityData` when there is none before ``month``."""
    production = getattr(dataset, "production", None)
    start, _ = month_bounds(month)
    if production is None or len(production) == 0:
        raise NoCapacityData(f"No production data: a capacity plan for {market} needs it.")
    prod_m = production[(production["market"] == market).to_numpy(dtype=bool)]
    if prod_m.empty or not (pd.to_datetime(prod_m["date"]) < start).any():
        raise NoCapacityData(f"No production data for {market} before {_month_name(month)}: "
                             "nothing to plan from.")
    return production


def _backtest(plan: CapacityPlan, production: pd.DataFrame, roster: pd.DataFrame | None,
              period: str, assumptions: CapacityAssumptions | None, observe: bool,
              cache: ResultCache | None) -> pd.DataFrame:
    """The back-test of ``period`` (or the last complete month before the plan)."""
    from reporting.capacity.backtest import backtest_frame

    month = backtest_month(production, plan.market, period, plan.month)
    if month is None:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    if month == plan.month:  # a plan for a past month is its own back-test
        return backtest_frame(plan, production)
    return capacity_backtest(production, roster, plan.market, month, assumptions,
                             observe_shrinkage=observe, cache=cache)


def capacity_report(
    dataset: Any,
    market: str,
    month: str,
    assumptions: CapacityAssumptions | None = None,
    *,
    shrinkage: float | None = None,
    backtest_period: str | None = None,
    backtest: bool = True,
    accuracy_month: str | None = None,
    min_audits: int = 30,
    level: float = 0.95,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    cache: ResultCache | None = None,
    ramp_production: pd.DataFrame | None = None,
) -> CapacityReport:
    """Plan ``market`` for ``month`` and assemble the capacity-plan report.

    Parameters
    ----------
    dataset : reporting.data.Dataset
        Canonical data: ``production`` (the history to forecast from; a year is enough),
        ``roster``, ``targets`` and the ``audits`` of ``accuracy_month``.
    market : str
        Market code.
    month : str
        The month to plan, ``YYYY-MM`` (see :func:`plan_month`).
    assumptions : CapacityAssumptions, optional
        Planning assumptions (defaults when omitted). Its ``shrinkage`` is only the fallback
        when shrinkage cannot be measured (see ``shrinkage``).
    shrinkage : float, optional
        None (default): measured from production before the plan (``observed``; the
        assumption's value when too few reviewers can be measured: ``default``). A number
        overrides it (``parameter``).
    backtest_period : str, optional
        The month to back-test: a plan run for period P back-tests P itself when P's production
        is complete; otherwise (and by default) the last complete month before ``month``.
    backtest : bool, default True
        False skips the back-test (its forecasts cost as much as the plan's).
    accuracy_month : str, optional
        Month whose audits decide who is off track on a product line (default: the month before
        ``month``, the last complete month when planning ahead).
    min_audits : int, default 30
        Audits a reviewer needs on a product line to be judged (see :func:`off_track_reviewers`).
    level : float, default 0.95
        Level of the reviewers' accuracy intervals.
    accuracy_sample_types : sequence of str or None, default ("random",)
    cache : reporting.core.cache.ResultCache, optional
        Where the volume forecasts may already be stored (``ctx.cache`` in a template).
    ramp_production : pandas.DataFrame, optional
        Every market's production (:func:`read_ramp_production`) for the new-hire ramp's
        fallback; default: ``dataset.production``.

    Returns
    -------
    CapacityReport

    Raises
    ------
    NoCapacityData
        When the market has no production before ``month`` (show a "no data" report).
    ValueError
        For invalid months or assumptions.
    """
    month = _month(month, "month").strftime("%Y-%m")
    accuracy_month = (_month(accuracy_month, "accuracy_month").strftime("%Y-%m")
                      if accuracy_month else (_month(month) - 1).strftime("%Y-%m"))
    production = _check_production(dataset, market, month)
    audits = dataset.audits
    acc = audits[((audits["market"] == market) & (audits["period"] == accuracy_month))
                 .to_numpy(dtype=bool)]
    judged = off_track_reviewers(acc, getattr(dataset, "targets", None), min_audits=min_audits,
                                 level=level, accuracy_sample_types=accuracy_sample_types)
    off = judged[judged["status"] == "off_track"]
    a = assumptions or CapacityAssumptions()
    observe = shrinkage is None
    if not observe:
        a = dataclasses.replace(a, shrinkage=float(shrinkage))
    roster = getattr(dataset, "roster", None)
    ramp = estimate_ramp(production if ramp_production is None else ramp_production, roster,
                         market, planning_date(production, market, month))
    plan = capacity_plan(production, roster, market, month, a, off if len(off) else None,
                         cache=cache, observe_shrinkage=observe, ramp=ramp)
    back = (_backtest(plan, production, roster, backtest_period or month, a, observe, cache)
            if backtest else pd.DataFrame(columns=BACKTEST_COLUMNS))
    return CapacityReport(
        market=market, month=month, accuracy_month=accuracy_month, min_audits=int(min_audits),
        plan=plan, kpis=capacity_kpis(plan), outlook=outlook_text(plan, back),
        judged_pairs=len(judged), off_track_pairs=len(off), backtest=back,
        cohorts=market_ramp_curves(production, roster, market, plan.as_of))


# --------------------------------------------------------------------------------------------
# The report's shape: read(ctx, params) -> inputs, build(inputs, params) -> CapacityReport
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CapacityInputs:
    """What :func:`read` gives :func:`build`: the data slice, the market and the months."""

    dataset: Any
    market: str
    month: str
    period: str
    cache: ResultCache | None = None
    ramp_production: pd.DataFrame | None = None


def read(ctx: Any, params: Mapping[str, Any]) -> CapacityInputs:
    """The audits of the month before the plan and a year of production up to it
    (:func:`read_capacity_data`); :class:`NoCapacityData` when there is nothing to plan from."""
    market, period = params["market"], params["period"]
    month = plan_month(period, int(params.get("months_ahead") or 0))
    dataset = read_capacity_data(ctx, market, month)
    _check_production(dataset, market, month)
    return CapacityInputs(dataset, market, month, _month(period).strftime("%Y-%m"), ctx.cache,
                          read_ramp_production(ctx, month))


def build(inputs: CapacityInputs, params: Mapping[str, Any]) -> CapacityReport:
    """The capacity report of ``inputs`` with the template's parameters (``shrinkage`` None:
    observed; ``productive_hours_per_day``; ``min_audits``)."""
    hours = params.get("productive_hours_per_day")
    a = CapacityAssumptions(productive_hours_per_day=float(hours) if hours else 6.5)
    shrinkage = params.get("shrinkage")
    return capacity_report(
        inputs.dataset, inputs.market, inputs.month, a,
        shrinkage=None if shrinkage in (None, "") else float(shrinkage),
        backtest_period=inputs.period, min_audits=int(params.get("min_audits") or 30),
        cache=inputs.cache, ramp_production=inputs.ramp_production)
