"""Policy-change impact (reporting.stats.policy_change): the segmented regression on weekly points,
its false-alarm rate, its power and recovery time on planted dips, and the sample's planted update.

The simulations draw weekly audit counts (Poisson around ``n`` a week) of a policy whose accuracy
is 95% before the change, 12 weeks before and 6 after, as the trend report sees a recent update.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from reporting.stats.policy_change import (
    POLICY_CHANGE_COLUMNS,
    assess_weeks,
    fit_segmented,
    policy_change_impact,
    policy_changes,
    policy_update_events,
    weekly_points,
)

BASE = 0.95


def _weeks(rng, dip: float = 0.0, recover: int | None = None, sd: float = 0.0, pre: int = 12,
           post: int = 6, n: int = 300):
    """Weekly points: accuracy ``BASE``, from week 0 ``dip`` lower (on the logit scale), coming
    back linearly to ``BASE`` at week ``recover`` (never when None); ``sd`` adds a week-to-week
    logit-normal variation beyond binomial sampling (over-dispersion)."""
    w = np.arange(-pre, post)
    eta = np.full(len(w), logit(BASE))
    if dip:
        step = logit(BASE) - logit(BASE - dip)
        left = np.clip(1 - w / recover, 0, None) if recover else 1.0
        eta -= np.where(w >= 0, step * left, 0.0)
    eta += sd * rng.standard_normal(len(w))
    size = rng.poisson(n, len(w))
    return w, size, rng.binomial(size, expit(eta))


def test_fit_matches_statsmodels_binomial_glm():
    """Reference: the hand-written IRLS gives statsmodels' binomial GLM coefficients and
    (unscaled) covariance, and the dispersion is Pearson's chi-square / residual df, as R's
    quasibinomial family reports it."""
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    w, n, y = _weeks(rng, dip=0.04, sd=0.2)
    fit = fit_segmented({"week": w, "n": n, "correct": y})
    t = w.astype(float)
    post = (t >= 0).astype(float)
    X = np.column_stack([np.ones_like(t), t, post, t * post])
    ref = sm.GLM(np.column_stack([y, n - y]), X, family=sm.families.Binomial()).fit()
    assert fit.params == pytest.approx(np.asarray(ref.params), abs=1e-6)
    chi2 = float(ref.pearson_chi2)
    assert fit.scale == pytest.approx(chi2 / (len(w) - 4), rel=1e-6)
    assert fit.cov == pytest.approx(np.asarray(ref.cov_params()) * fit.scale, rel=1e-5)


@pytest.mark.parametrize("sd", [0.0, 0.15])
def test_false_alarm_rate_is_nominal_without_a_change(sd):
    """No change at all (binomial weeks, then weeks varying beyond binomial sampling): a dip or
    rise is reported in about 5% of 400 simulations (Monte Carlo SE 1.1 points; docs/statistics.md
    gives the 4,000-run figures), and the dip's 95% interval covers 0 about 95% of the time."""
    rng = np.random.default_rng(20261001 + int(sd * 100))
    res = [assess_weeks(*_weeks(rng, sd=sd)) for _ in range(400)]
    alarms = np.mean([r.status in ("dip", "rise") for r in res])
    covered = np.mean([r.dip_low_pp <= 0 <= r.dip_high_pp for r in res])
    assert 0.02 <= alarms <= 0.085, alarms
    assert 0.915 <= covered <= 0.98, covered


def test_planted_dip_and_recovery_are_found():
    """A 6-point dip (95% -> 89%) coming back linearly to 95% at week 4, 300 audits a week: found
    in >= 85% of 200 runs, the estimated size is unbiased within 0.6 points, its interval covers
    the planted 6 points ~95% of the time, and the recovery week (back within the pre-change
    level's interval, which the planted line reaches during week 3) is 3 in the median and 2-4
    in >= 70% of the runs that found the dip."""
    rng = np.random.default_rng(44)
    res = [assess_weeks(*_weeks(rng, dip=0.06, recover=4)) for _ in range(200)]
    found = [r for r in res if r.status == "dip"]
    assert len(found) >= 0.85 * len(res)
    assert np.mean([r.dip_pp for r in res]) == pytest.approx(6.0, abs=0.6)
    assert np.mean([r.dip_low_pp <= 6 <= r.dip_high_pp for r in res]) >= 0.9
    weeks = np.array([r.weeks_to_recover if r.recovered else 99 for r in found])
    assert np.median(weeks) == 3
    assert np.mean((weeks >= 2) & (weeks <= 4)) >= 0.7


def test_persistent_dip_is_not_yet_recovered():
    """The same dip never recovering: found, and 'not recovered' in >= 95% of those runs."""
    rng = np.random.default_rng(45)
    res = [assess_weeks(*_weeks(rng, dip=0.06)) for _ in range(150)]
    found = [r for r in res if r.status == "dip"]
    assert len(found) >= 0.85 * len(res)
    assert np.mean([r.recovered is False for r in found]) >= 0.95


def test_too_little_data_is_said_not_guessed():
    w, n, y = _weeks(np.random.default_rng(1), pre=12, post=1)
    r = assess_weeks(w, n, y)
    assert r.status == "too_little_data" and np.isnan(r.dip_pp)


def test_weekly_points_count_weeks_from_the_change_day():
    days = pd.date_range("2026-09-17", "2026-10-09")
    daily = pd.DataFrame({"date": days, "audits": 10, "correct": 9})
    w = weekly_points(daily, "2026-10-01", pre_weeks=2, end="2026-10-08")
    assert w["week"].tolist() == [-2, -1, 0, 1]
    assert w["n"].tolist() == [70, 70, 70, 10]  # week 1 is cut at ``end``
    assert w["start"].iloc[2] == pd.Timestamp("2026-10-01")


def test_events_for_every_market_and_window():
    ev = pd.DataFrame({
        "date": ["2026-09-01", "2026-10-01", "2026-10-05", "2026-06-01"],
        "description": ["all", "br", "training", "old"],
        "market": ["*", "BR", "BR", "BR"],
        "policy": ["Gambling", "Financial Services", None, "Gambling"],
        "kind": ["policy_update", "policy_update", "training", "policy_update"]})
    got = policy_update_events(ev, "2026-08-01", "2026-10-31", ["BR", "US"])
    assert list(zip(got["market"], got["policy"], strict=True)) == [
        ("BR", "Gambling"), ("US", "Gambling"), ("BR", "Financial Services")]
    assert policy_update_events(None, "2026-08-01", "2026-10-31").empty


def _sample_counts(sample_dataset):
    from reporting.metrics.compute import count_accuracy

    return count_accuracy(sample_dataset.audits, ["market", "policy", "decision_date"])


def test_sample_br_financial_services_update_is_a_dip_not_yet_recovered(sample_dataset):
    """The sample plants more errors on BR Financial Services from its policy update to the end of
    the data (docs/data.md): the update is found as a dip whose interval excludes 0, not
    recovered, and the observed accuracy before and after (read from the data) agree with the
    fitted levels. The US Healthcare & Pharma clarification has no planted effect: no change."""
    from reporting.data import planted_stories

    story = planted_stories("2026-10")["br_new_hire_financial_services"]
    counts = _sample_counts(sample_dataset)
    found = policy_changes(sample_dataset.events, counts, "2026-06-01", "2026-10-31")
    by = {(p.market, p.policy): p for p in found}
    br = by[("BR", "Financial Services")]
    assert br.date == pd.Timestamp(story["policy_update_date"])
    assert br.status == "dip" and br.dip_low_pp > 0 and br.recovered is False
    weeks = br.weeks
    before = weeks[weeks["week"] < 0]
    after = weeks[weeks["week"] >= 0]
    observed_before = before["correct"].sum() / before["n"].sum()
    observed_after = after["correct"].sum() / after["n"].sum()
    assert br.pre_low <= observed_before <= br.pre_high
    assert 100 * (observed_before - observed_after) > br.dip_low_pp
    rec = br.record()
    assert list(rec) == POLICY_CHANGE_COLUMNS
    assert "has not recovered after 4 weeks" in rec["text"]
    assert f"{100 * observed_after:.1f}% since" in rec["text"]
    assert rec["text"].startswith("After the Financial Services update on 1 Oct, BR's accuracy")
    assert by[("US", "Healthcare & Pharma")].status == "no_change"


def test_policy_change_impact_on_no_audits_after():
    daily = pd.DataFrame({"date": pd.date_range("2026-08-01", "2026-09-30"), "audits": 20,
                          "correct": 19})
    pc = policy_change_impact(daily, "BR", "Gambling", "2026-10-01", "x", end="2026-10-31")
    assert pc.status == "too_little_data"
    # Aug 1 - Sep 30 is 9 weekly buckets before the update; none after it
    assert "cannot be judged yet: 9 weeks with audits of Gambling in BR before it and 0 after" \
        in pc.text
    few = policy_change_impact(daily.tail(10), "BR", "Gambling", "2026-10-01", "x")
    assert "cannot be judged: 2 weeks" in few.text


def test_a_policy_of_too_few_reviewers_is_not_analysed():
    """Privacy: with fewer than 3 reviewers on the policy, its accuracy would be theirs; the
    update is listed, without a figure."""
    days = pd.date_range("2026-07-01", "2026-10-31")
    counts = pd.DataFrame({"market": "BR", "policy": "Gambling", "decision_date": days,
                           "audits": 30, "correct": 28, "reviewers": 2})
    ev = pd.DataFrame({"date": ["2026-10-01"], "description": ["update"], "market": ["BR"],
                       "policy": ["Gambling"], "kind": ["policy_update"]})
    (pc,) = policy_changes(ev, counts, "2026-08-01", "2026-10-31")
    rec = pc.record()
    assert rec["status"] == "too_few_reviewers" and np.isnan(rec["dip_pp"])
    assert np.isnan(rec["pre_level"]) and rec["n_pre"] == 0
    assert "fewer than 3 reviewers" in rec["text"]
    (ok,) = policy_changes(ev, counts.assign(reviewers=3), "2026-08-01", "2026-10-31")
    assert ok.status == "no_change"


def test_reviewer_counts_agree_on_a_snapshot_and_in_memory(sample_snapshot, sample_dataset):
    from reporting.data.snapshot import distinct_reviewers
    from reporting.reports._policy import counts_from_audits

    snap = distinct_reviewers(sample_snapshot.path, ["market", "policy"], market=["BR"],
                              period_from="2026-06", period_to="2026-10")
    mem = counts_from_audits(sample_dataset.audits, ["BR"], "2026-06", "2026-10")
    mem = mem.drop_duplicates(["market", "policy"])[["market", "policy", "reviewers"]]
    got = snap.merge(mem, on=["market", "policy"], suffixes=("_snap", "_mem"))
    assert len(got) == len(snap) > 3
    assert (got["reviewers_snap"] == got["reviewers_mem"]).all()
    assert (got["reviewers_snap"] >= 3).all()
