"""The appeals template end to end on the sample data (real kernels), and without an appeals
table (issue 15)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from conftest import build_reports

from reporting.data.sample_appeals import HIGH_OVERTURN_POLICY

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def run_dir(sample_snapshot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("appeals")
    jobs = [("appeals", {"market": m, "period": PERIOD}) for m in ("BR", "DE")]
    summary = build_reports(sample_snapshot, jobs, out)
    assert not summary.failed, [(r.id, r.error) for r in summary.failed]
    return out


def _results(run_dir: Path, market: str) -> dict:
    return json.loads((run_dir / f"appeals-{market}" / "results.json").read_text())


@pytest.mark.parametrize("market", ["BR", "DE"])
def test_the_planted_policy_is_found_and_comes_first(run_dir, market):
    r = _results(run_dir, market)
    assert r["report"] == "appeals" and r["params"] == {"market": market, "period": PERIOD}
    policy = {k["scope"].get("policy"): k for k in r["kpis"] if "policy" in k["scope"]}
    assert policy[HIGH_OVERTURN_POLICY]["status"] == "off_track"
    assert all(k["status"] != "off_track" for p, k in policy.items() if p != HIGH_OVERTURN_POLICY)
    assert r["actions"][0]["expected_gain_pp"] > 0
    assert HIGH_OVERTURN_POLICY in r["actions"][0]["evidence"]
    market_kpi = [k for k in r["kpis"] if k["scope"] == {"market": market}]
    assert len(market_kpi) == 1 and market_kpi[0]["kpi"] == "overturn_rate"
    assert market_kpi[0]["ci_low"] <= market_kpi[0]["value"] <= market_kpi[0]["ci_high"]
    s = r["appeals_summary"]
    assert s["appealed"] > 100 and s["median_days"] > 0 and s["target_source"] == "default"


def test_the_page_opens_with_decisions_and_names_no_one(run_dir):
    html = (run_dir / "appeals-BR" / "report.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    assert text.index("What to do") < text.index("The month in numbers") < text.index(
        "How this was computed")
    assert f"{HIGH_OVERTURN_POLICY.replace('&', '&amp;')} decisions are overturned" in html
    assert "selected sample" in text and "Decisions appealed" in text
    assert not re.search(r"\bR\d{5}\b", text)  # no reviewer's figures in a market report
    assert "<script src=" not in html  # opens offline


def test_tables_are_registered(run_dir):
    import openpyxl

    wb = openpyxl.load_workbook(run_dir / "appeals-BR" / "tables.xlsx", read_only=True)
    assert {"By policy", "By product line", "By market", "Time to resolution",
            "Backlog by week"} <= set(wb.sheetnames)


def test_without_an_appeals_table_it_says_what_is_missing(sample_dataset, tmp_path):
    from reporting.run.runner import make_snapshot

    ds = dataclasses.replace(sample_dataset, appeals=None, coaching=None)
    snap = make_snapshot(ds, tmp_path / "snap")
    summary = build_reports(snap, [("appeals", {"market": "GB", "period": PERIOD})],
                            tmp_path / "out")
    assert not summary.failed
    r = json.loads((tmp_path / "out" / "appeals-GB" / "results.json").read_text())
    assert r["no_data"] is not False and r["kpis"] == []
    html = (tmp_path / "out" / "appeals-GB" / "report.html").read_text()
    assert "no appeals table" in html and "appeal_id" in html
