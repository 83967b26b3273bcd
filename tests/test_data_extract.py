"""The DuckDB-native extract: same problems and same snapshot frames as the pandas path.

``extract_snapshot`` validates and snapshots in DuckDB without a pandas frame of all rows; every
test here compares it with the pandas path (``validate_dataset`` / ``load_dataset`` +
``write_snapshot``) on the same input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from data_fixtures import audit_rows, roster_rows, small_tables, write_csv, write_tables

from reporting.data import (
    TABLES,
    DataValidationError,
    load_dataset,
    load_snapshot,
    read_audits,
    read_production,
    snapshot_hash,
    validate_dataset,
    write_sample_data,
    write_snapshot,
)
from reporting.data.extract import (
    ROUTE_ENV,
    LargeSource,
    extract_snapshot,
    large_source,
    validate_with_duckdb,
)
from reporting.data.normalize import MAX_VALUES_PER_CHECK
from reporting.run.runner import catalog_of, make_snapshot


def _assert_same_snapshot(a: Path, b: Path) -> None:
    """``load_snapshot`` frames of two snapshots are equal, table by table."""
    sa, sb = load_snapshot(a), load_snapshot(b)
    for name in TABLES:
        x, y = getattr(sa, name), getattr(sb, name)
        assert (x is None) == (y is None), name
        if x is not None:
            pd.testing.assert_frame_equal(x, y, obj=name)


def _pandas_snapshot(source, dest: Path) -> str:
    return write_snapshot(load_dataset(source), dest)


@pytest.fixture(scope="module")
def parquet_sample(tmp_path_factory) -> Path:
    """The default sample data (seed 7, scale 1) as Parquet files."""
    return write_sample_data(tmp_path_factory.mktemp("pq"), seed=7, scale=1.0, fmt="parquet")


@pytest.fixture(scope="module")
def pandas_snap(parquet_sample, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pandas-snap")
    _pandas_snapshot(parquet_sample, d)
    return d


@pytest.fixture(scope="module")
def duck_snap(parquet_sample, tmp_path_factory):
    d = tmp_path_factory.mktemp("duck-snap") / "snap"
    return extract_snapshot(parquet_sample, d)


# ---------------------------------------------------------------------------------
# the snapshot: equal frames, catalog, deterministic hash


def test_snapshot_frames_equal_the_pandas_path(duck_snap, pandas_snap, parquet_sample):
    assert duck_snap.engine == "duckdb"
    _assert_same_snapshot(pandas_snap, duck_snap.snapshot_dir)
    # the pushed-down slices too (what reports read)
    for kw in ({"market": "BR", "period_from": "2026-09", "period_to": "2026-10"}, {}):
        pd.testing.assert_frame_equal(
            read_audits(duck_snap.snapshot_dir, **kw), read_audits(pandas_snap, **kw)
        )
        pd.testing.assert_frame_equal(
            read_production(duck_snap.snapshot_dir, **kw), read_production(pandas_snap, **kw)
        )
    ds = load_dataset(parquet_sample)
    assert duck_snap.catalog == catalog_of(ds)
    assert duck_snap.rows == {n: len(getattr(ds, n)) for n in TABLES}
    report = validate_dataset(parquet_sample)
    assert duck_snap.report.problems == report.problems and duck_snap.report.rows == report.rows
    manifest = json.loads((duck_snap.snapshot_dir / "snapshot.json").read_text())
    assert manifest["hash"] == duck_snap.data_hash == snapshot_hash(duck_snap.snapshot_dir)
    assert manifest["rows"] == duck_snap.rows and manifest["writer"] == "duckdb"
    load_snapshot(duck_snap.snapshot_dir, verify=True)  # the hash checks out


def test_hash_is_deterministic(duck_snap, parquet_sample, tmp_path):
    again = extract_snapshot(parquet_sample, tmp_path / "again")
    assert again.data_hash == duck_snap.data_hash
    assert (tmp_path / "again" / "audits.parquet").read_bytes() == (
        duck_snap.snapshot_dir / "audits.parquet"
    ).read_bytes()


def test_csv_source_equals_pandas_path(sample_data, tmp_path):
    """The session's CSV sample (scale 1) through DuckDB's CSV reader."""
    result = extract_snapshot(sample_data, tmp_path / "duck")
    _pandas_snapshot(sample_data, tmp_path / "pandas")
    _assert_same_snapshot(tmp_path / "pandas", tmp_path / "duck")
    assert result.report.problems == validate_dataset(sample_data).problems


def test_duckdb_file_source_equals_pandas_path(tmp_path):
    src = write_sample_data(tmp_path / "db", seed=5, scale=0.2, fmt="duckdb")
    extract_snapshot(src, tmp_path / "duck")
    _pandas_snapshot(src, tmp_path / "pandas")
    _assert_same_snapshot(tmp_path / "pandas", tmp_path / "duck")


def test_period_window(parquet_sample, pandas_snap, tmp_path):
    result = extract_snapshot(
        parquet_sample, tmp_path / "w", period_from="2026-09", period_to="2026-10"
    )
    assert result.catalog["periods"] == ["2026-09", "2026-10"]
    full = load_snapshot(pandas_snap)
    got = load_snapshot(tmp_path / "w")
    for name in ("audits", "production"):
        frame = getattr(full, name)
        keep = frame["period"].between("2026-09", "2026-10")
        pd.testing.assert_frame_equal(getattr(got, name), frame[keep].reset_index(drop=True))
    pd.testing.assert_frame_equal(got.roster, full.roster)
    with pytest.raises(ValueError, match="2026-10"):
        extract_snapshot(parquet_sample, tmp_path / "bad", period_from="Oct 2026")


def test_pseudonymised_extract_equals_pandas_path(tmp_path):
    from reporting.data.pseudonymise import pseudonymise_dataset

    src = write_tables(small_tables(), tmp_path / "src", "parquet")
    extract_snapshot(src, tmp_path / "duck", pseudonym_key="k3y")
    write_snapshot(pseudonymise_dataset(load_dataset(src), "k3y"), tmp_path / "pandas")
    _assert_same_snapshot(tmp_path / "pandas", tmp_path / "duck")
    audits = load_snapshot(tmp_path / "duck").audits
    assert audits["reviewer_id"].str.startswith("P-").all()


def test_excel_and_memory_sources_take_the_pandas_path(tmp_path):
    book = write_tables(small_tables(), tmp_path / "x", "workbook")
    result = extract_snapshot(book, tmp_path / "snap")
    assert result.engine == "pandas"
    _pandas_snapshot(book, tmp_path / "pandas")
    _assert_same_snapshot(tmp_path / "pandas", tmp_path / "snap")
    assert extract_snapshot(small_tables(), tmp_path / "mem").engine == "pandas"


# ---------------------------------------------------------------------------------
# validation: the same Problem records as validate_dataset


def _production_rows() -> list[dict[str, str]]:
    return [
        {
            "date": f"2026-10-0{i + 1}",
            "reviewer_id": "R1",
            "market": "BR",
            "product_line": "Spark Ads",
            "cases_handled": "200",
            "productive_hours": "6.5",
            "sla_met": "190",
        }
        for i in range(6)
    ]


def _every_problem(d: Path) -> Path:
    rows = audit_rows(14)
    rows[1]["reviewer_decision"] = "aprove"
    rows[2]["handling_time_s"] = "fast"
    rows[3]["decision_date"] = "yesterday"
    rows[4]["weight"] = "0"
    rows[5]["audit_id"] = rows[6]["audit_id"]
    rows[7]["severity"] = "huge"
    rows[8]["market"] = "  "
    rows[9]["handling_time_s"] = "-12.5"
    rows[10]["decision_date"] = "1899-12-30"
    rows[11]["weight"] = "1e16"
    write_csv(d / "audits.csv", rows)
    prod = _production_rows()
    prod[0]["sla_met"] = "999"
    prod[1]["cases_handled"] = "-3"
    prod[2]["cases_handled"] = "2.5"
    prod[3]["productive_hours"] = "30"
    prod[5] = dict(prod[4])
    write_csv(d / "production.csv", prod)
    write_csv(d / "roster.csv", roster_rows(("R1", "R2")))
    return d


def _summarised(d: Path) -> Path:
    rows = audit_rows(MAX_VALUES_PER_CHECK + 8)
    for i in range(MAX_VALUES_PER_CHECK + 5):
        rows[i]["handling_time_s"] = f"bad{i % (MAX_VALUES_PER_CHECK + 3)}"
    for i in range(12):
        rows[i]["audit_id"] = f"DUP{i % 10}"
    return write_csv(d / "audits.csv", rows).parent


def _normalised(d: Path) -> Path:
    rows = audit_rows(8)
    rows[0]["decision_date"] = "2026-10-01T13:45:00Z"
    rows[1]["handling_time_s"] = "NA"
    rows[2]["reviewer_decision"] = " Approve "
    rows[3]["market"] = "DE\u200b"
    rows[4]["policy"] = "Cafe\u0301"
    rows[5]["queue"] = "\u00a0standard"
    rows[6]["sample_type"] = ""
    rows[7]["extra"] = "x"
    write_csv(d / "audits.csv", rows, header=[*audit_rows(1)[0], "extra"])
    write_csv(d / "roster.csv", roster_rows())
    return d


def _hinted(d: Path) -> Path:
    rows = audit_rows(4)
    for r in rows:
        r["Reviewer_ID"] = r.pop("reviewer_id")
    return write_csv(d / "audits.csv", rows).parent


def _ragged(d: Path) -> Path:
    (d / "audits.csv").write_text("audit_id,market\nA1,BR\nA2,DE,extra\n")
    return d


def _parquet_values(d: Path) -> Path:
    tables = small_tables()
    a = tables["audits"]
    a.loc[1, "handling_time_s"] = -5.0
    a.loc[2, "decision_date"] = pd.Timestamp("1899-12-30")
    a["weight"] = ["1", "1_000", "x", None, " 5 "]
    a["reviewer_decision"] = ["approve", "Approve", "Rejekt", "reject", "reject"]
    tables["production"].loc[2, "sla_met"] = 400
    return write_tables(tables, d, "parquet")


def _duckdb_values(d: Path) -> Path:
    tables = small_tables()
    tables["audits"]["reviewer_id"] = [1.0, 1.0, 2.0, 2.0, 3.5]
    tables["audits"].loc[4, "qa_decision"] = "maybe"
    return write_tables(tables, d, "duckdb")


def _missing_source(d: Path) -> Path:
    return d / "nowhere"


def _duckdb_without_audits(d: Path) -> Path:
    return write_tables({"roster": small_tables()["roster"]}, d, "duckdb")


def _header_only(d: Path) -> Path:
    (d / "audits.csv").write_text(",".join(audit_rows(1)[0]) + "\n")
    (d / "production.parquet").write_bytes(b"")
    return d


SCENARIOS = {
    "every_problem": _every_problem,
    "summarised": _summarised,
    "normalised": _normalised,
    "hinted": _hinted,
    "ragged": _ragged,
    "parquet_values": _parquet_values,
    "duckdb_values": _duckdb_values,
    "missing_source": _missing_source,
    "duckdb_without_audits": _duckdb_without_audits,
    "header_only": _header_only,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_problems_equal_the_pandas_validation(scenario, tmp_path):
    src = SCENARIOS[scenario](tmp_path)
    want, got = validate_dataset(src), validate_with_duckdb(src)
    assert [p.to_dict() for p in got.problems] == [p.to_dict() for p in want.problems]
    assert got.rows == want.rows and got.source == want.source


def test_invalid_data_raises_with_every_problem(tmp_path):
    src = _every_problem(tmp_path / "src")
    with pytest.raises(DataValidationError) as exc:
        extract_snapshot(src, tmp_path / "snap")
    assert exc.value.problems == validate_dataset(src).problems
    codes = {p.code for p in exc.value.errors}
    assert codes >= {"unknown_value", "bad_type", "bad_date", "duplicate", "missing_value",
                     "out_of_range", "not_integer", "sla_exceeds_cases"}
    assert not (tmp_path / "snap" / "audits.parquet").exists()


def test_valid_data_with_warnings_and_messy_text_snapshots_equal(tmp_path):
    src = _normalised(tmp_path / "src")
    result = extract_snapshot(src, tmp_path / "duck")
    _pandas_snapshot(src, tmp_path / "pandas")
    _assert_same_snapshot(tmp_path / "pandas", tmp_path / "duck")
    assert [p.code for p in result.report.problems] == [
        p.code for p in validate_dataset(src).problems
    ]
    audits = load_snapshot(tmp_path / "duck").audits
    assert {"DE", "BR"} >= set(audits["market"]) and "extra" in audits.columns


# ---------------------------------------------------------------------------------
# routing: the CLI and the runner


def test_routing_rule(parquet_sample, monkeypatch, tmp_path):
    import reporting.data.extract as ex

    monkeypatch.delenv(ROUTE_ENV, raising=False)
    assert large_source(parquet_sample) is None  # 100k audits: the pandas path
    monkeypatch.setattr(ex, "LARGE_AUDIT_ROWS", 50_000)
    src = large_source(parquet_sample)
    # the reason names the audit count (calibration double audits included, issue 14)
    rows = pq.ParquetFile(parquet_sample / "audits.parquet").metadata.num_rows
    assert isinstance(src, LargeSource) and f"{rows:,} audits" in src.reason
    monkeypatch.setenv(ROUTE_ENV, "never")
    assert large_source(parquet_sample) is None
    monkeypatch.setenv(ROUTE_ENV, "always")
    assert large_source(write_tables(small_tables(), tmp_path / "c", "csv")) is not None
    assert large_source(write_tables(small_tables(), tmp_path / "x", "workbook")) is None


def test_runner_snapshots_a_large_source(parquet_sample, pandas_snap, tmp_path):
    snap = make_snapshot(LargeSource(parquet_sample, "test"), tmp_path / "out")
    assert snap.path.parent == tmp_path / "out" / ".snapshots"
    assert snap.path.name == snap.data_hash[:16]
    assert snap.catalog == catalog_of(load_snapshot(pandas_snap))
    _assert_same_snapshot(pandas_snap, snap.path)
    assert [p.name for p in snap.path.parent.iterdir()] == [snap.path.name]


def test_unchanged_source_reuses_its_snapshot(tmp_path):
    src = write_tables(small_tables(), tmp_path / "src", "parquet")
    root = tmp_path / "snaps"
    first = extract_snapshot(src, root / "a", reuse_from=root)
    assert first.engine == "duckdb"
    again = extract_snapshot(src, root / "b", reuse_from=root)
    assert again.engine == "reused" and again.data_hash == first.data_hash
    assert again.catalog == first.catalog and again.report == first.report
    _assert_same_snapshot(root / "a", root / "b")
    # another window, another key or a changed file: extracted again
    assert extract_snapshot(src, root / "c", reuse_from=root, period_to="2026-10").engine == (
        "duckdb"
    )
    assert extract_snapshot(src, root / "d", reuse_from=root, pseudonym_key="k").engine == (
        "duckdb"
    )
    os.utime(src / "roster.parquet", ns=(1, 1))
    assert extract_snapshot(src, root / "e", reuse_from=root).engine == "duckdb"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reporting", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def test_cli_report_on_a_large_source(parquet_sample, tmp_path):
    """The data overview built from the DuckDB snapshot equals the pandas path's numbers."""
    from reporting.reports.data_overview import market_overview

    out = tmp_path / "out"
    proc = _cli("report", "data_overview", "-p", "period", "2026-10", "--data",
                str(parquet_sample), "--out", str(out), "--format", "html",
                env={ROUTE_ENV: "always"})
    assert proc.returncode == 0, proc.stderr
    assert "validating and snapshotting in DuckDB" in proc.stderr
    results = json.loads((out / "data_overview" / "results.json").read_text())
    audits = load_dataset(parquet_sample).audits
    want = market_overview(audits[audits["period"] == "2026-10"]).kpis
    got = pd.DataFrame([{"market": k["scope"]["market"], "value": k["value"], "n": k["n"]}
                        for k in results["kpis"]])
    pd.testing.assert_frame_equal(got, want[["market", "value", "n"]].reset_index(drop=True),
                                  check_dtype=False)
    manifest = json.loads((out / "manifest.json").read_text())
    snap = next((out / ".snapshots").iterdir())
    assert manifest["data_hash"] == snapshot_hash(snap)


def test_cli_lists_problems_of_a_large_source(tmp_path):
    src = _every_problem(tmp_path / "src")
    proc = _cli("report", "data_overview", "-p", "period", "2026-10", "--data", str(src),
                "--out", str(tmp_path / "out"), env={ROUTE_ENV: "always"})
    assert proc.returncode == 1
    assert "does not meet the contract" in proc.stderr and "'aprove'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
