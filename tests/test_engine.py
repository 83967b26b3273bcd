"""The report engine end to end with real kernels, real nbconvert, real Chromium (fixture template
``tests/fixtures/templates/hello.ipynb``, which needs no data)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from reporting.core.errors import ParameterError, RunLocked
from reporting.core.periods import parse_period, parse_period_range
from reporting.run.jobs import ReportJob, slug
from reporting.run.runner import RunLock, Snapshot, run_jobs
from reporting.run.templates import coerce_parameters, load_template

CATALOG = {"markets": ["BR", "DE", "US", "XX"], "product_lines": [], "team_leads": [],
           "periods": ["2026-10"]}


def _snapshot(tmp_path: Path) -> Snapshot:
    data = tmp_path / "snap"
    data.mkdir(exist_ok=True)
    return Snapshot(data, "f" * 64, CATALOG)


def _jobs(tpl, *param_sets):
    return [ReportJob(tpl, coerce_parameters(tpl, p, CATALOG), ("market",)) for p in param_sets]


# -- parameters: checked before any kernel starts ---------------------------------------------

def test_parameters_are_typed_from_the_parameters_cell(fixture_templates):
    tpl = load_template("hello")
    types = {p.name: p.type for p in tpl.user_parameters()}
    assert types == {"market": "str", "n": "int", "sleep": "float", "fail": "bool"}
    assert tpl.parameter("market").help == "market code"
    assert coerce_parameters(tpl, {"n": "5", "fail": "yes", "sleep": "0.5"}) == {
        "market": "US", "n": 5, "sleep": 0.5, "fail": True}


@pytest.mark.parametrize("values, message", [
    ({"n": "abc"}, "parameter 'n' expects int, got 'abc'"),
    ({"n": "2.5"}, "expects int"),
    ({"fail": "maybe"}, "expects bool"),
    ({"colour": "red"}, "has no parameter 'colour'"),
    ({"data_dir": "/etc"}, "set by the engine"),
    ({"market": "FR"}, "market 'FR' is not in the data"),
])
def test_bad_parameters_are_errors_not_warnings(fixture_templates, values, message):
    tpl = load_template("hello")
    with pytest.raises(ParameterError, match=re.escape(message)):
        coerce_parameters(tpl, values, CATALOG)


def test_periods():
    from datetime import date

    assert parse_period("2026-10") == "2026-10"
    assert parse_period("last-month", today=date(2026, 1, 1)) == "2025-12"
    assert parse_period_range("2026-08..2026-10") == ["2026-08", "2026-09", "2026-10"]
    for bad in ("2026-13", "2026-1", "Oct 2026", "2026-10-01"):
        with pytest.raises(ParameterError, match="YYYY-MM"):
            parse_period(bad)


def test_report_ids_cannot_escape_the_output_folder():
    for hostile in ("../../etc", "a/b", "..", "/", "x\\y", "<script>"):
        s = slug(hostile)
        assert "/" not in s and "\\" not in s and ".." not in s and s
    assert slug("BR") == "BR"
    assert slug("../../etc") != slug("__etc")


def test_cli_rejects_bad_parameter_before_any_kernel(tmp_path, fixture_templates):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "reporting", "report", "hello", "-p", "n", "lots", "--out", str(out), "--data",
         str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "parameter 'n' expects int, got 'lots'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "manifest.json").exists()


# -- a pack: failures isolated, previous files kept, unchanged jobs skipped --------------------

def test_pack_with_a_failing_job(tmp_path, fixture_templates):
    tpl = load_template("hello")
    out = tmp_path / "pack"
    snap = _snapshot(tmp_path)
    first = run_jobs(_jobs(tpl, {"market": "BR"}, {"market": "DE"}, {"market": "US"}),
                     snapshot=snap, out_dir=out, period="2026-10", n_jobs=2, progress=False)
    assert [r.status for r in first.results] == ["ok"] * 3
    good_html = (out / "hello-DE" / "report.html").read_bytes()

    # Re-run: DE now fails, BR is unchanged (skipped), US is forced to change.
    second = run_jobs(_jobs(tpl, {"market": "BR"}, {"market": "DE", "fail": True},
                            {"market": "US", "n": 5}),
                      snapshot=snap, out_dir=out, period="2026-10", n_jobs=2, progress=False)
    status = {r.id: r.status for r in second.results}
    assert status == {"hello-BR": "skipped", "hello-DE": "failed", "hello-US": "ok"}
    failed = next(r for r in second.results if r.status == "failed")
    assert "ValueError: planned failure" in failed.error
    # The failed report's previous good files survive, next to the notebook for debugging.
    assert (out / "hello-DE" / "report.html").read_bytes() == good_html
    assert (out / "hello-DE" / "failed.ipynb").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_hash"] == "f" * 64 and manifest["period"] == "2026-10"
    jobs = {j["id"]: j for j in manifest["jobs"]}
    assert jobs["hello-DE"]["status"] == "failed" and "planned failure" in jobs["hello-DE"]["error"]
    assert jobs["hello-US"]["params"]["n"] == 5 and jobs["hello-US"]["seconds"] > 0
    assert set(jobs["hello-US"]["files"]) >= {"report.html", "results.json", "executed.ipynb",
                                              "tables.xlsx"}
    assert "packages" in manifest and "code_version" in manifest
    index = (out / "index.html").read_text()
    assert "planned failure" in index and "failed.ipynb" in index
    assert "hello-BR/report.html" in index
    results = json.loads((out / "hello-US" / "results.json").read_text())
    assert results["report"] == "hello" and results["params"]["market"] == "US"
    assert len(results["kpis"]) == 5 and results["kpis"][0]["scope"] == {"market": "US"}


def test_no_data_report_is_short_and_ok(tmp_path, fixture_templates):
    tpl = load_template("hello")
    res = run_jobs(_jobs(tpl, {"market": "XX"}), snapshot=_snapshot(tmp_path),
                   out_dir=tmp_path / "o", period="2026-10", progress=False).results[0]
    assert res.status == "ok" and res.no_data
    html = (tmp_path / "o" / "hello-XX" / "report.html").read_text()
    assert "No audits for XX." in html
    assert "NoDataForReport" not in html and "Traceback" not in html
    assert "A chart" not in html  # nothing after the no-data cell
    assert json.loads((tmp_path / "o" / "hello-XX" / "results.json").read_text())["no_data"]


def test_timeout_kills_a_hanging_notebook(tmp_path, fixture_templates):
    import psutil

    tpl = load_template("hello")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t0 = time.perf_counter()
    res = run_jobs(_jobs(tpl, {"market": "BR", "sleep": 120}), snapshot=_snapshot(tmp_path),
                   out_dir=tmp_path / "o", period="2026-10", timeout=8,
                   progress=False).results[0]
    assert time.perf_counter() - t0 < 60
    assert res.status == "failed" and "timed out after 8 s" in res.error
    time.sleep(0.5)
    leftover = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not [p for p in leftover if psutil.pid_exists(p) and
                psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_second_concurrent_run_is_refused(tmp_path):
    out = tmp_path / "o"
    with RunLock(out):
        with pytest.raises(RunLocked, match="another run is writing"):
            with RunLock(out):
                pass


# -- rendering: self-contained HTML, PDF, Excel ------------------------------------------------

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    import os

    tmp = tmp_path_factory.mktemp("rendered")
    old = os.environ.get("REPORTING_TEMPLATES")
    os.environ["REPORTING_TEMPLATES"] = str(Path(__file__).parent / "fixtures" / "templates")
    try:
        tpl = load_template("hello")
        run = run_jobs(_jobs(tpl, {"market": "BR", "n": 4}), snapshot=_snapshot(tmp),
                       out_dir=tmp / "o", period="2026-10", formats=("html", "pdf", "xlsx"),
                       progress=False)
    finally:
        if old is None:
            os.environ.pop("REPORTING_TEMPLATES")
        else:
            os.environ["REPORTING_TEMPLATES"] = old
    assert run.results[0].status == "ok", run.results[0].error
    return tmp / "o" / "hello-BR"


def test_html_is_self_contained(rendered):
    html = (rendered / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "http://" not in html and "https://" not in html
    # figures are embedded SVG (vector: sharp in print, a third of a PNG's size)
    assert re.search(r'<img [^>]*src="data:image/svg\+xml;base64,', html)
    assert not re.search(r'<img [^>]*src="data:image/png', html)
    assert "Hello report: BR" in html and "data snapshot" in html and "ffffffffffff" in html
    assert 'href="#Numbers"' in html  # table of contents
    assert "ctx.table(" not in html  # code hidden


def test_html_opens_in_chromium_without_errors(rendered, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    from reporting.render.pdf import CHROMIUM_ARGS

    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((rendered / "report.html").as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        # Sortable tables sort on click.
        page.click("table.sortable th:nth-child(2)")
        page.click("table.sortable th:nth-child(2)")
        first = page.inner_text("table.sortable tbody tr:first-child td:nth-child(2)")
        browser.close()
    assert errors == []
    assert images and all(images)
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert first.strip() == "0.30"  # sorted descending by value


def test_figures_shrink_to_a_narrow_page(rendered, chromium):
    """A figure wider than the page (an A4 print, a laptop) is scaled down, never cut off."""
    from playwright.sync_api import sync_playwright

    from reporting.render.pdf import CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 420, "height": 800})
        page.goto((rendered / "report.html").as_uri(), wait_until="load")
        widths = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getBoundingClientRect().right, e.naturalWidth])")
        browser.close()
    assert widths and all(natural > 420 for _, natural in widths)  # wider than the page...
    assert all(right <= 420 for right, _ in widths), widths  # ...yet shown whole


def test_pdf_has_pages_and_text(rendered, pdftotext):
    pdf = rendered / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Hello report: BR" in text and "Numbers" in text
    assert re.search(r"page 1 of \d", text)


def test_xlsx_holds_the_tables_with_formulas_as_text(rendered):
    wb = openpyxl.load_workbook(rendered / "tables.xlsx")
    ws = wb["Numbers"]
    assert [c.value for c in ws[1]] == ["market", "value", "formula"]
    assert ws.max_row == 5 and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C5"
    assert ws["C2"].value == "=1+1" and ws["C2"].data_type == "s"
