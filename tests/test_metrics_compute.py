"""compute_kpis, accuracy_table, error_mix and weekly_accuracy against hand/pandas computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reporting.metrics.compute import accuracy_table, compute_kpis, error_mix, weekly_accuracy
from reporting.metrics.intervals import margin_of_error

Z = 1.959963984540054
RESULT_COLS = ["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]
META_COLS = ["label", "direction", "unit"]


def wilson_closed_form(x: float, n: float, z: float = Z) -> tuple[float, float]:
    """Wilson (1927) score interval written out, independent of the library."""
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# market, product_line, policy, reviewer, reviewer_decision, qa_decision, sample_type, weight,
# handling_time_s, decision_date
ROWS = [
    ("BR", "TopView", "Adult", "r1", "approve", "approve", "random", 1.0, 30.0, "2026-09-01"),
    ("BR", "TopView", "Adult", "r1", "approve", "approve", "random", 2.0, 40.0, "2026-09-02"),
    ("BR", "TopView", "Adult", "r2", "reject", "reject", "random", 1.0, 50.0, "2026-09-03"),
    ("BR", "Spark Ads", "Weapons", "r2", "approve", "reject", "random", 3.0, 60.0, "2026-09-08"),
    ("BR", "Spark Ads", "Weapons", "r1", "reject", "approve", "random", 1.0, 70.0, "2026-09-09"),
    ("BR", "Spark Ads", "Weapons", "r2", "reject", "reject", None, 1.0, 80.0, "2026-09-10"),
    ("BR", "Spark Ads", "Weapons", "r1", "approve", "reject", "targeted", 5.0, 500.0, "2026-09-11"),
    ("BR", "TopView", "Adult", "r2", "reject", "approve", "targeted", 5.0, 600.0, "2026-09-12"),
    ("US", "TopView", "Adult", "r3", "approve", "approve", "random", 1.0, 20.0, "2026-09-01"),
    ("US", "TopView", "Adult", "r3", "approve", "approve", "random", 1.0, 25.0, "2026-09-15"),
    ("US", "TopView", "Weapons", "r3", "reject", "reject", "random", 2.0, 35.0, "2026-09-16"),
    ("US", "TopView", "Weapons", "r3", "approve", "reject", "random", 1.0, 45.0, "2026-09-29"),
]
COLS = [
    "market",
    "product_line",
    "policy",
    "reviewer_id",
    "reviewer_decision",
    "qa_decision",
    "sample_type",
    "weight",
    "handling_time_s",
    "decision_date",
]


def make_audits() -> pd.DataFrame:
    a = pd.DataFrame(ROWS, columns=COLS)
    a["decision_date"] = pd.to_datetime(a["decision_date"])
    a.insert(0, "audit_id", [f"a{i}" for i in range(len(a))])
    return a


def make_production() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2026-09-01", "2026-09-02", "2026-09-01", "2026-09-01", "2026-09-02"]
            ),
            "reviewer_id": ["r1", "r1", "r2", "r3", "r3"],
            "market": ["BR", "BR", "BR", "US", "US"],
            "product_line": ["TopView"] * 5,
            "cases_handled": [100, 120, 80, 200, 150],
            "productive_hours": [5.0, 6.0, 5.0, 8.0, 6.0],
            "sla_met": [95.0, 110.0, 75.0, 190.0, np.nan],
        }
    )


def row(frame: pd.DataFrame, kpi: str, **scope: str) -> pd.Series:
    sel = frame["kpi"] == kpi
    for k, v in scope.items():
        sel &= frame[k] == v
    assert sel.sum() == 1, (kpi, scope)
    return frame[sel].iloc[0]


def test_columns_follow_the_kpi_frame_contract():
    out = compute_kpis(make_audits(), make_production(), by="market")
    assert list(out.columns) == ["market", *RESULT_COLS, *META_COLS]
    assert out["n"].dtype == np.int64
    assert set(out["status"]) <= {"on_track", "at_risk", "off_track", "no_data"}
    # one row per (market, KPI), every KPI the data supports
    assert len(out) == 2 * 14
    report = compute_kpis(make_audits(), make_production())
    assert list(report.columns) == [*RESULT_COLS, *META_COLS]
    assert report["kpi"].is_unique


def test_accuracy_type_kpis_match_a_direct_pandas_computation():
    a = make_audits()
    out = compute_kpis(a, by="market")
    s = a[a["sample_type"].fillna("random") == "random"]
    rr, qr = s["reviewer_decision"] == "reject", s["qa_decision"] == "reject"
    defs = {
        "accuracy": (rr == qr, pd.Series(True, index=s.index)),
        "missed_violation_rate": (~rr & qr, pd.Series(True, index=s.index)),
        "over_enforcement_rate": (rr & ~qr, pd.Series(True, index=s.index)),
        "miss_rate_among_violations": (~rr & qr, qr),
        "over_enforcement_among_clean": (rr & ~qr, ~qr),
        "enforcement_precision": (rr & qr, rr),
        "enforcement_recall": (rr & qr, qr),
    }
    for kpi, (num, den) in defs.items():
        for m in ("BR", "US"):
            in_m = s["market"] == m
            x = float((num & den & in_m).sum())
            n = float((den & in_m).sum())
            r = row(out, kpi, market=m)
            assert r["n"] == n
            assert r["value"] == pytest.approx(x / n)
            lo, hi = wilson_closed_form(x, n)
            assert r["ci_low"] == pytest.approx(max(lo, 0.0), abs=1e-12)
            assert r["ci_high"] == pytest.approx(min(hi, 1.0), abs=1e-12)


def test_hand_computed_values_for_br():
    out = compute_kpis(make_audits(), by="market")
    # BR accuracy sample = 6 audits (5 random + 1 with missing sample_type): 4 correct
    assert row(out, "accuracy", market="BR")[["value", "n"]].tolist() == [4 / 6, 6]
    assert row(out, "miss_rate_among_violations", market="BR")["value"] == pytest.approx(1 / 3)
    assert row(out, "enforcement_precision", market="BR")["value"] == pytest.approx(2 / 3)
    assert row(out, "enforcement_recall", market="US")["value"] == pytest.approx(1 / 2)
    assert row(out, "enforcement_precision", market="US")["value"] == 1.0
    # volume counts every audit, whatever its sample type
    assert row(out, "audit_volume", market="BR")[["value", "n"]].tolist() == [8, 8]


def test_accuracy_sample_types_filter():
    a = make_audits()
    both = compute_kpis(
        a, by="market", kpis=["accuracy"], accuracy_sample_types=["random", "targeted"]
    )
    assert row(both, "accuracy", market="BR")[["value", "n"]].tolist() == [4 / 8, 8]
    everything = compute_kpis(a, by="market", kpis=["accuracy"], accuracy_sample_types=None)
    assert row(everything, "accuracy", market="BR")["n"] == 8
    targeted = compute_kpis(a, by="market", kpis=["accuracy"], accuracy_sample_types=("targeted",))
    assert row(targeted, "accuracy", market="BR")[["value", "n"]].tolist() == [0.0, 2]
    us = row(targeted, "accuracy", market="US")
    assert us["n"] == 0 and math.isnan(us["value"]) and us["status"] == "no_data"
    # without a sample_type column every audit is in the accuracy sample
    plain = compute_kpis(a.drop(columns="sample_type"), by="market", kpis=["accuracy"])
    assert row(plain, "accuracy", market="BR")["n"] == 8


def test_weighted_accuracy_uses_the_kish_effective_sample_size():
    out = compute_kpis(make_audits(), by="market", kpis=["weighted_accuracy"])
    r = row(out, "weighted_accuracy", market="BR")
    # weights 1,2,1,3,1,1 with correct 1,1,1,0,0,1: p = 5/9; n_eff = 9^2 / 17
    p, n_eff = 5 / 9, 81 / 17
    assert r["value"] == pytest.approx(p)
    assert r["n"] == 6
    lo, hi = wilson_closed_form(p * n_eff, n_eff)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)


def test_handling_time_mean_t_interval_and_median_bootstrap():
    out = compute_kpis(make_audits(), by="market")
    r = row(out, "handling_time_mean", market="BR")
    x = np.array([30, 40, 50, 60, 70, 80.0])  # targeted audits excluded
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert r["value"] == pytest.approx(55.0)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi))
    med = row(out, "handling_time_median", market="BR")
    assert med["value"] == 55.0 and med["n"] == 6
    assert med["ci_low"] <= 55.0 <= med["ci_high"]
    again = compute_kpis(make_audits(), by="market")
    pd.testing.assert_frame_equal(out, again)  # seeded bootstrap: deterministic


def test_production_kpis_by_hand():
    out = compute_kpis(make_audits(), make_production(), by="market")
    prod = row(out, "productivity", market="BR")
    # reviewer-days (cases, hours): (100, 5), (120, 6), (80, 5)
    y, x = np.array([100, 120, 80.0]), np.array([5, 6, 5.0])
    r_hat = y.sum() / x.sum()
    se = math.sqrt(((y - r_hat * x) ** 2).sum() / (3 * 2)) / x.mean()
    t = stats.t.ppf(0.975, 2)
    assert prod["value"] == pytest.approx(18.75)
    assert prod["n"] == 3
    assert (prod["ci_low"], prod["ci_high"]) == pytest.approx((r_hat - t * se, r_hat + t * se))
    assert row(out, "productivity", market="US")["value"] == pytest.approx(350 / 14)
    cov = row(out, "audit_coverage", market="BR")
    assert cov[["value", "n"]].tolist() == [pytest.approx(8 / 300), 300]
    assert (cov["ci_low"], cov["ci_high"]) == pytest.approx(wilson_closed_form(8, 300))
    sla = row(out, "sla_attainment", market="BR")
    assert sla[["value", "n"]].tolist() == [pytest.approx(280 / 300), 300]
    # US: the day without sla_met is left out of numerator and denominator
    assert row(out, "sla_attainment", market="US")[["value", "n"]].tolist() == [0.95, 200]


def test_targets_are_resolved_per_row_and_statuses_follow():
    targets = pd.DataFrame(
        {
            "kpi": ["accuracy", "productivity"],
            "market": ["BR", "*"],
            "product_line": ["*", "*"],
            "target": [0.5, 10.0],
        }
    )
    out = compute_kpis(make_audits(), make_production(), targets, by="market")
    br = row(out, "accuracy", market="BR")
    assert br["target"] == 0.5 and br["status"] == "at_risk"  # 4/6, Wilson [0.30, 0.90]
    assert row(out, "accuracy", market="US")["target"] == 0.95
    assert row(out, "productivity", market="BR")[["target", "status"]].tolist() == [
        10.0,
        "on_track",
    ]
    assert row(out, "over_enforcement_among_clean", market="US")["target"] == 0.03
    vol = row(out, "audit_volume", market="BR")
    assert math.isnan(vol["target"]) and vol["status"] == "at_risk"
    # a single-market frame resolves market targets without `by`
    single = compute_kpis(make_audits().query("market == 'BR'"), targets=targets, kpis=["accuracy"])
    assert single["target"].tolist() == [0.5]


def test_effective_from_defaults_to_the_latest_decision_date():
    targets = pd.DataFrame(
        {
            "kpi": ["accuracy", "accuracy"],
            "market": ["*", "*"],
            "product_line": ["*", "*"],
            "target": [0.9, 0.8],
            "effective_from": pd.to_datetime(["2026-01-01", "2026-10-01"]),
        }
    )
    a = make_audits()
    assert compute_kpis(a, targets=targets, kpis=["accuracy"])["target"].tolist() == [0.9]
    later = compute_kpis(a, targets=targets, kpis=["accuracy"], as_of="2026-10-31")
    assert later["target"].tolist() == [0.8]


def test_kpi_selection_and_missing_inputs():
    a = make_audits()
    out = compute_kpis(a, kpis=["audit_volume", "accuracy"])
    assert out["kpi"].tolist() == ["audit_volume", "accuracy"]
    with pytest.raises(ValueError, match="unknown KPI"):
        compute_kpis(a, kpis=["acuracy"])
    # production KPIs: left out by default without production, no_data when asked for
    assert "productivity" not in set(compute_kpis(a)["kpi"])
    asked = compute_kpis(a, kpis=["productivity"])
    assert asked["n"].tolist() == [0] and asked["status"].tolist() == ["no_data"]
    # production cannot be split by policy, so production KPIs are left out of a policy split
    assert "productivity" not in set(compute_kpis(a, make_production(), by="policy")["kpi"])
    # optional audit columns absent: their KPIs are left out
    lean = compute_kpis(a.drop(columns=["weight", "handling_time_s"]))
    assert not {"weighted_accuracy", "handling_time_mean"} & set(lean["kpi"])
    with pytest.raises(ValueError, match="queue"):
        compute_kpis(a, by="queue")


def test_bad_decisions_raise_a_clear_error():
    a = make_audits()
    a.loc[3, "qa_decision"] = "maybe"
    with pytest.raises(ValueError, match="qa_decision"):
        compute_kpis(a)


def test_scopes_without_sample_audits_get_no_data_rows():
    a = make_audits()
    extra = a.iloc[[6]].assign(market="DE", audit_id="x")  # one targeted audit in DE
    out = compute_kpis(pd.concat([a, extra], ignore_index=True), by="market")
    de = row(out, "accuracy", market="DE")
    assert de["n"] == 0 and de["status"] == "no_data"
    assert row(out, "audit_volume", market="DE")["value"] == 1


def test_large_random_frame_matches_groupby():
    rng = np.random.default_rng(0)
    n = 5000
    a = pd.DataFrame(
        {
            "market": rng.choice(["BR", "US", "DE"], n),
            "policy": rng.choice(["P1", "P2", "P3", "P4"], n),
            "reviewer_decision": rng.choice(["approve", "reject"], n),
            "qa_decision": rng.choice(["approve", "reject"], n, p=[0.2, 0.8]),
            "sample_type": rng.choice(["random", "targeted"], n, p=[0.8, 0.2]),
        }
    )
    out = compute_kpis(a, by=["market", "policy"], kpis=["accuracy"])
    s = a[a["sample_type"] == "random"]
    exp = (s["reviewer_decision"] == s["qa_decision"]).groupby([s["market"], s["policy"]]).mean()
    got = out.set_index(["market", "policy"])["value"]
    pd.testing.assert_series_equal(got.sort_index(), exp.sort_index(), check_names=False)


# ------------------------------------------------------------------------------------------
# accuracy_table, error_mix, weekly_accuracy
# ------------------------------------------------------------------------------------------


def test_accuracy_table_by_policy():
    t = accuracy_table(make_audits(), "policy", targets=None, market="BR")
    assert list(t.columns) == [
        "policy",
        "n",
        "correct",
        "accuracy",
        "ci_low",
        "ci_high",
        "missed_violations",
        "over_enforcements",
        "margin_of_error",
        "audits_needed_for_1pp",
        "target",
        "status",
    ]
    adult = t[t["policy"] == "Adult"].iloc[0]
    weapons = t[t["policy"] == "Weapons"].iloc[0]
    # Adult (random sample): BR 3 + US 2, all correct; Weapons: BR 3 + US 2, 2 correct
    assert adult[["n", "correct", "missed_violations", "over_enforcements"]].tolist() == [
        5,
        5,
        0,
        0,
    ]
    assert weapons[["n", "correct", "missed_violations", "over_enforcements"]].tolist() == [
        5,
        2,
        2,
        1,
    ]
    assert t["policy"].tolist() == ["Weapons", "Adult"]  # worst first
    assert (weapons["ci_low"], weapons["ci_high"]) == pytest.approx(wilson_closed_form(2, 5))
    assert weapons["margin_of_error"] == pytest.approx((weapons["ci_high"] - weapons["ci_low"]) / 2)
    need = int(weapons["audits_needed_for_1pp"])
    assert margin_of_error(0.4, need) <= 0.01 < margin_of_error(0.4, need - 1)
    assert adult["target"] == 0.95 and adult["status"] == "at_risk"
    assert weapons["status"] == "off_track"


def test_accuracy_table_resolves_segment_targets():
    targets = pd.DataFrame(
        {
            "kpi": ["accuracy", "accuracy"],
            "market": ["BR", "BR"],
            "product_line": ["*", "TopView"],
            "target": [0.9, 0.7],
        }
    )
    t = accuracy_table(make_audits(), ["market", "product_line"], targets=targets)
    got = {(r.market, r.product_line): r.target for r in t.itertuples()}
    assert got == {("BR", "TopView"): 0.7, ("BR", "Spark Ads"): 0.9, ("US", "TopView"): 0.95}
    by_pl = accuracy_table(make_audits().query("market == 'BR'"), "product_line", targets=targets)
    assert dict(zip(by_pl["product_line"], by_pl["target"], strict=True)) == {
        "TopView": 0.7,
        "Spark Ads": 0.9,
    }


def test_error_mix_counts_and_shares():
    m = error_mix(make_audits(), by="policy")
    assert list(m.columns) == [
        "policy",
        "n",
        "errors",
        "missed_violations",
        "over_enforcements",
        "missed_violation_share",
        "over_enforcement_share",
        "missed_violation_rate",
        "over_enforcement_rate",
    ]
    w = m[m["policy"] == "Weapons"].iloc[0]
    assert w[["n", "errors", "missed_violations", "over_enforcements"]].tolist() == [5, 3, 2, 1]
    assert w["missed_violation_share"] == pytest.approx(2 / 3)
    assert w["over_enforcement_rate"] == pytest.approx(1 / 5)
    adult = m[m["policy"] == "Adult"].iloc[0]
    assert adult["errors"] == 0 and math.isnan(adult["missed_violation_share"])
    assert m["policy"].iloc[0] == "Weapons"


def test_weekly_accuracy_fills_gaps_and_uses_monday_weeks():
    w = weekly_accuracy(make_audits())
    assert list(w.columns) == ["week", "n", "accuracy", "ci_low", "ci_high"]
    assert (w["week"].dt.day_of_week == 0).all()
    # random-sample audits: week of 08-31: 4 (3 BR + 1 US), 09-07: 3, 09-14: 2, 09-21: 0, 09-28: 1
    assert w["week"].dt.strftime("%m-%d").tolist() == ["08-31", "09-07", "09-14", "09-21", "09-28"]
    assert w["n"].tolist() == [4, 3, 2, 0, 1]
    assert w["accuracy"].iloc[0] == 1.0
    assert w["accuracy"].iloc[1] == pytest.approx(1 / 3)
    assert math.isnan(w["accuracy"].iloc[3]) and math.isnan(w["ci_low"].iloc[3])
    empty = weekly_accuracy(make_audits().iloc[:0])
    assert list(empty.columns) == list(w.columns) and len(empty) == 0
