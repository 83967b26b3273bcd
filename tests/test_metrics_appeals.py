"""Appeals statistics (issue 15): overturn rate, time to resolution, backlog, link to audits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.metrics.appeals import (
    appeals_as_of,
    appeals_summary,
    audit_disagreements,
    backlog_trend,
    km_quantiles,
    overturn_rates,
    resolution_time,
)

# R's survival package, data set `aml` (Miller 1981): weeks to relapse of acute myelogenous
# leukaemia, status 0 = censored. `survfit(Surv(time, status) ~ x, data = aml)` prints medians
# 31 (Maintained) and 23 (Nonmaintained); `~ 1` prints 27 (n = 23, 18 events).
AML_MAINTAINED = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
                  [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
AML_NONMAINTAINED = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
                     [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("data,median", [(AML_MAINTAINED, 31.0), (AML_NONMAINTAINED, 23.0)])
def test_kaplan_meier_median_equals_r_survival_aml(data, median):
    days, status = (np.asarray(v) for v in data)
    q = km_quantiles(days.astype(float), status.astype(bool))
    assert q["median_days"] == median
    assert q["open"] == int((status == 0).sum())


def test_kaplan_meier_median_of_all_aml_is_27():
    days = np.array(AML_MAINTAINED[0] + AML_NONMAINTAINED[0], float)
    status = np.array(AML_MAINTAINED[1] + AML_NONMAINTAINED[1], bool)
    q = km_quantiles(days, status)
    assert q["median_days"] == 27.0 and q["resolved"] == 18
    assert q["median_ci_low"] <= 27.0 <= q["median_ci_high"]


def test_open_appeals_are_censored_not_dropped():
    # 4 resolved in 2 days, 6 still open after 10 days: dropping the open ones would say "2 days";
    # with them censored more than half have waited 10+ days: the median is not reached yet
    days = np.array([2, 2, 2, 2] + [10] * 6, float)
    q = km_quantiles(days, np.array([True] * 4 + [False] * 6))
    assert np.isnan(q["median_days"]) and q["open"] == 6
    q = km_quantiles(days[:4], np.ones(4, bool))
    assert q["median_days"] == 2.0


def appeals_frame() -> pd.DataFrame:
    d = pd.to_datetime
    return pd.DataFrame({
        "appeal_id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
        "market": ["BR", "BR", "BR", "DE", "DE", "DE", "DE"],
        "policy": ["Gambling", "Gambling", "Weapons", "Gambling", "Weapons", "Weapons",
                   "Weapons"],
        "appeal_date": d(["2026-09-28", "2026-10-02", "2026-10-03", "2026-10-05", "2026-10-10",
                          "2026-10-20", "2026-10-30"]),
        "outcome": ["overturned", "overturned", "upheld", "upheld", "upheld", "overturned",
                    None],
        # A6 is resolved after the month: open as of 2026-10-31
        "resolved_date": d(["2026-10-01", "2026-10-06", "2026-10-04", "2026-10-08",
                            "2026-10-13", "2026-11-03", None]),
        "case_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
        "reviewer_id": ["R1", "R1", "R2", "R3", "R3", "R3", None],
    })


def test_overturn_rate_counts_appeals_resolved_in_the_period_as_of_its_end():
    from statsmodels.stats.proportion import proportion_confint

    a = appeals_frame()
    k = overturn_rates(a, "2026-10")
    # resolved in October: A1 (overturned), A2 (overturned), A3, A4, A5 (upheld); A6 is later
    assert k.loc[0, "decided"] == 5 and k.loc[0, "overturned"] == 2
    assert k.loc[0, "value"] == pytest.approx(0.4)
    low, high = proportion_confint(2, 5, method="wilson")
    assert (k.loc[0, "ci_low"], k.loc[0, "ci_high"]) == pytest.approx((low, high))
    assert k.loc[0, "target"] == 0.15 and k.loc[0, "target_source"] == "default"
    by = overturn_rates(a, "2026-10", ["market", "policy"]).set_index(["market", "policy"])
    assert by.loc[("BR", "Gambling"), "overturned"] == 2
    assert by.loc[("DE", "Weapons"), "decided"] == 1
    # by reviewer (team reports only): appeals naming no reviewer are left out of that breakdown
    rev = overturn_rates(a, "2026-10", ["reviewer_id"]).set_index("reviewer_id")
    assert set(rev.index) == {"R1", "R2", "R3"} and rev.loc["R1", "value"] == 1.0
    assert rev.loc["R3", "decided"] == 2  # A4, A5 (A6 still open on 31 Oct)
    # the November view sees A6 decided and overturned
    nov = overturn_rates(a, "2026-11")
    assert nov.loc[0, "decided"] == 1 and nov.loc[0, "overturned"] == 1


def test_status_and_a_target_from_the_table():
    a = appeals_frame()
    targets = pd.DataFrame({"kpi": ["overturn_rate"], "target": [0.5], "market": ["BR"],
                            "product_line": ["*"]})
    k = overturn_rates(a, "2026-10", ["market"], targets).set_index("market")
    assert k.loc["BR", "target"] == 0.5 and k.loc["DE", "target"] == 0.15
    assert set(k["target_source"]) == {"targets table"}
    many = pd.DataFrame({"appeal_id": [f"X{i}" for i in range(400)], "market": "US",
                         "policy": "P", "appeal_date": pd.Timestamp("2026-10-01"),
                         "outcome": ["overturned"] * 200 + ["upheld"] * 200,
                         "resolved_date": pd.Timestamp("2026-10-02")})
    assert overturn_rates(many, "2026-10").loc[0, "status"] == "off_track"  # 50% vs 15%
    assert overturn_rates(many.assign(outcome="upheld"), "2026-10").loc[0, "status"] == "on_track"


def test_resolution_time_volume_and_backlog():
    a = appeals_frame()
    s = appeals_as_of(a, pd.Timestamp("2026-10-31"))
    assert s.set_index("appeal_id").loc["A6", "decided"] == False  # noqa: E712
    assert s.set_index("appeal_id").loc["A6", "wait_days"] == 11
    t = resolution_time(a, "2026-10").iloc[0]
    # filed in October: A2..A7; open at month end: A6, A7
    assert (t["appeals"], t["resolved"], t["open"]) == (6, 4, 2)
    b = backlog_trend(a, "2026-10", months=1).set_index("week")
    last = b.iloc[-1]
    # weeks run Monday to Sunday: the first starts on Mon 28 Sep, so it holds A1 (filed 28 Sep)
    assert last["open"] == 2 and b["filed"].sum() == 7
    assert b.loc[pd.Timestamp("2026-09-28"), "resolved"] == 2  # A1 on 1 Oct, A3 on 4 Oct


def test_link_to_audits_by_case_id():
    a = appeals_frame()
    audits = pd.DataFrame({"case_id": ["C1", "C1", "C2", "C4"],
                           "is_correct": [True, True, False, True]})
    link = audit_disagreements(a, audits, "2026-10").set_index("appeal_id")
    assert set(link.index) == {"A1", "A2", "A4"}
    assert link.loc["A1", "disagree"]  # overturned though both audits called it correct
    assert not link.loc["A2", "disagree"]  # QA also called it wrong: they agree
    assert not link.loc["A4", "disagree"]  # upheld
    assert audit_disagreements(a, audits.drop(columns="case_id"), "2026-10") is None


def test_summary_of_the_planted_sample(sample_dataset):
    from reporting.data.sample_appeals import HIGH_OVERTURN_POLICY

    s = appeals_summary(sample_dataset.appeals, "2026-10", targets=sample_dataset.targets)
    assert s.worst_policy == HIGH_OVERTURN_POLICY
    assert s.appealed > 500 and 0 < s.open_share < 0.5
    assert 3 <= s.median_days <= 12 and s.p90_days > s.median_days
    by = overturn_rates(sample_dataset.appeals, "2026-10", ["policy"])
    assert by.iloc[0]["policy"] == HIGH_OVERTURN_POLICY and by.iloc[0]["status"] == "off_track"
    assert appeals_summary(None, "2026-10") is None
