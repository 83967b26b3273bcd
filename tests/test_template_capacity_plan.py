"""The capacity_plan template end to end (every market, as the monthly pack calls it: the reporting
month plus ``months_ahead=1``; and a no-data plan) and unit tests of its assembly,
``reporting.reports.capacity_plan``. The FTE arithmetic itself is tested in tests/test_capacity_*.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import build_reports

from reporting.render.capacity import render_section
from reporting.reports.capacity_plan import (
    CAPACITY_KPIS,
    NoCapacityData,
    capacity_kpis,
    capacity_report,
    off_track_reviewers,
    plan_month,
)

PERIOD = "2026-10"
PLAN_MONTH = "2026-11"
STATUSES = {"on_track", "at_risk", "off_track", "no_data"}
_EMBEDDED = re.compile(r"data:[a-z]+/[a-z+.-]+;base64,[A-Za-z0-9+/=\s]+")


# --------------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def markets(sample_snapshot) -> list[str]:
    return sorted(sample_snapshot.catalog["markets"])


@pytest.fixture(scope="module")
def run_dir(sample_snapshot, markets, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("capacity-plan")
    jobs = [("capacity_plan", {"market": m, "period": PERIOD, "months_ahead": 1})
            for m in markets]
    summary = build_reports(sample_snapshot, jobs, out)
    assert not summary.failed, [(r.id, r.error) for r in summary.failed]
    return out


@pytest.fixture(scope="module")
def no_data_dir(sample_snapshot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("capacity-plan-no-data")
    summary = build_reports(sample_snapshot, [("capacity_plan", {"market": "GB",
                                                                 "period": "2025-01"})],
                            out, formats=("html",))
    assert not summary.failed, [(r.id, r.error) for r in summary.failed]
    return out


def _results(run_dir: Path, market: str) -> dict:
    return json.loads((run_dir / f"capacity_plan-{market}" / "results.json").read_text())


@pytest.mark.slow
def test_renders_for_every_market_with_kpis(run_dir, markets, sample_dataset):
    product_lines = sorted(sample_dataset.production["product_line"].unique())
    for m in markets:
        html = (run_dir / f"capacity_plan-{m}" / "report.html").read_text()
        for heading in ("Outlook", "Volume forecast", "Capacity by product line",
                        "Work distribution", "Assumptions"):
            assert heading in html, (m, heading)
        assert "Traceback" not in html and "November 2026" in html
        res = _results(run_dir, m)
        assert res["plan_month"] == PLAN_MONTH
        kpis = res["kpis"]
        scopes = {tuple(sorted(r["scope"].items())) for r in kpis}
        assert (("market", m),) in scopes  # the market's total
        assert {dict(s).get("product_line") for s in scopes} == {None, *product_lines}
        by = {(r["scope"].get("product_line"), r["kpi"]): r for r in kpis}
        assert {k for _, k in by} == set(CAPACITY_KPIS)
        for pl in [None, *product_lines]:
            gap, req, avail = by[(pl, "fte_gap")], by[(pl, "required_fte")], by[(pl,
                                                                                "available_fte")]
            assert gap["value"] == pytest.approx(req["value"] - avail["value"])
            assert req["ci_low"] <= req["value"] <= req["ci_high"]
            assert gap["status"] in STATUSES and gap["status"] == req["status"]
        wb = openpyxl.load_workbook(run_dir / f"capacity_plan-{m}" / "tables.xlsx",
                                    read_only=True)
        assert {"Capacity by product line", "Work distribution", "Forecast back-test",
                "Assumptions", "Last month's plan vs actual"} <= set(wb.sheetnames)


@pytest.mark.slow
def test_outlook_uses_observed_shrinkage_and_shows_its_backtest(run_dir, markets):
    """Issue 13: on the demo data the plan counts the shrinkage measured in production (not
    the 15% default) and checks the plan for the reporting month against what happened."""
    for m in markets:
        res = _results(run_dir, m)
        a = res["assumptions"]
        assert a["shrinkage_source"] == "observed" and a["scope"] == {"market": m}
        assert a["ci_low"] <= a["shrinkage"] <= a["ci_high"] and 0 <= a["shrinkage"] < 0.15
        assert "not an assumed figure" in res["outlook"]
        back = {r["scope"].get("product_line"): r for r in res["backtest"]}
        total = back[None]
        assert total["month"] == PERIOD and total["scope"] == {"market": m}
        for key in ("forecast_cases", "ci_low", "ci_high", "actual_cases", "error_pct",
                    "within_interval"):
            assert key in total
        assert total["error_pct"] == pytest.approx(
            (total["forecast_cases"] - total["actual_cases"]) / total["actual_cases"])
        assert total["within_interval"] == (total["ci_low"] <= total["actual_cases"]
                                            <= total["ci_high"])
        assert f"{total['actual_cases']:,.0f} came" in res["outlook"]
        html = (run_dir / f"capacity_plan-{m}" / "report.html").read_text()
        assert "Did last month" in html and "The plan for October 2026" in html
        assert "How this was computed" in html
    # Reviewers on two product lines give the redistribution something to do somewhere.
    assert any(r["action"] == "move" for m in markets
               for r in _results(run_dir, m)["work_distribution"])


@pytest.mark.slow
def test_plan_says_which_new_hire_ramp_it_used(run_dir, markets):
    """The planted BR hire wave (seen for 13 weeks by the end of October) gives BR its own
    ramp; a market without hires (GB) borrows all markets'; the plan says so and counts by it."""
    from reporting.data import planted_stories

    story = planted_stories(PERIOD)["new_hire_ramp"]
    br_wave = story["cohorts"][f"BR {story['br_cohort_hire_date']}"]
    hired = {key.split()[0] for key in story["cohorts"]}
    assert "BR" in hired and "GB" not in hired
    for m, source, who in (("BR", "market", "BR's new hires"),
                           ("GB", "all_markets", "all markets' new hires")):
        res = _results(run_dir, m)
        a = res["assumptions"]
        assert a["ramp_source"] == source and a["ramp_weeks"] == 13
        steps = a["ramp_up"]
        assert [b for b, _ in steps] == [7 * (w + 1) for w in range(13)]
        assert [f for _, f in steps] == sorted(f for _, f in steps)
        html = (run_dir / f"capacity_plan-{m}" / "report.html").read_text()
        assert "New-hire ramp" in html and f"New-hire ramp estimated from {who}" in html
        used = [r for r in res["ramp"] if r["measure"] == "ramp_used"]
        assert [r["week"] for r in used] == list(range(13))
        wb = openpyxl.load_workbook(run_dir / f"capacity_plan-{m}" / "tables.xlsx",
                                    read_only=True)
        assert "New-hire ramp" in wb.sheetnames
    cohorts = [r for r in _results(run_dir, "BR")["ramp"] if r["measure"] == "productivity"]
    assert {r["scope"]["cohort"] for r in cohorts} == {story["br_cohort_hire_date"][:7]}
    assert max(r["reviewers"] for r in cohorts) == len(br_wave)
    # a market-level report: no week of fewer than three new hires (one person's results)
    assert all(r["reviewers"] >= 3 for m in markets for r in _results(run_dir, m)["ramp"]
               if r["measure"] == "productivity")


@pytest.mark.slow
def test_no_reviewer_appears(run_dir, markets, sample_dataset):
    ids = set(sample_dataset.roster["reviewer_id"]) | set(sample_dataset.audits["reviewer_id"])
    pattern = re.compile("|".join(sorted(map(re.escape, ids), key=len, reverse=True)))
    for m in markets:
        folder = run_dir / f"capacity_plan-{m}"
        html = _EMBEDDED.sub("", (folder / "report.html").read_text())
        res = (folder / "results.json").read_text()
        wb = openpyxl.load_workbook(folder / "tables.xlsx", read_only=True)
        cells = "\n".join(str(v) for ws in wb.worksheets
                          for row in ws.iter_rows(values_only=True) for v in row)
        for name, text in (("report.html", html), ("results.json", res), ("tables.xlsx", cells)):
            assert not pattern.findall(text), (m, name, pattern.findall(text)[:3])
            assert "reviewer_id" not in text, (m, name)


@pytest.mark.slow
def test_no_production_renders_a_no_data_report(no_data_dir):
    manifest = json.loads((no_data_dir / "manifest.json").read_text())
    job = manifest["jobs"][0]
    assert job["status"] == "ok" and job["no_data"]
    res = json.loads((no_data_dir / job["id"] / "results.json").read_text())
    assert res["no_data"] and res["kpis"] == []


# --------------------------------------------------------------------------------------------
# Unit tests of reporting.reports.capacity_plan
# --------------------------------------------------------------------------------------------


def test_plan_month():
    assert plan_month("2026-10") == "2026-10"
    assert plan_month("2026-10", 1) == "2026-11"
    assert plan_month("2026-12", 1) == "2027-01"
    with pytest.raises(ValueError, match="months_ahead"):
        plan_month("2026-10", -1)
    with pytest.raises(ValueError, match="not a month"):
        plan_month("October")


def _audits(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """(reviewer, product line, audits, correct) -> canonical-enough audits."""
    out = []
    for rid, pl, n, correct in rows:
        for i in range(n):
            out.append({"reviewer_id": rid, "product_line": pl, "market": "BR",
                        "reviewer_decision": "approve", "qa_decision":
                        "approve" if i < correct else "reject", "sample_type": "random",
                        "decision_date": pd.Timestamp("2026-10-15")})
    return pd.DataFrame(out)


def test_off_track_reviewers_need_enough_audits_and_an_interval_below_target():
    a = _audits([("A", "Spark Ads", 40, 28),    # 70% on 40: Wilson upper ~83% < 95%
                 ("B", "Spark Ads", 10, 0),     # 0% on 10: too few audits, never judged
                 ("C", "Spark Ads", 200, 200),  # 100% on 200
                 ("A", "TopView", 40, 39)])
    judged = off_track_reviewers(a, min_audits=30)
    got = judged.set_index(["reviewer_id", "product_line"])["status"].to_dict()
    assert got == {("A", "Spark Ads"): "off_track", ("A", "TopView"): "at_risk",
                   ("C", "Spark Ads"): "on_track"}
    row = judged[(judged["reviewer_id"] == "A") & (judged["product_line"] == "Spark Ads")]
    assert float(row["ci_high"].iloc[0]) < float(row["target"].iloc[0])
    assert off_track_reviewers(a.iloc[:0]).empty


@pytest.fixture(scope="module")
def gb(sample_dataset):
    return capacity_report(sample_dataset, "GB", PLAN_MONTH)


def test_capacity_kpis_follow_the_plan(gb):
    k = gb.kpis
    plan = pd.concat([gb.plan.by_product_line, gb.plan.totals], ignore_index=True)
    assert len(k) == 4 * len(plan)
    assert k["product_line"].isna().sum() == 4  # the market's total
    for _, r in plan.iterrows():
        pl = None if r["product_line"] == "All product lines" else r["product_line"]
        rows = k[k["product_line"].isna()] if pl is None else k[k["product_line"] == pl]
        v = rows.set_index("kpi")
        assert v.loc["fte_gap", "value"] == pytest.approx(r["gap_fte"])
        assert v.loc["forecast_cases", "ci_low"] == pytest.approx(r["forecast_low"])
        assert v.loc["required_fte", "target"] == pytest.approx(r["available_fte"])
        lo, hi = r["required_fte_low"], r["required_fte_high"]
        want = ("on_track" if hi <= r["available_fte"] else
                "off_track" if lo > r["available_fte"] else "at_risk")
        assert set(v["status"]) == {want}
    pd.testing.assert_frame_equal(k, capacity_kpis(gb.plan))


def test_accuracy_constraint_reaches_the_plan(sample_dataset):
    br = capacity_report(sample_dataset, "BR", PLAN_MONTH)
    assert br.accuracy_month == PERIOD and br.judged_pairs > 0
    assert br.plan.by_product_line["off_track_reviewers"].sum() == br.off_track_pairs
    assert br.off_track_pairs > 0  # the BR new-hire cohort struggles in October


def test_outlook_and_tables(gb):
    t = gb.plan.totals.iloc[0]
    assert f"{t['forecast_cases']:,.0f}" in gb.outlook and "November 2026" in gb.outlook
    assert "FTE" in gb.outlook
    html = render_section("capacity", gb)
    assert "All product lines" in html and "risk" in html
    back, _ = gb.model_table()
    assert set(back["product line"]) == set(gb.plan.by_product_line["product_line"])
    sheets = {name: frame for name, frame, _ in gb.tables()}
    for frame in sheets.values():
        assert "reviewer_id" not in frame.columns
        assert "off_track_reviewers" not in frame.columns
    assert gb.notes()[-1].startswith("Accuracy constraint")


def test_shrinkage_observed_by_default_and_a_parameter_overrides_it(gb, sample_dataset):
    from reporting.capacity import observed_shrinkage

    est = observed_shrinkage(sample_dataset.production, gb.plan.as_of, "GB",
                             roster=sample_dataset.roster)
    assert gb.shrinkage.source == "observed"
    assert gb.plan.assumptions.shrinkage == pytest.approx(est.shrinkage)
    rec = gb.records()
    assert rec["assumptions"]["shrinkage_source"] == "observed"
    assert rec["assumptions"]["shrinkage"] == pytest.approx(est.shrinkage)
    fixed = capacity_report(sample_dataset, "GB", PLAN_MONTH, shrinkage=0.15, backtest=False)
    assert fixed.shrinkage.source == "parameter" and fixed.plan.assumptions.shrinkage == 0.15
    assert fixed.shrinkage.observed == pytest.approx(est.observed)  # measurement kept
    assert fixed.records()["backtest"] == []
    # More shrinkage, fewer days per FTE: more FTE required for the same forecast.
    assert (fixed.plan.totals["required_fte"].iloc[0]
            > gb.plan.totals["required_fte"].iloc[0])


def test_backtest_of_the_last_complete_month(gb):
    back = gb.backtest
    assert set(back["month"]) == {PERIOD} and back["product_line"].isna().sum() == 1
    recs = gb.records()["backtest"]
    assert {r["month"] for r in recs} == {PERIOD}
    assert all(r["scope"]["market"] == "GB" for r in recs)
    total = back[back["product_line"].isna()].iloc[0]
    assert f"{total['actual_cases']:,.0f} came" in gb.backtest_sentence
    assert gb.backtest_sentence not in gb.outlook_body and gb.headline in gb.outlook


def test_html_is_escaped_by_the_templates(gb):
    import dataclasses

    from reporting.reports.capacity_plan import CapacityReport

    by = gb.plan.by_product_line.copy()
    by.loc[0, "product_line"] = "<script>alert(1)</script>"
    plan = dataclasses.replace(gb.plan, by_product_line=by)
    fields = {f.name: getattr(gb, f.name) for f in dataclasses.fields(gb)}
    html = render_section("capacity", CapacityReport(**{**fields, "plan": plan}))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for name in ("outlook", "backtest", "moves", "assumptions", "method"):
        assert "Traceback" not in render_section(name, gb)


def test_no_production_before_the_month_is_no_data(sample_dataset):
    with pytest.raises(NoCapacityData, match="GB"):
        capacity_report(sample_dataset, "GB", "2025-01")
    empty = type(sample_dataset)(audits=sample_dataset.audits, production=None)
    with pytest.raises(NoCapacityData):
        capacity_report(empty, "GB", PLAN_MONTH)


def test_past_month_plan_shows_actual_volume(sample_dataset):
    r = capacity_report(sample_dataset, "GB", PERIOD)
    assert r.plan.as_of == pd.Timestamp("2026-09-30")
    actual = r.plan.totals["actual_cases"].iloc[0]
    assert np.isfinite(actual) and f"{actual:,.0f}" in r.outlook


def test_suggested_moves_are_shown_and_counted(gb):
    """A plan with a given move (the distribution itself is tested in
    test_capacity_distribution.py). Before issue 13 the sample's reviewers each worked on one
    product line and ``gb`` never moved work; now some do (see the end-to-end test)."""
    import dataclasses

    from reporting.capacity import MOVE_COLUMNS
    from reporting.reports.capacity_plan import CapacityReport, outlook_text

    move = dict.fromkeys(MOVE_COLUMNS, np.nan)
    move.update(from_product_line="TopView", to_product_line="Spark Ads", reviewer_days=14.0,
                fte_equivalent=14 / 17.85, cases_covered=4000.0, cases_released=3900.0,
                eligible_reviewers=2, gap_before_fte=1.0, remaining_gap_fte=0.2,
                action="move", sentence="Move 14 reviewer-days (0.8 FTE) from TopView to ...")
    plan = dataclasses.replace(gb.plan, redistribution=pd.DataFrame([move], columns=MOVE_COLUMNS))
    fields = {f.name: getattr(gb, f.name) for f in dataclasses.fields(gb)}
    r = CapacityReport(**{**fields, "plan": plan, "outlook": outlook_text(plan)})
    assert r.has_moves
    assert "suggested moves shift 14 reviewer-days (0.8 FTE)" in r.outlook
    frame, _ = r.moves_table()
    assert frame.loc[0, "reviewer-days"] == 14 and frame.loc[0, "from"] == "TopView"
    assert r.move_sentences()[0].startswith("Move 14 reviewer-days")
