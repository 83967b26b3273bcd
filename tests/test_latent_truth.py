"""Dawid-Skene and accuracy_corrected on simulations with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.metrics.latent_truth import (
    REVIEWER,
    accuracy_corrected,
    accuracy_corrected_kpis,
    case_labels,
    dawid_skene,
)

PREVALENCE = 0.3
REVIEWER_MISS, REVIEWER_FALSE_REJECT = 0.08, 0.03
#: (miss, false_reject) of each auditor: QA-2 lets 30% of true violations pass
AUDITORS = {"QA-1": (0.02, 0.01), "QA-2": (0.30, 0.01), "QA-3": (0.02, 0.02)}


def true_accuracy() -> float:
    """P(reviewer decision = truth) in the simulated population."""
    return 1 - (PREVALENCE * REVIEWER_MISS + (1 - PREVALENCE) * REVIEWER_FALSE_REJECT)


def simulate(rng: np.random.Generator, n_cases: int = 1500, double: float = 0.15,
             auditors: dict[str, tuple[float, float]] = AUDITORS) -> pd.DataFrame:
    """Audits of ``n_cases`` cases (one random audit each; ``double`` of them also get a
    calibration audit by another auditor), in the audits contract's columns."""
    names = list(auditors)
    miss = np.array([auditors[a][0] for a in names])
    frej = np.array([auditors[a][1] for a in names])
    truth = rng.random(n_cases) < PREVALENCE
    rev_err = rng.random(n_cases) < np.where(truth, REVIEWER_MISS, REVIEWER_FALSE_REJECT)
    reviewer = truth ^ rev_err
    first = rng.integers(0, len(names), n_cases)
    dbl = np.flatnonzero(rng.random(n_cases) < double)
    second = (first[dbl] + rng.integers(1, len(names), len(dbl))) % len(names)
    case = np.concatenate([np.arange(n_cases), dbl])
    aud = np.concatenate([first, second])
    t = truth[case]
    qa = t ^ (rng.random(len(case)) < np.where(t, miss[aud], frej[aud]))
    dec = np.array(["approve", "reject"])
    return pd.DataFrame({
        "audit_id": [f"A{i:06d}" for i in range(len(case))],
        "case_id": [f"C{c:05d}" for c in case],
        "auditor_id": np.array(names)[aud],
        "qa_decision": dec[qa.astype(int)],
        "reviewer_decision": dec[reviewer[case].astype(int)],
        "sample_type": ["random"] * n_cases + ["calibration"] * len(dbl),
    })


def test_dawid_skene_recovers_the_planted_error_rates():
    audits = simulate(np.random.default_rng(1), n_cases=6000)
    fit = dawid_skene(case_labels(audits)).raters.set_index("rater")
    assert fit.loc["QA-2", "miss"] == pytest.approx(0.30, abs=0.04)
    assert fit.loc["QA-1", "miss"] < 0.06 and fit.loc["QA-3", "miss"] < 0.06
    assert fit.loc[REVIEWER, "miss"] == pytest.approx(REVIEWER_MISS, abs=0.03)
    assert fit.loc[REVIEWER, "false_reject"] == pytest.approx(REVIEWER_FALSE_REJECT, abs=0.015)


def test_corrected_is_closer_to_the_truth_than_raw_when_an_auditor_is_lenient():
    rng = np.random.default_rng(2)
    errs_raw, errs_corr = [], []
    for _ in range(10):
        res = accuracy_corrected(simulate(rng), n_boot=20)
        errs_raw.append(abs(res.raw - true_accuracy()))
        errs_corr.append(abs(res.value - true_accuracy()))
    # the lenient auditor turns correct rejections into "errors": raw is about 3.7pp low
    assert np.mean(errs_corr) < 0.4 * np.mean(errs_raw)
    assert np.mean(errs_raw) > 0.015


@pytest.mark.slow  # ~30 s: 40 months x 100 refits
def test_corrected_interval_covers_the_truth_at_its_nominal_rate():
    # Nominal 90%. Measured: 0.89 over 300 simulated months of 1,200 cases (100 bootstrap
    # refits each; docs/statistics.md); this test runs 40 of them (binomial sd 0.047) to stay
    # fast. The raw Wilson interval, centred on the biased figure, covers the truth in none.
    rng = np.random.default_rng(21)
    truth, hits, raw_hits, runs = true_accuracy(), 0, 0, 40
    for _ in range(runs):
        res = accuracy_corrected(simulate(rng, n_cases=1200), level=0.90, n_boot=100,
                                 seed=int(rng.integers(1 << 31)))
        hits += res.ci_low <= truth <= res.ci_high
        raw_hits += res.raw_ci_low <= truth <= res.raw_ci_high
    assert 0.78 <= hits / runs <= 0.98
    assert raw_hits / runs < 0.1


def test_unbiased_auditors_leave_accuracy_as_measured():
    fair = {"QA-1": (0.02, 0.01), "QA-2": (0.02, 0.01), "QA-3": (0.02, 0.01)}
    res = accuracy_corrected(simulate(np.random.default_rng(4), n_cases=3000, auditors=fair),
                             n_boot=50)
    assert res.value == pytest.approx(res.raw, abs=0.012)
    assert res.ci_low < res.value < res.ci_high and res.n == 3000


def test_without_case_ids_every_audit_is_its_own_case():
    audits = simulate(np.random.default_rng(5), n_cases=300, double=0.0).drop(columns="case_id")
    labels = case_labels(audits)
    assert labels["case"].nunique() == 300 and (labels["rater"] == REVIEWER).sum() == 300


def test_kpi_rows_per_scope_for_the_market_report_and_the_mbr():
    rng = np.random.default_rng(6)
    a = pd.concat([simulate(rng, n_cases=800).assign(market="JP"),
                   simulate(rng, n_cases=800, double=0.0).assign(market="GB")])
    a["case_id"] = a["market"] + a["case_id"]
    rows = accuracy_corrected_kpis(a, n_boot=30)
    assert rows["market"].tolist() == ["JP"]  # GB has no double audits: no corrected figure
    row = rows.iloc[0]
    assert row["kpi"] == "accuracy_corrected" and row["n"] == 800
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert accuracy_corrected_kpis(a.drop(columns="case_id")).empty


def test_corrected_row_sits_after_accuracy_and_is_judged_against_its_target():
    from reporting.metrics.compute import compute_kpis
    from reporting.metrics.latent_truth import beside_accuracy

    rng = np.random.default_rng(8)
    a = pd.concat([simulate(rng, n_cases=1200).assign(market="JP"),
                   simulate(rng, n_cases=600, double=0.0).assign(market="GB")])
    a["case_id"] = a["market"] + a["case_id"]
    targets = pd.DataFrame({"kpi": ["accuracy"], "target": [0.96], "market": ["JP"],
                            "product_line": ["*"]})
    kpis = compute_kpis(a, targets=targets, by="market", accuracy_sample_types=None,
                        kpis=["accuracy", "missed_violation_rate"])
    out = beside_accuracy(kpis, a, ["market"])
    jp = out[out["market"] == "JP"]["kpi"].tolist()
    assert jp == ["accuracy", "accuracy_corrected", "missed_violation_rate"]
    assert "accuracy_corrected" not in set(out.loc[out["market"] == "GB", "kpi"])
    row = out[out["kpi"] == "accuracy_corrected"].iloc[0]
    assert row["target"] == 0.96 and row["label"] == "Accuracy corrected for auditor error"
    # the lenient auditor hides reviewers' misses: the corrected figure is nearer the truth
    raw = out[(out["market"] == "JP") & (out["kpi"] == "accuracy")].iloc[0]["value"]
    assert abs(row["value"] - true_accuracy()) < abs(raw - true_accuracy())
    expected = ("on_track" if row["ci_low"] >= 0.96 else
                "off_track" if row["ci_high"] < 0.96 else "at_risk")
    assert row["status"] == expected
