"""The index page (issue 13): business status first (market x KPI, colour and a symbol), then the
reports with the parameters that identify them and a quiet build column; Jinja2, autoescaped."""

from __future__ import annotations

import json
from pathlib import Path

from reporting.render.index import render_index


def _kpi(market: str, kpi: str, value: float, status: str, target: float | None = 0.95,
         scope: dict | None = None) -> dict:
    return {"scope": scope or {"market": market}, "kpi": kpi, "value": value, "ci_low": value - .01,
            "ci_high": value + .01, "n": 1000, "target": target, "status": status}


def _write_pack(out: Path) -> dict:
    reports = {
        "BR": [_kpi("BR", "accuracy", 0.918, "off_track"),
               _kpi("BR", "accuracy", 0.80, "off_track",
                    scope={"market": "BR", "product_line": "TopView"}),  # narrower: not shown
               _kpi("BR", "audit_volume", 4089, "at_risk", target=None)],
        "DE": [_kpi("DE", "accuracy", 0.951, "at_risk")],
        "<img src=x onerror=alert(1)>": [_kpi("<img src=x onerror=alert(1)>", "accuracy", 0.97,
                                              "on_track")],
    }
    jobs = []
    for i, (market, kpis) in enumerate(reports.items()):
        jid = f"market_accuracy-m{i}"
        (out / jid).mkdir(parents=True)
        (out / jid / "results.json").write_text(json.dumps(
            {"report": "market_accuracy", "params": {"market": market}, "kpis": kpis}))
        jobs.append({"id": jid, "template": "market_accuracy", "title": f"Market accuracy: {i}",
                     "params": {"market": market, "period": "2026-10", "level": 0.95,
                                "alpha": 0.05}, "status": "skipped" if i else "ok",
                     "seconds": 12.3, "files": ["report.html", "results.json"]})
    jobs.append({"id": "monthly_business_review", "template": "monthly_business_review",
                 "title": "Monthly business review", "params": {"period": "2026-10",
                                                                 "fdr": 0.05},
                 "status": "failed", "error": "cell 4: ValueError: <b>bad</b>",
                 "debug_notebook": "failed.ipynb", "files": [], "seconds": 3.0})
    return {"run_id": "r1", "period": "2026-10", "data_hash": "a" * 64,
            "updated_at": "2026-11-01 06:00:00 UTC", "jobs": jobs}


def test_index_opens_with_business_status_per_market(tmp_path):
    html = render_index(_write_pack(tmp_path), out_dir=tmp_path)
    status = html[html.index("Business status by market"):html.index("Monthly business review")]
    # A sentence first, then the table: BR off track, DE at risk, each with colour and symbol.
    assert "Accuracy is off track in BR and at risk in DE." in status
    assert 'class="kpi rag-off_track"' in status and "■</span>91.8%" in status
    assert "Off track · target 95.0%" in status
    assert "▲</span>95.1%" in status and "●</span>97.0%" in status
    assert "80.0%" not in status  # a product line's figure is not the market's status
    assert "4,089" not in status and "Audit volume" not in status  # no status without a target
    assert 'href="market_accuracy-m0/report.html">BR</a>' in status


def test_index_lists_reports_without_parameter_noise(tmp_path):
    html = render_index(_write_pack(tmp_path), out_dir=tmp_path)
    assert "level" not in html and "alpha" not in html and "fdr" not in html
    assert "Seconds" not in html and "12.3" not in html
    assert "Market BR · Period 2026-10" in html
    assert 'class="build build-ok">built' in html
    assert "reused (unchanged)" in html and "● OK" not in html
    # The MBR comes first among the reports (registry order), its failure in words.
    assert html.index("Monthly business review") < html.index("Market accuracy")
    assert "failed:" in html and "monthly_business_review/failed.ipynb" in html


def test_index_escapes_what_it_shows(tmp_path):
    html = render_index(_write_pack(tmp_path), out_dir=tmp_path)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bad</b>" not in html and "&lt;b&gt;bad&lt;/b&gt;" in html


def test_index_without_results_has_no_status_table(tmp_path):
    manifest = _write_pack(tmp_path)
    html = render_index(manifest)  # no folder: nothing to read
    assert "Business status" not in html and "Market accuracy" in html
