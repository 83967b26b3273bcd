"""Observed shrinkage (reporting.capacity.absence): exact on planted absence, and its interval's
coverage measured by simulation on production with clustered leave (weeks off) and sick days.

The figures measured here are quoted in docs/capacity.md ("Observed shrinkage")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.capacity import ShrinkageEstimate, observed_shrinkage, resolve_shrinkage
from reporting.capacity.absence import shrinkage_sentence

AS_OF = pd.Timestamp("2026-10-30")  # a Friday: the 8-week window is 40 weekdays
WEEKDAYS = pd.bdate_range(AS_OF - pd.Timedelta(days=55), AS_OF)


def production(worked: dict[str, list[pd.Timestamp]], market: str = "BR") -> pd.DataFrame:
    ids = [r for r, days in worked.items() for _ in days]
    dates = [d for days in worked.values() for d in days]
    return pd.DataFrame({"date": pd.DatetimeIndex(dates), "reviewer_id": ids, "market": market,
                         "product_line": "Search Ads", "cases_handled": 50,
                         "productive_hours": 6.0})


def roster(n: int) -> pd.DataFrame:
    return pd.DataFrame({"reviewer_id": [f"r{i}" for i in range(n)], "market": "BR",
                         "hire_date": pd.Timestamp("2024-01-01"), "status": "active"})


def simulate(rng: np.random.Generator, n: int = 30, p_week: float = 0.10, q_day: float = 0.05,
             weekend: float = 0.0) -> pd.DataFrame:
    """Each reviewer takes each of the 8 weeks off with probability ``p_week`` (leave comes in
    blocks) and is off sick on any other weekday with probability ``q_day``; expected absence
    = p_week + (1 - p_week) * q_day. Weekend days are worked with probability ``weekend``."""
    weeks = np.arange(len(WEEKDAYS)) // 5
    saturdays = pd.date_range(WEEKDAYS[0], AS_OF, freq="W-SAT")
    off = (rng.random((n, 8)) < p_week)[:, weeks] | (rng.random((n, len(WEEKDAYS))) < q_day)
    sat = rng.random((n, len(saturdays))) < weekend
    r_idx, d_idx = np.nonzero(~off)
    s_idx, w_idx = np.nonzero(sat)
    return pd.DataFrame({
        "date": np.concatenate([WEEKDAYS.to_numpy()[d_idx], saturdays.to_numpy()[w_idx]]),
        "reviewer_id": np.char.add("r", np.concatenate([r_idx, s_idx]).astype(str)),
        "market": "BR", "product_line": "Search Ads", "cases_handled": 50,
        "productive_hours": 6.0})


def test_planted_absence_is_measured_exactly():
    # 10 reviewers, each off on exactly 6 of the 40 weekdays (15%), one works 4 Saturdays;
    # r0 is off the first 6 days, so only the roster says it was employed throughout.
    worked = {f"r{i}": list(WEEKDAYS.delete(range(i, i + 6))) for i in range(10)}
    worked["r0"] += list(pd.date_range(WEEKDAYS[0], AS_OF, freq="W-SAT")[:4])
    est = observed_shrinkage(production(worked), AS_OF, "BR", roster=roster(10))
    assert est.source == "observed" and est.reviewers == 10 and est.working_days == 40
    assert est.absence_rate == pytest.approx(0.15)
    assert est.weekend_share == pytest.approx(4 / 400)
    assert est.shrinkage == pytest.approx(0.15 - 4 / 400)
    assert est.ci_low <= est.shrinkage <= est.ci_high


def test_roster_decides_who_is_measured():
    worked = {f"r{i}": list(WEEKDAYS) for i in range(6)}
    worked["late"] = list(WEEKDAYS[20:])  # hired mid-window: not measured
    worked["gone"] = list(WEEKDAYS[:10])  # left: not measured
    worked["away"] = []  # on the roster, active, hired long ago, on leave the whole window
    prod = production({k: v for k, v in worked.items() if v})
    prod = pd.concat([prod, production({"away": [WEEKDAYS[0] - pd.Timedelta(days=30)]})])
    roster = pd.DataFrame({"reviewer_id": list(worked), "market": "BR",
                           "hire_date": pd.to_datetime(["2024-01-01"] * 6 + ["2026-09-21",
                                                        "2024-01-01", "2024-01-01"]),
                           "status": ["active"] * 7 + ["inactive", "active"]})
    est = observed_shrinkage(prod, AS_OF, "BR", roster=roster)
    assert est.reviewers == 7  # r0..r5 and "away"
    assert est.absence_rate == pytest.approx(1 / 7)
    # Without a roster: those producing in the first week and the last four (r0..r5).
    assert observed_shrinkage(prod, AS_OF, "BR").absence_rate == pytest.approx(0.0)


def test_too_few_reviewers_or_other_market_gives_none():
    worked = {f"r{i}": list(WEEKDAYS) for i in range(3)}
    assert observed_shrinkage(production(worked), AS_OF, "BR") is None
    assert observed_shrinkage(production(worked), AS_OF, "US") is None


def test_weekend_work_beyond_absence_is_clipped_at_zero():
    sats = list(pd.date_range(WEEKDAYS[0], AS_OF, freq="W-SAT"))
    worked = {f"r{i}": list(WEEKDAYS) + sats for i in range(8)}
    est = observed_shrinkage(production(worked), AS_OF, "BR")
    assert est.observed < 0 and est.shrinkage == 0.0
    assert 0.0 <= est.ci_low <= est.ci_high
    assert "more days than weekdays" in shrinkage_sentence(est)


def test_interval_coverage_by_simulation():
    """300 simulated markets of 30 reviewers with weeks of leave: the reviewer-clustered 95%
    interval covers the true absence in 93-97% of them (measured: see docs), while treating
    days as independent binomial trials would cover far fewer (leave comes in blocks)."""
    rng = np.random.default_rng(20261030)
    p_week, q_day = 0.10, 0.05
    truth = p_week + (1 - p_week) * q_day  # 14.5%
    cover = naive = 0
    n_sims = 300
    for _ in range(n_sims):
        est = observed_shrinkage(simulate(rng, p_week=p_week, q_day=q_day), AS_OF, "BR",
                                 roster=roster(30))
        cover += est.ci_low <= truth <= est.ci_high
        se = np.sqrt(est.absence_rate * (1 - est.absence_rate) / (est.reviewers * 40))
        naive += abs(est.absence_rate - truth) <= 1.96 * se
    assert 0.92 <= cover / n_sims <= 0.98, cover / n_sims
    assert naive / n_sims < 0.85, naive / n_sims


def test_estimate_is_unbiased_with_weekend_work():
    rng = np.random.default_rng(7)
    ests = [observed_shrinkage(simulate(rng, weekend=0.2), AS_OF, "BR", roster=roster(30))
            for _ in range(60)]
    truth_absence = 0.10 + 0.9 * 0.05
    assert np.mean([e.absence_rate for e in ests]) == pytest.approx(truth_absence, abs=0.005)
    extra = len(pd.date_range(WEEKDAYS[0], AS_OF, freq="W-SAT")) * 0.2 / 40  # 7 Saturdays: 3.5%
    assert np.mean([e.weekend_share for e in ests]) == pytest.approx(extra, abs=0.003)
    assert np.mean([e.observed for e in ests]) == pytest.approx(truth_absence - extra, abs=0.006)


def test_resolve_shrinkage_sources():
    est = observed_shrinkage(simulate(np.random.default_rng(1)), AS_OF, "BR", roster=roster(30))
    assert resolve_shrinkage(est, None, 0.15) is est
    given = resolve_shrinkage(est, 0.2, 0.15)
    assert (given.shrinkage, given.source) == (0.2, "parameter")
    assert given.observed == est.observed  # the measurement is kept beside the parameter
    assert resolve_shrinkage(None, None, 0.15) == ShrinkageEstimate(0.15, "default")
    rec = given.record()
    assert rec["shrinkage"] == 0.2 and rec["shrinkage_source"] == "parameter"
