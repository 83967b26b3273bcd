"""Issue 18 (items 3, 5, 6, 7, 11): one rule on both load paths.

Every test runs on the pandas path (``validate_dataset`` / ``load_dataset``) and on the DuckDB
extract (``validate_with_duckdb`` / ``extract_snapshot`` + ``load_snapshot``), which the CLI
takes for large sources (``$REPORTING_EXTRACT``); both must give the same verdict.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_fixtures import AUDIT_HEADER, audit_rows, roster_rows, small_tables, write_csv

from reporting.data import (
    Dataset,
    DataValidationError,
    ValidationReport,
    load_dataset,
    load_snapshot,
    validate_dataset,
)
from reporting.data.extract import extract_snapshot, validate_with_duckdb

ROUTES = ["pandas", "duckdb"]


def validate_via(route: str, src: Path) -> ValidationReport:
    """The validation of ``src`` on one route."""
    return validate_dataset(src) if route == "pandas" else validate_with_duckdb(src)


def load_via(route: str, src: Path, tmp: Path) -> Dataset:
    """The canonical data of ``src`` on one route (the extract: its snapshot read back)."""
    if route == "pandas":
        return load_dataset(src)
    result = extract_snapshot(src, tmp / "snap")
    assert result.engine == "duckdb"
    return load_snapshot(tmp / "snap")


def _lines(rows: list[dict[str, str]], header: list[str] = AUDIT_HEADER) -> list[str]:
    return [",".join(header)] + [",".join(r.get(c, "") for c in header) for r in rows]


# ---------------------------------------------------------------------------------
# item 3: a short (or long) line is an error naming file, line and field counts


@pytest.mark.parametrize("route", ROUTES)
def test_short_rows_are_an_error_not_padded(route, tmp_path):
    """Rows cut before sample_type/severity/auditor_id used to load as random audits."""
    rows = audit_rows(8)
    for r in rows:
        r["sample_type"] = "targeted"
    lines = _lines(rows)
    cut = ",".join(lines[3].split(",")[:11])  # line 4: 11 of 14 fields
    lines[3] = cut
    lines[6] = ",".join(lines[6].split(",")[:11])  # line 7 too
    (tmp_path / "audits.csv").write_text("\n".join(lines) + "\n")
    report = validate_via(route, tmp_path)
    assert not report.ok
    (p,) = report.errors
    assert p.file == "audits.csv" and p.line == 4 and p.count == 2
    assert "line 4 has 11 fields but the header has 14" in p.message
    assert p.expected == "14 fields on every line" and "line 4" in p.format()
    with pytest.raises(DataValidationError):
        load_via(route, tmp_path, tmp_path)


@pytest.mark.parametrize("route", ROUTES)
def test_long_row_is_an_error_with_counts(route, tmp_path):
    lines = _lines(audit_rows(4))
    lines[2] += ",x,y"
    (tmp_path / "audits.csv").write_text("\n".join(lines) + "\n")
    (p,) = validate_via(route, tmp_path).errors
    assert p.line == 3 and "line 3 has 16 fields but the header has 14" in p.message
    assert "must be quoted" in p.message


# ---------------------------------------------------------------------------------
# item 5: market codes are upper case in every table


def _mixed_case_markets(d: Path) -> Path:
    rows = audit_rows(10)
    for i, r in enumerate(rows):
        r["market"] = "br" if i < 4 else "BR" if i < 8 else "jp"
    write_csv(d / "audits.csv", rows)
    roster = roster_rows()
    roster[0]["market"] = "Br"
    write_csv(d / "roster.csv", roster)
    write_csv(
        d / "targets.csv",
        [
            {"kpi": "accuracy", "target": "0.95", "market": "*"},
            {"kpi": "accuracy", "target": "0.96", "market": "jp"},
        ],
    )
    write_csv(
        d / "production.csv",
        [
            {"date": "2026-10-01", "reviewer_id": "R1", "market": "br", "product_line": "Spark Ads",
             "cases_handled": "100", "productive_hours": "6"},
        ],
    )
    write_csv(d / "events.csv", [{"date": "2026-10-01", "description": "x", "market": "bR"}])
    return d


@pytest.mark.parametrize("route", ROUTES)
def test_market_codes_are_upper_cased_everywhere_with_a_warning(route, tmp_path):
    src = _mixed_case_markets(tmp_path / "src")
    report = validate_via(route, src)
    assert report.ok
    warned = {p.file: p for p in report.warnings if p.code == "normalised_case"}
    assert set(warned) == {"audits.csv", "roster.csv", "targets.csv", "production.csv",
                           "events.csv"}
    a = warned["audits.csv"]
    assert a.column == "market" and a.count == 6 and a.line == 2
    assert "6 values written in lower or mixed case were upper-cased, e.g. 'br' -> 'BR'" in (
        a.message
    )
    ds = load_via(route, src, tmp_path)
    assert ds.audits["market"].value_counts().to_dict() == {"BR": 8, "JP": 2}
    assert set(ds.roster["market"]) == {"BR"} and set(ds.production["market"]) == {"BR"}
    assert sorted(ds.targets["market"]) == ["*", "JP"]
    assert list(ds.events["market"]) == ["BR"]


# ---------------------------------------------------------------------------------
# item 6: a time-zone-aware timestamp is its local date, on both paths


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "-03:00"])
@pytest.mark.parametrize("route", ROUTES)
def test_timezone_aware_parquet_keeps_the_local_date(route, zone, tmp_path):
    a = small_tables()["audits"]
    local = [dt.datetime(2026, 10, 31, 23, 30)] * len(a)  # 02:30 UTC on 1 November
    stamps = pd.Series(local).dt.tz_localize(zone)
    t = pa.Table.from_pandas(a.drop(columns=["decision_date"]), preserve_index=False)
    t = t.append_column("decision_date", pa.array(stamps, pa.timestamp("us", tz=zone)))
    pq.write_table(t, tmp_path / "audits.parquet")
    ds = load_via(route, tmp_path, tmp_path)
    assert set(ds.audits["decision_date"]) == {pd.Timestamp("2026-10-31")}
    assert set(ds.audits["period"]) == {"2026-10"}


# ---------------------------------------------------------------------------------
# item 7: compressed CSV is read; every file not used is named


@pytest.mark.parametrize("route", ROUTES)
def test_gzip_csv_is_read(route, tmp_path):
    plain = tmp_path / "plain"
    write_csv(plain / "audits.csv", audit_rows(6))
    write_csv(plain / "roster.csv", roster_rows())
    gz = tmp_path / "gz"
    gz.mkdir()
    for name in ("audits", "roster"):
        (gz / f"{name}.csv.gz").write_bytes(gzip.compress((plain / f"{name}.csv").read_bytes()))
    report = validate_via(route, gz)
    assert report.ok and report.rows["audits"] == 6 and report.rows["roster"] == 3
    want = load_via(route, plain, tmp_path / "a")
    got = load_via(route, gz, tmp_path / "b")
    pd.testing.assert_frame_equal(got.audits, want.audits)


@pytest.mark.parametrize("route", ROUTES)
def test_unused_and_unsupported_files_are_named(route, tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(4))
    (tmp_path / "roster.xls").write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    (tmp_path / "production.json").write_text("[]")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    report = validate_via(route, tmp_path)
    by_file = {p.file: p for p in report.problems}
    assert set(by_file) == {"roster.xls", "production.json", "notes.txt"}
    xls = by_file["roster.xls"]
    assert xls.is_error and xls.code == "unsupported_file" and "save it as .xlsx or .csv" in (
        xls.message
    )
    assert by_file["production.json"].is_error
    notes = by_file["notes.txt"]
    assert not notes.is_error and notes.code == "unused_file" and "not used" in notes.message


@pytest.mark.parametrize("route", ROUTES)
def test_audits_in_an_unsupported_format_is_named(route, tmp_path):
    (tmp_path / "audits.csv.zip").write_bytes(b"PK\x03\x04")
    (p,) = validate_via(route, tmp_path).errors
    assert p.file == "audits.csv.zip" and p.code == "unsupported_file"
    assert "missing file" not in p.message


# ---------------------------------------------------------------------------------
# item 11: Excel's "sep=" line, decimal commas


@pytest.mark.parametrize("route", ROUTES)
def test_excel_separator_line_is_honoured(route, tmp_path):
    rows = audit_rows(5)
    rows[2]["reviewer_decision"] = "aprove"
    body = "\r\n".join(";".join(r[c] for c in AUDIT_HEADER) for r in rows)
    (tmp_path / "audits.csv").write_text(f"sep=;\r\n{';'.join(AUDIT_HEADER)}\r\n{body}\r\n")
    (p,) = validate_via(route, tmp_path).errors
    assert p.column == "reviewer_decision" and p.line == 5  # sep=, header, rows 0-1, row 2
    rows[2]["reviewer_decision"] = "approve"
    body = "\r\n".join(";".join(r[c] for c in AUDIT_HEADER) for r in rows)
    (tmp_path / "audits.csv").write_text(f"sep=;\r\n{';'.join(AUDIT_HEADER)}\r\n{body}\r\n")
    ds = load_via(route, tmp_path, tmp_path)
    assert sorted(ds.audits["audit_id"]) == [r["audit_id"] for r in rows]


@pytest.mark.parametrize("route", ROUTES)
def test_decimal_commas_get_a_hint(route, tmp_path):
    rows = audit_rows(4)
    for r in rows:
        r["handling_time_s"] = r["handling_time_s"].replace(".", ",")
    body = "\n".join(";".join(r[c] for c in AUDIT_HEADER) for r in rows)
    (tmp_path / "audits.csv").write_text(f"{';'.join(AUDIT_HEADER)}\n{body}\n")
    problems = validate_via(route, tmp_path).errors
    assert problems and all(p.column == "handling_time_s" for p in problems)
    assert "looks like ';'-separated with decimal commas" in problems[0].message


# ---------------------------------------------------------------------------------
# item 11: a hire date after the reviewer's decisions (negative tenure)


@pytest.mark.parametrize("route", ROUTES)
def test_hire_date_after_decisions_is_a_warning_and_no_tenure_is_negative(route, tmp_path):
    """R2 decides on 10-02, 10-05, 10-08 and 10-11; the roster says hired 10-06 (line 3)."""
    write_csv(tmp_path / "audits.csv", audit_rows(12))
    roster = roster_rows()
    roster[1]["hire_date"] = "2026-10-06"
    write_csv(tmp_path / "roster.csv", roster)
    report = validate_via(route, tmp_path)
    assert report.ok  # a warning: a rehire is real, and the roster is optional
    (p,) = [w for w in report.warnings if w.code == "hired_after_decision"]
    assert (p.file, p.column, p.line, p.row_id, p.count) == (
        "roster.csv", "hire_date", 3, "reviewer_id R2", 1)
    assert "hire_date 2026-10-06 of reviewer 'R2' is after 2 of their decisions" in p.message
    assert "the first on 2026-10-02, audit_id 'A000002'" in p.message
    ds = load_via(route, tmp_path, tmp_path)
    t = ds.audits.set_index("audit_id")["tenure_days"]
    assert t.loc[["A000002", "A000005"]].isna().all()  # unknown, not -4 and -1
    assert t.loc[["A000008", "A000011"]].tolist() == [2.0, 5.0]
    assert (t.dropna() >= 0).all()


def test_team_report_tenure_is_never_negative():
    """The team report's tenure at the period end: a reviewer hired after it has none."""
    from reporting.people.scorecard import _roster_columns

    t = pd.DataFrame(index=pd.Index(["R1", "R2"], name="reviewer_id"))
    roster = pd.DataFrame({"reviewer_id": ["R1", "R2"], "team_lead": ["L", "L"],
                           "hire_date": pd.to_datetime(["2026-01-01", "2026-12-01"])})
    out = _roster_columns(t, roster, pd.DataFrame(), pd.Timestamp("2026-10-31"))
    assert out.loc["R1", "tenure_days"] == 303 and pd.isna(out.loc["R2", "tenure_days"])
