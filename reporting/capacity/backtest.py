"""Back-test of a capacity plan: the plan for a month made from the data before it, against
what happened in the month (cases and SLA attainment).

A plan that is never checked cannot be trusted, nor corrected: :func:`capacity_backtest` re-makes
the plan for ``month`` as it would have been made the day before the month (same method, same
assumptions, observed shrinkage measured up to that day) and sets the month's actual cases and
SLA attainment beside it. The forecasts go through the run's result cache, so the MBR and the
capacity reports of a pack fit each series once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reporting.capacity.forecast import month_bounds
from reporting.capacity.fte import CapacityAssumptions, CapacityPlan, capacity_plan, required_fte
from reporting.core.cache import ResultCache

#: Columns of :func:`capacity_backtest` (one row per product line and the market's total, NA
#: ``product_line``).
BACKTEST_COLUMNS = [
    "month", "market", "product_line", "forecast_cases", "ci_low", "ci_high", "actual_cases",
    "error_pct", "within_interval", "required_fte", "available_fte", "gap_fte",
    "actual_required_fte", "predicted_sla_shortfall", "actual_sla_attainment", "shrinkage",
    "shrinkage_source", "as_of",
]


def _last_workday(month: str) -> pd.Timestamp:
    start, end = month_bounds(month)
    return pd.bdate_range(start, end)[-1]


def complete_months(production: pd.DataFrame, market: str) -> list[str]:
    """Months ``YYYY-MM`` the market's production covers to their last weekday (a weekend
    without rows is no gap), oldest first. The first month of a data set is usually partial at
    its start, which only shortens the history."""
    days = pd.to_datetime(production.loc[production["market"] == market, "date"]).dt.normalize()
    if days.empty:
        return []
    last = days.max()
    months = sorted(days.dt.strftime("%Y-%m").unique())
    return [m for m in months if _last_workday(m) <= last]


def backtest_month(production: pd.DataFrame, market: str, period: str,
                   plan_month: str | None = None) -> str | None:
    """The month a plan run for ``period`` back-tests: ``period`` itself when its production is
    complete (and a month before it exists to plan from), else the last complete month before
    ``plan_month`` (or ``period``); None when there is none."""
    months = complete_months(production, market)
    plannable = months[1:] if months else []  # the first month has no history before it
    if period in plannable:
        return period
    before = [m for m in plannable if m < (plan_month or period)]
    return before[-1] if before else None


def _sla(production: pd.DataFrame, month: str) -> pd.Series:
    start, end = month_bounds(month)
    days = pd.to_datetime(production["date"]).dt.normalize()
    rows = production[((days >= start) & (days <= end)).to_numpy(dtype=bool)]
    if "sla_met" not in rows.columns or rows.empty:
        return pd.Series(dtype=float)
    g = rows.groupby("product_line")[["sla_met", "cases_handled"]].sum()
    g.loc["All product lines"] = g.sum()
    return g["sla_met"] / g["cases_handled"].where(g["cases_handled"] > 0)


def backtest_frame(plan: CapacityPlan, production: pd.DataFrame) -> pd.DataFrame:
    """The back-test rows of ``plan`` (a plan made before a month its data covers)."""
    frame = pd.concat([plan.by_product_line, plan.totals], ignore_index=True)
    a = plan.assumptions
    wd = a.working_days_in(plan.month)
    sla = _sla(production[production["market"] == plan.market], plan.month)
    fc, act = frame["forecast_cases"].astype(float), frame["actual_cases"].astype(float)
    out = pd.DataFrame({
        "month": plan.month,
        "market": plan.market,
        "product_line": frame["product_line"].where(frame["product_line"]
                                                    != "All product lines"),
        "forecast_cases": fc,
        "ci_low": frame["forecast_low"].astype(float),
        "ci_high": frame["forecast_high"].astype(float),
        "actual_cases": act,
        # Signed, relative to what happened: +10% = the plan expected 10% more cases.
        "error_pct": (fc - act) / act.where(act > 0),
        "within_interval": (act >= frame["forecast_low"]) & (act <= frame["forecast_high"]),
        "required_fte": frame["required_fte"].astype(float),
        "available_fte": frame["available_fte"].astype(float),
        "gap_fte": frame["gap_fte"].astype(float),
        "actual_required_fte": [
            required_fte(v, p, a.productive_hours_per_day, wd, a.shrinkage)
            if np.isfinite(p) and p > 0 and np.isfinite(v) else np.nan
            for v, p in zip(act, frame["productivity"].astype(float), strict=True)],
        "predicted_sla_shortfall": frame["expected_sla_shortfall"].astype(float),
        "actual_sla_attainment": [float(sla.get(pl, np.nan)) for pl in frame["product_line"]],
        "shrinkage": a.shrinkage,
        "shrinkage_source": plan.shrinkage.source if plan.shrinkage else "parameter",
        "as_of": f"{plan.as_of:%Y-%m-%d}",
    })
    return out[BACKTEST_COLUMNS]


def capacity_backtest(
    production: pd.DataFrame,
    roster: pd.DataFrame | None,
    markets: str | Sequence[str],
    month: str,
    assumptions: CapacityAssumptions | None = None,
    *,
    observe_shrinkage: bool = True,
    cache: ResultCache | None = None,
) -> pd.DataFrame:
    """The plan for ``month`` made the day before it, against what happened in it.

    Parameters
    ----------
    production : pandas.DataFrame
        Canonical production up to at least the end of ``month`` (a year before it is enough).
    roster : pandas.DataFrame or None
        Canonical roster.
    markets : str or sequence of str
        Market(s) to back-test; markets whose production does not cover the whole month (or
        has nothing before it) are left out.
    month : str
        The month, ``YYYY-MM``.
    assumptions : CapacityAssumptions, optional
        As for the plan; with ``observe_shrinkage`` the shrinkage measured before the month is
        used, as a plan made then would have.
    observe_shrinkage : bool, default True
    cache : ResultCache, optional
        ``ctx.cache``: the forecasts are shared with the other reports of the run.

    Returns
    -------
    pandas.DataFrame
        ``BACKTEST_COLUMNS``: one row per product line and one per market total
        (``product_line`` NA). ``error_pct`` = (forecast - actual) / actual;
        ``within_interval`` = the actual cases lie inside the forecast's prediction interval;
        ``actual_required_fte`` = FTE the actual volume needed at the plan's productivity and
        shrinkage; ``actual_sla_attainment`` = SLA met / cases (NaN without ``sla_met``).
    """
    markets = [markets] if isinstance(markets, str) else list(markets)
    start, _ = month_bounds(month)
    parts = []
    for m in markets:
        days = pd.to_datetime(production.loc[production["market"] == m, "date"])
        if days.empty or days.max() < _last_workday(month) or not (days < start).any():
            continue
        plan = capacity_plan(production, roster, m, month, assumptions,
                             as_of=start - pd.Timedelta(days=1), cache=cache,
                             observe_shrinkage=observe_shrinkage)
        parts.append(backtest_frame(plan, production))
    if not parts:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    return pd.concat(parts, ignore_index=True)
