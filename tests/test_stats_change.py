"""Change tests (reporting.stats.change) against published reference values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from reporting.stats.change import (
    CHANGES_COLUMNS,
    compare_means,
    compare_proportions,
    period_changes,
    proportions_chisquare,
)

# Newcombe RG (1998), Stat Med 17:873-890, Table II, method 10 (hybrid score interval without
# continuity correction) for the difference p1 - p2 of his examples (a), (b), (d)-(h).
# Each value was also checked against statsmodels' confint_proportions_2indep(method="newcomb").
NEWCOMBE_METHOD_10 = [
    # (x1, n1, x2, n2, lower, upper)
    (56, 70, 48, 80, 0.0524, 0.3339),  # (a)
    (9, 10, 3, 10, 0.1705, 0.8090),  # (b)
    (5, 56, 0, 29, -0.0381, 0.1926),  # (d)
    (0, 10, 0, 20, -0.1611, 0.2775),  # (e)
    (0, 10, 0, 10, -0.2775, 0.2775),  # (f)
    (10, 10, 0, 20, 0.6791, 1.0000),  # (g)
    (10, 10, 0, 10, 0.6075, 1.0000),  # (h)
]


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "lo", "hi"), NEWCOMBE_METHOD_10)
def test_newcombe_hybrid_score_interval_matches_published_values(x1, n1, x2, n2, lo, hi):
    """Newcombe (1998) Table II, method 10. compare_proportions reports ``to - from``, so the
    published interval for p1 - p2 is obtained with (x2, n2) as "from" and (x1, n1) as "to"."""
    r = compare_proportions(x2, n2, x1, n1)
    assert r.ci_low == pytest.approx(lo, abs=5e-5)
    assert r.ci_high == pytest.approx(hi, abs=5e-5)
    assert r.diff == pytest.approx(x1 / n1 - x2 / n2)
    # and the same numbers as statsmodels' implementation (the one we build on)
    sm_lo, sm_hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")
    assert r.ci_low == pytest.approx(sm_lo, abs=1e-12)
    assert r.ci_high == pytest.approx(sm_hi, abs=1e-12)


def test_interval_reverses_with_the_direction():
    """Swapping from/to negates the difference and mirrors the interval."""
    a = compare_proportions(48, 80, 56, 70)
    b = compare_proportions(56, 70, 48, 80)
    assert a.diff == pytest.approx(-b.diff)
    assert a.ci_low == pytest.approx(-b.ci_high)
    assert a.ci_high == pytest.approx(-b.ci_low)
    assert a.p_value == pytest.approx(b.p_value)


def test_k_sample_chisquare_matches_r_prop_test_smokers():
    """R documentation ?prop.test, example 'smokers': prop.test(smokers, patients) gives
    '4-sample test for equality of proportions without continuity correction,
    X-squared = 12.6, df = 3, p-value = 0.005585'."""
    smokers = [83, 90, 129, 70]
    patients = [86, 93, 136, 82]
    stat, p, dof = proportions_chisquare(smokers, patients)
    assert stat == pytest.approx(12.6, abs=0.05)
    assert dof == 3
    assert p == pytest.approx(0.005585, abs=5e-7)


def test_two_sample_chisquare_is_the_pooled_z_test():
    """With expected counts >= 5 the p-value is Pearson's chi-square without continuity
    correction, i.e. the pooled two-proportion z test (X² = z²; Agresti 2013, §3.1.4), which is
    R's prop.test(x, n, correct = FALSE) for two samples. Newcombe's example (a)."""
    r = compare_proportions(48, 80, 56, 70)
    z, p = proportions_ztest([56, 48], [70, 80])
    assert r.test == "chi2"
    assert r.p_value == pytest.approx(p, rel=1e-10)
    assert r.statistic == pytest.approx(z**2, rel=1e-10)
    # the 2-sample k-sample function agrees
    assert proportions_chisquare([48, 56], [80, 70])[1] == pytest.approx(r.p_value, rel=1e-10)


def test_fisher_exact_when_expected_counts_are_small_tea_tasting():
    """R documentation ?fisher.test, 'Tea tasting' (Agresti 1990, p. 61-62):
    fisher.test(matrix(c(3, 1, 1, 3), nrow = 2)) gives p-value = 0.4857.
    As proportions: 3 of 4 cups right in one row, 1 of 4 in the other; every expected count is 2,
    below 5, so Fisher's exact test is used."""
    r = compare_proportions(1, 4, 3, 4)
    assert r.test == "fisher_exact"
    assert r.p_value == pytest.approx(0.4857, abs=5e-5)
    assert not r.significant


def test_welch_matches_r_t_test_sleep():
    """R documentation ?t.test, sleep data: t.test(extra ~ group, data = sleep) gives
    't = -1.8608, df = 17.776, p-value = 0.07939; 95 percent confidence interval
    -3.3654832 0.2054832; means 0.75 and 2.33'. compare_means reports group 2 - group 1, so t and
    the interval change sign."""
    g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    m = compare_means(g1, g2)
    assert m.from_ == pytest.approx(0.75)
    assert m.to == pytest.approx(2.33)
    assert m.statistic == pytest.approx(1.8608, abs=5e-5)
    assert m.df == pytest.approx(17.776, abs=5e-4)
    assert m.p_value == pytest.approx(0.07939, abs=5e-6)
    assert m.ci_low == pytest.approx(-0.2054832, abs=1e-6)
    assert m.ci_high == pytest.approx(3.3654832, abs=1e-6)
    assert m.test == "welch_t"
    assert not m.significant


def test_degenerate_inputs():
    """Empty periods give NaN rather than an exception; invalid counts raise."""
    r = compare_proportions(0, 0, 5, 10)
    assert np.isnan(r.from_) and np.isnan(r.p_value) and r.test == "none"
    assert not r.significant
    with pytest.raises(ValueError):
        compare_proportions(11, 10, 5, 10)
    both_zero = compare_proportions(0, 50, 0, 60)
    assert both_zero.test == "fisher_exact" and both_zero.p_value == pytest.approx(1.0)
    m = compare_means([1.0], [2.0, 3.0])
    assert m.test == "none" and np.isnan(m.p_value)
    assert compare_proportions(3, 10, 4, 10).as_dict()["from"] == pytest.approx(0.3)


def _audits(
    n_correct: int,
    n_wrong_miss: int,
    n_wrong_over: int,
    n_targeted_wrong: int = 0,
    ht: float | None = 60.0,
) -> pd.DataFrame:
    rev = ["approve"] * n_correct + ["approve"] * n_wrong_miss + ["reject"] * n_wrong_over
    qa = ["approve"] * n_correct + ["reject"] * n_wrong_miss + ["approve"] * n_wrong_over
    st: list[object] = ["random"] * len(rev)
    st[::7] = [pd.NA] * len(st[::7])  # NA counts as random
    rev += ["approve"] * n_targeted_wrong
    qa += ["reject"] * n_targeted_wrong
    st += ["targeted"] * n_targeted_wrong
    n = len(rev)
    return pd.DataFrame(
        {
            "decision_date": pd.Timestamp("2026-10-01"),
            "reviewer_decision": rev,
            "qa_decision": qa,
            "sample_type": st,
            "handling_time_s": np.linspace(30, 90, n) if ht is not None else np.nan,
        }
    )


def test_period_changes_columns_and_random_only():
    """The changes frame has the contract columns; targeted audits are excluded from
    accuracy-type KPIs by default and included with random_only=False."""
    f = _audits(900, 50, 50, n_targeted_wrong=200)
    t = _audits(850, 100, 50, n_targeted_wrong=0)
    ch = period_changes(f, t)
    assert list(ch.columns) == CHANGES_COLUMNS
    assert list(ch["kpi"]) == [
        "accuracy",
        "missed_violation_rate",
        "over_enforcement_rate",
        "handling_time_mean",
    ]
    acc = ch.set_index("kpi").loc["accuracy"]
    assert acc["from"] == pytest.approx(0.90)
    assert acc["to"] == pytest.approx(0.85)
    assert acc["diff"] == pytest.approx(-0.05)
    assert acc["n_from"] == 1000 and acc["n_to"] == 1000
    assert acc["ci_low"] < acc["diff"] < acc["ci_high"] < 0
    assert acc["significant"] and acc["p_value"] < 0.01
    mvr = ch.set_index("kpi").loc["missed_violation_rate"]
    assert mvr["diff"] == pytest.approx(0.05)
    oer = ch.set_index("kpi").loc["over_enforcement_rate"]
    assert oer["diff"] == pytest.approx(0.0) and not oer["significant"]
    ht = ch.set_index("kpi").loc["handling_time_mean"]
    assert ht["test"] == "welch_t" and ht["n_from"] == 1200  # all audits, not only random
    everything = period_changes(f, t, kpis=("accuracy",), random_only=False)
    assert everything.loc[0, "n_from"] == 1200
    assert everything.loc[0, "from"] == pytest.approx(900 / 1200)


def test_period_changes_other_kpis_and_missing_handling_time():
    """Handling time is skipped when absent; unknown KPIs raise."""
    f = _audits(90, 5, 5, ht=None)
    t = _audits(80, 10, 10, ht=None)
    ch = period_changes(f, t)
    assert "handling_time_mean" not in set(ch["kpi"])
    ch2 = period_changes(f, t, kpis=("miss_rate_among_violations", "enforcement_precision"))
    # violations (qa=reject): from 5 missed of 5 -> 1.0 ; precision: no rejects right -> 0
    assert ch2.loc[0, "from"] == pytest.approx(1.0)
    assert ch2.loc[1, "from"] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        period_changes(f, t, kpis=("audit_volume",))
