"""Validation: every problem named with file, column, value, example row and count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from data_fixtures import audit_rows, roster_rows, small_tables, write_csv, write_tables

from reporting.data import (
    DataValidationError,
    Problem,
    ValidationReport,
    load_dataset,
    validate_dataset,
)
from reporting.data.normalize import MAX_VALUES_PER_CHECK


def _problems(path, **match) -> list[Problem]:
    report = validate_dataset(path)
    return [p for p in report.problems if all(getattr(p, k) == v for k, v in match.items())]


def _one(path, **match) -> Problem:
    found = _problems(path, **match)
    assert len(found) == 1, (match, validate_dataset(path).format())
    return found[0]


# ---------------------------------------------------------------------------------
# the Problem and report objects


def test_problem_formats_to_one_readable_line():
    p = Problem(
        "error",
        "audits",
        "'aprove' is not one of approve/reject",
        file="audits.csv",
        column="reviewer_decision",
        value="aprove",
        line=17,
        row_id="audit_id A000123",
        count=3,
    )
    assert p.format() == (
        "audits.csv, column reviewer_decision: 'aprove' is not one of approve/reject "
        "(e.g. line 17, audit_id A000123; 3 rows)"
    )
    assert "\n" not in p.format()


def test_report_properties():
    e = Problem("error", "audits", "bad")
    w = Problem("warning", "audits", "meh")
    r = ValidationReport(problems=[w, e], source="x")
    assert r.errors == [e] and r.warnings == [w] and not r.ok
    assert ValidationReport(problems=[w]).ok
    text = r.format()
    assert text.splitlines()[1].lstrip().startswith("ERROR")  # errors listed first
    assert "1 error and 1 warning" in text


def test_valid_data_has_no_problem(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(12))
    write_csv(tmp_path / "roster.csv", roster_rows())
    report = validate_dataset(tmp_path)
    assert report.ok and report.problems == []
    assert report.rows["audits"] == 12


# ---------------------------------------------------------------------------------
# unreadable sources never raise


def test_missing_audits_file(tmp_path):
    write_csv(tmp_path / "roster.csv", roster_rows())
    p = _one(tmp_path, code="missing_table")
    assert p.is_error and p.table == "audits" and "audits.csv" in p.format()
    with pytest.raises(DataValidationError) as exc:
        load_dataset(tmp_path)
    assert "missing file audits.csv" in str(exc.value)


def test_source_that_does_not_exist(tmp_path):
    p = _one(tmp_path / "nope", code="source_not_found")
    assert "not found" in p.message


def test_zero_byte_csv(tmp_path):
    (tmp_path / "audits.csv").write_bytes(b"")
    p = _one(tmp_path, code="unreadable")
    assert p.file == "audits.csv" and "empty (0 bytes)" in p.message


def test_binary_garbage_named_csv(tmp_path):
    (tmp_path / "audits.csv").write_bytes(bytes(range(256)) * 40)
    p = _one(tmp_path, code="unreadable")
    assert p.file == "audits.csv" and "binary" in p.message


def test_non_utf8_csv(tmp_path):
    rows = audit_rows(2)
    rows[0]["policy"] = "Sa\u00fade"
    text = ",".join(rows[0]) + "\n" + "\n".join(",".join(r.values()) for r in rows) + "\n"
    (tmp_path / "audits.csv").write_bytes(text.encode("latin-1"))
    p = _one(tmp_path, code="unreadable")
    assert "UTF-8" in p.message


def test_ragged_csv(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(3))
    with open(tmp_path / "audits.csv", "a") as fh:
        fh.write("A9,2026-10-01,BR,x,y,R1,approve,approve,q,1,1,random,,QA,extra,extra2\n")
    p = _one(tmp_path, code="unreadable")
    assert "line 5" in p.message


@pytest.mark.parametrize("name", ["audits.parquet", "data.xlsx", "data.duckdb", "audits.xlsx"])
def test_garbage_binary_files_become_problems(tmp_path, name):
    (tmp_path / name).write_bytes(b"this is not what it claims to be" * 50)
    target = tmp_path if name.startswith("audits") else tmp_path / name
    report = validate_dataset(target)
    assert not report.ok
    assert any(p.code == "unreadable" and p.file == name for p in report.errors), report.format()
    with pytest.raises(DataValidationError):
        load_dataset(target)


def test_workbook_without_optional_sheet_is_fine_without_audits_is_an_error(tmp_path):
    tables = small_tables()
    del tables["roster"]
    path = write_tables(tables, tmp_path / "a", "workbook")
    ds = load_dataset(path)
    assert ds.roster is None and ds.production is not None
    del tables["audits"]
    path = write_tables(tables, tmp_path / "b", "workbook")
    p = _one(path, code="missing_table")
    assert "no sheet 'audits'" in p.message and "production" in p.message


def test_duckdb_without_audits_table(tmp_path):
    tables = small_tables()
    del tables["audits"]
    path = write_tables(tables, tmp_path, "duckdb")
    p = _one(path, code="missing_table")
    assert "no table 'audits'" in p.message


# ---------------------------------------------------------------------------------
# structure


def test_missing_required_column(tmp_path):
    rows = audit_rows(3)
    header = [c for c in rows[0] if c != "policy"]
    write_csv(tmp_path / "audits.csv", rows, header=header)
    p = _one(tmp_path, code="missing_column")
    assert p.column == "policy" and p.file == "audits.csv"
    assert "audits.csv, column policy: required column is missing" in p.format()


def test_missing_column_with_wrong_case_gets_a_hint(tmp_path):
    rows = [
        {("Reviewer_ID" if k == "reviewer_id" else k): v for k, v in r.items()}
        for r in audit_rows(3)
    ]
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="missing_column")
    assert p.column == "reviewer_id" and "'Reviewer_ID'" in p.message


def test_header_only_audits_is_an_error(tmp_path):
    write_csv(tmp_path / "audits.csv", [], header=list(audit_rows(1)[0]))
    p = _one(tmp_path, code="empty_table")
    assert p.is_error and "header only" in p.message
    with pytest.raises(DataValidationError):
        load_dataset(tmp_path, validate=False)


def test_header_only_optional_table_is_a_warning(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(3))
    write_csv(
        tmp_path / "production.csv",
        [],
        header=[
            "date",
            "reviewer_id",
            "market",
            "product_line",
            "cases_handled",
            "productive_hours",
        ],
    )
    p = _one(tmp_path, code="empty_table")
    assert p.severity == "warning" and p.table == "production"


# ---------------------------------------------------------------------------------
# values: each problem names the column and an example row


def test_non_numeric_handling_time(tmp_path):
    rows = audit_rows(12)
    rows[6]["handling_time_s"] = "fast"
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="bad_type")
    assert p.column == "handling_time_s" and p.value == "fast" and p.count == 1
    assert p.format() == (
        "audits.csv, column handling_time_s: 'fast' is not a number, expected a number >= 0 "
        "(e.g. line 8, audit_id A000007; 1 row)"
    )


def test_unparseable_dates(tmp_path):
    rows = audit_rows(12)
    rows[2]["decision_date"] = "2026-13-01"
    rows[5]["decision_date"] = "10/01/2026"
    rows[7]["decision_date"] = "10/01/2026"
    write_csv(tmp_path / "audits.csv", rows)
    found = {p.value: p for p in _problems(tmp_path, code="bad_date")}
    assert set(found) == {"2026-13-01", "10/01/2026"}
    us = found["10/01/2026"]
    assert us.column == "decision_date" and us.count == 2 and us.line == 7
    assert "audit_id A000006" in us.format() and "YYYY-MM-DD" in us.format()


def test_unknown_decision_value_counts_rows(tmp_path):
    rows = audit_rows(20)
    for i in (15, 16, 18):
        rows[i]["reviewer_decision"] = "aprove"
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="unknown_value")
    assert p.format() == (
        "audits.csv, column reviewer_decision: 'aprove' is not one of approve/reject "
        "(e.g. line 17, audit_id A000016; 3 rows)"
    )


def test_unknown_severity_and_sample_type(tmp_path):
    rows = audit_rows(6)
    rows[1]["severity"] = "huge"
    rows[2]["sample_type"] = "appeals"
    write_csv(tmp_path / "audits.csv", rows)
    sev = _one(tmp_path, code="unknown_value", column="severity")
    assert "'huge' is not one of critical/major/minor" in sev.message and sev.line == 3
    st = _one(tmp_path, code="unknown_value", column="sample_type")
    assert "'appeals'" in st.message and "new_hire" in st.message and st.line == 4


def test_duplicate_audit_id(tmp_path):
    rows = audit_rows(8)
    rows[5]["audit_id"] = rows[2]["audit_id"]
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="duplicate")
    assert p.column == "audit_id" and p.value == "A000003" and p.count == 2 and p.line == 4
    assert "appears 2 times" in p.message


def test_negative_handling_time(tmp_path):
    rows = audit_rows(8)
    rows[3]["handling_time_s"] = "-12.5"
    rows[6]["handling_time_s"] = "-1"
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="out_of_range")
    assert p.column == "handling_time_s" and p.count == 2 and p.line == 5
    assert "-12.5 is negative" in p.format() and "audit_id A000004" in p.format()


def test_weight_must_be_positive(tmp_path):
    rows = audit_rows(8)
    rows[0]["weight"] = "0"
    rows[4]["weight"] = "-3"
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="out_of_range")
    assert p.column == "weight" and p.count == 2 and p.line == 2
    assert "expected a number > 0" in p.message


def test_missing_required_value(tmp_path):
    rows = audit_rows(5)
    rows[3]["market"] = "  "
    write_csv(tmp_path / "audits.csv", rows)
    p = _one(tmp_path, code="missing_value")
    assert p.column == "market" and p.line == 5 and p.row_id == "audit_id A000004"


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


def test_production_cases_negative_or_not_whole(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(3))
    rows = _production_rows()
    rows[1]["cases_handled"] = "-3"
    rows[4]["cases_handled"] = "2.5"
    rows[4]["sla_met"] = "1"
    write_csv(tmp_path / "production.csv", rows)
    neg = _one(tmp_path, code="out_of_range", column="cases_handled")
    assert neg.file == "production.csv" and neg.line == 3 and "-3 is negative" in neg.message
    assert neg.row_id == "reviewer_id R1"
    frac = _one(tmp_path, code="not_integer", column="cases_handled")
    assert frac.line == 6 and "2.5 is not a whole number" in frac.message


def test_sla_met_above_cases(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(3))
    rows = _production_rows()
    rows[2]["sla_met"] = "250"
    write_csv(tmp_path / "production.csv", rows)
    p = _one(tmp_path, code="sla_exceeds_cases")
    assert p.column == "sla_met" and p.line == 4 and p.count == 1
    assert "250 > cases_handled 200" in p.message


def test_reviewers_missing_from_roster_is_a_warning(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(9))  # reviewers R1..R3
    write_csv(tmp_path / "roster.csv", roster_rows(("R1",)))
    p = _one(tmp_path, code="not_in_roster")
    assert p.severity == "warning" and p.column == "reviewer_id"
    assert p.count == 6 and p.line == 3 and "2 reviewers are not in the roster" in p.message
    ds = load_dataset(tmp_path)  # warnings do not stop loading
    assert any(q.code == "not_in_roster" for q in ds.problems)


def test_targets_checks(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(3))
    write_csv(
        tmp_path / "targets.csv",
        [
            {"kpi": "accuracy", "target": "95", "market": "*", "product_line": "*"},
            {"kpi": "acuracy", "target": "0.9", "market": "*", "product_line": "*"},
            {"kpi": "productivity", "target": "40", "market": "*", "product_line": "*"},
        ],
    )
    rate = _one(tmp_path, code="out_of_range", column="target")
    assert rate.is_error and rate.line == 2 and "0.95, not 95" in rate.message
    unknown = _one(tmp_path, code="unknown_kpi")
    assert unknown.severity == "warning" and unknown.value == "acuracy"


def test_many_distinct_bad_values_are_summarised(tmp_path):
    n_bad = MAX_VALUES_PER_CHECK + 4
    rows = audit_rows(n_bad + 2)
    for i in range(n_bad):
        rows[i]["handling_time_s"] = f"bad{i}"
    write_csv(tmp_path / "audits.csv", rows)
    found = _problems(tmp_path, code="bad_type")
    assert len(found) == MAX_VALUES_PER_CHECK + 1
    assert sum(p.count for p in found) == n_bad
    assert "4 more distinct values" in found[-1].message


def test_excel_problems_name_sheet_and_row(tmp_path):
    tables = small_tables()
    tables["audits"] = tables["audits"].astype({"reviewer_decision": object})
    tables["audits"].loc[3, "reviewer_decision"] = "Rejekt"
    path = write_tables(tables, tmp_path, "workbook")
    p = _one(path, code="unknown_value")
    assert p.format().startswith("data.xlsx [audits], column reviewer_decision: 'rejekt'")
    assert "row 5, audit_id A4" in p.format()


def test_parquet_problems_name_the_record(tmp_path):
    tables = small_tables()
    tables["audits"].loc[1, "handling_time_s"] = -5.0
    path = write_tables(tables, tmp_path, "parquet")
    p = _one(path, code="out_of_range")
    assert p.file == "audits.parquet" and "record 2, audit_id A2" in p.format()


def test_every_problem_is_reported_at_once(tmp_path):
    rows = audit_rows(12)
    rows[1]["reviewer_decision"] = "aprove"
    rows[2]["handling_time_s"] = "fast"
    rows[3]["decision_date"] = "yesterday"
    rows[4]["weight"] = "0"
    rows[5]["audit_id"] = rows[6]["audit_id"]
    rows[7]["severity"] = "huge"
    write_csv(tmp_path / "audits.csv", rows)
    prod = _production_rows()
    prod[0]["sla_met"] = "999"
    write_csv(tmp_path / "production.csv", prod)
    write_csv(tmp_path / "roster.csv", roster_rows(("R1", "R2")))
    with pytest.raises(DataValidationError) as exc:
        load_dataset(tmp_path)
    err = exc.value
    codes = {p.code for p in err.problems}
    assert codes >= {
        "unknown_value",
        "bad_type",
        "bad_date",
        "out_of_range",
        "duplicate",
        "sla_exceeds_cases",
        "not_in_roster",
    }
    text = str(err)
    for needle in (
        "reviewer_decision",
        "handling_time_s",
        "decision_date",
        "weight",
        "audit_id",
        "severity",
        "sla_met",
        "line 3",
        "line 4",
        "line 5",
    ):
        assert needle in text, needle
    assert "Traceback" not in text
    assert len(err.errors) == len([p for p in err.problems if p.is_error]) >= 7


def test_problem_to_dict_is_json_ready(tmp_path):
    import json

    rows = audit_rows(3)
    rows[0]["qa_decision"] = "nope"
    write_csv(tmp_path / "audits.csv", rows)
    report = validate_dataset(tmp_path)
    payload = json.dumps([p.to_dict() for p in report.problems])
    assert "nope" in payload and "qa_decision" in payload


def test_in_memory_frames_are_validated_with_record_numbers():
    tables = small_tables()
    audits = tables["audits"].astype({"qa_decision": object})
    audits.loc[2, "qa_decision"] = "???"
    tables["audits"] = audits
    report = validate_dataset(tables)
    p = [q for q in report.errors if q.code == "unknown_value"][0]
    assert p.format() == (
        "audits, column qa_decision: '???' is not one of approve/reject "
        "(e.g. record 3, audit_id A3; 1 row)"
    )


def test_validate_accepts_pathlike_and_str(tmp_path):
    write_csv(tmp_path / "audits.csv", audit_rows(3))
    assert validate_dataset(str(tmp_path)).ok and validate_dataset(Path(tmp_path)).ok


def test_hypothesis_garbage_never_raises(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.binary(max_size=400))
    def check(blob):
        d = tmp_path_factory.mktemp("g")
        (d / "audits.csv").write_bytes(b"audit_id,decision_date\n" + blob)
        report = validate_dataset(d)
        assert isinstance(report, ValidationReport)
        assert not report.ok  # required columns are missing whatever the blob

    check()


def test_report_for_a_good_sample_is_ok(tmp_path):
    from reporting.data import write_sample_data

    path = write_sample_data(tmp_path, scale=0.02, fmt="csv")
    report = validate_dataset(path)
    assert report.ok, report.format()
    assert report.warnings == []
    assert pd.Series(report.rows)["audits"] > 1000


def test_duplicated_column(tmp_path):
    rows = audit_rows(3)
    header = list(rows[0])
    text = ",".join(header + [" market"]) + "\n"
    text += "\n".join(",".join(list(r.values()) + ["BR"]) for r in rows) + "\n"
    (tmp_path / "audits.csv").write_text(text)
    p = _one(tmp_path, code="duplicate_column")
    assert p.column == "market" and "2 times" in p.message
