"""The capacity back-test (reporting.capacity.backtest) on the hand-checked synthetic world of
tests/test_capacity_plan.py, extended to the end of October: its daily volume is an exact weekly
pattern, so the plan for October made on 30 September forecasts 22 x (504 + 162) = 14,652 cases,
exactly what happens."""

from __future__ import annotations

import pandas as pd
import pytest
from test_capacity_plan import ASSUME, world

from reporting.capacity import (
    BACKTEST_COLUMNS,
    backtest_month,
    capacity_backtest,
    complete_months,
)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    production, roster = world("2026-10-31")
    # SLA: every case met it, but in October Spark Ads met it on 90% of its cases only.
    production["sla_met"] = production["cases_handled"].astype(float)
    oct_spark = (production["product_line"] == "Spark Ads") & (production["date"] >= "2026-10-01")
    production.loc[oct_spark, "sla_met"] = production.loc[oct_spark, "cases_handled"] * 0.9
    # US stops at the end of September: it has no October to back-test.
    us_oct = (production["market"] == "US") & (production["date"] >= "2026-10-01")
    return production[~us_oct].reset_index(drop=True), roster


@pytest.fixture(scope="module")
def back(data) -> pd.DataFrame:
    production, roster = data
    return capacity_backtest(production, roster, ["BR", "US"], "2026-10", ASSUME,
                             observe_shrinkage=True)


def test_backtest_rows_and_exact_figures(back):
    assert list(back.columns) == BACKTEST_COLUMNS
    assert set(back["market"]) == {"BR"}  # US is left out (its production ends in September)
    br = back.set_index(back["product_line"].fillna("total"))
    assert set(br.index) == {"Search Ads", "Spark Ads", "total"}
    assert br.loc["Search Ads", "actual_cases"] == 22 * 504
    assert br.loc["Spark Ads", "actual_cases"] == 22 * 162
    assert br.loc["total", "actual_cases"] == 22 * 666
    assert br.loc["total", "forecast_cases"] == pytest.approx(22 * 666)
    assert br["error_pct"].abs().max() < 1e-9
    assert br["within_interval"].all()
    assert (br["month"] == "2026-10").all() and (br["as_of"] == "2026-09-30").all()
    # Everyone worked every weekday: observed shrinkage 0, as in the hand-checked plan.
    assert (br["shrinkage"] == 0.0).all() and (br["shrinkage_source"] == "observed").all()
    assert br.loc["Search Ads", "required_fte"] == pytest.approx(7.0)
    assert br.loc["Search Ads", "actual_required_fte"] == pytest.approx(7.0)
    assert br.loc["Spark Ads", "actual_sla_attainment"] == pytest.approx(0.9)
    assert br.loc["Search Ads", "actual_sla_attainment"] == pytest.approx(1.0)
    assert br.loc["total", "actual_sla_attainment"] == pytest.approx((11088 + 0.9 * 3564) / 14652)


def test_error_sign_and_interval_flag(data):
    """Half of October's Search Ads volume disappears: the plan expected more (error > 0) and
    the actual falls below the range."""
    production, roster = data
    cut = production.copy()
    drop = ((cut["product_line"] == "Search Ads") & (cut["date"] >= "2026-10-01")
            & cut["reviewer_id"].isin(["s1", "s2", "s3", "x1"]))
    cut.loc[drop, "cases_handled"] = 0
    back = capacity_backtest(cut, roster, "BR", "2026-10", ASSUME)
    search = back[back["product_line"] == "Search Ads"].iloc[0]
    expected = (search["forecast_cases"] - search["actual_cases"]) / search["actual_cases"]
    assert search["error_pct"] == pytest.approx(expected) and search["error_pct"] > 0
    assert not search["within_interval"]
    assert search["actual_cases"] < search["ci_low"]


def test_incomplete_months_are_not_backtested(data):
    production, roster = data
    assert capacity_backtest(production, roster, "US", "2026-10").empty  # US ends in September
    partial = production[production["date"] <= "2026-10-20"]
    assert capacity_backtest(partial, roster, "BR", "2026-10").empty
    assert complete_months(partial, "BR") == ["2026-06", "2026-07", "2026-08", "2026-09"]


def test_which_month_a_plan_backtests(data):
    production, _ = data
    # A plan run for period P back-tests P itself when P is complete...
    assert backtest_month(production, "BR", "2026-10", "2026-11") == "2026-10"
    assert backtest_month(production, "BR", "2026-08", "2026-09") == "2026-08"
    # ... else the last complete month before the planned one; the first month has no history.
    assert backtest_month(production, "BR", "2026-11", "2026-11") == "2026-10"
    assert backtest_month(production, "BR", "2026-06") is None
    assert backtest_month(production, "XX", "2026-10") is None
