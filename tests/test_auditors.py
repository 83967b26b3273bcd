"""Auditor leniency/severity on shared cases, FDR flags, tolerance band; double-audit checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.data.validate_cases import validate_double_audits
from reporting.people.auditors import audit_pairs, auditor_calibration, confusion_by_policy


def _audits(rng, n_cases=1500, miss=None, frej=None, double=0.3):
    """Cases audited by one of 4 auditors, ``double`` of them by a second; ``miss``/``frej``:
    each auditor's planted error rates (default 1%)."""
    names = ["A1", "A2", "A3", "A4"]
    miss = {**dict.fromkeys(names, 0.01), **(miss or {})}
    frej = {**dict.fromkeys(names, 0.01), **(frej or {})}
    truth = rng.random(n_cases) < 0.3
    first = rng.integers(0, 4, n_cases)
    dbl = np.flatnonzero(rng.random(n_cases) < double)
    second = (first[dbl] + rng.integers(1, 4, len(dbl))) % 4
    case, aud = np.concatenate([np.arange(n_cases), dbl]), np.concatenate([first, second])
    who = np.array(names)[aud]
    p = np.where(truth[case], [miss[w] for w in who], [frej[w] for w in who])
    dec = truth[case] ^ (rng.random(len(case)) < p)
    return pd.DataFrame({"audit_id": [f"A{i:05d}" for i in range(len(case))],
                         "case_id": [f"C{c:05d}" for c in case], "auditor_id": who,
                         "qa_decision": np.where(dec, "reject", "approve"),
                         "policy": np.where(case % 2 == 0, "Gambling", "Weapons")})


def test_the_lenient_and_the_harsh_auditor_are_flagged_and_no_one_else():
    a = _audits(np.random.default_rng(1), miss={"A2": 0.3}, frej={"A4": 0.12})
    res = auditor_calibration(a).set_index("auditor_id")
    assert set(res.index[res["flagged"]]) == {"A2", "A4"}
    assert "passes" in res.loc["A2", "reason"] and "rejects" in res.loc["A4", "reason"]
    assert res.loc["A2", "leniency_low"] < 0.3 < res.loc["A2", "leniency_high"]
    assert res.loc["A2", "leniency"] > res.loc["A2", "peers_leniency"] + 0.15


def test_a_clear_but_small_difference_stays_within_the_tolerance_band():
    a = _audits(np.random.default_rng(2), n_cases=20000, miss={"A2": 0.05})
    res = auditor_calibration(a, tolerance=0.05).set_index("auditor_id")
    assert res.loc["A2", "q_leniency"] < 0.01  # clear evidence ...
    assert not res["flagged"].any()  # ... of a difference inside the +/-5 point band
    assert auditor_calibration(a, tolerance=0.0).set_index("auditor_id").loc["A2", "flagged"]


def test_false_alarm_rate_of_the_flags_with_calibrated_auditors():
    # 60 scopes where all auditors are alike: with no real difference every flag is false, and
    # BH at 5% then bounds the chance of any flag by 5% (3 of 60; 6 allows for chance).
    rng = np.random.default_rng(3)
    alarms = sum(bool(auditor_calibration(_audits(rng, n_cases=300), tolerance=0.0)["flagged"]
                      .any()) for _ in range(60))
    assert alarms <= 6, alarms


def test_pairs_and_confusion_by_policy():
    a = pd.DataFrame({"audit_id": ["1", "2", "3", "4", "5"],
                      "case_id": ["c1", "c1", "c2", "c2", "c3"],
                      "auditor_id": ["X", "Y", "X", "Y", "X"],
                      "qa_decision": ["approve", "reject", "reject", "reject", "approve"],
                      "policy": ["P", "P", "Q", "Q", "P"]})
    pairs = audit_pairs(a)
    assert len(pairs) == 4  # two ordered pairs per shared case; c3 is audited once
    conf = confusion_by_policy(a).set_index(["auditor_id", "policy"])
    assert conf.loc[("X", "P"), "passes_others_reject"] == 1
    assert conf.loc[("Y", "P"), "rejects_others_pass"] == 1
    assert conf.loc[("X", "Q"), "both_reject"] == 1 and conf.loc[("X", "Q"), "disagreement"] == 0


def _case_rows(**over):
    base = {"audit_id": ["A1", "A2", "A3", "A4"], "case_id": ["C1", "C1", "C2", "C2"],
            "auditor_id": ["Q1", "Q2", "Q1", "Q2"], "market": ["BR"] * 4,
            "decision_date": pd.to_datetime(["2026-10-01"] * 4),
            "reviewer_id": ["R1", "R1", "R2", "R2"],
            "reviewer_decision": ["approve", "approve", "reject", "reject"]}
    base.update(over)
    return pd.DataFrame(base)


@pytest.mark.parametrize(("over", "code", "words"), [
    ({"auditor_id": ["Q1", "Q1", "Q1", "Q2"]}, "same_auditor_twice", "same auditor"),
    ({"market": ["BR", "US", "BR", "BR"]}, "case_across_markets", "different markets"),
    ({"decision_date": pd.to_datetime(["2026-10-01", "2026-11-02"] + ["2026-10-01"] * 2)},
     "case_across_months", "different months"),
    ({"reviewer_decision": ["approve", "reject", "reject", "reject"]}, "case_decision_differs",
     "different reviewer decisions"),
])
def test_bad_double_audits_are_named(over, code, words):
    problems = validate_double_audits(_case_rows(**over), file="audits.csv")
    assert [p.code for p in problems] == [code]
    p = problems[0]
    assert p.is_error and words in p.message and "'C1'" in p.message
    assert "A1, A2" in p.message and p.file == "audits.csv"


def test_a_repeated_audit_row_is_a_duplicate_audit_id_not_a_double_audit():
    rows = _case_rows()
    assert validate_double_audits(pd.concat([rows, rows.iloc[[0]]], ignore_index=True)) == []


def test_good_double_audits_and_no_case_id_pass():
    assert validate_double_audits(_case_rows()) == []
    assert validate_double_audits(_case_rows().drop(columns="case_id")) == []
