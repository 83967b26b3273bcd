"""Issue 18, second adversarial pass: export tools, encodings, line endings, special files, clock
jumps, duplicate ids across exports, a month present in some tables only. Each test reproduces
one case (docs/reliability.md, "Second adversarial pass"); data cases run on both load paths."""

from __future__ import annotations

import codecs
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from data_fixtures import AUDIT_HEADER, audit_rows, write_csv

from reporting.data import DataValidationError, load_dataset, validate_dataset
from reporting.data.extract import extract_snapshot, source_fingerprint, validate_with_duckdb

ROUTES = ["pandas", "duckdb"]


def _validate(route: str, src: Path):
    return validate_dataset(src) if route == "pandas" else validate_with_duckdb(src)


def _text(rows: list[dict[str, str]], eol: str = "\n", sep: str = ",") -> str:
    lines = [sep.join(AUDIT_HEADER)] + [sep.join(r.get(c, "") for c in AUDIT_HEADER) for r in rows]
    return eol.join(lines) + eol


def _only_error(report):
    assert not report.ok
    (p,) = report.errors
    return p


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_windows_1252_and_latin1_exports_are_refused_with_the_line(route, codec, tmp_path):
    """Excel's 'CSV (Comma delimited)' / 'CSV (MS-DOS)' write Windows-1252: refused, never
    guessed (a wrong guess renames policies silently), naming the line and the byte."""
    rows = audit_rows(6)
    rows[2]["policy"] = "Café"  # line 4
    (tmp_path / "audits.csv").write_bytes(_text(rows, "\r\n").encode(codec))
    p = _only_error(_validate(route, tmp_path))
    assert p.file == "audits.csv" and p.line == 4 and p.code == "unreadable"
    assert "not UTF-8 text (byte 0xe9)" in p.message and "CSV UTF-8" in p.message


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("bom", [True, False])
def test_utf16_export_is_named_as_utf16(route, bom, tmp_path):
    """Excel's 'Unicode Text' (UTF-16 LE with BOM, tab-separated): used to be 'binary content'."""
    text = _text(audit_rows(4), "\r\n", sep="\t")
    data = (codecs.BOM_UTF16_LE if bom else b"") + text.encode("utf-16-le")
    (tmp_path / "audits.csv").write_bytes(data)
    p = _only_error(_validate(route, tmp_path))
    assert p.file == "audits.csv" and "UTF-16 text" in p.message and "CSV UTF-8" in p.message


def _mixed(rows: list[dict[str, str]]) -> str:
    """CRLF, LF and a lone CR in one file (a file appended to by different programs)."""
    lines = _text(rows).rstrip("\n").split("\n")
    out = lines[0]
    for i, line in enumerate(lines[1:]):
        out += ("\r\n", "\n", "\r")[i % 3] + line
    return out + "\n"


def test_mixed_line_endings_load_the_same_values(tmp_path):
    rows = audit_rows(9)
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "audits.csv").write_text(_mixed(rows), newline="")
    write_csv(tmp_path / "plain" / "audits.csv", rows)
    got, want = load_dataset(tmp_path / "mixed"), load_dataset(tmp_path / "plain")
    pd.testing.assert_frame_equal(got.audits, want.audits)  # no '\r' left in any value


@pytest.mark.parametrize("route", ROUTES)
def test_mixed_line_endings_with_a_short_line_is_an_error_not_padded(route, tmp_path):
    """DuckDB's strict reader cannot read mixed endings; its short-line check was skipped and a
    short line padded silently (a missing sample_type became 'random': issue 18 item 3 again)."""
    rows = audit_rows(9)
    for r in rows:
        r["sample_type"] = "targeted"
    text = _mixed(rows)
    first = text.split("\r\n")[1]  # line 2 (ends with CRLF), cut before sample_type
    text = text.replace(first, ",".join(first.split(",")[:11]), 1)
    (tmp_path / "audits.csv").write_text(text, newline="")
    p = _only_error(_validate(route, tmp_path))
    assert p.file == "audits.csv" and p.line == 2
    assert "line 2 has 11 fields but the header has 14" in p.message
    with pytest.raises(DataValidationError):
        load_dataset(tmp_path) if route == "pandas" else extract_snapshot(tmp_path, tmp_path / "s")


@pytest.mark.parametrize("route", ROUTES)
def test_two_exports_concatenated_repeat_header_and_ids(route, tmp_path):
    """`cat sept.csv oct.csv > audits.csv` with overlapping exports: the second header becomes a
    row and the shared audits appear twice: errors naming them, never double counting."""
    first, second = audit_rows(6), audit_rows(8)[3:]  # A000004..A000006 in both
    (tmp_path / "audits.csv").write_text(_text(first) + _text(second))
    report = _validate(route, tmp_path)
    assert not report.ok
    dup = [p for p in report.errors if p.code == "duplicate" and p.column == "audit_id"]
    assert {p.value for p in dup} >= {"A000004", "A000005", "A000006"}
    header_row = [p for p in report.errors if p.column == "decision_date"]
    assert header_row and header_row[0].line == 8  # the repeated header line


@pytest.mark.parametrize("route", ROUTES)
def test_spreadsheet_thousands_separator_is_refused(route, tmp_path):
    """Google Sheets / LibreOffice export a formatted number as shown: '"1,234.5"'."""
    rows = audit_rows(4)
    rows[1]["handling_time_s"] = '"1,234.5"'
    (tmp_path / "audits.csv").write_text(_text(rows))
    p = _only_error(_validate(route, tmp_path))
    assert (p.column, p.line, p.value) == ("handling_time_s", 3, "1,234.5")


@pytest.mark.parametrize("route", ROUTES)
def test_named_pipe_is_refused_not_waited_on(route, tmp_path):
    """A FIFO named audits.csv (a 'slow file system' stand-in): it was reported as a missing
    file; a reader would block on it forever or read it once. Refused at once, by name."""
    os.mkfifo(tmp_path / "audits.csv")
    signal.alarm(30)  # nothing may open the pipe (no writer: an open would block)
    try:
        p = _only_error(_validate(route, tmp_path))
    finally:
        signal.alarm(0)
    assert p.file == "audits.csv" and "not a regular file (a named pipe" in p.message


def test_extract_fingerprint_sees_a_same_size_file_with_its_old_mtime(tmp_path):
    """The large path reuses a snapshot whose source fingerprint matches. A corrected file copied
    in with its old modification time kept (cp -p, rsync -t, an archive; or the clock set back)
    and the same size (BR -> DE) used to match: the old snapshot, the old numbers."""
    rows = audit_rows(6)
    f = write_csv(tmp_path / "audits.csv", rows)
    before = os.stat(f)
    fp = source_fingerprint(tmp_path)
    time.sleep(0.01)
    f.write_bytes(f.read_bytes().replace(b",BR,", b",DE,"))
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(f).st_size == before.st_size and os.stat(f).st_mtime_ns == before.st_mtime_ns
    assert source_fingerprint(tmp_path) != fp


def test_a_month_with_audits_but_no_production_has_no_productivity_not_zero(sample_dataset):
    """Data present in some tables only: production ends a month before the audits. Coverage and
    productivity of that month are 'no_data' (never 0, never inf); accuracy is unaffected."""
    from reporting.metrics.compute import compute_kpis

    ds = sample_dataset
    a = ds.audits[(ds.audits["period"] == "2026-10") & (ds.audits["market"] == "BR")]
    p = ds.production[(ds.production["market"] == "BR") & (ds.production["period"] < "2026-10")]
    p_oct = p[p["period"] == "2026-10"]
    got = compute_kpis(a, production=p_oct).set_index("kpi")
    assert got.loc["productivity", "status"] == "no_data"
    assert pd.isna(got.loc["productivity", "value"]) and got.loc["productivity", "n"] == 0
    assert got.loc["audit_coverage", "status"] == "no_data"
    assert "sla_attainment" not in got.index or got.loc["sla_attainment", "status"] == "no_data"
    full = compute_kpis(a).set_index("kpi")
    assert got.loc["accuracy", "value"] == full.loc["accuracy", "value"]


@pytest.mark.parametrize("jump", [-3600.0, 3600.0])
def test_wall_clock_jump_mid_run_changes_no_timing_or_timeout(jump, tmp_path, fixture_templates,
                                                               monkeypatch):
    """The wall clock jumps an hour (NTP, DST handled badly, an admin) once the run has started:
    the timeout watchdog, durations and the skip logic use the monotonic clock or content
    hashes, so the report is neither killed nor mis-timed, and the manifest is truthful."""
    import json

    from reporting.run.jobs import ReportJob
    from reporting.run.runner import Snapshot, run_jobs
    from reporting.run.templates import coerce_parameters, load_template

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + jump)  # from now on, in this process
    tpl = load_template("hello")
    catalog = {"markets": ["BR"], "product_lines": [], "team_leads": [], "periods": ["2026-10"]}
    job = ReportJob(tpl, coerce_parameters(tpl, {"market": "BR", "sleep": 1.0}, catalog),
                    ("market",))
    (tmp_path / "snap").mkdir()
    summary = run_jobs([job], snapshot=Snapshot(tmp_path / "snap", "e" * 64, catalog),
                       out_dir=tmp_path / "o", period="2026-10", timeout=120, progress=False)
    (res,) = summary.results
    assert res.status == "ok", res.error
    assert 1.0 <= res.seconds < 120
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert [j["status"] for j in manifest["jobs"]] == ["ok"]
