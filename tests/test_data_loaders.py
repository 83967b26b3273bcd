"""Loading: every source format gives the same canonical frames; normalisation; derived columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_fixtures import (
    AUDIT_HEADER,
    audit_rows,
    roster_rows,
    small_tables,
    write_csv,
    write_tables,
)

from reporting.data import (
    TABLES,
    Dataset,
    DataValidationError,
    canonical_schema,
    load_dataset,
    summarize_dataset,
)

FORMATS = ["csv", "parquet", "xlsx", "workbook", "duckdb"]


@pytest.fixture(scope="module")
def loaded_by_format(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    tables = small_tables()
    out = {}
    for fmt in FORMATS:
        src = write_tables(tables, tmp_path_factory.mktemp(fmt), fmt)
        out[fmt] = load_dataset(src)
    out["memory"] = load_dataset(tables)
    return out


@pytest.mark.parametrize("fmt", FORMATS[1:] + ["memory"])
def test_every_format_gives_identical_canonical_frames(loaded_by_format, fmt):
    ref = loaded_by_format["csv"]
    other = loaded_by_format[fmt]
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(ref, name), getattr(other, name), obj=f"{fmt}:{name}")


def test_canonical_frames_match_the_conventions(loaded_by_format):
    ds = loaded_by_format["csv"]
    for name in TABLES:
        canonical_schema(name).validate(getattr(ds, name), lazy=True)
    a = ds.audits
    assert a["decision_date"].dtype == "datetime64[ns]"
    assert a["week"].dtype == "datetime64[ns]"
    assert a["is_correct"].dtype == bool
    assert a["handling_time_s"].dtype == "float64"
    assert ds.production["cases_handled"].dtype == "int64"
    assert ds.production["sla_met"].dtype == "float64"
    assert list(a.index) == list(range(len(a)))


def test_canonical_schema_rejects_a_wrong_frame(loaded_by_format):
    import pandera.errors

    bad = loaded_by_format["csv"].audits.copy()
    bad["reviewer_decision"] = bad["reviewer_decision"].replace("approve", "Approve")
    bad["decision_date"] = bad["decision_date"].astype(str)
    with pytest.raises(pandera.errors.SchemaErrors):
        canonical_schema("audits").validate(bad, lazy=True)


def test_derived_columns_hand_checked(loaded_by_format):
    a = loaded_by_format["csv"].audits.set_index("audit_id")
    assert a["is_correct"].tolist() == [True, False, False, True, True]
    et = a["error_type"]
    assert et.isna().tolist() == [True, False, False, True, True]
    assert et["A2"] == "missed_violation"  # reviewer approve, QA reject
    assert et["A3"] == "over_enforcement"  # reviewer reject, QA approve
    assert a["period"].tolist() == ["2026-09", "2026-10", "2026-10", "2026-10", "2026-11"]
    # 2026-09-30 Wed, 10-01 Thu, 10-04 Sun -> Monday 09-28; 10-05 and 11-02 are Mondays
    assert a["week"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-09-28",
        "2026-09-28",
        "2026-09-28",
        "2026-10-05",
        "2026-11-02",
    ]
    # R1 hired 2026-08-03: 58 and 59 days; R2 hired 2020-01-15: 2192 days to 2026-01-15
    # (two leap days) + 262 to 2026-10-04; R3 has no roster entry.
    assert a["tenure_days"].tolist()[:4] == [58.0, 59.0, 2454.0, 2455.0]
    assert np.isnan(a.loc["A5", "tenure_days"])
    assert a["team_lead"].tolist()[:4] == ["Ana Souza", "Ana Souza", "Lukas Becker", "Lukas Becker"]
    assert pd.isna(a.loc["A5", "team_lead"]) and pd.isna(a.loc["A5", "site"])
    assert a.loc["A3", "site"] == "Berlin"
    p = loaded_by_format["csv"].production
    assert p["period"].tolist() == ["2026-10"] * 3
    assert p["week"].dt.strftime("%Y-%m-%d").tolist() == ["2026-09-28"] * 3


def test_optional_columns_absent_are_filled(tmp_path):
    rows = audit_rows(4)
    keep = AUDIT_HEADER[:8]  # the required columns: audit_id .. qa_decision
    write_csv(tmp_path / "audits.csv", rows, header=keep)
    ds = load_dataset(tmp_path)
    a = ds.audits
    assert (a["sample_type"] == "random").all()
    assert a["handling_time_s"].isna().all() and a["handling_time_s"].dtype == "float64"
    assert a["weight"].isna().all()
    for col in ("queue", "severity", "auditor_id", "team_lead", "site"):
        assert a[col].isna().all(), col
        assert a[col].dtype == "str", col
    assert a["tenure_days"].isna().all()
    assert ds.production is None and ds.roster is None and ds.events is None
    assert ds.targets is not None and len(ds.targets) == 0
    assert list(ds.targets.columns) == ["kpi", "target", "market", "product_line", "effective_from"]


def test_category_and_whitespace_normalisation(tmp_path):
    rows = audit_rows(5)
    rows[0]["reviewer_decision"] = "Approve"
    rows[1]["reviewer_decision"] = " approve "
    rows[2]["qa_decision"] = "REJECT"
    rows[3]["sample_type"] = " Targeted"
    rows[3]["severity"] = "MAJOR "
    rows[4]["market"] = "  BR "
    rows[4]["policy"] = " Gambling  "
    rows[4]["audit_id"] = " A000005 "
    write_csv(tmp_path / "audits.csv", rows)
    a = load_dataset(tmp_path).audits
    assert a["reviewer_decision"].tolist()[:2] == ["approve", "approve"]
    assert a.loc[2, "qa_decision"] == "reject"
    assert a.loc[3, "sample_type"] == "targeted"
    assert a.loc[3, "severity"] == "major"
    assert a.loc[4, "market"] == "BR"  # stripped, case kept
    assert a.loc[4, "policy"] == "Gambling"
    assert a.loc[4, "audit_id"] == "A000005"


def test_market_codes_are_upper_cased(tmp_path):
    """Issue 18 item 5 (was: market case kept, so `br` and `BR` were two markets)."""
    rows = audit_rows(2)
    rows[0]["market"] = "br"
    write_csv(tmp_path / "audits.csv", rows)
    ds = load_dataset(tmp_path)
    assert ds.audits["market"].tolist() == ["BR", "BR"]
    (p,) = [p for p in ds.problems if p.code == "normalised_case"]
    assert p.file == "audits.csv" and p.count == 1 and p.line == 2


def test_datetime_strings_and_native_dates_are_accepted(tmp_path):
    rows = audit_rows(4)
    rows[0]["decision_date"] = "2026-10-01 23:59:59"
    rows[1]["decision_date"] = "2026-10-02T08:15:00Z"
    rows[2]["decision_date"] = "2026-10-03T23:30:00-03:00"  # calendar date as written
    rows[3]["decision_date"] = " 2026-10-04 "
    write_csv(tmp_path / "audits.csv", rows)
    a = load_dataset(tmp_path).audits
    assert a["decision_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-10-01",
        "2026-10-02",
        "2026-10-03",
        "2026-10-04",
    ]
    assert (a["decision_date"] == a["decision_date"].dt.normalize()).all()


def test_numbers_as_text_and_null_tokens(tmp_path):
    rows = audit_rows(3)
    rows[0]["handling_time_s"] = " 12.5 "
    rows[1]["handling_time_s"] = "NA"
    rows[2]["weight"] = ""
    write_csv(tmp_path / "audits.csv", rows)
    a = load_dataset(tmp_path).audits
    assert a.loc[0, "handling_time_s"] == 12.5
    assert np.isnan(a.loc[1, "handling_time_s"])
    assert np.isnan(a.loc[2, "weight"])


def test_semicolon_separated_csv_is_read(tmp_path):
    rows = audit_rows(3)
    text = ";".join(rows[0].keys()) + "\n"
    text += "\n".join(";".join(r.values()) for r in rows) + "\n"
    (tmp_path / "audits.csv").write_text(text)
    assert len(load_dataset(tmp_path).audits) == 3


def test_extra_columns_are_kept(tmp_path):
    rows = audit_rows(2)
    for r in rows:
        r["ad_country"] = "XX"
    write_csv(tmp_path / "audits.csv", rows)
    a = load_dataset(tmp_path).audits
    assert a.columns[-1] == "ad_country"
    assert a.columns[-2] == "site"


def test_single_csv_file_is_read_as_audits(tmp_path):
    f = write_csv(tmp_path / "my_export.csv", audit_rows(3))
    ds = load_dataset(f)
    assert len(ds.audits) == 3 and ds.roster is None


def test_two_files_for_one_table_is_an_error(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(2))
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "audits.parquet")
    with pytest.raises(DataValidationError) as exc:
        load_dataset(tmp_path)
    assert "audits.csv and audits.parquet" in str(exc.value)


def test_empty_optional_table_is_absent(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(2))
    (tmp_path / "events.csv").write_text("date,description\n")
    ds = load_dataset(tmp_path)
    assert ds.events is None
    assert any(p.table == "events" and p.code == "empty_table" for p in ds.problems)


def test_validate_false_coerces_bad_values_but_still_needs_audits(tmp_path):
    rows = audit_rows(4)
    rows[1]["handling_time_s"] = "slow"
    rows[2]["reviewer_decision"] = "maybe"
    rows[3]["audit_id"] = rows[0]["audit_id"]
    write_csv(tmp_path / "audits.csv", rows)
    with pytest.raises(DataValidationError):
        load_dataset(tmp_path)
    ds = load_dataset(tmp_path, validate=False)
    assert np.isnan(ds.audits.loc[1, "handling_time_s"])
    assert pd.isna(ds.audits.loc[2, "reviewer_decision"])
    assert not ds.audits.loc[2, "is_correct"]
    assert any(p.is_error for p in ds.problems)
    (tmp_path / "audits.csv").unlink()
    with pytest.raises(DataValidationError):
        load_dataset(tmp_path, validate=False)


def test_roster_join_uses_trimmed_ids(tmp_path):
    rows = audit_rows(3)
    write_csv(tmp_path / "audits.csv", rows)
    roster = roster_rows(("R1", "R2", "R3"))
    roster[0]["reviewer_id"] = " R1 "
    write_csv(tmp_path / "roster.csv", roster)
    ds = load_dataset(tmp_path)
    assert ds.audits["team_lead"].notna().all()
    assert not ds.problems


def test_summarize_dataset(loaded_by_format):
    s = summarize_dataset(loaded_by_format["csv"])
    assert s["rows"] == {"audits": 5, "production": 3, "roster": 2, "targets": 3, "events": 1,
                         "appeals": 2, "coaching": 1}  # the wave-2 tables of the fixture
    assert s["date_range"] == ["2026-09-30", "2026-11-02"]
    assert s["periods"] == ["2026-09", "2026-10", "2026-11"]
    assert s["markets"] == ["BR", "DE", "US"]
    assert s["reviewers"] == 3
    assert s["warnings"] == 1  # R3 is not in the roster
    import json

    json.dumps(s)


def test_audits_xlsx_given_directly_reads_its_first_sheet(tmp_path):
    f = tmp_path / "audits.xlsx"
    small_tables()["audits"].to_excel(f, index=False, sheet_name="Export")
    assert len(load_dataset(f).audits) == 5
