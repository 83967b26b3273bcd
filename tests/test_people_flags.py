"""Individual flags and recognition: exact tests, Benjamini-Hochberg, fairness to small samples.

References
----------
Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57, 289-300.
    Their worked example (section 4, 15 p-values from Neuhaus et al.) is published: at
    q = 0.05 the procedure rejects the 4 smallest p-values (Bonferroni rejects 3).
Under the global null (every reviewer exactly at target) BH at level q controls the
family-wise error rate at q (Benjamini & Hochberg 1995, section 2), so the share of
simulated periods in which anyone is flagged must not exceed ~q.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from reporting.people import (
    FLAG_COLUMNS,
    RECOGNITION_COLUMNS,
    audits_needed,
    bh_qvalues,
    binomial_pvalues,
    flag_reviewers,
    recognition,
    reviewer_tests,
)

BH_1995_P = np.array(
    [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
     0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]
)  # fmt: skip


def _bh_by_hand(p: np.ndarray) -> np.ndarray:
    """Step-up BH written out: q_(i) = min_{j >= i} m p_(j) / j, capped at 1."""
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q


def _team(rng: np.random.Generator, k: int, p: float, n_lo: int = 150, n_hi: int = 250):
    n = rng.integers(n_lo, n_hi + 1, size=k)
    x = rng.binomial(n, p)
    return pd.DataFrame({"reviewer_id": [f"r{i:03d}" for i in range(k)], "correct": x, "audits": n})


def test_bh_reproduces_published_example_and_statsmodels():
    q = bh_qvalues(BH_1995_P)
    assert int((q < 0.05).sum()) == 4  # published: BH rejects 4 of the 15
    assert int((BH_1995_P < 0.05 / 15).sum()) == 3  # published: Bonferroni rejects 3
    np.testing.assert_allclose(q, multipletests(BH_1995_P, method="fdr_bh")[1], rtol=1e-12)
    np.testing.assert_allclose(q, _bh_by_hand(BH_1995_P), rtol=1e-12)


def test_bh_handles_empty_and_missing():
    assert bh_qvalues([]).size == 0
    q = bh_qvalues([0.01, np.nan, 0.04])
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2]], multipletests([0.01, 0.04], method="fdr_bh")[1])


def test_pvalues_are_exact_binomial_tests():
    x, n = np.array([0, 5, 180, 199, 200]), np.array([10, 10, 200, 200, 200])
    for alt in ("less", "greater"):
        expected = [
            stats.binomtest(int(a), int(b), 0.95, alternative=alt).pvalue
            for a, b in zip(x, n, strict=True)
        ]
        np.testing.assert_allclose(binomial_pvalues(x, n, 0.95, alt), expected, rtol=1e-12)
    # the one-sided 'less' p-value is the binomial CDF
    np.testing.assert_allclose(
        binomial_pvalues(x, n, 0.95), stats.binom.cdf(x, n, 0.95), rtol=1e-10
    )
    assert np.isnan(binomial_pvalues([0], [0], 0.95)[0])


def test_flag_q_values_equal_statsmodels_on_the_same_pvalues():
    rng = np.random.default_rng(7)
    counts = _team(rng, 40, 0.93)
    t = reviewer_tests(counts, 0.95)
    np.testing.assert_allclose(t["q_below"], multipletests(t["p_below"], method="fdr_bh")[1])
    flags = flag_reviewers(counts, 0.95)
    merged = flags.merge(t, on="reviewer_id")
    np.testing.assert_allclose(merged["q_value"], merged["q_below"])
    np.testing.assert_allclose(merged["p_value"], merged["p_below"])
    assert (flags["q_value"] < 0.05).all()


def test_planted_outlier_is_flagged_and_small_sample_is_not():
    rng = np.random.default_rng(11)
    team = _team(rng, 20, 0.95)
    planted = pd.DataFrame(
        {
            "reviewer_id": ["outlier", "tiny", "zero_of_four"],
            "correct": [320, 2, 0],
            "audits": [400, 4, 4],
        }
    )
    counts = pd.concat([team, planted], ignore_index=True)
    flags = flag_reviewers(counts, 0.95)
    assert list(flags.columns) == FLAG_COLUMNS
    assert "outlier" in set(flags["reviewer_id"])
    assert "tiny" not in set(flags["reviewer_id"]) and "zero_of_four" not in set(
        flags["reviewer_id"]
    )
    row = flags.set_index("reviewer_id").loc["outlier"]
    assert row["kpi"] == "accuracy" and row["n"] == 400 and row["value"] == pytest.approx(0.8)
    assert row["ci_low"] < 0.8 < row["ci_high"]
    assert re.fullmatch(
        r"accuracy 80\.0% \[\d\d\.\d, \d\d\.\d\] on 400 audits; below 95% target, q < 0\.001",
        row["reason"],
    ), row["reason"]
    t = reviewer_tests(counts, 0.95).set_index("reviewer_id")
    assert not t.loc["tiny", "judged"] and t.loc["tiny", "audits_needed"] == 26
    assert np.isnan(t.loc["tiny", "p_below"]) and np.isnan(t.loc["tiny", "q_below"])
    assert t.loc["outlier", "judged"] and t.loc["outlier", "audits_needed"] == 0


def test_audits_needed():
    np.testing.assert_array_equal(audits_needed([0, 4, 29, 30, 500], 30), [30, 26, 1, 0, 0])


def test_no_flags_when_everyone_is_at_target_returns_typed_empty_frame():
    counts = pd.DataFrame({"reviewer_id": ["a", "b"], "correct": [95, 190], "audits": [100, 200]})
    f = flag_reviewers(counts, 0.95)
    assert f.empty and list(f.columns) == FLAG_COLUMNS
    empty = flag_reviewers(counts.iloc[:0], 0.95)
    assert empty.empty and list(empty.columns) == FLAG_COLUMNS
    r = recognition(counts.iloc[:0], 0.95)
    assert r.empty and list(r.columns) == RECOGNITION_COLUMNS


def test_global_null_simulation_share_of_periods_with_any_flag_is_at_most_fdr():
    """50 reviewers all exactly at the 95% target, ~200 audits each, 400 simulated periods.

    Under the global null BH at q = 0.05 controls the chance of flagging anyone at 0.05
    (discrete, conservative p-values only lower it). Allow a 3-sigma binomial margin.
    """
    rng = np.random.default_rng(20260101)
    runs, k, fdr, target = 400, 50, 0.05, 0.95
    n = rng.integers(150, 251, size=(runs, k))
    x = rng.binomial(n, target)
    ids = [f"r{i:02d}" for i in range(k)]
    any_flag = 0
    for i in range(runs):
        counts = pd.DataFrame({"reviewer_id": ids, "correct": x[i], "audits": n[i]})
        any_flag += int(len(flag_reviewers(counts, target, fdr=fdr)) > 0)
    share = any_flag / runs
    margin = 3 * np.sqrt(fdr * (1 - fdr) / runs)
    assert share <= fdr + margin, f"share of periods flagging anyone: {share:.3f} (fdr {fdr})"
    print(f"observed share of null periods with any flag: {share:.4f} ({any_flag}/{runs})")


def test_flags_have_power_against_a_clear_shortfall():
    """Sanity (not a published value): 5 of 50 reviewers at 85% with 300 audits are found."""
    rng = np.random.default_rng(3)
    team = _team(rng, 45, 0.95)
    bad = pd.DataFrame(
        {
            "reviewer_id": [f"bad{i}" for i in range(5)],
            "correct": rng.binomial(300, 0.85, 5),
            "audits": 300,
        }
    )
    flags = flag_reviewers(pd.concat([team, bad], ignore_index=True), 0.95)
    assert {f"bad{i}" for i in range(5)} <= set(flags["reviewer_id"])


def test_recognition_above_target_and_most_improved():
    counts = pd.DataFrame(
        {
            "reviewer_id": ["star", "improver", "steady", "small_star", "new"],
            "correct": [400, 195, 190, 25, 60],
            "audits": [400, 200, 200, 25, 60],
            "prev_correct": [398, 150, 190, 10, 0],
            "prev_audits": [400, 200, 200, 10, 0],
        }
    )
    r = recognition(counts, 0.95)
    assert list(r.columns) == RECOGNITION_COLUMNS
    above = r[r["kind"] == "above_target"]
    improved = r[r["kind"] == "most_improved"]
    assert "star" in set(above["reviewer_id"])
    assert "small_star" not in set(r["reviewer_id"])  # 25/25 but below min_audits
    assert set(improved["reviewer_id"]) == {"improver"}
    row = improved.iloc[0]
    assert row["change_pp"] == pytest.approx(22.5)
    assert row["prev_value"] == pytest.approx(0.75)
    p = stats.fisher_exact([[195, 5], [150, 50]], alternative="greater").pvalue
    assert row["p_value"] == pytest.approx(p)
    assert "up from 75.0%" in row["reason"] and "+22.5 pp" in row["reason"]
    assert "above 95% target" in above.set_index("reviewer_id").loc["star", "reason"]


def test_bad_counts_raise():
    with pytest.raises(ValueError):
        flag_reviewers(pd.DataFrame({"reviewer_id": ["a"], "correct": [5], "audits": [4]}), 0.95)
    with pytest.raises(ValueError):
        flag_reviewers(pd.DataFrame({"reviewer_id": ["a"], "correct": [5]}), 0.95)
    with pytest.raises(ValueError):
        reviewer_tests(pd.DataFrame({"reviewer_id": ["a"], "correct": [3], "audits": [4]}), 1.0)
