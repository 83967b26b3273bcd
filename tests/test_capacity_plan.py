"""capacity_plan end to end on a small synthetic production + roster, checked by hand.

The world (market BR, weekdays only, 2026-06-01 .. 2026-09-30, 6 productive hours per row):

* Search Ads: 6 dedicated reviewers at 12 cases/h (72 cases/day); one of them ("s6") has left
  (status "left"), so his volume stays in the forecast but not in the capacity.
* Spark Ads: 3 dedicated reviewers at 9 cases/h but only 4 productive hours a day (36 cases).
* Two "split" reviewers alternate product lines day by day, in opposite phase: every weekday one
  of them is on Search Ads (72 cases) and the other on Spark Ads (6 h * 9 = 54 cases).
* One new hire ("n1", hired 2026-09-14) with no production yet.
* Market US rows and roster rows that must be ignored.

Daily volume is an exact weekly pattern (Search 7 * 72 = 504, Spark 3 * 36 + 54 = 162 on
weekdays, 0 at weekends), so seasonal naive is perfect in the back-test and is used:
October 2026 (22 weekdays) forecasts Search 22 * 504 = 11,088 and Spark 22 * 162 = 3,564 cases.

With 6 productive hours per FTE-day, 22 working days and no shrinkage:
* required Search = 11,088 / (12 * 6 * 22) = 11,088 / 1,584 = 7.0 FTE;
* required Spark = 3,564 / (9 * 6 * 22) = 3,564 / 1,188 = 3.0 FTE.
Available (tenure at 2026-10-15; hours of the 8 weeks to 2026-09-30, 40 weekdays):
* split reviewers: 20 days on each product line -> 0.5 FTE each on each;
* new hire: 31 days of tenure -> 0.5 FTE, allocated by the market's hour mix:
  Search hours = 6 * 40 * 6 + 40 * 6 = 1,680, Spark = 3 * 40 * 4 + 40 * 6 = 720 -> 0.7 / 0.3;
* Search = 5 + 0.5 + 0.5 + 0.5 * 0.7 = 6.35 FTE -> gap 0.65 FTE, utilisation 1.102 -> high;
* Spark = 3 + 0.5 + 0.5 + 0.5 * 0.3 = 4.15 FTE -> spare 1.15 FTE, utilisation 0.723 -> low.
Productivity: Search = (6 * 72 + 72) * 40 / 1,680 = 12.0; Spark = (3 * 36 + 54) * 40 / 720 = 9.0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.capacity import (
    MOVE_COLUMNS,
    PLAN_COLUMNS,
    CapacityAssumptions,
    CapacityPlan,
    capacity_plan,
    required_fte,
)

ASSUME = CapacityAssumptions(productive_hours_per_day=6.0, shrinkage=0.0)


def world(end: str = "2026-09-30") -> tuple[pd.DataFrame, pd.DataFrame]:
    days = pd.bdate_range("2026-06-01", end)
    rows = []

    def add(reviewer, pl, cases, hours, when, market="BR"):
        rows.extend(
            {
                "date": d,
                "reviewer_id": reviewer,
                "market": market,
                "product_line": pl,
                "cases_handled": cases,
                "productive_hours": hours,
            }
            for d in when
        )

    for k in range(1, 7):
        add(f"s{k}", "Search Ads", 72, 6.0, days)
    for k in range(1, 4):
        add(f"p{k}", "Spark Ads", 36, 4.0, days)
    even, odd = days[::2], days[1::2]
    add("x1", "Search Ads", 72, 6.0, even)
    add("x1", "Spark Ads", 54, 6.0, odd)
    add("x2", "Search Ads", 72, 6.0, odd)
    add("x2", "Spark Ads", 54, 6.0, even)
    add("u1", "Search Ads", 500, 6.0, days, market="US")
    production = pd.DataFrame(rows)
    production["queue"] = pd.NA
    production["sla_met"] = np.nan
    ids = [f"s{k}" for k in range(1, 7)] + ["p1", "p2", "p3", "x1", "x2", "n1", "u1"]
    roster = pd.DataFrame(
        {
            "reviewer_id": ids,
            "team_lead": "L1",
            "market": ["BR"] * 12 + ["US"],
            "hire_date": pd.to_datetime(["2024-01-01"] * 11 + ["2026-09-14", "2024-01-01"]),
            "site": pd.NA,
            "status": ["active"] * 5 + ["left"] + ["active"] * 7,
        }
    )
    return production, roster


@pytest.fixture(scope="module")
def plan() -> CapacityPlan:
    production, roster = world()
    return capacity_plan(production, roster, "BR", "2026-10", ASSUME)


def test_plan_shape_and_forecast(plan):
    assert isinstance(plan, CapacityPlan)
    assert list(plan.by_product_line.columns) == PLAN_COLUMNS
    assert list(plan.totals.columns) == PLAN_COLUMNS
    assert plan.as_of == pd.Timestamp("2026-09-30")
    bp = plan.by_product_line.set_index("product_line")
    assert list(bp.index) == ["Search Ads", "Spark Ads"]
    assert (bp["model"] == "seasonal_naive").all()
    assert bp.loc["Search Ads", "forecast_cases"] == pytest.approx(22 * 504)
    assert bp.loc["Spark Ads", "forecast_cases"] == pytest.approx(22 * 162)
    # a perfectly repeating week has zero back-test error: the interval collapses
    assert bp.loc["Search Ads", "forecast_low"] == pytest.approx(22 * 504)
    assert bp.loc["Search Ads", "forecast_high"] == pytest.approx(22 * 504)
    assert set(plan.forecasts) == {"Search Ads", "Spark Ads"}
    assert plan.history["Search Ads"].index.max() == pd.Timestamp("2026-09-30")


def test_plan_fte_by_hand(plan):
    bp = plan.by_product_line.set_index("product_line")
    assert bp.loc["Search Ads", "productivity"] == pytest.approx(12.0)
    assert bp.loc["Spark Ads", "productivity"] == pytest.approx(9.0)
    assert bp.loc["Search Ads", "required_fte"] == pytest.approx(7.0)
    assert bp.loc["Spark Ads", "required_fte"] == pytest.approx(3.0)
    assert bp.loc["Search Ads", "available_fte"] == pytest.approx(6.35)
    assert bp.loc["Spark Ads", "available_fte"] == pytest.approx(4.15)
    assert bp.loc["Search Ads", "gap_fte"] == pytest.approx(0.65)
    assert bp.loc["Spark Ads", "gap_fte"] == pytest.approx(-1.15)
    # active reviewers with production there: s1-s5 + x1, x2 / p1-p3 + x1, x2
    assert bp.loc["Search Ads", "headcount"] == 7
    assert bp.loc["Spark Ads", "headcount"] == 5
    assert bp.loc["Search Ads", "utilisation"] == pytest.approx(7.0 / 6.35)
    assert bp.loc["Search Ads", "sla_risk"] == "high"
    assert bp.loc["Spark Ads", "sla_risk"] == "low"
    # risk if nothing changes: 0.65 FTE * 22 days * 6 h * 12 cases/h = 1,029.6 cases beyond
    # capacity in the month, over 31 calendar days; share of Search's volume 1,029.6 / 11,088.
    assert bp.loc["Search Ads", "backlog_cases_per_day"] == pytest.approx(1029.6 / 31)
    assert bp.loc["Search Ads", "expected_sla_shortfall"] == pytest.approx(1029.6 / 11088)
    assert bp.loc["Spark Ads", "backlog_cases_per_day"] == 0.0
    # the arithmetic is the documented formula
    assert bp.loc["Search Ads", "required_fte"] == pytest.approx(
        required_fte(bp.loc["Search Ads", "forecast_cases"], 12.0, 6.0, 22, 0.0)
    )


def test_plan_totals(plan):
    t = plan.totals.iloc[0]
    assert t["product_line"] == "All product lines"
    assert t["forecast_cases"] == pytest.approx(22 * (504 + 162))
    assert t["required_fte"] == pytest.approx(10.0)
    assert t["available_fte"] == pytest.approx(10.5)
    assert t["gap_fte"] == pytest.approx(-0.5)
    # harmonic productivity: total cases / total hours needed
    assert t["productivity"] == pytest.approx(22 * 666 / (11088 / 12 + 3564 / 9))
    # the market as a whole has spare capacity, yet Search Ads has a backlog unless work moves
    assert t["backlog_cases_per_day"] == pytest.approx(1029.6 / 31)


def test_plan_redistribution_closes_the_gap(plan):
    moves = plan.redistribution
    assert list(moves.columns) == MOVE_COLUMNS
    assert moves["action"].tolist() == ["move"]
    m = moves.iloc[0]
    assert (m["from_product_line"], m["to_product_line"]) == ("Spark Ads", "Search Ads")
    # only the two split reviewers work on Spark and are productive on Search
    assert m["eligible_reviewers"] == 2
    # gap = 1,029.6 cases; a split reviewer-day covers 72 -> 14.3 days, rounded down to 14
    assert m["reviewer_days"] == 14
    assert m["fte_equivalent"] == pytest.approx(14 / 22)
    assert m["cases_covered"] == pytest.approx(14 * 72)
    assert m["cases_released"] == pytest.approx(14 * 54)
    assert m["remaining_gap_fte"] == pytest.approx((1029.6 - 14 * 72) / 1584)
    assert m["sentence"].startswith("Move 14 reviewer-days (0.6 FTE) from Spark Ads to Search Ads")


def test_plan_never_moves_work_to_off_track_reviewers():
    production, roster = world()
    accuracy = pd.DataFrame(
        {
            "reviewer_id": ["x1", "x2", "s1"],
            "product_line": ["Search Ads"] * 3,
            "kpi": "accuracy",
            "status": ["off_track", "on_track", "off_track"],
        }
    )
    plan = capacity_plan(production, roster, "BR", "2026-10", ASSUME, accuracy)
    bp = plan.by_product_line.set_index("product_line")
    assert bp.loc["Search Ads", "off_track_reviewers"] == 2
    moves = plan.redistribution.set_index("action")
    # x1 is off track on Search Ads: only x2 remains (0.5 FTE on Spark = 11 days)
    assert moves.loc["move", "eligible_reviewers"] == 1
    assert moves.loc["move", "reviewer_days"] == 11
    assert moves.loc["move", "cases_covered"] == pytest.approx(11 * 72)
    left = (1029.6 - 11 * 72) / 1584
    assert moves.loc["gap_remains", "remaining_gap_fte"] == pytest.approx(left)
    assert "not enough" in moves.loc["gap_remains", "sentence"]


def test_past_month_is_planned_as_of_the_day_before_with_actuals():
    production, roster = world(end="2026-10-31")
    plan = capacity_plan(production, roster, "BR", "2026-10", ASSUME)
    assert plan.as_of == pd.Timestamp("2026-09-30")
    bp = plan.by_product_line.set_index("product_line")
    assert bp.loc["Search Ads", "actual_cases"] == pytest.approx(22 * 504)
    assert bp.loc["Search Ads", "forecast_cases"] == pytest.approx(22 * 504)
    assert any("day before the month" in n for n in plan.notes)


def test_plan_without_roster_and_unknown_market():
    production, _ = world()
    plan = capacity_plan(production, None, "BR", "2026-10", ASSUME)
    # every BR reviewer with production counts 1 FTE: 6 + 3 dedicated, 2 split half and half
    bp = plan.by_product_line.set_index("product_line")
    assert bp.loc["Search Ads", "available_fte"] == pytest.approx(7.0)
    assert bp.loc["Spark Ads", "available_fte"] == pytest.approx(4.0)
    assert any("No roster" in n for n in plan.notes)
    with pytest.raises(ValueError, match="no production data"):
        capacity_plan(production, None, "DE", "2026-10", ASSUME)
