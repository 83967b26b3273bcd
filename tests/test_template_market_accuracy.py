"""The market_accuracy template end to end (every market of the sample data, one engine run) and
unit tests of its report assembly, ``reporting.reports.market_accuracy``, on a hand-made frame."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import build_reports
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from reporting.reports.market_accuracy import (
    CHANGE_KPIS,
    PERSONAL_COLUMNS,
    SCOPE_COLUMNS,
    data_window,
    market_accuracy_report,
    scope_audits,
)

PERIOD = "2026-10"
STATUSES = {"on_track", "at_risk", "off_track", "no_data"}
CHANGE_KEYS = {"kpi", "from", "to", "diff", "ci_low", "ci_high", "p_value", "significant"}
BREAKDOWN_SHEETS = {"By product line", "By policy", "By queue", "Policy x product line",
                    "Error mix by policy", "Sample adequacy"}
_EMBEDDED = re.compile(r"data:[a-z]+/[a-z+.-]+;base64,[A-Za-z0-9+/=\s]+")


# --------------------------------------------------------------------------------------------
# End to end: one engine run for every market (warm kernels), plus a product-line report
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def markets(sample_snapshot) -> list[str]:
    return sorted(sample_snapshot.catalog["markets"])


@pytest.fixture(scope="module")
def run_dir(sample_snapshot, markets, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("market-accuracy")
    jobs = [("market_accuracy", {"market": m, "period": PERIOD}) for m in markets]
    jobs.append(("market_accuracy", {"market": "BR", "period": PERIOD,
                                     "product_line": "TopView"}))
    summary = build_reports(sample_snapshot, jobs, out)
    assert not summary.failed, [(r.id, r.error) for r in summary.failed]
    return out


@pytest.fixture(scope="module")
def no_data_dir(sample_snapshot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("market-accuracy-no-data")
    build_reports(sample_snapshot, [("market_accuracy", {"market": "GB", "period": "2025-01"})],
                  out, formats=("html",))
    return out


def _results(run_dir: Path, report_id: str) -> dict:
    return json.loads((run_dir / report_id / "results.json").read_text(encoding="utf-8"))


def _kpi(results: dict, kpi: str, **scope) -> dict:
    rows = [r for r in results["kpis"] if r["kpi"] == kpi and r["scope"] == scope]
    assert len(rows) == 1, (kpi, scope, len(rows))
    return rows[0]


def _random_month(dataset, market: str) -> pd.DataFrame:
    a = dataset.audits
    return a[(a["market"] == market) & (a["period"] == PERIOD) & (a["sample_type"] == "random")]


@pytest.mark.slow
def test_renders_for_every_market(run_dir, markets):
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    jobs = {j["id"]: j for j in manifest["jobs"]}
    for m in markets:
        job = jobs[f"market_accuracy-{m}"]
        assert job["status"] == "ok" and not job["no_data"], job
        html = (run_dir / job["id"] / "report.html").read_text(encoding="utf-8")
        for heading in ("Summary", "Headline KPIs", "Accuracy by policy", "Weekly trend",
                        "Sample adequacy"):
            assert heading in html
        assert 'class="qa-summary"' in html
        assert "Traceback" not in html


@pytest.mark.slow
def test_results_match_direct_pandas_computation(run_dir, markets, sample_dataset):
    for m in markets:
        res = _results(run_dir, f"market_accuracy-{m}")
        month = _random_month(sample_dataset, m)
        checks = [({"market": m}, month)]
        checks += [({"market": m, "product_line": pl}, g)
                   for pl, g in month.groupby("product_line")]
        checks += [({"market": m, "policy": pol}, g) for pol, g in month.groupby("policy")]
        for scope, frame in checks:
            rec = _kpi(res, "accuracy", **scope)
            correct = int((frame["reviewer_decision"] == frame["qa_decision"]).sum())
            n = len(frame)
            assert rec["n"] == n, scope
            assert rec["value"] == pytest.approx(correct / n, abs=1e-12), scope
            low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
            assert rec["ci_low"] == pytest.approx(low, abs=1e-9), scope
            assert rec["ci_high"] == pytest.approx(high, abs=1e-9), scope


@pytest.mark.slow
def test_kpi_records_have_valid_status_and_scopes(run_dir, markets):
    for m in markets:
        res = _results(run_dir, f"market_accuracy-{m}")
        assert res["kpis"]
        for rec in res["kpis"]:
            assert rec["status"] in STATUSES, rec
            assert set(rec["scope"]) <= set(SCOPE_COLUMNS) and rec["scope"]["market"] == m
        market_level = [r for r in res["kpis"] if r["scope"] == {"market": m}]
        assert {r["kpi"] for r in market_level} >= {"accuracy", "missed_violation_rate",
                                                    "over_enforcement_rate", "audit_volume"}
        assert all(r["status"] != "no_data" for r in market_level if r["kpi"] == "accuracy")


@pytest.mark.slow
def test_changes_recorded_with_p_values(run_dir, markets, sample_dataset):
    a = sample_dataset.audits
    for m in markets:
        res = _results(run_dir, f"market_accuracy-{m}")
        changes = {c["kpi"]: c for c in res["changes"]}
        assert set(changes) >= {"accuracy", "missed_violation_rate", "over_enforcement_rate"}
        for c in changes.values():
            assert CHANGE_KEYS <= set(c)
            assert 0.0 <= c["p_value"] <= 1.0
            assert c["diff"] == pytest.approx(c["to"] - c["from"], abs=1e-12)
            assert c["ci_low"] <= c["diff"] <= c["ci_high"]
        prev = a[(a["market"] == m) & (a["period"] == "2026-09") & (a["sample_type"] == "random")]
        acc = changes["accuracy"]
        assert acc["from"] == pytest.approx(prev["is_correct"].mean(), abs=1e-12)
        assert acc["to"] == pytest.approx(_kpi(res, "accuracy", market=m)["value"], abs=1e-12)


@pytest.mark.slow
def test_tables_xlsx_has_breakdown_sheets(run_dir, markets):
    from openpyxl import load_workbook

    for m in markets:
        wb = load_workbook(run_dir / f"market_accuracy-{m}" / "tables.xlsx", read_only=True)
        assert BREAKDOWN_SHEETS <= set(wb.sheetnames), wb.sheetnames
        wb.close()


@pytest.mark.slow
def test_no_individual_appears_anywhere(run_dir, markets, sample_dataset):
    a = sample_dataset.audits
    ids = set(a["reviewer_id"].dropna().astype(str)) | set(a["auditor_id"].dropna().astype(str))
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
    reports = [f"market_accuracy-{m}" for m in markets] + ["market_accuracy-BR-TopView"]
    for rid in reports:
        html = _EMBEDDED.sub("", (run_dir / rid / "report.html").read_text(encoding="utf-8"))
        found = pattern.findall(html)
        assert not found, (rid, found[:5])
        assert "reviewer_id" not in html and "auditor_id" not in html
        assert not pattern.findall((run_dir / rid / "results.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_no_data_report(no_data_dir):
    manifest = json.loads((no_data_dir / "manifest.json").read_text(encoding="utf-8"))
    (job,) = manifest["jobs"]
    assert job["status"] == "ok" and job["no_data"] is True
    html = (no_data_dir / job["id"] / "report.html").read_text(encoding="utf-8")
    assert "No data for GB in 2025-01." in html
    assert "Headline KPIs" not in html
    res = json.loads((no_data_dir / job["id"] / "results.json").read_text(encoding="utf-8"))
    assert res["no_data"] is True and res["kpis"] == []


@pytest.mark.slow
def test_planted_br_story_is_visible(run_dir):
    res = _results(run_dir, "market_accuracy-BR")
    policies = sorted((r for r in res["kpis"] if r["kpi"] == "accuracy" and "policy" in r["scope"]),
                      key=lambda r: r["value"])
    worst = [r["scope"]["policy"] for r in policies[:2]]
    assert "Financial Services" in worst
    fs = _kpi(res, "accuracy", market="BR", policy="Financial Services")
    assert fs["status"] == "off_track"
    assert "Financial Services" in res["summary"]
    html = (run_dir / "market_accuracy-BR" / "report.html").read_text(encoding="utf-8")
    assert "the largest gap is Financial Services" in html


@pytest.mark.slow
def test_product_line_report_scopes(run_dir):
    res = _results(run_dir, "market_accuracy-BR-TopView")
    assert res["params"]["product_line"] == "TopView"
    assert all(r["scope"].get("product_line") == "TopView" for r in res["kpis"])
    head = _kpi(res, "accuracy", market="BR", product_line="TopView")
    assert head["target"] == pytest.approx(0.96)  # the sample targets set TopView to 96%
    assert any("policy" in r["scope"] for r in res["kpis"])


# --------------------------------------------------------------------------------------------
# Unit tests of market_report on a small hand-made frame
# --------------------------------------------------------------------------------------------


def _rows(market: str, month: str, policy: str, n: int, missed: int, over: int,
          sample_type: str = "random") -> list[dict]:
    start = pd.Timestamp(f"{month}-01")
    days = start.days_in_month
    out = []
    for i in range(n):
        if i < missed:
            rev, qa = "approve", "reject"
        elif i < missed + over:
            rev, qa = "reject", "approve"
        else:
            rev = qa = "approve" if i % 3 else "reject"
        out.append({
            "audit_id": f"{market}-{month}-{policy}-{sample_type}-{i}",
            "decision_date": start + pd.Timedelta(days=i % days),
            "market": market,
            "product_line": "P" if i % 2 else "Q",
            "policy": policy,
            "reviewer_id": f"RV{i % 5}",
            "auditor_id": "QA-1",
            "reviewer_decision": rev,
            "qa_decision": qa,
            "queue": "standard" if i % 4 else "priority",
            "handling_time_s": 60.0 + (i % 7),
            "sample_type": sample_type,
        })
    return out


@pytest.fixture(scope="module")
def small():
    rows = (_rows("BR", "2026-10", "A", 200, 6, 4) + _rows("BR", "2026-10", "B", 100, 15, 5)
            + _rows("BR", "2026-10", "A", 50, 50, 0, sample_type="targeted")
            + _rows("BR", "2026-09", "A", 200, 2, 2) + _rows("BR", "2026-09", "B", 100, 3, 2)
            + _rows("US", "2026-10", "A", 50, 0, 0))
    audits = pd.DataFrame(rows)
    events = pd.DataFrame({
        "date": pd.to_datetime(["2026-06-01", "2026-09-15", "2026-10-01", "2026-10-02"]),
        "description": ["old BR event", "all markets", "BR policy update", "US event"],
        "market": ["BR", "*", "BR", "US"],
        "policy": [None, None, "B", None],
        "product_line": [None, None, None, None],
        "kind": ["training", "seasonal", "policy_update", "tooling"],
    })
    return SimpleNamespace(audits=audits, production=None, targets=None, events=events)


@pytest.fixture(scope="module")
def small_report(small):
    return market_accuracy_report(small, "BR", "2026-10", trend_months=2)


def test_unit_headline_kpis(small_report):
    r = small_report
    acc = r.kpi("accuracy")
    assert acc["n"] == 300 and acc["value"] == pytest.approx(270 / 300)
    low, high = proportion_confint(270, 300, alpha=0.05, method="wilson")
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx((low, high))
    assert acc["target"] == pytest.approx(0.95) and acc["status"] == "off_track"
    assert r.kpi("audit_volume")["value"] == 350  # every sample type counts for the volume
    assert r.kpi("missed_violation_rate")["value"] == pytest.approx(21 / 300)
    assert (r.n_audits, r.n_sample) == (350, 300)
    assert r.compare_to == "2026-09" and r.scope_label == "BR"


def test_unit_changes_match_reference_tests(small_report):
    ch = small_report.changes.set_index("kpi")
    assert list(small_report.changes["kpi"]) == list(CHANGE_KPIS)
    acc = ch.loc["accuracy"]
    assert acc["from"] == pytest.approx(291 / 300) and acc["to"] == pytest.approx(270 / 300)
    assert acc["diff"] == pytest.approx(-21 / 300)
    _chi2, p, _dof, _ = stats.chi2_contingency([[291, 9], [270, 30]], correction=False)
    assert acc["p_value"] == pytest.approx(p) and bool(acc["significant"])
    lo, hi = confint_proportions_2indep(270, 300, 291, 300, method="newcomb")
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx((lo, hi))
    assert set(small_report.changes_record().columns) >= CHANGE_KEYS


def test_unit_breakdowns_and_adequacy(small_report):
    r = small_report
    assert list(r.by_policy["policy"]) == ["B", "A"]  # worst first
    b = r.by_policy.iloc[0]
    assert (b["n"], b["correct"], b["status"]) == (100, 80, "off_track")
    assert set(r.by_product_line["product_line"]) == {"P", "Q"}
    assert set(r.by_queue["queue"]) == {"standard", "priority"}
    assert r.by_policy_product["n"].sum() == 300
    s = r.sample_adequacy
    assert list(s["dimension"].unique()) == ["market", "product_line", "policy", "queue"]
    top = s.iloc[0]
    assert (top["segment"], top["n"]) == ("BR", 300)
    assert top["more_audits_for_1pp"] == max(0, top["audits_needed_for_1pp"] - 300)
    assert (s["margin_of_error"] > 0).all()
    mix = r.error_mix.set_index("policy")
    assert (mix.loc["B", "missed_violations"], mix.loc["B", "over_enforcements"]) == (15, 5)


def test_unit_summary_names_the_largest_gap(small_report):
    text = small_report.summary
    assert text.startswith("Accuracy 90.0% [")
    assert "down 7.0 pp vs 2026-09" in text
    assert "the largest gap is B at 80.0%" in text
    assert "B alone has 15 more errors than the 95.0% target allows (BR as a whole: 15)." in text
    assert "Of the 30 errors, 70% are missed violations" in text


def test_unit_kpi_records_scopes(small_report):
    rec = small_report.kpi_records()
    assert list(rec.columns[:3]) == list(SCOPE_COLUMNS)
    market_rows = rec[rec["product_line"].isna() & rec["policy"].isna()]
    assert set(market_rows["kpi"]) >= {"accuracy", "audit_volume"}
    assert set(rec["product_line"].dropna()) == {"P", "Q"}
    assert set(rec["policy"].dropna()) == {"A", "B"}
    assert rec[rec["product_line"].notna() & rec["policy"].notna()].empty
    assert (rec["market"] == "BR").all()
    pol_b = rec[(rec["policy"] == "B") & (rec["kpi"] == "accuracy")].iloc[0]
    assert pol_b["value"] == pytest.approx(0.8) and pol_b["n"] == 100


def test_unit_no_personal_columns(small_report):
    r = small_report
    frames = [v for v in vars(r).values() if isinstance(v, pd.DataFrame)]
    frames += [r.kpi_records()] + [f for _, f, _ in r.excel_tables()]
    frames += [r.display(n)[0] for n in ("changes", "by_product_line", "by_policy", "by_queue",
                                         "error_mix", "sample_adequacy", "events")]
    for f in frames:
        assert not set(PERSONAL_COLUMNS) & set(f.columns)
        text = f.astype(str).to_string()
        assert "RV1" not in text and "QA-1" not in text
    assert "RV1" not in r.summary


def test_unit_trend_window_and_events(small, small_report):
    r = small_report
    assert r.weekly["week"].min() == pd.Timestamp("2026-09-07")  # first Monday of September
    assert r.weekly["week"].max() == pd.Timestamp("2026-10-26")
    a = small.audits
    in_window = a[(a["market"] == "BR") & (a["sample_type"] == "random")
                  & (a["decision_date"] >= "2026-09-07") & (a["decision_date"] <= "2026-10-31")]
    assert r.weekly["n"].sum() == len(in_window)
    assert list(r.events["description"]) == ["all markets", "BR policy update"]
    assert [label for _, label in r.event_labels()] == ["(1)", "(2)"]


def test_unit_display_and_cards(small_report):
    r = small_report
    frame, formats = r.display("by_policy")
    assert list(frame["policy"]) == ["B", "A"] and "95% CI" in frame.columns
    assert frame["errors: missed / over"].iloc[0] == "15\u00a0/\u00a05"
    assert set(formats) <= set(frame.columns)
    changes, _ = r.display("changes")
    assert list(changes.columns[1:3]) == ["2026-09", "2026-10"]
    cards = {c["label"]: c for c in r.cards()}
    assert cards["Accuracy"]["change"] == "Down 7.0 pp vs 2026-09 (p < 0.001)"
    assert cards["Accuracy"]["status"] == "off_track" and cards["Accuracy"]["target"] == "95.0%"
    assert "Productivity" not in cards  # no production table: not shown rather than 'no data'
    assert "350" in r.audit_base_note() and "300 random-sample audits" in r.audit_base_note()
    names = [n for n, _, _ in r.excel_tables()]
    assert BREAKDOWN_SHEETS <= set(names) and len(names) == len(set(names))
    with pytest.raises(KeyError):
        r.display("reviewers")


def test_unit_product_line_scope(small):
    r = market_accuracy_report(small, "BR", "2026-10", product_line="P")
    assert r.scope_label == "BR / P"
    assert r.kpi("accuracy")["n"] == 150
    rec = r.kpi_records()
    assert (rec["product_line"] == "P").all()
    assert set(rec["policy"].dropna()) == {"A", "B"}
    assert "product_line" not in set(r.sample_adequacy["dimension"])


def test_unit_without_previous_period(small):
    r = market_accuracy_report(small, "BR", "2026-09")
    assert r.changes["p_value"].isna().all()
    assert "There are no 2026-08 audits to compare with." in r.summary
    assert {c["label"]: c for c in r.cards()}["Accuracy"]["change"] == "No 2026-08 data to compare"
    frame, _ = r.display("changes")
    assert (frame["significant"] == "no").all()


def test_unit_data_window():
    assert data_window("2026-10") == ("2026-08", "2026-10")
    assert data_window("2026-01", trend_months=1) == ("2025-12", "2026-01")
    assert data_window("2026-10", compare_to="2025-10") == ("2025-10", "2026-10")


def test_unit_no_audits_in_scope(small):
    assert scope_audits(small.audits, "BR", "2025-01").empty
    assert len(scope_audits(small.audits, "US", "2026-10")) == 50
    assert len(scope_audits(small.audits, "BR", "2026-10", product_line="Q")) == 175
    with pytest.raises(ValueError, match="no audits for BR in 2025-01"):
        market_accuracy_report(small, "BR", "2025-01")
    with pytest.raises(ValueError, match="no audits for BR / Z in 2026-10"):
        market_accuracy_report(small, "BR", "2026-10", product_line="Z")


def test_unit_level_changes_interval_width(small):
    r90 = market_accuracy_report(small, "BR", "2026-10", level=0.90)
    r99 = market_accuracy_report(small, "BR", "2026-10", level=0.99)
    w = [x.kpi("accuracy")["ci_high"] - x.kpi("accuracy")["ci_low"] for x in (r90, r99)]
    assert w[0] < w[1]
    assert "90% CI" in r90.display("by_policy")[0].columns
    assert not math.isnan(r90.changes.set_index("kpi").loc["accuracy", "ci_low"])
    assert np.isfinite(r99.sample_adequacy["margin_of_error"]).all()


def test_unit_minimal_columns(small):
    """Without queue, sample_type, handling time or events the report still assembles."""
    a = small.audits.drop(columns=["queue", "sample_type", "handling_time_s"])
    r = market_accuracy_report(SimpleNamespace(audits=a), "BR", "2026-10")
    assert r.by_queue.empty and r.events.empty and r.n_sample == r.n_audits == 350
    assert "queue" not in set(r.sample_adequacy["dimension"])
    assert "handling_time_mean" not in set(r.changes["kpi"])
    for name in ("by_queue", "events"):
        assert r.display(name)[0].empty
    assert [c["label"] for c in r.cards()][0] == "Accuracy"


# --------------------------------------------------------------------------------------------
# The report module's shape: read / build / records / tables, decisions first
# --------------------------------------------------------------------------------------------


def test_unit_read_and_build(small):
    from reporting.core.errors import NoData
    from reporting.reports import market_accuracy as module

    asked = {}

    class Ctx:
        def data(self, **kw):
            asked.update(kw)
            return small

    params = {"market": "BR", "period": "2026-10", "product_line": None, "level": 0.95}
    data = module.read(Ctx(), params)
    assert asked == {"market": "BR", "period_from": "2026-08", "period_to": "2026-10"}
    r = module.build(data, params)
    assert r.kpi("accuracy")["value"] == pytest.approx(270 / 300)
    with pytest.raises(NoData, match=r"No data for BR / Z in 2026-10\."):
        module.read(Ctx(), {**params, "product_line": "Z"})


def test_unit_records_and_tables(small_report):
    from reporting.notebook import ReportContext

    r = small_report
    rec = r.records()
    assert set(rec) == {"kpis", "changes", "summary", "compare_to", "headline", "actions"}
    # The same KPI records the old notebook wrote with ctx.record_kpis.
    ctx = ReportContext("market_accuracy", {}, Path("."), None)
    ctx.record_kpis(r.kpi_records(), scope=list(SCOPE_COLUMNS))
    from reporting.core.iorw import to_jsonable

    assert to_jsonable(rec["kpis"]) == ctx.results["kpis"]
    assert rec["headline"].startswith("BR's accuracy is off track: 90.0% against a 95.0% target")
    (action,) = rec["actions"]
    assert action["market"] == "BR" and action["expected_gain_pp"] == pytest.approx(5.0)
    assert [n for n, _, _ in r.tables()] == [n for n, _, _ in r.excel_tables()]
    head = r.tables()[0][1]
    assert set(head.loc[head["kpi"] == "accuracy", "target_source"]) == {"built-in default"}
    assert set(head.loc[head["kpi"] == "audit_volume", "target_source"]) == {""}


@pytest.mark.slow
def test_report_opens_with_decisions(run_dir):
    res = _results(run_dir, "market_accuracy-BR")
    assert res["headline"].startswith("BR's accuracy is off track")
    assert "Financial Services" in res["headline"] and "p =" not in res["headline"]
    (action,) = res["actions"]
    assert action["expected_gain_pp"] > 0 and action["owner"]
    html = (run_dir / "market_accuracy-BR" / "report.html").read_text(encoding="utf-8")
    assert html.index("What to do") < html.index('id="Headline-KPIs"') < html.index(
        'id="How-this-was-computed"')
    assert "(built-in default)" in html  # precision and recall targets nobody set


def _with_corrected(report, shift: float):
    """``report`` with an ``accuracy_corrected`` KPI ``shift`` above its audited accuracy."""
    acc = report.kpis[report.kpis["kpi"] == "accuracy"].iloc[[0]].copy()
    acc["kpi"] = "accuracy_corrected"
    acc[["value", "ci_low", "ci_high"]] += shift
    return dataclasses.replace(report, kpis=pd.concat([report.kpis, acc], ignore_index=True))


def test_audit_error_behind_the_gap_becomes_the_calibrate_auditors_action(small_report):
    # Issue 13: when the audits, not the reviewers, explain part of the gap, what to do says so.
    head = _with_corrected(small_report, 0.03).headline()
    assert [a["expected_gain_pp"] for a in head.actions] == pytest.approx([5.0, 3.0])  # most first
    retrain, calibrate = head.actions
    assert calibrate["action"].startswith("Calibrate BR's auditors")
    assert "to about 93.0%" in calibrate["action"] and calibrate["owner"] == "QA lead"
    assert "Corrected for auditor error" in head.points[-1]


def test_small_or_negative_audit_error_adds_no_action(small_report):
    for shift in (0.005, -0.03):
        head = _with_corrected(small_report, shift).headline()
        assert len(head.actions) == 1 and not head.actions[0]["action"].startswith("Calibrate")
