"""Sample data: realistic shape, determinism, and the planted stories really in the data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporting.data import (
    PLANTED_STORIES,
    TABLES,
    Dataset,
    generate_sample_data,
    load_dataset,
    planted_stories,
    write_sample_data,
)
from reporting.data.schema import KNOWN_KPIS


@pytest.fixture(scope="module")
def sample() -> Dataset:
    """The default sample (seed 7, 6 months to 2026-10, ~100k audits), canonical."""
    return load_dataset(generate_sample_data(seed=7, scale=1.0))


@pytest.fixture(scope="module")
def random_audits(sample: Dataset) -> pd.DataFrame:
    return sample.audits[sample.audits["sample_type"] == "random"]


def _digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def _acc(df: pd.DataFrame) -> float:
    return float(df["is_correct"].mean())


def _z(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Two-proportion z statistic of accuracy (b minus a), pooled variance."""
    n1, n2 = len(a), len(b)
    p = (a["is_correct"].sum() + b["is_correct"].sum()) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return float((_acc(b) - _acc(a)) / se)


# ---------------------------------------------------------------------------------
# shape


def test_sample_is_valid_and_realistic(sample, random_audits):
    assert not sample.problems  # no error, no warning
    a = sample.audits
    # ~100k audits of ~100k cases; since issue 14, 10-20% of the random audits' cases also get
    # a calibration double audit (reporting/data/sample_calibration.py)
    assert 95_000 <= a["case_id"].nunique() <= 105_000
    assert 0.10 <= (a.groupby("case_id").size() >= 2).mean() <= 0.20
    assert sorted(a["market"].unique()) == sorted(["US", "GB", "DE", "BR", "ID", "JP"])
    assert sorted(a["product_line"].unique()) == sorted(
        ["In-Feed Ads", "Spark Ads", "TopView", "Search Ads"]
    )
    assert a["policy"].nunique() == 10
    assert set(a["queue"].unique()) == {"standard", "priority", "escalations"}
    assert sorted(a["period"].unique()) == [f"2026-{m:02d}" for m in range(5, 11)]
    shares = a.drop_duplicates("case_id")["sample_type"].value_counts(normalize=True)  # 1st audits
    assert shares["random"] > 0.8 and {"targeted", "new_hire", "calibration"} <= set(shares.index)
    assert 0.94 <= _acc(random_audits) <= 0.96
    by_policy = random_audits.groupby("policy")["is_correct"].mean()
    assert by_policy.max() - by_policy.min() > 0.07  # policies differ in difficulty
    errors = a[~a["is_correct"]]
    assert errors["severity"].notna().all() and a.loc[a["is_correct"], "severity"].isna().all()
    assert set(errors["error_type"]) == {"missed_violation", "over_enforcement"}
    assert (a["weight"] > 0).all() and (a["handling_time_s"] >= 3).all()
    assert a["auditor_id"].notna().all()


def test_sample_organisation(sample):
    r = sample.roster
    assert 140 <= len(r) <= 165
    assert r["team_lead"].nunique() == 12
    assert (r.groupby("team_lead")["market"].nunique() == 1).all()  # each team in one market
    assert r["site"].notna().all()
    tenure = (pd.Timestamp("2026-10-31") - r["hire_date"]).dt.days
    assert tenure.min() < 30 and tenure.max() > 3 * 365  # new hires and veterans


def test_production_patterns(sample):
    p = sample.production
    assert (p["sla_met"] <= p["cases_handled"]).all()
    weekday = p["date"].dt.day_of_week < 5
    per_day = p.groupby("date")["cases_handled"].sum()
    wk = per_day[per_day.index.day_of_week < 5].mean()
    we = per_day[per_day.index.day_of_week >= 5].mean()
    assert we < 0.5 * wk  # weekday pattern
    assert weekday.mean() > 0.8
    monthly = p.groupby("period")["cases_handled"].sum()
    assert monthly.idxmax() in ("2026-08", "2026-09")  # seasonal bump
    coverage = len(sample.audits) / p["cases_handled"].sum()
    assert 0.01 < coverage < 0.05  # a few % of cases are audited


def test_targets_and_events(sample):
    t = sample.targets
    assert set(t["kpi"]) <= set(KNOWN_KPIS)
    glob = t[(t["kpi"] == "accuracy") & (t["market"] == "*") & (t["product_line"] == "*")]
    assert glob["target"].tolist() == [0.95]
    jp = t[(t["kpi"] == "accuracy") & (t["market"] == "JP")]
    assert jp["target"].tolist() == [0.96]
    for kpi, value in [
        ("missed_violation_rate", 0.03),
        ("over_enforcement_rate", 0.02),
        ("sla_attainment", 0.95),
    ]:
        assert t.loc[t["kpi"] == kpi, "target"].tolist() == [value]
    assert {"productivity", "handling_time_mean"} <= set(t["kpi"])
    ev = sample.events
    dates = set(ev["date"].dt.strftime("%Y-%m-%d"))
    s = PLANTED_STORIES
    assert {
        s["br_new_hire_financial_services"]["cohort_hire_date"],
        s["br_new_hire_financial_services"]["policy_update_date"],
        s["de_political_mix_shift"]["event_date"],
        s["id_tooling_incident"]["start_date"],
    } <= dates
    assert {"policy_update", "tooling", "staffing", "training"} <= set(ev["kind"])
    assert "GB" not in set(ev["market"])


# ---------------------------------------------------------------------------------
# planted stories


def test_story_br_new_hires_on_financial_services(sample, random_audits):
    story = PLANTED_STORIES["br_new_hire_financial_services"]
    br = random_audits[random_audits["market"] == "BR"]
    fs = br["policy"] == "Financial Services"
    new = br["tenure_days"] < story["tenure_below_days"]
    oct_, sep = br["period"] == "2026-10", br["period"] == "2026-09"
    cohort_oct = br[fs & new & oct_]
    rest_oct = br[~(fs & new) & oct_]
    assert len(cohort_oct) >= 100
    assert _acc(cohort_oct) < 0.75
    assert _acc(rest_oct) - _acc(cohort_oct) > 0.2
    assert _acc(br[fs & new & sep]) > 0.88  # before the policy update: only a tenure effect
    # the cohort is the documented one, hired on the documented date
    cohort = set(story["cohort_reviewer_ids"])
    assert set(cohort_oct["reviewer_id"]) <= cohort and len(cohort) == 12
    hired = sample.roster.set_index("reviewer_id").loc[sorted(cohort), "hire_date"]
    assert (hired.dt.strftime("%Y-%m-%d") == story["cohort_hire_date"]).all()
    # the market as a whole drops significantly
    assert _z(br[sep], br[oct_]) < -2.0


def test_story_de_is_a_mix_shift(random_audits):
    de = random_audits[random_audits["market"] == "DE"]
    sep, oct_ = de[de["period"] == "2026-09"], de[de["period"] == "2026-10"]
    share = {
        k: float((d["policy"] == "Political Content").mean())
        for k, d in (("sep", sep), ("oct", oct_))
    }
    assert share["sep"] < 0.08 and share["oct"] > 0.28
    assert _acc(sep) - _acc(oct_) > 0.015  # DE accuracy drops...
    # ...but with September's policy mix, October's accuracy is the same (rate effect ~ 0)
    rate_oct = oct_.groupby("policy")["is_correct"].mean()
    mix_sep = sep["policy"].value_counts(normalize=True)
    standardised_oct = float((rate_oct.reindex(mix_sep.index) * mix_sep).sum())
    assert abs(standardised_oct - _acc(sep)) < 0.01
    political = [d[d["policy"] == "Political Content"] for d in (sep, oct_)]
    assert abs(_z(*political)) < 2.0  # the hard policy itself did not get worse


def test_story_outlier_and_low_volume_reviewers(sample):
    a = sample.audits
    out = PLANTED_STORIES["outlier_reviewer"]
    low = PLANTED_STORIES["low_volume_reviewer"]
    team = a[(a["team_lead"] == out["team_lead"]) & (a["sample_type"] == "random")]
    per = team.groupby("reviewer_id")["is_correct"].agg(["mean", "size"])
    assert 0.75 <= per.loc[out["reviewer_id"], "mean"] <= 0.86
    assert per.loc[out["reviewer_id"], "size"] > 1.5 * per["size"].median()
    others = per.drop([out["reviewer_id"], low["reviewer_id"]])
    assert others["mean"].min() > 0.9  # the outlier is the only one
    lv = a[a["reviewer_id"] == low["reviewer_id"]]
    assert len(lv) == 4 and int(lv["is_correct"].sum()) == 2
    assert set(lv["period"]) == {low["period"]} and set(lv["team_lead"]) == {low["team_lead"]}


def test_story_gb_is_stable(random_audits):
    gb = random_audits[random_audits["market"] == "GB"]
    assert abs(_z(gb[gb["period"] == "2026-09"], gb[gb["period"] == "2026-10"])) < 2.0
    # every month inside the 3-sigma limits of a p-chart (in statistical control)
    monthly = gb.groupby("period")["is_correct"].agg(["mean", "size"])
    p_bar = gb["is_correct"].mean()
    sigma = np.sqrt(p_bar * (1 - p_bar) / monthly["size"])
    assert ((monthly["mean"] - p_bar).abs() < 3 * sigma).all()


def test_story_id_tooling_incident(random_audits):
    s = PLANTED_STORIES["id_tooling_incident"]
    idm = random_audits[random_audits["market"] == "ID"]
    d = idm["decision_date"]
    start, end = pd.Timestamp(s["start_date"]), pd.Timestamp(s["end_date"])
    during = idm[(d >= start) & (d <= end)]
    before = idm[(d >= start - pd.Timedelta(days=20)) & (d < start)]
    after = idm[(d > end) & (d <= end + pd.Timedelta(days=20))]
    assert _acc(during) < 0.90
    assert _acc(before) > 0.93 and _acc(after) > 0.93
    assert s["days"] == (end - start).days + 1 == 10


def test_planted_stories_follow_end_period():
    s = planted_stories("2027-03")
    assert s["br_new_hire_financial_services"]["period"] == "2027-03"
    assert s["br_new_hire_financial_services"]["policy_update_date"] == "2027-03-01"
    assert s["id_tooling_incident"]["start_date"] == "2027-02-15"
    ds = generate_sample_data(seed=3, months=3, scale=0.05, end_period="2027-03")
    periods = sorted(ds.audits["decision_date"].dt.strftime("%Y-%m").unique())
    assert periods == ["2027-01", "2027-02", "2027-03"]


# ---------------------------------------------------------------------------------
# determinism and scale


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_byte_identical_files(tmp_path, fmt):
    a = write_sample_data(tmp_path / "a", seed=11, scale=0.05, fmt=fmt)
    b = write_sample_data(tmp_path / "b", seed=11, scale=0.05, fmt=fmt)
    c = write_sample_data(tmp_path / "c", seed=12, scale=0.05, fmt=fmt)
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert set(da) == {f"{t}.{fmt}" for t in TABLES}
    assert da == db
    assert da[f"audits.{fmt}"] != dc[f"audits.{fmt}"]


def test_written_files_equal_the_in_memory_sample(tmp_path):
    path = write_sample_data(tmp_path, seed=5, scale=0.05, fmt="parquet")
    on_disk = load_dataset(path)
    in_memory = load_dataset(generate_sample_data(seed=5, scale=0.05))
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(on_disk, name), getattr(in_memory, name))


def test_scale_sets_the_volume():
    small = generate_sample_data(seed=2, scale=0.05)  # cases: audits but the double audits
    assert 4_500 <= small.audits["case_id"].nunique() <= 5_500
    big = generate_sample_data(seed=2, scale=2.0)
    assert 190_000 <= big.audits["case_id"].nunique() <= 210_000
    # the organisation is replicated (the one low-volume reviewer is not)
    assert len(big.roster) == 2 * len(small.roster) - 1
    assert big.audits["audit_id"].is_unique


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        generate_sample_data(scale=0)
    with pytest.raises(ValueError):
        generate_sample_data(end_period="October")
    with pytest.raises(ValueError):
        write_sample_data(tmp_path, scale=0.05, fmt="json")  # type: ignore[arg-type]
