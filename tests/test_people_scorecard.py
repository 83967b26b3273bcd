"""Reviewer scorecards: shapes, fairness rules and edge cases on seeded synthetic data.

No published reference values here (the statistics are tested in test_people_shrinkage,
test_people_funnel and test_people_flags); these tests check that the pieces are wired
together honestly and that awkward inputs do not crash.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.people import (
    FLAG_COLUMNS,
    KPI_COLUMNS,
    NOT_JUDGED_COLUMNS,
    RECOGNITION_COLUMNS,
    SCORECARD_COLUMNS,
    coaching_focus,
    resolve_target,
    reviewer_scorecards,
    scorecard_kpis,
)

POLICIES = ["Misleading Claims", "Weapons", "Gambling", "Adult", "Counterfeit"]


def make_audits(
    spec: dict[str, tuple[int, float]],
    period: str = "2026-10",
    seed: int = 0,
    market: str = "BR",
    sample_type: str = "random",
) -> pd.DataFrame:
    """Audits for reviewers given as {reviewer_id: (n_audits, true_accuracy)}."""
    rng = np.random.default_rng(seed)
    start = pd.Period(period, freq="M").start_time
    rows = []
    for rid, (n, acc) in spec.items():
        for j in range(n):
            qa = "reject" if rng.random() < 0.3 else "approve"
            ok = rng.random() < acc
            rd = qa if ok else ("approve" if qa == "reject" else "reject")
            rows.append(
                {
                    "audit_id": f"{period}-{rid}-{sample_type}-{j}",
                    "decision_date": start + pd.Timedelta(days=int(rng.integers(0, 28))),
                    "market": market,
                    "product_line": "In-Feed Ads",
                    "policy": POLICIES[int(rng.integers(0, len(POLICIES)))],
                    "reviewer_id": rid,
                    "reviewer_decision": rd,
                    "qa_decision": qa,
                    "handling_time_s": float(rng.gamma(2.0, 30.0)),
                    "sample_type": sample_type,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def team():
    spec = {f"r{i:02d}": (int(n), 0.95) for i, n in enumerate(np.linspace(60, 260, 18))}
    spec["outlier"] = (400, 0.80)
    spec["tiny"] = (4, 0.5)
    spec["not_in_roster"] = (80, 0.95)
    audits = pd.concat(
        [
            make_audits(spec, "2026-10", seed=1),
            make_audits({"r00": (150, 0.75), "r01": (200, 0.95)}, "2026-09", seed=2),
            make_audits({"outlier": (50, 0.2)}, "2026-10", seed=3, sample_type="targeted"),
        ],
        ignore_index=True,
    )
    rids = [r for r in spec if r != "not_in_roster"]
    roster = pd.DataFrame(
        {
            "reviewer_id": rids + ["prod_only"],
            "team_lead": "lead_a",
            "market": "BR",
            "hire_date": pd.Timestamp("2025-10-31"),
        }
    )
    production = pd.DataFrame(
        {
            "date": pd.Timestamp("2026-10-05"),
            "reviewer_id": rids + ["prod_only"],
            "market": "BR",
            "product_line": "In-Feed Ads",
            "cases_handled": 120,
            "productive_hours": 6.0,
            "sla_met": 108.0,
        }
    )
    targets = pd.DataFrame(
        {
            "kpi": ["accuracy", "accuracy", "missed_violation_rate", "productivity"],
            "target": [0.90, 0.95, 0.03, 15.0],
            "market": ["*", "BR", "*", "*"],
            "product_line": ["*", "*", "*", "*"],
        }
    )
    sc = reviewer_scorecards(audits, production, roster, targets, period="2026-10")
    return sc, audits


def test_table_shape_and_columns(team):
    sc, _ = team
    t = sc.table
    assert list(t.columns) == SCORECARD_COLUMNS
    assert t["reviewer_id"].is_unique
    assert len(t) == 18 + 3 + 1  # 18 + outlier, tiny, not_in_roster + production-only
    assert sc.period == "2026-10" and sc.previous_period == "2026-09"
    assert sc.target == pytest.approx(0.95)  # market-specific row beats '*'
    assert list(sc.flags.columns) == FLAG_COLUMNS
    assert list(sc.recognition.columns) == RECOGNITION_COLUMNS
    assert list(sc.team_kpis.columns) == KPI_COLUMNS
    assert set(t["accuracy_status"].dropna()) <= {"on_track", "at_risk", "off_track"}


def test_accuracy_uses_random_sample_only_and_counts_add_up(team):
    sc, audits = team
    t = sc.table.set_index("reviewer_id")
    assert t.loc["outlier", "audits"] == 400  # the 50 targeted audits are not counted
    rnd = audits[(audits["sample_type"] == "random") & (audits["decision_date"] >= "2026-10-01")]
    out = rnd[rnd["reviewer_id"] == "outlier"]
    correct = int((out["reviewer_decision"] == out["qa_decision"]).sum())
    assert t.loc["outlier", "correct"] == correct
    assert t.loc["outlier", "accuracy"] == pytest.approx(correct / 400)
    assert t.loc["outlier", "audits"] == (
        t.loc["outlier", "correct"]
        + t.loc["outlier", "missed_violations"]
        + t.loc["outlier", "over_enforcements"]
    )
    assert t.loc["outlier", "ci_low"] < t.loc["outlier", "accuracy"] < t.loc["outlier", "ci_high"]
    acc = sc.team_kpis.set_index("kpi").loc["accuracy"]
    assert acc["n"] == t["audits"].sum()
    assert acc["value"] == pytest.approx(t["correct"].sum() / t["audits"].sum())


def test_outlier_flagged_tiny_not(team):
    sc, _ = team
    t = sc.table.set_index("reviewer_id")
    assert "outlier" in set(sc.flags["reviewer_id"]) and t.loc["outlier", "flagged"]
    assert t.loc["outlier", "accuracy_status"] == "off_track"
    assert "below 95% target" in sc.flags.set_index("reviewer_id").loc["outlier", "reason"]
    assert "tiny" not in set(sc.flags["reviewer_id"]) and not t.loc["tiny", "flagged"]
    assert not t.loc["tiny", "judged"] and t.loc["tiny", "audits_needed"] == 26
    assert pd.isna(t.loc["tiny", "accuracy_status"])  # never labelled on 4 audits
    nj = sc.not_judged.set_index("reviewer_id")
    assert list(sc.not_judged.columns) == NOT_JUDGED_COLUMNS
    assert set(nj.index) == {"tiny", "prod_only"}
    assert (
        nj.loc["tiny", "reason"]
        == "not enough audits to judge: 4 audits, 26 more needed (minimum 30)"
    )
    # shrinkage pulls the tiny sample strongly towards the prior mean
    raw, shr = t.loc["tiny", "accuracy"], t.loc["tiny", "shrunk_accuracy"]
    assert abs(shr - sc.prior.mean) < abs(raw - sc.prior.mean)
    assert t.loc["tiny", "shrunk_low"] <= shr <= t.loc["tiny", "shrunk_high"]
    assert sc.prior.method == "mle"


def test_missing_from_roster_and_production_only(team):
    sc, _ = team
    t = sc.table.set_index("reviewer_id")
    assert pd.isna(t.loc["not_in_roster", "team_lead"]) and pd.isna(
        t.loc["not_in_roster", "tenure_days"]
    )
    assert t.loc["r03", "team_lead"] == "lead_a" and t.loc["r03", "tenure_days"] == 365
    p = t.loc["prod_only"]
    assert p["audits"] == 0 and pd.isna(p["accuracy"]) and not p["judged"]
    assert pd.isna(p["shrunk_accuracy"]) and p["audits_needed"] == 30
    assert p["productivity"] == pytest.approx(20.0) and p["sla_attainment"] == pytest.approx(0.9)
    assert p["funnel_position"] == "no_data"


def test_previous_period_and_change(team):
    sc, _ = team
    t = sc.table.set_index("reviewer_id")
    assert t.loc["r00", "prev_audits"] == 150
    assert t.loc["r00", "change_pp"] == pytest.approx(
        (t.loc["r00", "accuracy"] - t.loc["r00", "prev_accuracy"]) * 100
    )
    assert pd.isna(t.loc["r05", "prev_accuracy"])
    improved = sc.recognition[sc.recognition["kind"] == "most_improved"]
    assert "r00" in set(improved["reviewer_id"])  # ~75% -> ~95% on 150 / 60+ audits


def test_coaching_focus(team):
    sc, _ = team
    text = sc.table.set_index("reviewer_id").loc["outlier", "coaching_focus"]
    assert isinstance(text, str) and "errors)" in text
    assert text.split(" (")[0] in POLICIES
    errs = pd.DataFrame({"policy": ["A", "B", "A", "C", "A", "B", None]})
    assert coaching_focus(errs) == "A (3 of 7 errors), B (2), (policy unknown) (1)"
    assert coaching_focus(errs.iloc[:0]) is None


def test_scorecard_kpis_records(team):
    sc, _ = team
    k = scorecard_kpis(sc)
    assert list(k.columns) == ["reviewer_id", *KPI_COLUMNS]
    assert set(k["kpi"]) <= {
        "accuracy",
        "missed_violation_rate",
        "over_enforcement_rate",
        "audit_volume",
        "productivity",
        "handling_time_mean",
        "sla_attainment",
    }
    assert set(k["status"].dropna()) <= {"on_track", "at_risk", "off_track"}
    acc = k[k["kpi"] == "accuracy"].set_index("reviewer_id")
    assert pd.isna(acc.loc["tiny", "status"]) and acc.loc["outlier", "status"] == "off_track"
    assert "prod_only" not in acc.index  # no audits, no accuracy record
    mv = k[(k["kpi"] == "missed_violation_rate")].set_index("reviewer_id")
    assert (mv["target"] == 0.03).all()
    assert pd.isna(mv.loc["tiny", "status"])
    prod = k[k["kpi"] == "productivity"].set_index("reviewer_id")
    assert prod.loc["prod_only", "value"] == pytest.approx(20.0)
    assert prod.loc["prod_only", "status"] == "on_track"  # census value 20 >= target 15
    ok = k["ci_low"].notna()
    assert (k.loc[ok, "ci_low"] <= k.loc[ok, "value"] + 1e-12).all()
    assert (k.loc[ok, "value"] <= k.loc[ok, "ci_high"] + 1e-12).all()


def test_one_reviewer_team_falls_back_to_weak_prior():
    audits = make_audits({"solo": (50, 0.9)})
    sc = reviewer_scorecards(audits, period="2026-10")
    assert sc.prior.method == "fallback" and sc.prior.mean == pytest.approx(0.95)
    assert sc.prior.concentration == pytest.approx(4.0)
    assert "too few" in sc.prior.note
    assert len(sc.table) == 1 and sc.table["judged"].iloc[0]


def test_all_correct_team_falls_back():
    audits = make_audits({f"r{i}": (40, 1.0) for i in range(6)})
    sc = reviewer_scorecards(audits, period="2026-10")
    assert sc.prior.method == "fallback" and "impossible" in sc.prior.note
    assert (sc.table["accuracy"] == 1.0).all()


@pytest.mark.parametrize("audits", [None, pd.DataFrame(), "empty_canonical", "other_month"])
def test_no_audits_at_all(audits):
    if isinstance(audits, str):
        a = make_audits({"r1": (10, 0.9)}, period="2026-08")
        audits = a.iloc[:0] if audits == "empty_canonical" else a
    sc = reviewer_scorecards(audits, period="2026-10")
    assert sc.table.empty and list(sc.table.columns) == SCORECARD_COLUMNS
    assert sc.flags.empty and list(sc.flags.columns) == FLAG_COLUMNS
    assert sc.recognition.empty and list(sc.recognition.columns) == RECOGNITION_COLUMNS
    assert sc.not_judged.empty and list(sc.not_judged.columns) == NOT_JUDGED_COLUMNS
    assert scorecard_kpis(sc).empty
    assert sc.prior.method == "fallback"
    acc = sc.team_kpis.set_index("kpi").loc["accuracy"]
    assert acc["n"] == 0 and pd.isna(acc["value"]) and acc["status"] is None


def test_no_audits_but_production_lists_reviewers():
    production = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-02", "2026-10-03"]),
            "reviewer_id": ["a", "b"],
            "market": "US",
            "product_line": "Spark Ads",
            "cases_handled": [100, 80],
            "productive_hours": [5.0, 0.0],
        }
    )
    sc = reviewer_scorecards(None, production, period="2026-10")
    t = sc.table.set_index("reviewer_id")
    assert list(t.index) == ["a", "b"] and (t["audits"] == 0).all() and not t["judged"].any()
    assert t.loc["a", "productivity"] == pytest.approx(20.0) and pd.isna(t.loc["b", "productivity"])
    assert pd.isna(t.loc["a", "sla_attainment"])
    assert sc.flags.empty


def test_minimal_audit_frame_without_optional_columns():
    a = make_audits({"x": (40, 0.9), "y": (35, 0.95)})[
        ["audit_id", "decision_date", "reviewer_id", "policy", "reviewer_decision", "qa_decision"]
    ]
    sc = reviewer_scorecards(a, period="2026-10", previous_period="2026-09")
    assert sc.table.set_index("reviewer_id")["audits"].to_dict() == {"x": 40, "y": 35}
    assert sc.table["handling_time_mean"].isna().all()


def test_resolve_target():
    t = pd.DataFrame(
        {
            "kpi": ["accuracy"] * 4,
            "target": [0.9, 0.93, 0.96, 0.97],
            "market": ["*", "BR", "BR", "*"],
            "product_line": ["*", "*", "TopView", "TopView"],
            "effective_from": pd.to_datetime([None, "2026-01-01", None, None]),
        }
    )
    assert resolve_target(t, "accuracy", "BR", "TopView") == 0.96
    assert resolve_target(t, "accuracy", "BR", "Search Ads") == 0.93
    assert resolve_target(t, "accuracy", "US", "TopView") == 0.97
    assert resolve_target(t, "accuracy", "US", "Search Ads") == 0.9
    assert (
        resolve_target(t, "accuracy", "BR", "Search Ads", as_of=pd.Timestamp("2025-06-30")) == 0.9
    )
    assert resolve_target(t, "productivity", "BR", default=None) is None
    assert resolve_target(None, "accuracy", default=0.95) == 0.95
