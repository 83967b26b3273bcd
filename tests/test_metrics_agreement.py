"""Agreement coefficients against published values, and their intervals by simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from reporting.metrics.agreement import (
    agreement_measures,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    rating_counts,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, missing ratings; nominal alpha = 0.743. The same data is Gwet's
# handbook (2014) example `cac.raw4raters` (R/Python package irrCAC, documentation of
# `gwet.ac1.raw` and `irrCAC.raw.CAC`): AC1 0.77544 (se 0.14295, 95% CI 0.46081 to 1),
# Fleiss' kappa 0.76117 (se 0.15302, CI 0.42438 to 1), percent agreement 0.81818.
RAW_4RATERS = pd.DataFrame({
    "r1": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "r2": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, None],
    "r3": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
    "r4": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
})

# Fleiss (1971), "Measuring nominal scale agreement among many raters", table 1: 30 patients,
# 6 psychiatrists, 5 diagnoses; kappa = 0.430 (0.4302445 in R irr::kappam.fleiss, as in
# statsmodels' own test of fleiss_kappa).
FLEISS_1971 = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
])


def _counts(raw: pd.DataFrame, categories) -> np.ndarray:
    return np.stack([(raw == k).sum(axis=1).to_numpy() for k in categories], axis=1)


def test_gwet_handbook_ac1_and_fleiss_with_missing_ratings():
    counts = _counts(RAW_4RATERS, range(1, 6))
    ac1, fk = gwet_ac1(counts), fleiss_kappa(counts)
    assert ac1.value == pytest.approx(0.77544, abs=5e-6)
    assert ac1.se == pytest.approx(0.14295, abs=5e-6)
    assert (ac1.ci_low, ac1.ci_high) == pytest.approx((0.46081, 1.0), abs=5e-6)
    assert ac1.pa == pytest.approx(0.81818, abs=5e-6) and ac1.pe == pytest.approx(0.19032, abs=5e-6)
    assert fk.value == pytest.approx(0.76117, abs=5e-6)
    assert fk.se == pytest.approx(0.15302, abs=5e-6)
    assert fk.ci_low == pytest.approx(0.42438, abs=5e-6)
    assert percent_agreement(counts).value == pytest.approx(0.81818, abs=5e-6)
    assert ac1.n == 11  # unit 12 has a single rating: no agreement information


def test_krippendorff_2011_worked_example():
    res = krippendorff_alpha(_counts(RAW_4RATERS, range(1, 6)), n_boot=300)
    assert res.value == pytest.approx(0.743, abs=5e-4)
    assert res.ci_low < res.value < res.ci_high <= 1.0


def test_fleiss_1971_table():
    counts, _ = aggregate_raters(FLEISS_1971)
    res = fleiss_kappa(counts)
    assert res.value == pytest.approx(0.4302445, abs=1e-7)
    assert res.value == pytest.approx(sm_fleiss_kappa(counts), abs=1e-12)
    assert res.ci_low < res.value < res.ci_high


def test_cohen_kappa_textbook_table():
    # Wikipedia, "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10,
    # no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["reject"] * 25 + ["approve"] * 25
    b = ["reject"] * 20 + ["approve"] * 5 + ["reject"] * 10 + ["approve"] * 15
    res = cohen_kappa(pd.Series(a), pd.Series(b))
    assert res.value == pytest.approx(0.4, abs=1e-12)
    assert res.ci_low < 0.4 < res.ci_high and res.n == 50


def test_ac1_stays_high_when_violations_are_rare_but_kappa_does_not():
    # the kappa paradox (Feinstein & Cicchetti 1990): 96% raw agreement on a rare category
    counts = np.array([[2, 0]] * 90 + [[1, 1]] * 4 + [[0, 2]] * 6, dtype=float)
    assert gwet_ac1(counts).value > 0.9 > 0.8 > fleiss_kappa(counts).value


@pytest.mark.parametrize("measure", ["gwet_ac1", "fleiss_kappa", "percent_agreement"])
def test_interval_coverage_by_simulation(measure):
    # two auditors, each wrong with prob 0.05, 25% violations: the true coefficients are known
    # in closed form from the population table; 300 samples of 300 cases.
    rng = np.random.default_rng(14)
    prev, err = 0.25, 0.05
    p_rej = prev * (1 - err) + (1 - prev) * err
    p_both_rej = prev * (1 - err) ** 2 + (1 - prev) * err ** 2
    p_both_app = prev * err ** 2 + (1 - prev) * (1 - err) ** 2
    pa = p_both_rej + p_both_app
    truth = {"percent_agreement": pa,
             "fleiss_kappa": (pa - (p_rej ** 2 + (1 - p_rej) ** 2))
             / (1 - (p_rej ** 2 + (1 - p_rej) ** 2)),
             "gwet_ac1": (pa - 2 * p_rej * (1 - p_rej)) / (1 - 2 * p_rej * (1 - p_rej))}[measure]
    fn = {"gwet_ac1": gwet_ac1, "fleiss_kappa": fleiss_kappa,
          "percent_agreement": percent_agreement}[measure]
    hits = 0
    for _ in range(300):
        t = rng.random(300) < prev
        r = (t[:, None] ^ (rng.random((300, 2)) < err)).sum(axis=1)
        res = fn(np.stack([2 - r, r], axis=1).astype(float))
        hits += res.ci_low <= truth <= res.ci_high
    assert 0.91 <= hits / 300 <= 0.98  # nominal 0.95; binomial sd over 300 runs is 0.013


def test_agreement_measures_on_long_audits_ignores_single_audits():
    audits = pd.DataFrame({
        "audit_id": [f"A{i}" for i in range(9)],
        "case_id": ["c1", "c1", "c2", "c2", "c3", "c3", "c3", "c4", "c5"],
        "qa_decision": ["reject", "reject", "approve", "approve", "approve", "reject",
                        "approve", "reject", "approve"],
    })
    res = {r.measure: r for r in agreement_measures(audits)}
    assert set(res) == {"percent_agreement", "cohen_kappa", "fleiss_kappa", "gwet_ac1",
                        "krippendorff_alpha"}
    assert res["percent_agreement"].n == 3
    # c1 agrees, c2 agrees, c3 has 1 agreeing pair of 3
    assert res["percent_agreement"].value == pytest.approx((1 + 1 + 1 / 3) / 3)
    assert rating_counts(audits).shape == (5, 2)
    assert res["cohen_kappa"].n == 3


def test_undefined_without_double_audits():
    res = gwet_ac1(np.array([[1, 0], [0, 1]], dtype=float))
    assert np.isnan(res.value) and res.n == 0
