"""The coaching effect corrected for regression to the mean (issue 15), proved by simulation.

Each simulated team: 120 reviewers whose true accuracy is Beta(73.6, 6.4) (mean 92%, sd 3 points),
about 80 random audits each a month over six months; the 10 with the lowest observed accuracy in
month 3 are coached at the start of month 4 (exactly how a lead picks them). Figures measured with
these seeds are in docs/people.md, "Coaching effect".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.people.coaching import (
    coaching_before_after,
    coaching_effect,
    coaching_effect_from_counts,
    coaching_effects,
    monthly_counts,
)

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]


def simulate(rng, delta, *, n_rev=120, n_coached=10, audits=80, baseline=True):
    """One team; ``delta``: the true effect of coaching on accuracy (fraction)."""
    p = rng.beta(0.92 * 80, 0.08 * 80, n_rev)
    ids = np.array([f"R{i:03d}" for i in range(n_rev)])
    months = MONTHS if baseline else MONTHS[2:]  # without baseline: selection month first
    n = rng.poisson(audits, (n_rev, len(months)))
    x = np.zeros_like(n)
    sel = months.index("2026-03")
    x[:, : sel + 1] = rng.binomial(n[:, : sel + 1], p[:, None])
    picked = np.argsort(x[:, sel] / np.maximum(n[:, sel], 1), kind="stable")[:n_coached]
    after = p.copy()
    after[picked] = np.minimum(p[picked] + delta, 0.999)
    x[:, sel + 1 :] = rng.binomial(n[:, sel + 1 :], after[:, None])
    counts = pd.DataFrame({"reviewer_id": np.repeat(ids, len(months)),
                           "period": np.tile(months, n_rev), "n": n.ravel(),
                           "correct": x.ravel()})
    return coaching_effect_from_counts(counts, ids[picked], "2026-04")


def run(delta, sims, seed, **kw):
    rng = np.random.default_rng(seed)
    res = [simulate(rng, delta, **kw) for _ in range(sims)]
    low = np.array([r.ci_low_pp for r in res])
    high = np.array([r.ci_high_pp for r in res])
    est = np.array([r.estimate_pp for r in res])
    naive = np.array([r.naive_pp for r in res])
    truth = delta * 100
    return {"coverage": np.mean((low <= truth) & (truth <= high)), "power": np.mean(low > 0),
            "bias": est.mean() - truth, "naive_bias": naive.mean() - truth,
            "method": {r.method for r in res}}


@pytest.mark.parametrize("baseline,method", [(True, "baseline"), (False, "shrunken")])
def test_no_effect_selected_on_a_low_month_covers_zero_at_the_nominal_rate(baseline, method):
    # 200 simulations: a 95% interval covers with a binomial sd of 1.5 points; 0.91 is 2.6 sd
    # below 0.95 (measured: 0.945 baseline, 0.950 shrunken)
    r = run(0.0, 200, seed=1, baseline=baseline)
    assert r["method"] == {method}
    assert r["coverage"] >= 0.91
    assert abs(r["bias"]) < 0.5  # points
    # the plain before/after credits coaching with the rebound: +4.6 points measured
    assert r["naive_bias"] > 3.0


@pytest.mark.parametrize("baseline", [True, False])
def test_a_true_seven_point_effect_is_found(baseline):
    r = run(0.07, 100, seed=2, baseline=baseline)
    assert r["power"] >= 0.95  # measured 1.00 (10 coached, ~80 audits a month)
    assert r["coverage"] >= 0.88  # 100 sims: sd 2.2 points (measured 0.955 / 0.965 at 200)
    assert abs(r["bias"]) < 0.6


def test_power_is_lower_with_fewer_audits_and_stated():
    # 5 coached, ~40 audits a month: measured power 0.745 at 200 simulations (docs/people.md)
    r = run(0.07, 100, seed=3, n_coached=5, audits=40)
    assert 0.5 <= r["power"] <= 0.92


def _audits_frame():
    rows = []
    # R1 coached in 2026-03: 70% before, 90% after; R2..R4 not coached: 80% throughout
    for rid, acc in (("R1", (0.7, 0.7, 0.7, 0.9, 0.9, 0.9)), ("R2", (0.8,) * 6),
                     ("R3", (0.8,) * 6), ("R4", (0.8,) * 6)):
        for m, a in zip(MONTHS, acc, strict=True):
            k = int(round(a * 40))
            rows += [{"reviewer_id": rid, "period": m, "is_correct": i < k, "market": "US",
                      "sample_type": "random"} for i in range(40)]
    rows.append({"reviewer_id": "R1", "period": "2026-05", "is_correct": False, "market": "US",
                 "sample_type": "targeted"})  # not counted: random audits only
    return pd.DataFrame(rows)


def test_monthly_counts_and_the_effect_from_audits():
    audits = _audits_frame()
    c = monthly_counts(audits)
    assert c.loc[(c.reviewer_id == "R1") & (c.period == "2026-05"), "n"].item() == 40
    log = pd.DataFrame({"reviewer_id": ["R1"], "date": pd.to_datetime(["2026-03-04"]),
                        "kind": ["coaching"]})
    e = coaching_effect(audits, log, "2026-03", min_audits=20)
    # before: 2025-12..2026-01 absent, so baseline = 2026-01 only: 70%; after 2026-04/05: 90%
    assert e.months["baseline"] == ["2026-01"] and e.months["after"] == ["2026-04", "2026-05"]
    assert e.n_coached == 1 and e.n_comparison == 3
    assert e.naive_pp == pytest.approx(90 - 70)  # from the selection month 2026-02
    # one coached reviewer: no spread, no interval; said so rather than guessed
    assert e.method == "none" and e.estimate_pp != e.estimate_pp
    assert e.verdict == "not_estimable" and "cannot be judged" in e.sentence()
    rec = e.record()
    assert {"scope", "n_coached", "n_comparison", "estimate_pp", "ci_low_pp", "ci_high_pp",
            "naive_pp", "method"} <= set(rec)
    ba = coaching_before_after(audits, log)
    assert ba.loc[0, "before_accuracy"] == pytest.approx(0.7)
    assert ba.loc[0, "after_accuracy"] == pytest.approx(0.9)
    assert coaching_effects(audits, None) == []


def test_the_planted_coaching_stories_are_told_apart(sample_dataset):
    """Sample data (docs/data.md): the US group's coaching really worked (errors cut by 75%,
    about +4 to +5 points); the DE group was picked on a low month and coaching did nothing."""
    from reporting.data.sample_appeals import NULL_MARKET, REAL_MARKET

    ds = sample_dataset
    effects = {e.scope["month"]: e for e in coaching_effects(ds.audits, ds.coaching)}
    real, null = effects["2026-08"], effects["2026-07"]
    assert real.verdict == "helped" and real.ci_low_pp > 1.0
    assert null.verdict == "no_clear_effect" and null.naive_pp > null.estimate_pp
    coached_markets = set(ds.audits.loc[ds.audits["reviewer_id"].isin(
        ds.coaching["reviewer_id"]), "market"])
    assert coached_markets == {REAL_MARKET, NULL_MARKET}


def test_team_report_records_the_coaching_effect_of_its_reviewers(sample_dataset):
    """The planted real coaching (8 reviewers of one market) reaches the team report as a
    ``coaching_effect`` record in the contract's fields, with the naive figure beside it."""
    from reporting.data.sample_appeals import REAL_MARKET
    from reporting.reports import individual_performance as ip

    rep = ip.build(ip.TeamInputs(sample_dataset), {"period": "2026-10", "market": REAL_MARKET})
    records = rep.records()["coaching_effect"]
    assert records, rep.coaching_sentences
    fields = {"scope", "n_coached", "n_comparison", "estimate_pp", "ci_low_pp", "ci_high_pp",
              "naive_pp", "method"}
    assert all(fields <= set(r) for r in records)
    real = max(records, key=lambda r: r["n_coached"])
    assert real["ci_low_pp"] > 0  # the planted effect is found
    assert "regression to the mean" in " ".join(rep.coaching_sentences)
    log = rep.coaching_log
    assert set(log["reviewer_id"]) <= set(sample_dataset.audits["reviewer_id"])
