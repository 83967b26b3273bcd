"""The auditor_calibration template end to end on the sample data (the planted auditors are
found), the degraded note without double audits, and the report's records on a small frame."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import build_reports

from reporting.core.errors import NoData
from reporting.data.sample_calibration import HARSH_AUDITOR, LENIENT_AUDITOR
from reporting.reports import REPORTS
from reporting.reports.auditor_calibration import read

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def run_dir(sample_snapshot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("auditor-calibration")
    jobs = [("auditor_calibration", {"market": m, "period": PERIOD}) for m in ("JP", "GB")]
    summary = build_reports(sample_snapshot, jobs, out)
    assert not summary.failed, [(r.id, r.error) for r in summary.failed]
    return out


def _results(run_dir: Path, market: str) -> dict:
    path = run_dir / f"auditor_calibration-{market}" / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_planted_auditors_are_found_and_accuracy_is_corrected(run_dir):
    res = _results(run_dir, "JP")
    flagged = {a["auditor_id"]: a["reason"] for a in res["auditors"] if a["flagged"]}
    assert set(flagged) == {LENIENT_AUDITOR, HARSH_AUDITOR}
    assert flagged[LENIENT_AUDITOR].startswith("passes")
    assert flagged[HARSH_AUDITOR].startswith("rejects")
    kpis = {k["kpi"]: k for k in res["kpis"]}
    raw, corr = kpis["accuracy"], kpis["accuracy_corrected"]
    assert corr["scope"] == {"market": "JP"} and corr["n"] == raw["n"]
    # the planted auditors make JP look ~2-3 points worse than it is: the corrected interval
    # lies above the measured figure
    assert corr["ci_low"] > raw["value"] and corr["value"] - raw["value"] > 0.01
    measures = {a["measure"] for a in res["agreement"] if a["scope"] == {"market": "JP"}}
    assert measures == {"percent_agreement", "cohen_kappa", "fleiss_kappa", "gwet_ac1",
                        "krippendorff_alpha"}
    actions = {a["action"].split(" on ")[0]: a for a in res["actions"]}
    assert set(actions) == {f"Recalibrate auditor {LENIENT_AUDITOR}",
                            f"Recalibrate auditor {HARSH_AUDITOR}"}
    assert all(a["expected_gain_pp"] > 0 and a["owner"] for a in actions.values())
    gains = sum(a["expected_gain_pp"] for a in actions.values())
    assert gains <= (corr["value"] - raw["value"]) * 100 + 0.05  # parts of the gap


@pytest.mark.slow
def test_a_calibrated_market_flags_no_one(run_dir):
    res = _results(run_dir, "GB")
    assert not any(a["flagged"] for a in res["auditors"]) and res["actions"] == []
    kpis = {k["kpi"]: k for k in res["kpis"]}
    c = kpis["accuracy_corrected"]
    # calibrated auditors: the correction is small. Not "raw inside the corrected interval":
    # the sample's normal auditors are exact on their regular audits but err 1.5% on their
    # calibration audits (docs/data.md), which moves the corrected figure 0.3-0.8 pp up in
    # every calm market; on the merged sample GB's raw figure lies 0.04 pp below that interval.
    assert abs(c["value"] - kpis["accuracy"]["value"]) < 0.01
    assert c["ci_low"] - 0.005 <= kpis["accuracy"]["value"] <= c["ci_high"]


@pytest.mark.slow
def test_html_leads_with_the_decision_and_tables_are_written(run_dir):
    html = (run_dir / "auditor_calibration-JP" / "report.html").read_text(encoding="utf-8")
    assert "Measured accuracy in JP" in html and "Recalibrate auditor" in html
    assert "All policies" in html  # the agreement table, one row per scope
    assert html.index("What to do") < html.index("How this was computed")
    sheets = pd.ExcelFile(run_dir / "auditor_calibration-JP" / "tables.xlsx").sheet_names
    assert {"Agreement", "Auditors", "Disputed cases", "Actions"} <= set(sheets)


def test_registered_as_restricted():
    assert REPORTS.get("auditor_calibration").restricted


class _Ctx:
    def __init__(self, audits):
        self._audits = audits

    def data(self, **_):
        return type("D", (), {"audits": self._audits, "targets": None})()


def test_without_case_id_the_report_says_what_to_collect():
    audits = pd.DataFrame({"audit_id": ["A1"], "period": [PERIOD], "auditor_id": ["Q1"]})
    with pytest.raises(NoData, match="case_id.*double-audited cases a month"):
        read(_Ctx(audits), {"market": "BR", "period": PERIOD})
    audits["case_id"] = "C1"
    with pytest.raises(NoData, match="no case was audited twice"):
        read(_Ctx(audits), {"market": "BR", "period": PERIOD})
