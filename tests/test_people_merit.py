"""Recognition over months (``reporting.people.merit``) and cohort findings with the
coaching table (``reporting.people.cohorts``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.people.cohorts import coaching_table, cohort_findings, tenure_band
from reporting.people.evidence import reviewer_evidence, window_months
from reporting.people.merit import (
    RECOGNITION_RECORD_COLUMNS,
    quarter_improvement,
    recognise,
    sustained_months,
)

PERIOD = "2026-10"
POLICIES = ["Gambling", "Weapons", "Adult Content", "Financial Services"]


def _exact(spec: dict[str, list[tuple[int, int]]]) -> pd.DataFrame:
    """Monthly counts given exactly: {reviewer: [(audits, correct) per month, oldest first]}."""
    rows = [(rid, m, n, c) for rid, months in spec.items()
            for m, (n, c) in zip(window_months(PERIOD, len(months)), months, strict=True)]
    return pd.DataFrame(rows, columns=["reviewer_id", "period", "audits", "correct"])


def _recognise(mc: pd.DataFrame) -> pd.DataFrame:
    ev = reviewer_evidence(mc, 0.95, period=PERIOD)
    return recognise(ev, mc, 0.95, period=PERIOD)


def test_sustained_needs_three_months_on_target_not_one_lucky_month():
    mc = _exact({"steady": [(100, 96)] * 3, "lucky": [(100, 94), (100, 93), (100, 100)],
                 "two": [(100, 94)] * 4 + [(100, 96)] * 2})
    runs = sustained_months(mc, PERIOD, 0.95)
    assert runs["steady"] == 3 and runs["lucky"] == 1 and runs["two"] == 2
    rec = _recognise(mc)
    assert list(rec.columns) == RECOGNITION_RECORD_COLUMNS
    assert list(rec["reviewer_id"]) == ["steady"]
    assert rec["kind"].iloc[0] == "sustained_on_target"
    assert "each of the last 3 months" in rec["reason"].iloc[0]


def test_a_month_short_of_audits_breaks_the_run():
    mc = _exact({"r": [(100, 97), (20, 20), (100, 97)]})
    assert sustained_months(mc, PERIOD, 0.95)["r"] == 1


def test_credibly_above_target_is_recognised_once():
    mc = _exact({"star": [(100, 99)] * 6, **{f"o{i}": [(100, 95)] * 6 for i in range(6)}})
    rec = _recognise(mc)
    star = rec[rec["reviewer_id"] == "star"]
    assert list(star["kind"]) == ["above_target"]  # not also "sustained"
    assert "above the 95% target beyond chance" in star["reason"].iloc[0]


def test_most_improved_over_a_quarter_needs_a_significant_change():
    mc = _exact({"up": [(100, 85)] * 3 + [(100, 97)] * 3,
                 "blip": [(100, 94)] * 5 + [(100, 100)],
                 "flat": [(100, 95)] * 6})
    imp = quarter_improvement(mc, PERIOD)
    assert list(imp["reviewer_id"]) == ["up"]
    assert imp["change_pp"].iloc[0] == pytest.approx(12.0)
    assert "from 85.0% (2026-05 to 2026-07, 300 audits) to 97.0%" in imp["reason"].iloc[0]
    assert "most_improved" in set(_recognise(mc)["kind"])


def _audits(spec: dict[str, tuple[int, float, str]], seed: int = 0) -> pd.DataFrame:
    """Audits of PERIOD for {reviewer: (n, accuracy, policy where the errors fall)}; correct
    audits spread over four policies."""
    rng = np.random.default_rng(seed)
    rows = []
    for rid, (n, acc, bad_policy) in spec.items():
        for j in range(n):
            ok = rng.random() < acc
            qa = "reject" if j % 2 else "approve"
            rd = qa if ok else ("approve" if qa == "reject" else "reject")
            rows.append({"decision_date": pd.Timestamp("2026-10-10"), "reviewer_id": rid,
                         "policy": POLICIES[j % 4] if ok else bad_policy, "reviewer_decision": rd, "qa_decision": qa,
                         "sample_type": "random"})
    return pd.DataFrame(rows)


def test_a_new_hire_cohort_failing_one_policy_is_one_finding():
    spec = {f"new{i}": (200, 0.80, "Financial Services") for i in range(4)}
    spec |= {f"old{i}": (200, 0.955, ["Gambling", "Weapons"][i % 2]) for i in range(10)}
    audits = _audits(spec)
    mc = audits.assign(period=PERIOD).groupby(["reviewer_id", "period"]).agg(
        audits=("policy", "size"),
        correct=("qa_decision", lambda s: int((s == audits.loc[s.index, "reviewer_decision"])
                                              .sum()))).reset_index()
    ev = reviewer_evidence(mc, 0.95, period=PERIOD)
    attrs = pd.DataFrame({"reviewer_id": list(spec),
                          "tenure_days": [60] * 4 + [900] * 10, "site": "Lisbon"})
    found = cohort_findings(ev, audits, attrs)
    assert len(found) == 1
    f = found.iloc[0]
    assert f["dimension"] == "tenure" and f["group"] == "under 90 days"
    assert f["policy"] == "Financial Services" and f["reviewer_ids"] == [f"new{i}" for i in range(4)]
    assert f["text"].startswith("All 4 reviewers on watch or below target joined under 90 days")
    # the gain is what the cohort's excess errors on the policy cost the team, computed
    errs = (audits["reviewer_id"].str.startswith("new")
            & (audits["reviewer_decision"] != audits["qa_decision"])).sum()
    assert 0 < f["expected_gain_pp"] <= errs / len(audits) * 100


def test_no_finding_when_a_shared_trait_is_just_the_team():
    spec = {f"r{i}": (200, 0.85 if i < 3 else 0.955, "Gambling") for i in range(9)}
    audits = _audits(spec, seed=2)
    ev = pd.DataFrame({"reviewer_id": list(spec),
                       "status": ["below_target"] * 3 + ["on_target"] * 6})
    attrs = pd.DataFrame({"reviewer_id": list(spec), "tenure_days": 900, "site": "Lisbon"})
    found = cohort_findings(ev, audits, attrs)
    # everybody is a year+ at the one site: no people group; the shared policy remains
    assert list(found["dimension"]) == ["policy"]


def test_coaching_table_splits_missed_and_over_enforcement():
    a = pd.DataFrame({
        "decision_date": pd.Timestamp("2026-10-01"), "reviewer_id": ["r"] * 4 + ["s"],
        "policy": ["P", "P", "P", "Q", "P"],
        "reviewer_decision": ["approve", "reject", "approve", "approve", "approve"],
        "qa_decision": ["reject", "approve", "approve", "approve", "approve"]})
    t = coaching_table(a)
    assert len(t) == 1  # rows with errors only
    row = t.iloc[0]
    assert (row["reviewer_id"], row["policy"], row["audits"], row["errors"]) == ("r", "P", 3, 2)
    assert row["missed_violations"] == 1 and row["over_enforcements"] == 1
    assert row["missed_violation_rate"] == pytest.approx(1 / 3)


def test_tenure_bands():
    assert list(tenure_band(pd.Series([0, 89, 90, 200, 400, np.nan]))) == [
        "under 90 days", "under 90 days", "90 to 179 days", "6 to 12 months", "over a year",
        None]
