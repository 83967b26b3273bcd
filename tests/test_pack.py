"""The whole monthly pack on the sample data, built once through the real CLI: readers' order in the
index, privacy of individual results, restricted permissions, and that reusing warm kernels gives
byte-identical results to a fresh kernel per report (``--isolate``)."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "params" / "monthly_business_review.yaml"
PEOPLE_REPORTS = ("individual_performance",)


def _run_pack(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reporting", "run", str(PLAN), "--period", "2026-10", "--data",
         str(data), "--out", str(out), *extra], capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def pack(sample_data, tmp_path_factory, request):
    request.getfixturevalue("chromium")
    request.getfixturevalue("pdftotext")
    out = tmp_path_factory.mktemp("pack") / "2026-10"
    proc = _run_pack(sample_data, out, "--format", "html,pdf,xlsx")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_pack_builds_every_report(pack, sample_dataset):
    jobs = _manifest(pack)["jobs"]
    kinds = {j["template"] for j in jobs}
    assert kinds == {"monthly_business_review", "market_accuracy", "trend_root_cause",
                     "appeals", "capacity_plan", "individual_performance", "auditor_calibration"}
    markets = sorted(sample_dataset.audits["market"].unique())
    leads = sorted(sample_dataset.roster["team_lead"].dropna().unique())
    # per market: accuracy, trend, capacity, appeals (issue 15), auditor calibration (issue 14)
    assert len(jobs) == 1 + 5 * len(markets) + len(leads)
    assert all(j["status"] == "ok" for j in jobs)
    for j in jobs:
        assert {"report.html", "report.pdf", "tables.xlsx", "results.json",
                "executed.ipynb"} <= set(j["files"])


def test_index_puts_the_mbr_first_then_markets_then_teams(pack):
    html = (pack / "index.html").read_text()
    order = [html.find(t) for t in ("Monthly business review", "Market accuracy",
                                   "Trend and root cause", "Appeals", "Capacity plan",
                                   "Team performance")]
    assert -1 not in order and order == sorted(order)


def _reviewer_pattern(sample_dataset) -> re.Pattern:
    ids = set(sample_dataset.audits["reviewer_id"].dropna()) | set(
        sample_dataset.roster["reviewer_id"].dropna())
    return re.compile("|".join(sorted((re.escape(i) for i in ids), key=len, reverse=True)))


def _texts(folder: Path, pdftotext: str) -> dict[str, str]:
    texts = {"report.html": (folder / "report.html").read_text(),
             "results.json": (folder / "results.json").read_text()}
    texts["report.pdf"] = subprocess.run([pdftotext, str(folder / "report.pdf"), "-"],
                                         capture_output=True, text=True, check=True).stdout
    wb = openpyxl.load_workbook(folder / "tables.xlsx", read_only=True)
    texts["tables.xlsx"] = "\n".join(str(v) for ws in wb.worksheets
                                     for row in ws.iter_rows(values_only=True) for v in row)
    return texts


def test_no_reviewer_id_outside_team_reports(pack, sample_dataset, pdftotext):
    pattern = _reviewer_pattern(sample_dataset)
    roster = sample_dataset.roster
    checked = 0
    for job in _manifest(pack)["jobs"]:
        folder = pack / job["id"]
        texts = _texts(folder, pdftotext)
        if job["template"] in PEOPLE_REPORTS:
            lead = job["params"]["team_lead"]
            own = set(roster.loc[roster["team_lead"] == lead, "reviewer_id"])
            for name, text in texts.items():
                foreign = set(pattern.findall(text)) - own
                assert not foreign, f"{job['id']}/{name} shows other teams' reviewers {foreign}"
        else:
            for name, text in texts.items():
                found = pattern.findall(text)
                assert not found, f"{job['id']}/{name} shows reviewer IDs {found[:5]}"
        checked += len(texts)
    assert checked >= 4 * len(_manifest(pack)["jobs"])


def test_team_reports_are_not_world_readable(pack):
    for job in _manifest(pack)["jobs"]:
        folder = pack / job["id"]
        for f in folder.iterdir():
            world = f.stat().st_mode & stat.S_IROTH
            if job["template"] in PEOPLE_REPORTS:
                assert not world, f"{f} is world-readable"
        if job["template"] in PEOPLE_REPORTS:
            assert not folder.stat().st_mode & stat.S_IROTH


def test_mbr_numbers_equal_the_market_reports(pack):
    mbr = json.loads((pack / "monthly_business_review" / "results.json").read_text())
    checked = 0
    for job in _manifest(pack)["jobs"]:
        if job["template"] != "market_accuracy":
            continue
        market = job["params"]["market"]
        ma = json.loads((pack / job["id"] / "results.json").read_text())
        want = next(k for k in ma["kpis"] if k["kpi"] == "accuracy" and k["scope"] == {
            "market": market})
        got = next(k for k in mbr["kpis"] if k["kpi"] == "accuracy" and k["scope"] == {
            "market": market})
        for field in ("value", "ci_low", "ci_high", "n", "target", "status"):
            assert got[field] == want[field], (market, field)
        checked += 1
    assert checked >= 6


def _strip_times(obj):
    return json.loads(re.sub(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"', '"T"', json.dumps(obj)))


def test_warm_kernels_give_the_same_results_as_fresh_ones(pack, sample_data, sample_dataset,
                                                          tmp_path):
    """Isolation proof: results.json byte-identical to a run with a kernel per report. The cold
    run builds one market's reports and one team's (every template but the MBR, each of which ran
    after other reports in the warm pack): a cold kernel per report for the whole pack takes
    minutes more and proves nothing more."""
    roster = sample_dataset.roster
    lead = sorted(roster.loc[roster["market"] == "JP", "team_lead"].dropna().unique())[0]
    cold_jobs = []
    for name, only in (("market", "market=JP"), ("team", f"team_lead={lead}")):
        iso = tmp_path / name / "2026-10"
        proc = _run_pack(sample_data, iso, "--format", "html", "--isolate", "--only", only)
        assert proc.returncode == 0, proc.stderr[-3000:]
        cold_jobs += [(iso, j) for j in _manifest(iso)["jobs"]]
    assert {j["template"] for _, j in cold_jobs} == {
        "market_accuracy", "trend_root_cause", "capacity_plan", "appeals",
        "auditor_calibration", "individual_performance"}
    for iso, job in cold_jobs:
        warm = (pack / job["id"] / "results.json").read_bytes()
        cold = (iso / job["id"] / "results.json").read_bytes()
        assert warm == cold, job["id"]


def test_rerun_skips_unchanged_reports(pack, sample_data):
    proc = _run_pack(sample_data, pack, "--format", "html,pdf,xlsx")
    assert proc.returncode == 0
    statuses = {j["status"] for j in _manifest(pack)["jobs"]}
    assert statuses == {"skipped"}
