"""The new-hire ramp: the productivity estimator recovers a planted ramp (simulation, with the
coverage of its intervals), the accuracy ramp and time to proficiency, the graduation check, the
capacity plan's choice of ramp, and the ramp planted in the sample data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reporting.capacity import CapacityAssumptions
from reporting.capacity.ramp import (
    estimate_ramp,
    new_hire_production,
    productivity_ramp,
    ratio_interval,
)
from reporting.data import planted_stories
from reporting.people.ramp import accuracy_ramp, graduation_check, time_to_proficiency

START = pd.Timestamp("2026-01-05")  # a Monday


def _truth(week: np.ndarray) -> np.ndarray:
    """The planted ramp: half speed in week 0, 1 - 0.5 exp(-w / 4) after."""
    return 1.0 - 0.5 * np.exp(-np.asarray(week, dtype=float) / 4.0)


def _simulate(rng: np.random.Generator, *, markets=(("XX", 30, 60),), weeks: int = 22,
              ramp=_truth) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Production and roster: per market (name, new hires, established reviewers). New hires
    join over the first four weeks; every reviewer has a speed (lognormal, sd 10 %), works each
    weekday, 6.5 productive hours, Poisson cases at 200 a day x speed x ramp(week)."""
    days = pd.bdate_range(START, periods=5 * weeks)
    prod, roster = [], []
    for market, n_new, n_est in markets:
        hire = np.r_[START + pd.to_timedelta(rng.integers(0, 28, n_new), "D"),
                     np.repeat(pd.Timestamp("2024-01-01"), n_est)]
        ids = [f"{market}{i:03d}" for i in range(n_new + n_est)]
        speed = rng.lognormal(0.0, 0.1, n_new + n_est)
        roster.append(pd.DataFrame({"reviewer_id": ids, "team_lead": f"Lead {market}",
                                    "market": market, "hire_date": hire}))
        d = np.repeat(days.to_numpy(), len(ids))
        r = np.tile(np.arange(len(ids)), len(days))
        tenure = (d - pd.DatetimeIndex(hire).to_numpy()[r]).astype("timedelta64[D]").astype(int)
        keep = tenure >= 0
        factor = np.where(r < n_new, ramp(np.maximum(tenure, 0) // 7), 1.0)
        cases = rng.poisson(200 * speed[r] * factor)
        prod.append(pd.DataFrame({"date": d, "reviewer_id": np.array(ids)[r], "market": market,
                                  "product_line": "In-Feed Ads", "cases_handled": cases,
                                  "productive_hours": 6.5})[keep])
    return pd.concat(prod, ignore_index=True), pd.concat(roster, ignore_index=True)


def test_productivity_ramp_recovers_a_planted_ramp_with_honest_intervals():
    """20 simulated markets of 30 new hires and 60 established reviewers each: averaged over
    them the weekly factor is within 0.02 of the planted ramp in every week (no bias), and its
    95 % intervals cover the truth at close to their nominal rate (docs/capacity.md)."""
    rng = np.random.default_rng(2026)
    prod, roster = _simulate(rng, markets=tuple((f"M{i:02d}", 30, 60) for i in range(20)))
    rows = new_hire_production(prod, roster)
    # one curve per market in one call: the market as the "cohort"
    curve = productivity_ramp(rows.assign(cohort=rows["market"]), weeks=13)
    truth = _truth(curve["week"])
    assert len(curve) == 20 * 13 and (curve["reviewers"] >= 25).all()
    bias = (curve["factor"] - truth).groupby(curve["week"]).mean()
    assert bias.abs().max() < 0.02, bias
    covered = (curve["factor_ci_low"] <= truth) & (truth <= curve["factor_ci_high"])
    assert 0.9 <= covered.mean() <= 0.99, covered.mean()
    # productivity is 200 cases / 6.5 hours at full speed, times the ramp
    assert np.abs(curve["productivity"] / (200 / 6.5) - truth).max() < 0.1


def test_ratio_interval_hand_checked():
    # Cochran (1977), Sampling Techniques, eq. 6.13 with clusters: R = sum y / sum x,
    # v(R) = k / (k - 1) * sum_c (y_c - R x_c)^2 / (sum x)^2.  Three reviewers with
    # (cases, hours) = (10, 5), (30, 10), (20, 5), split over two days each:
    # R = 60 / 20 = 3; residuals -5, 0, 5; v = 1.5 * 50 / 400 = 0.1875; se = 0.4330;
    # t(0.975, 2 df) = 4.3027, so 3 +- 1.8634.
    frame = pd.DataFrame({"reviewer_id": list("aabbcc"), "g": 1,
                          "cases": [4, 6, 10, 20, 5, 15], "hours": [2, 3, 5, 5, 1, 4]})
    out = ratio_interval(frame, "cases", "hours", ["g"]).iloc[0]
    assert out["ratio"] == pytest.approx(3.0) and out["clusters"] == 3
    assert out["se"] == pytest.approx(0.1875 ** 0.5)
    assert out["ci_low"] == pytest.approx(3 - 4.302653 * 0.1875 ** 0.5, abs=1e-5)
    assert out["ci_high"] == pytest.approx(3 + 4.302653 * 0.1875 ** 0.5, abs=1e-5)
    one = ratio_interval(frame[frame["reviewer_id"] == "a"], "cases", "hours", ["g"]).iloc[0]
    assert one["ratio"] == pytest.approx(2.0) and np.isnan(one["ci_low"])


def test_only_reviewers_seen_from_their_first_week_are_in_the_curve():
    prod, roster = _simulate(np.random.default_rng(1), markets=(("XX", 5, 10),), weeks=6)
    rows = new_hire_production(prod, roster)
    assert set(rows["reviewer_id"]) == {f"XX{i:03d}" for i in range(5)}
    assert rows["week"].min() == 0 and rows["expected"].notna().all()


def test_estimate_ramp_says_which_ramp_and_why():
    rng = np.random.default_rng(3)
    prod, roster = _simulate(rng, markets=(("AA", 12, 30), ("BB", 1, 30)), weeks=18)
    as_of = prod["date"].max()
    own = estimate_ramp(prod, roster, "AA", as_of)
    assert own.source == "market" and own.estimated
    assert "AA's new hires" in own.sentence()
    pooled = estimate_ramp(prod, roster, "BB", as_of)
    assert pooled.source == "all_markets"
    assert "BB has fewer than 3 new hires" in pooled.reason
    # non-decreasing weekly steps, one a week, within [0, 1]
    factors = [f for _, f in pooled.ramp_up]
    assert [b for b, _ in pooled.ramp_up] == [7 * (w + 1) for w in range(13)]
    assert factors == sorted(factors) and 0 <= factors[0] and factors[-1] <= 1
    assert abs(factors[0] - _truth(0)) < 0.1 and abs(factors[-1] - _truth(12)) < 0.1
    # too little history anywhere: the assumed ramp, with the reason
    early = estimate_ramp(prod, roster, "AA", START + pd.Timedelta(days=50))
    assert early.source == "assumed" and early.ramp_up is None
    assert "weeks" in early.reason and "assumed ramp-up is used" in early.sentence()


def test_the_estimated_ramp_counts_new_hires_in_current_capacity():
    """What the plan does with it: ``CapacityAssumptions(ramp_up=ramp.ramp_up)`` counts a new
    hire at the estimated factor of their week at mid-month (the end-to-end plan, with its
    notes, is checked on the rendered capacity_plan report)."""
    prod, roster = _simulate(np.random.default_rng(4), markets=(("AA", 12, 30),), weeks=18)
    ramp = estimate_ramp(prod, roster, "AA", prod["date"].max())
    a = replace(CapacityAssumptions(), ramp_up=ramp.ramp_up)
    assert a.ramp_factor(0) == ramp.ramp_up[0][1] and a.ramp_factor(7 * 13) == 1.0
    assert a.ramp_factor(7 * 5 + 3) == pytest.approx(ramp.curve["factor_used"].iloc[5], abs=5e-4)
    assert a.fully_ramped_days == 91 and "weekly, from" in a.describe("2026-06")


# --------------------------------------------------------------------------------------------
# accuracy ramp and time to proficiency
# --------------------------------------------------------------------------------------------


def _audits(rng, accuracy_by_week, n_per_week: int, hires: int = 10) -> tuple[pd.DataFrame,
                                                                               pd.DataFrame]:
    """Random audits of ``hires`` new hires hired on START, ``n_per_week`` a week in all."""
    rows = []
    for w, p in enumerate(accuracy_by_week):
        day = START + pd.to_timedelta(7 * w + rng.integers(0, 5, n_per_week), "D")
        correct = rng.random(n_per_week) < p
        qa = rng.choice(["approve", "reject"], n_per_week)
        rows.append(pd.DataFrame({
            "decision_date": day, "reviewer_id": [f"N{i:02d}" for i in
                                                   rng.integers(0, hires, n_per_week)],
            "qa_decision": qa,
            "reviewer_decision": np.where(correct, qa, np.where(qa == "approve", "reject",
                                                                 "approve")),
            "sample_type": "random", "policy": "P", "market": "XX"}))
    roster = pd.DataFrame({"reviewer_id": [f"N{i:02d}" for i in range(hires)],
                           "team_lead": "Lead", "market": "XX", "hire_date": START})
    return pd.concat(rows, ignore_index=True), roster


def test_accuracy_ramp_wilson_intervals_cover_a_planted_ramp():
    rng = np.random.default_rng(11)
    truth = 0.96 - 0.10 * np.exp(-np.arange(12) / 3.0)
    covered = 0
    for _ in range(15):
        audits, roster = _audits(rng, truth, 300)
        curve = accuracy_ramp(audits, roster, target=0.95, weeks=12, by_cohort=False)
        assert list(curve["week"]) == list(range(12)) and (curve["n"] == 300).all()
        covered += int(((curve["ci_low"] <= truth) & (truth <= curve["ci_high"])).sum())
    assert 0.9 <= covered / (15 * 12) <= 0.99


def test_time_to_proficiency_on_a_simulated_cohort():
    # true accuracy crosses the 95 % target in week 6 (index 5); 3,000 audits a week, so the
    # interval (about +-0.9 pp) of the weeks before, at 92 % at most, stays below the target
    truth = np.r_[np.linspace(0.86, 0.92, 5), np.full(7, 0.965)]
    audits, roster = _audits(np.random.default_rng(5), truth, 3000)
    curve = accuracy_ramp(audits, roster, target=0.95, weeks=12)
    prof = time_to_proficiency(curve)
    assert prof["cohort"].tolist() == [START.strftime("%Y-%m")]
    assert prof["proficient_week"].iloc[0] == 5 and prof["weeks_observed"].iloc[0] == 12


def _curve(rows: list[tuple[int, int, int]], target: float = 0.95) -> pd.DataFrame:
    """(week, n, correct) -> an accuracy_ramp frame of one cohort with Wilson intervals."""
    from reporting.people._common import wilson_interval

    f = pd.DataFrame(rows, columns=["week", "n", "correct"])
    f["ci_low"], f["ci_high"] = wilson_interval(f["correct"], f["n"])
    return f.assign(scope="T", cohort="2026-01", reviewers=5, accuracy=f["correct"] / f["n"],
                    target=target)


def test_time_to_proficiency_rules():
    # a lucky early week does not count: week 1 is clearly below, weeks 2-3 reach the target
    lucky = _curve([(0, 200, 196), (1, 200, 170), (2, 200, 192), (3, 200, 193)])
    assert time_to_proficiency(lucky)["proficient_week"].iloc[0] == 2
    # a cohort that falls back below target is not proficient
    back = _curve([(0, 200, 192), (1, 200, 193), (2, 200, 170)])
    assert np.isnan(time_to_proficiency(back)["proficient_week"].iloc[0])
    # one week at target is not enough (hold = 2), and a thin week is skipped, not counted
    one = _curve([(0, 200, 170), (1, 200, 193)])
    assert np.isnan(time_to_proficiency(one)["proficient_week"].iloc[0])
    thin = _curve([(0, 200, 170), (1, 200, 192), (2, 5, 2), (3, 200, 193)])
    assert time_to_proficiency(thin)["proficient_week"].iloc[0] == 1


# --------------------------------------------------------------------------------------------
# graduation check
# --------------------------------------------------------------------------------------------


def _reviewer_audits(rid: str, n: int, correct: int, end: pd.Timestamp) -> pd.DataFrame:
    days = end - pd.to_timedelta(np.arange(n) % 25, "D")
    ok = np.arange(n) < correct
    return pd.DataFrame({"decision_date": days, "reviewer_id": rid, "qa_decision": "approve",
                         "reviewer_decision": np.where(ok, "approve", "reject"),
                         "sample_type": "random", "policy": "P", "market": "XX"})


def test_graduation_check():
    as_of = pd.Timestamp("2026-10-31")
    roster = pd.DataFrame({
        "reviewer_id": ["LATE", "GRAD", "THIN", "YOUNG", "OLD", "GONE"],
        "team_lead": "Lead", "market": "XX",
        "status": ["active"] * 5 + ["inactive"],
        "hire_date": as_of - pd.to_timedelta([16 * 7, 20 * 7, 14 * 7, 10 * 7, 60 * 7, 16 * 7],
                                             "D")})
    audits = pd.concat([_reviewer_audits("LATE", 120, 102, as_of),   # 85 %: clearly below 95 %
                        _reviewer_audits("GRAD", 120, 116, as_of),   # 96.7 %
                        _reviewer_audits("THIN", 12, 9, as_of),      # too few audits
                        _reviewer_audits("YOUNG", 120, 100, as_of),  # still ramping
                        _reviewer_audits("OLD", 120, 100, as_of),
                        _reviewer_audits("GONE", 120, 100, as_of)], ignore_index=True)
    g = graduation_check(audits, roster, as_of, 0.95).set_index("reviewer_id")
    assert set(g.index) == {"LATE", "GRAD", "THIN"}  # past 13 weeks, under 26, active
    assert g.loc["LATE", "status"] == "below_target" and g.loc["LATE", "ci_high"] < 0.95
    assert g.loc["GRAD", "status"] == "on_target"
    assert g.loc["THIN", "status"] == "not_judged"
    assert g.loc["LATE", "weeks_since_hire"] == 16 and g.loc["LATE", "n"] == 120
    assert "still below the 95% target" in g.loc["LATE", "text"]
    assert graduation_check(audits, roster, as_of, 0.95).iloc[0]["reviewer_id"] == "LATE"
    # audits older than the last four weeks are not used
    old = _reviewer_audits("LATE", 120, 60, as_of - pd.Timedelta(days=40))
    g2 = graduation_check(pd.concat([audits, old]), roster, as_of, 0.95).set_index("reviewer_id")
    assert g2.loc["LATE", "n"] == 120


# --------------------------------------------------------------------------------------------
# the ramp planted in the sample data
# --------------------------------------------------------------------------------------------


def test_sample_ramp_is_found(sample_dataset):
    story = planted_stories("2026-10")["new_hire_ramp"]
    (d1, slow1), (d2, slow2) = story["handling_time_multiplier"]
    ramp = estimate_ramp(sample_dataset.production, sample_dataset.roster, "BR", "2026-10-31")
    assert ramp.source == "market"  # the BR hire wave is seen for 13 weeks
    c = ramp.curve.set_index("week")
    first_phase = c.loc[2: d1 // 7 - 1]  # after the short-hours weeks, before day 60
    second_phase = c.loc[d1 // 7 + 1: 12]
    share = (first_phase["cases"].sum() / (first_phase["cases"] / first_phase["factor"]).sum())
    assert share == pytest.approx(1 / slow1, abs=0.04)
    assert (second_phase["factor_ci_low"] <= 1 / slow2).all()
    assert (1 / slow2 <= second_phase["factor_ci_high"]).all()
    cohort = story["cohorts"][f"BR {story['br_cohort_hire_date']}"]
    assert c["reviewers"].max() == len(cohort)

