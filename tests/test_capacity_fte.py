"""Required FTE arithmetic, assumptions (working days, ramp-up), current capacity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reporting.capacity import (
    CapacityAssumptions,
    current_capacity,
    required_fte,
    reviewer_skills,
    sla_risk,
)

# ---------------------------------------------------------------------------------------------
# required_fte: hand-checked examples
# ---------------------------------------------------------------------------------------------


def test_required_fte_hand_checked_example_with_shrinkage():
    # 63,000 cases at 45 cases/hour, 6.5 productive hours per FTE-day, 21 working days and 15%
    # shrinkage:
    #   one FTE handles 45 * 6.5 = 292.5 cases a day,
    #   * 21 days = 6,142.5 cases a month, * 0.85 = 5,221.125 cases after shrinkage;
    #   63,000 / 5,221.125 = 12.0664 FTE (5,221.125 * 12 = 62,653.5; 346.5 / 5,221.125 = 0.0664).
    fte = required_fte(63_000, 45, productive_hours_per_day=6.5, working_days=21, shrinkage=0.15)
    assert fte == pytest.approx(12.0664, abs=5e-5)
    assert fte == pytest.approx(63_000 / 5_221.125)


def test_required_fte_hand_checked_example_without_shrinkage():
    # 10,000 cases at 20 cases/hour, 8 h/day, 20 days: 20 * 8 * 20 = 3,200 cases per FTE.
    assert required_fte(10_000, 20, 8, 20) == pytest.approx(3.125)
    assert required_fte(0, 20) == 0.0


def test_required_fte_rejects_bad_inputs_and_propagates_nan():
    with pytest.raises(ValueError, match="productivity"):
        required_fte(100, 0)
    with pytest.raises(ValueError, match="shrinkage"):
        required_fte(100, 10, shrinkage=1.0)
    with pytest.raises(ValueError, match="volume"):
        required_fte(-1, 10)
    assert math.isnan(required_fte(float("nan"), 10))
    assert math.isnan(required_fte(100, float("nan")))


# ---------------------------------------------------------------------------------------------
# assumptions
# ---------------------------------------------------------------------------------------------


def test_working_days_from_weekdays_and_holidays():
    a = CapacityAssumptions()
    # October 2026: the 1st is a Thursday; weekend days 3,4,10,11,17,18,24,25,31 -> 31 - 9 = 22.
    assert a.working_days_in("2026-10") == 22
    # February 2027 starts on a Monday: exactly four weeks -> 20 weekdays.
    assert a.working_days_in("2027-02") == 20
    with_holiday = CapacityAssumptions(holidays=("2026-10-12", "2026-10-31"))  # Mon, Sat
    assert with_holiday.working_days_in("2026-10") == 21
    assert CapacityAssumptions(working_days=19).working_days_in("2026-10") == 19
    assert CapacityAssumptions(shrinkage=0.2).days_per_fte("2027-02") == pytest.approx(16.0)


@pytest.mark.parametrize(
    ("tenure", "factor"),
    [
        (-1, 0.0),
        (0, 0.25),
        (29, 0.25),
        (30, 0.5),
        (59, 0.5),
        (60, 0.75),
        (89, 0.75),
        (90, 1.0),
        (400, 1.0),
        (float("nan"), 1.0),
    ],
)
def test_ramp_up_by_tenure(tenure, factor):
    assert CapacityAssumptions().ramp_factor(tenure) == factor


def test_assumptions_validate():
    with pytest.raises(ValueError):
        CapacityAssumptions(shrinkage=1.0)
    with pytest.raises(ValueError):
        CapacityAssumptions(ramp_up=((60, 0.5), (30, 0.25)))
    with pytest.raises(ValueError):
        CapacityAssumptions(productive_hours_per_day=0)
    text = CapacityAssumptions().describe("2026-10")
    assert "22 working days" in text and "shrinkage 15%" in text


@pytest.mark.parametrize(
    ("util", "risk"),
    [
        (0.0, "low"),
        (0.89, "low"),
        (0.9, "medium"),
        (1.0, "medium"),
        (1.01, "high"),
        (float("inf"), "high"),
        (float("nan"), "low"),
    ],
)
def test_sla_risk_thresholds(util, risk):
    assert sla_risk(util) == risk


# ---------------------------------------------------------------------------------------------
# current capacity: roster, ramp-up, allocation across product lines, productivity
# ---------------------------------------------------------------------------------------------

AS_OF = pd.Timestamp("2026-09-30")


def _rows(reviewer, product_line, cases, hours, days, market="BR"):
    return [
        {
            "date": d,
            "reviewer_id": reviewer,
            "market": market,
            "product_line": product_line,
            "cases_handled": cases,
            "productive_hours": hours,
        }
        for d in days
    ]


def _small_world():
    # 8 weeks of weekdays ending on AS_OF (2026-08-06 .. 2026-09-30: 40 weekdays).
    days = pd.bdate_range("2026-08-06", AS_OF)
    assert len(days) == 40
    rows = []
    rows += _rows("vet1", "Search Ads", 60, 5.0, days)  # 12 cases/h
    rows += _rows("vet2", "Search Ads", 60, 5.0, days[:30])
    rows += _rows("vet2", "Spark Ads", 40, 5.0, days[30:])  # 75% / 25% of hours
    rows += _rows("new1", "Search Ads", 20, 5.0, days[-10:])  # new hire, 4 cases/h
    rows += _rows("gone", "Search Ads", 60, 5.0, days)  # left: not on the active roster
    rows += _rows("us1", "Search Ads", 99, 5.0, days, market="US")
    production = pd.DataFrame(rows)
    roster = pd.DataFrame(
        {
            "reviewer_id": ["vet1", "vet2", "new1", "gone", "idle", "future", "part", "us1"],
            "team_lead": "L",
            "market": ["BR"] * 7 + ["US"],
            "hire_date": pd.to_datetime(
                [
                    "2024-01-01",
                    "2025-06-01",
                    "2026-09-16",
                    "2023-01-01",
                    "2026-08-20",
                    "2026-10-20",
                    "2025-01-01",
                    "2024-01-01",
                ]
            ),
            "site": pd.NA,
            "status": ["active", "Active", pd.NA, "left", "active", "active", "active", "active"],
            "fte": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0],
        }
    )
    return production, roster


def test_reviewer_skills_window_and_shares():
    production, _ = _small_world()
    skills = reviewer_skills(production, AS_OF, market="BR", weeks=8).set_index(
        ["reviewer_id", "product_line"]
    )
    assert skills.loc[("vet2", "Search Ads"), "hours_share"] == pytest.approx(0.75)
    assert skills.loc[("vet2", "Spark Ads"), "hours_share"] == pytest.approx(0.25)
    assert skills.loc[("vet1", "Search Ads"), "productivity"] == pytest.approx(12.0)
    assert skills.loc[("vet2", "Spark Ads"), "productivity"] == pytest.approx(8.0)
    assert skills.loc[("vet1", "Search Ads"), "days_worked"] == 40
    # a 1-week window only sees the last 5 weekdays
    short = reviewer_skills(production, AS_OF, market="BR", weeks=1)
    assert short.loc[short["reviewer_id"] == "vet1", "days_worked"].item() == 5


def test_current_capacity_ramp_up_roster_and_allocation():
    production, roster = _small_world()
    cap = current_capacity(roster, production, AS_OF, market="BR", month="2026-10")
    assert cap.mid_month == pd.Timestamp("2026-10-15")
    r = cap.by_reviewer.set_index("reviewer_id")
    # 'gone' (status left) and 'us1' (other market) are not counted
    assert set(r.index) == {"vet1", "vet2", "new1", "idle", "future", "part"}
    # tenure at 2026-10-15: new1 hired 09-16 -> 29 days -> 0.25; idle hired 08-20 -> 56 days
    # -> 0.5; future starts 10-20 -> 0; part is fully ramped but 0.5 FTE.
    assert r.loc["new1", "tenure_days"] == 29 and r.loc["new1", "effective_fte"] == 0.25
    assert r.loc["idle", "effective_fte"] == 0.5
    assert r.loc["future", "effective_fte"] == 0.0
    assert r.loc["part", "effective_fte"] == 0.5
    assert r.loc["vet1", "effective_fte"] == 1.0
    assert cap.by_reviewer["effective_fte"].sum() == pytest.approx(1 + 1 + 0.25 + 0.5 + 0 + 0.5)

    # allocation: vet1 1.0 Search; vet2 0.75/0.25; new1 0.25 Search; reviewers without
    # production (idle 0.5, future 0, part 0.5) split by the market's hour mix:
    # hours in window: Search = 40*5 (vet1) + 30*5 (vet2) + 10*5 (new1) + 40*5 (gone) = 600,
    # Spark = 10*5 = 50 -> Search share 600/650.
    search_share = 600 / 650
    pl = cap.by_product_line.set_index("product_line")
    assert pl.loc["Search Ads", "available_fte"] == pytest.approx(
        1.0 + 0.75 + 0.25 + 1.0 * search_share
    )
    assert pl.loc["Spark Ads", "available_fte"] == pytest.approx(0.25 + 1.0 * (1 - search_share))
    assert pl["available_fte"].sum() == pytest.approx(cap.by_reviewer["effective_fte"].sum())
    # productivity from fully ramped reviewers only (new1, 4 cases/h, is excluded);
    # 'gone' still counts for productivity: (60*40 + 60*30 + 60*40) / (5*110) = 12
    assert pl.loc["Search Ads", "productivity"] == pytest.approx(12.0)
    assert pl.loc["Spark Ads", "productivity"] == pytest.approx(8.0)
    assert any("not on the active roster" in n for n in cap.notes)
    assert any("hour mix" in n for n in cap.notes)


def test_current_capacity_without_roster_counts_producers():
    production, _ = _small_world()
    cap = current_capacity(None, production, AS_OF, market="BR")
    assert set(cap.by_reviewer["reviewer_id"]) == {"vet1", "vet2", "new1", "gone"}
    assert (cap.by_reviewer["effective_fte"] == 1.0).all()
    assert cap.by_product_line["available_fte"].sum() == pytest.approx(4.0)
    assert any("No roster" in n for n in cap.notes)
    # productivity of everyone when tenure is unknown:
    # Search = (60*40 + 60*30 + 20*10 + 60*40) / (5 * (40 + 30 + 10 + 40)) = 6800 / 600
    pl = cap.by_product_line.set_index("product_line")
    assert pl.loc["Search Ads", "productivity"] == pytest.approx(6800 / 600)


def test_current_capacity_default_month_is_the_next_one():
    production, roster = _small_world()
    cap = current_capacity(roster, production, AS_OF, market="BR")
    assert cap.mid_month == pd.Timestamp("2026-10-15")
    assert np.isclose(cap.by_reviewer.set_index("reviewer_id").loc["new1", "ramp_factor"], 0.25)


def test_roster_without_the_market_falls_back_to_producers():
    production, roster = _small_world()
    cap = current_capacity(roster[roster["market"] == "US"], production, AS_OF, market="BR")
    assert set(cap.by_reviewer["reviewer_id"]) == {"vet1", "vet2", "new1", "gone"}
    assert any("no reviewer for market BR" in n for n in cap.notes)


def test_observed_calibration_of_assumptions():
    production, roster = _small_world()
    cap = current_capacity(roster, production, AS_OF, market="BR")
    # active reviewers employed through the window with production: vet1 and vet2 (new1 was
    # hired inside it); both worked all 40 weekdays, 5 productive hours a day.
    assert cap.observed_hours_per_day == pytest.approx(5.0)
    assert cap.observed_attendance == pytest.approx(1.0)
    assert any("5.0 productive hours per day worked" in n for n in cap.notes)
