"""The monthly_business_review template end to end (built in one engine run together with every
market's market_accuracy report, so their numbers can be compared) and unit tests of its assembly,
``reporting.reports.monthly_business_review``, on the sample data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import build_reports
from statsmodels.stats.proportion import proportion_confint

from reporting.metrics import compute_kpis
from reporting.metrics.latent_truth import beside_accuracy
from reporting.render import sections
from reporting.reports.capacity_plan import capacity_report
from reporting.reports.monthly_business_review import (
    CHANGE_KPIS,
    PERSONAL_COLUMNS,
    mbr_no_data_message,
    mbr_report,
)
from reporting.viz.mbr import capacity_figure

PERIOD = "2026-10"
STATUSES = {"on_track", "at_risk", "off_track", "no_data"}
_EMBEDDED = re.compile(r"data:[a-z]+/[a-z+.-]+;base64,[A-Za-z0-9+/=\s]+")


# --------------------------------------------------------------------------------------------
# End to end: the MBR and every market's market_accuracy report in one run
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def markets(sample_snapshot) -> list[str]:
    return sorted(sample_snapshot.catalog["markets"])


@pytest.fixture(scope="module")
def run_dir(sample_snapshot, markets, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mbr")
    jobs = [("monthly_business_review", {"period": PERIOD})]
    jobs += [("market_accuracy", {"market": m, "period": PERIOD}) for m in markets]
    summary = build_reports(sample_snapshot, jobs, out)
    assert not summary.failed, [(r.id, r.error) for r in summary.failed]
    return out


@pytest.fixture(scope="module")
def results(run_dir) -> dict:
    return json.loads((run_dir / "monthly_business_review" / "results.json").read_text())


def _reviewer_ids(dataset) -> set[str]:
    ids = set(dataset.audits["reviewer_id"].dropna()) | set(dataset.roster["reviewer_id"].dropna())
    return ids | set(dataset.audits["auditor_id"].dropna())


@pytest.mark.slow
def test_mbr_renders_every_section(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    job = next(j for j in manifest["jobs"] if j["id"] == "monthly_business_review")
    assert job["status"] == "ok" and not job["no_data"], job
    html = (run_dir / job["id"] / "report.html").read_text()
    for heading in ("Executive summary", "Scorecard", "Month over month", "Trends",
                    "Top findings", "Capacity outlook"):
        assert heading in html
    assert "Traceback" not in html
    assert html.count('src="data:image/svg+xml;base64,') >= 2  # trends and capacity charts
    # status is never colour alone: every badge carries its label
    for label in ("Off track", "At risk", "On track"):
        assert label in html


@pytest.mark.slow
def test_mbr_shows_no_individual(run_dir, sample_dataset):
    ids = _reviewer_ids(sample_dataset)
    pattern = re.compile("|".join(sorted(map(re.escape, ids), key=len, reverse=True)))
    folder = run_dir / "monthly_business_review"
    html = _EMBEDDED.sub("", (folder / "report.html").read_text())
    res = (folder / "results.json").read_text()
    wb = openpyxl.load_workbook(folder / "tables.xlsx", read_only=True)
    cells = "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                      for v in row)
    for name, text in (("report.html", html), ("results.json", res), ("tables.xlsx", cells)):
        assert not pattern.findall(text), f"{name} shows {pattern.findall(text)[:5]}"
        for col in PERSONAL_COLUMNS:
            assert col not in text, f"{name} has a {col} column"


@pytest.mark.slow
def test_mbr_accuracy_equals_the_market_accuracy_reports(run_dir, results, markets):
    checked = 0
    for m in markets:
        ma = json.loads((run_dir / f"market_accuracy-{m}" / "results.json").read_text())
        want = {r["kpi"]: r for r in ma["kpis"] if r["scope"] == {"market": m}}
        got = {r["kpi"]: r for r in results["kpis"] if r["scope"] == {"market": m}}
        assert got["accuracy"] == want["accuracy"], m  # value, ci_low, ci_high, n, target, status
        # every market-level KPI both reports hold is the same number
        for kpi in set(got) & set(want):
            for field in ("value", "ci_low", "ci_high", "n", "target", "status"):
                assert got[kpi][field] == want[kpi][field], (m, kpi, field)
            checked += 1
        # and so is every month-over-month change
        ma_changes = {c["kpi"]: c for c in ma["changes"]}
        for c in (c for c in results["changes"] if c["market"] == m):
            ref = ma_changes[c["kpi"]]
            for field in ("from", "to", "diff", "ci_low", "ci_high", "p_value", "significant"):
                assert c[field] == ref[field], (m, c["kpi"], field)
    assert checked >= 6 * 10


@pytest.mark.slow
def test_mbr_results_and_tables(run_dir, results, markets):
    assert results["report"] == "monthly_business_review"
    assert {r["scope"]["market"] for r in results["kpis"]} == set(markets)
    assert all(r["status"] in STATUSES for r in results["kpis"])
    assert {c["market"] for c in results["changes"]} == set(markets)
    assert {c["kpi"] for c in results["changes"]} == set(CHANGE_KPIS)
    assert [f["market"] for f in results["findings"]] == markets
    assert {c["market"] for c in results["capacity"]} == set(markets)
    assert {c["month"] for c in results["capacity"]} == {"2026-11"}
    assert all(r["market"] in markets and "contribution_pp" in r for r in results["root_causes"])
    assert results["summary"]
    wb = openpyxl.load_workbook(run_dir / "monthly_business_review" / "tables.xlsx",
                                read_only=True)
    assert {"Scorecard", "Changes", "Findings", "Capacity"} <= set(wb.sheetnames)


# --------------------------------------------------------------------------------------------
# Unit tests of reporting.reports.monthly_business_review on the sample data (no kernel)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(sample_dataset):
    return mbr_report(sample_dataset, PERIOD, capacity=False)


def test_kpis_are_the_random_sample_accuracy_with_wilson_intervals(report, sample_dataset):
    a = sample_dataset.audits
    month = a[(a["period"] == PERIOD) & (a["sample_type"] == "random")]
    for m, g in month.groupby("market"):
        row = report.kpis[(report.kpis["market"] == m) & (report.kpis["kpi"] == "accuracy")]
        assert len(row) == 1
        row = row.iloc[0]
        correct = int((g["reviewer_decision"] == g["qa_decision"]).sum())
        low, high = proportion_confint(correct, len(g), alpha=0.05, method="wilson")
        assert row["n"] == len(g)
        assert row["value"] == pytest.approx(correct / len(g), abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-9)


def test_kpis_equal_one_compute_kpis_call_per_market(report, sample_dataset):
    """The one vectorised call gives what the market report's per-market call gives."""
    a, p = sample_dataset.audits, sample_dataset.production
    for m in report.markets:
        cur = a[(a["market"] == m) & (a["period"] == PERIOD)]
        prod = p[(p["market"] == m) & (p["period"] == PERIOD)]
        # the market report's frame: compute_kpis, with accuracy corrected for auditor error
        # beside accuracy where the month has double audits
        want = beside_accuracy(compute_kpis(cur, prod, sample_dataset.targets, by=["market"]),
                               cur, ["market"])
        got = report.kpis[report.kpis["market"] == m]
        pd.testing.assert_frame_equal(
            got[["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]]
            .reset_index(drop=True),
            want[["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]]
            .reset_index(drop=True))


def test_markets_with_different_last_days_are_computed_one_by_one(sample_dataset):
    a = sample_dataset.audits
    last = a.loc[a["period"] == PERIOD, "decision_date"].max()
    cut = a[~((a["market"] == "GB") & (a["decision_date"] == last))]
    ds = type(sample_dataset)(audits=cut, production=sample_dataset.production,
                              roster=sample_dataset.roster, targets=sample_dataset.targets,
                              events=sample_dataset.events)
    r = mbr_report(ds, PERIOD, ["GB", "JP"], capacity=False)
    for m in ("GB", "JP"):
        cur = cut[(cut["market"] == m) & (cut["period"] == PERIOD)]
        prod = ds.production[(ds.production["market"] == m) & (ds.production["period"] == PERIOD)]
        want = beside_accuracy(compute_kpis(cur, prod, ds.targets, by=["market"]), cur,
                               ["market"])
        got = r.kpis[r.kpis["market"] == m]
        assert got["status"].tolist() == want["status"].tolist()
        np.testing.assert_allclose(got["target"].to_numpy(float), want["target"].to_numpy(float))


def test_findings_tell_the_planted_stories(report):
    f = report.findings.set_index("market")
    assert "Political Content" in f.loc["DE", "finding"] and f.loc["DE", "effect"] == "mix"
    assert "Financial Services" in f.loc["BR", "finding"] and f.loc["BR", "effect"] == "rate"
    assert bool(f.loc["DE", "significant"]) and bool(f.loc["BR", "significant"])
    assert not bool(f.loc["GB", "significant"])  # the stable market: no false alarm
    assert "did not change significantly" in f.loc["GB", "finding"]


def test_summary_names_the_off_track_markets_and_the_movers(report):
    text = " ".join(report.summary)
    off = report.kpis[(report.kpis["kpi"] == "accuracy") & (report.kpis["status"] == "off_track")]
    assert off["market"].tolist()
    for m in off["market"]:
        assert m in report.summary[0]
    assert "Biggest movers" in text and "DE" in text and "BR" in text
    # issue 13: the summary names each off-track market's first action (was "Top finding, DE")
    assert "First action, DE" in text and "First action, BR" in text


def test_no_person_level_column_in_any_frame(report):
    for name in ("kpis", "volume", "changes", "trend", "findings", "root_causes", "capacity"):
        frame = getattr(report, name)
        assert not set(PERSONAL_COLUMNS) & set(frame.columns), name


def test_trend_covers_six_months_per_market(report):
    t = report.trend
    assert sorted(t["period"].unique()) == [f"2026-{m:02d}" for m in range(5, 11)]
    assert t.groupby("market").size().eq(6).all()
    oct_ = t[t["period"] == PERIOD].set_index("market")["value"]
    acc = report.kpis[report.kpis["kpi"] == "accuracy"].set_index("market")["value"]
    pd.testing.assert_series_equal(oct_.sort_index(), acc.sort_index(), check_names=False)


def test_market_subset_and_no_data(sample_dataset):
    r = mbr_report(sample_dataset, PERIOD, ["BR", "DE"], capacity=False)
    assert r.markets == ("BR", "DE")
    assert set(r.kpis["market"]) == {"BR", "DE"} and set(r.changes["market"]) == {"BR", "DE"}
    assert mbr_no_data_message(sample_dataset, PERIOD) is None
    assert "No audits in 2025-01" in mbr_no_data_message(sample_dataset, "2025-01")
    with pytest.raises(ValueError, match="No audits"):
        mbr_report(sample_dataset, "2025-01")


def test_html_views_carry_text_labels(report):
    card = sections.grid_html(report.scorecard_view())
    assert "Off track" in card and "At risk" in card and "target 96.0%" in card  # JP's own target
    changes = sections.grid_html(report.changes_view())
    assert "worse" in changes and "no significant change" in changes


def test_capacity_outlook_is_the_capacity_plan_of_the_next_month(sample_dataset):
    r = mbr_report(sample_dataset, PERIOD, ["GB"])
    row = r.capacity.iloc[0]
    plan = capacity_report(sample_dataset, "GB", "2026-11", accuracy_month=PERIOD).plan
    t = plan.totals.iloc[0]
    assert row["month"] == "2026-11"
    for col in ("forecast_cases", "forecast_low", "forecast_high", "required_fte",
                "available_fte", "gap_fte"):
        assert row[col] == pytest.approx(t[col], rel=1e-12), col
    assert row["sla_risk"] == t["sla_risk"]
    assert "Capacity for November 2026" in r.summary[-1]


def test_without_production_there_is_no_capacity_outlook(sample_dataset):
    import dataclasses

    ds = dataclasses.replace(sample_dataset, production=None)
    r = mbr_report(ds, PERIOD, ["GB"])
    assert r.capacity.empty and capacity_figure(r) is None
    assert "No production data" in sections.grid_html(r.capacity_view())
    assert "No production data" in r.notes[0]
    assert not set(r.kpis["kpi"]) & {"productivity", "sla_attainment", "audit_coverage"}


@pytest.mark.parametrize("markets", [None, ["GB", "ID"]])
def test_mbr_read_market_by_market_equals_the_mbr_of_all_data(sample_dataset, sample_snapshot,
                                                               markets):
    """The template reads one market at a time (bounded memory): the same report."""
    from reporting import notebook as rn
    from reporting.reports.monthly_business_review import (
        MBRData,
        mbr_no_data_message,
        read_mbr_data,
    )

    ctx = rn.start("t", {}, data_dir=str(sample_snapshot.path))
    data = read_mbr_data(ctx, PERIOD, markets)
    assert isinstance(data, MBRData) and len(data.base.audits) == 0
    assert mbr_no_data_message(data, PERIOD, markets) is None
    assert mbr_no_data_message(data, "2025-01", markets) is not None
    # the capacity outlook (the slow part) is compared on the subset; every market without it
    capacity = markets is not None
    streamed = mbr_report(data, PERIOD, markets, capacity=capacity)
    whole = mbr_report(sample_dataset, PERIOD, markets, capacity=capacity)
    assert streamed.markets == whole.markets
    for name in ("kpis", "volume", "changes", "trend", "findings", "root_causes", "capacity"):
        pd.testing.assert_frame_equal(getattr(streamed, name), getattr(whole, name), obj=name)
    assert streamed.summary == whole.summary and streamed.notes == whole.notes


# --------------------------------------------------------------------------------------------
# Issue 13: decisions before statistics (gap drivers, actions, events, follow-up, targets)
# --------------------------------------------------------------------------------------------


def _status(report, market: str, kpi: str = "accuracy") -> str:
    k = report.kpis
    return str(k[(k["market"] == market) & (k["kpi"] == kpi)]["status"].iloc[0])


def test_every_market_off_track_has_an_action_with_its_expected_gain(report):
    off = [m for m in report.markets if _status(report, m) == "off_track"]
    assert off  # the demo data has markets off track (BR, DE, GB, US)
    for m in off:
        acts = report.actions[report.actions["market"] == m]
        assert len(acts) >= 1, m
        assert acts["number"].tolist() == list(range(1, len(acts) + 1))
        assert acts["expected_gain_pp"].notna().any(), m
        assert set(acts["owner"]) <= {"team lead", "market owner", "policy",
                                      "workforce planning", "QA"}
        assert acts["evidence"].str.len().gt(20).all()


def test_the_planted_gaps_lead_to_their_groups(report):
    a = report.actions.set_index(["market", "number"])
    # BR: new hires failing on Financial Services; DE: Political Content during the election
    assert "Financial Services for reviewers in their first 90 days" in a.loc[("BR", 1), "action"]
    assert a.loc[("BR", 1), "owner"] == "team lead"
    assert "Political Content" in a.loc[("DE", 1), "action"]
    assert a.loc[("DE", 1), "expected_gain_pp"] > 2.0


def test_one_reviewer_behind_the_us_gap_is_counted_not_named(report, sample_dataset):
    f = report.findings.set_index("market")
    # the planted outlier: US below target with him, at target without him (figures measured
    # on the sample, not written in: the sample's other stories move them by a tenth or two)
    a = sample_dataset.audits
    us = a[(a["market"] == "US") & (a["period"] == "2026-10") & (a["sample_type"] == "random")]
    with_ = us["is_correct"].mean()
    without = max(us.loc[us["reviewer_id"] != r, "is_correct"].mean()
                  for r in us["reviewer_id"].unique())
    assert without >= 0.95 > with_
    assert (f"One reviewer accounts for the whole gap ({100 * with_:.1f}% with, "
            f"{100 * without:.1f}% without)") in f.loc["US", "text"]
    us = report.actions[report.actions["market"] == "US"]
    assert (us["owner"] == "team lead").any()
    ids = set(sample_dataset.audits["reviewer_id"].astype(str))
    text = " ".join(report.actions["evidence"]) + " ".join(report.findings["text"])
    assert not any(i in text for i in ids)


def test_findings_name_the_events_that_coincide(report):
    f = report.findings.set_index("market")
    assert [e.split(" (")[0] for e in f.loc["ID", "events"]] == [
        "Review tool incident: ad previews fail to load for part of the queue",
        "Review tool fix deployed"]
    assert "Review tool incident" in f.loc["ID", "text"] and "(25 Sep)" in f.loc["ID", "text"]
    assert any("Financial Services policy update" in e for e in f.loc["BR", "events"])
    assert "Financial Services policy update" in f.loc["BR", "text"]
    assert f.loc["GB", "events"] == []  # nothing recorded for GB in September-October


def test_findings_and_summary_speak_plainly(report):
    text = " ".join([*report.findings["text"], *report.summary, *report.actions["action"],
                     *report.actions["evidence"]])
    for jargon in ("p =", "p <", "Holm", "PELT", "phi", "(+ small groups)", "% of the drop",
                   "interval contains"):
        assert jargon not in text, jargon


def test_trend_applies_each_target_only_from_its_effective_from(report):
    # sample targets: accuracy 95% everywhere, JP 96% from 2026-07-01
    jp = report.trend[report.trend["market"] == "JP"].set_index("period")["target"]
    assert jp.loc[["2026-05", "2026-06"]].tolist() == [0.95, 0.95]
    assert jp.loc[["2026-07", "2026-08", "2026-09", "2026-10"]].eq(0.96).all()
    assert report.trend[report.trend["market"] == "BR"]["target"].eq(0.95).all()


def test_last_months_actions_are_followed_up(sample_dataset, tmp_path):
    from reporting.reports.monthly_business_review import (
        previous_results_path,
        read_previous_actions,
    )

    out = tmp_path / "2026-10"
    staging = out / ".staging" / "monthly_business_review-1-2"
    assert previous_results_path(staging, PERIOD) == (
        tmp_path / "2026-09" / "monthly_business_review" / "results.json")
    assert read_previous_actions(tmp_path / "absent.json") == ([], str(tmp_path / "absent.json"))
    prev = tmp_path / "2026-09" / "monthly_business_review" / "results.json"
    prev.parent.mkdir(parents=True)
    prev.write_text(json.dumps({"actions": [
        {"market": "ID", "action": "Check the tool fix", "owner": "market owner",
         "expected_gain_pp": 3.0, "evidence": "", "kpi": "accuracy"},
        {"market": "GB", "action": "Calibrate", "owner": "policy", "expected_gain_pp": 0.5,
         "evidence": ""}]}))
    acts, source = read_previous_actions(prev)
    r = mbr_report(sample_dataset, PERIOD, ["GB", "ID"], capacity=False,
                   previous_actions=acts, previous_source=source)
    moved = {f["market"]: f["moved"] for f in r.follow_ups}
    assert moved == {"ID": "improved", "GB": "no_change"}  # ID +3.8 pp after the fix
    html = sections.follow_up_html(r)
    assert "Check the tool fix" in html and "a real improvement" in html


def test_report_module_holds_no_html():
    import reporting.reports.monthly_business_review as mod

    source = Path(mod.__file__).read_text()
    assert not re.search(r"<(b|br|span|li|ul|div|table|td|tr|p|i)[ >/]", source)


@pytest.mark.slow
def test_mbr_records_findings_and_actions(results, markets):
    for f in results["findings"]:
        assert {"market", "text", "kpi", "events", "finding"} <= set(f)
        assert isinstance(f["events"], list)
    off = {r["scope"]["market"] for r in results["kpis"]
           if r["kpi"] == "accuracy" and r["status"] == "off_track"}
    assert off
    for m in off:
        acts = [a for a in results["actions"] if a["market"] == m]
        assert acts and any(a["expected_gain_pp"] is not None for a in acts), m
        for a in acts:
            assert {"market", "action", "owner", "expected_gain_pp", "evidence"} <= set(a)
    assert "follow_up" in results and "gap_drivers" in results


def test_findings_tell_what_the_policy_update_did(report, sample_dataset):
    """Issue 15 item 4: BR's finding says what the Financial Services update did to that policy
    (a dip, with its interval, not yet recovered), the update is among its events, and markets
    without an update that did something are told nothing more. Figures from the library on
    the data, not written in."""
    from reporting.metrics.compute import count_accuracy
    from reporting.reports._policy import analyse_policy_changes

    counts = count_accuracy(sample_dataset.audits, ["market", "policy", "decision_date"])
    (ref,) = analyse_policy_changes(sample_dataset.events, counts, PERIOD, ["BR"])
    assert ref.status == "dip" and ref.recovered is False
    f = report.findings.set_index("market")
    assert f.loc["BR", "text"].endswith(ref.text)
    assert (f"After the Financial Services update on 1 Oct, BR's accuracy on that policy dropped "
            f"{ref.dip_pp:.1f} points ({ref.dip_low_pp:.1f}-{ref.dip_high_pp:.1f}) and has not "
            "recovered after 4 weeks") in f.loc["BR", "text"]
    assert sum("Financial Services policy update" in e for e in f.loc["BR", "events"]) == 1
    assert "update on" not in f.loc["GB", "text"] and "update on" not in f.loc["DE", "text"]
    rec = report.records()["policy_changes"]
    assert rec[["market", "policy", "status"]].values.tolist() == [
        ["BR", "Financial Services", "dip"]]
    assert "Segmented" in " ".join(report.findings_view()["method"])


def test_a_policy_update_without_effect_is_recorded_not_told(sample_dataset):
    """The US Healthcare & Pharma clarification (15 Jul, no planted effect): in September's MBR
    it is recorded as no change and the US finding says nothing about it."""
    r = mbr_report(sample_dataset, "2026-09", ["US"], capacity=False)
    (pc,) = r.policy_changes
    assert (pc.policy, pc.status) == ("Healthcare & Pharma", "no_change")
    assert "Healthcare & Pharma update" not in r.findings.set_index("market").loc["US", "text"]


@pytest.mark.slow
def test_mbr_records_policy_changes(run_dir, results):
    (rec,) = results["policy_changes"]
    assert (rec["market"], rec["policy"], rec["status"]) == ("BR", "Financial Services", "dip")
    assert rec["dip_low_pp"] > 0 and rec["recovered"] is False
    br = next(f for f in results["findings"] if f["market"] == "BR")
    assert rec["text"] in br["text"]
    html = (run_dir / "monthly_business_review" / "report.html").read_text()
    assert "has not recovered after 4 weeks" in html
    wb = openpyxl.load_workbook(run_dir / "monthly_business_review" / "tables.xlsx",
                                read_only=True)
    assert "Policy changes" in wb.sheetnames
