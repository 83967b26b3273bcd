"""tables.xlsx is a workbook a lead can pivot: rates as percentages, changes of rates in pp,
counts without decimals, readable labels beside codes, a unit column, no status without a target,
and a filterable header. Checked by opening the written workbook with openpyxl."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from openpyxl import load_workbook

from reporting.render.excel import PP2_FORMAT, PP_FORMAT, write_tables_xlsx

KPIS = pd.DataFrame({
    "market": ["BR"] * 4,
    "kpi": ["accuracy", "audit_volume", "handling_time_median", "enforcement_precision"],
    "value": [0.925, 3090.0, 61.0, 0.90],
    "ci_low": [0.915, math.nan, 58.0, 0.88],
    "ci_high": [0.934, math.nan, 64.0, 0.917],
    "n": [3090, 3090, 3090, 800],
    "target": [0.95, math.nan, 60.0, 0.95],
    "status": ["off_track", "at_risk", "at_risk", "off_track"],
    "target_source": ["targets table", "", "built-in default", "built-in default"],
})
CHANGES = pd.DataFrame({
    "kpi": ["accuracy", "handling_time_mean"], "from": [0.943, 92.4], "to": [0.925, 88.2],
    "diff": [-0.0176, -4.2], "ci_low": [-0.030, -6.0], "ci_high": [-0.005, -2.4],
    "p_value": [0.005, 0.008], "significant": [True, True],
})
BREAKDOWN = pd.DataFrame({
    "policy": ["Financial Services", "Adult"], "n": [771, 300], "accuracy": [0.859, 0.97],
    "audits_needed_for_1pp": [4636.0, 1118.0], "cases": [192405.0, 1200.0],
    "contribution_pp": [-1.23, 0.1], "status": ["off_track", "on_track"],
    "target": [0.95, 0.95],
})


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "tables.xlsx"
    write_tables_xlsx([("Headline KPIs", KPIS, {}), ("Changes", CHANGES, {}),
                       ("By policy", BREAKDOWN, {})], path)
    return load_workbook(path)


def _sheet(wb, name):
    ws = wb[name]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2)]
    return ws, header, rows


def test_kpi_values_take_the_format_of_their_unit(workbook):
    ws, header, rows = _sheet(workbook, "Headline KPIs")
    acc, vol, ht, prec = rows
    assert acc["value"].number_format == "0.0%" and acc["ci_low"].number_format == "0.0%"
    assert acc["target"].number_format == "0.0%"
    assert vol["value"].number_format == "#,##0"  # 3,090, not 3,090.00
    assert ht["value"].number_format == '#,##0" s"' and ht["target"].number_format.endswith('s"')
    assert acc["n"].number_format == "#,##0"


def test_labels_beside_codes_and_a_unit_column(workbook):
    ws, header, rows = _sheet(workbook, "Headline KPIs")
    assert header[header.index("kpi") + 1] == "kpi_label"
    assert header[header.index("status") + 1] == "status_label"
    assert "unit" in header
    acc, vol, ht, prec = rows
    assert (acc["kpi_label"].value, acc["unit"].value) == ("Accuracy", "%")
    assert (acc["status"].value, acc["status_label"].value) == ("off_track", "Off track")
    assert ht["unit"].value == "seconds" and vol["unit"].value == "count"
    # Targets nobody set say so; a KPI without a target gets no status.
    assert prec["target_source"].value == "built-in default"
    assert vol["status"].value is None and vol["status_label"].value is None


def test_changes_of_rates_in_percentage_points(workbook):
    ws, header, rows = _sheet(workbook, "Changes")
    acc, ht = rows
    assert acc["diff"].value == pytest.approx(-1.76)  # pp, not -0.0176
    assert acc["diff"].number_format == PP_FORMAT and acc["ci_low"].number_format == PP_FORMAT
    assert acc["from"].number_format == "0.0%" and acc["to"].number_format == "0.0%"
    assert ht["diff"].value == pytest.approx(-4.2) and ht["diff"].number_format.endswith('s"')
    assert acc["p_value"].number_format == "0.0000"


def test_breakdown_formats_and_filterable_header(workbook):
    ws, header, rows = _sheet(workbook, "By policy")
    fs = rows[0]
    assert fs["accuracy"].number_format == "0.0%" and fs["target"].number_format == "0.0%"
    assert fs["audits_needed_for_1pp"].number_format == "#,##0"
    assert fs["cases"].number_format == "#,##0"  # 192,405, not 192,405.00
    assert fs["contribution_pp"].number_format == PP2_FORMAT
    assert fs["status_label"].value == "Off track"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}3"
    assert ws.freeze_panes == "A2"
    assert all(c.font.bold for c in ws[1])


def test_kpis_outside_the_registry_and_capacity_columns(tmp_path):
    frame = pd.DataFrame({"market": ["BR", "BR"], "kpi": ["cases_handled", "accuracy"],
                          "value": [192405.0, 0.925], "target": [math.nan, 0.95],
                          "status": [None, "off_track"]})
    cap = pd.DataFrame({"market": ["BR"], "forecast_cases": [179069.3], "gap_fte": [3.61]})
    path = tmp_path / "t.xlsx"
    write_tables_xlsx([("Scorecard", frame, {}), ("Capacity", cap, {})], path)
    wb = load_workbook(path)
    _, header, rows = _sheet(wb, "Scorecard")
    assert rows[0]["kpi_label"].value == "Cases handled"
    assert rows[0]["value"].number_format == "#,##0"  # 192,405, not 192,405.00
    assert rows[1]["value"].number_format == "0.0%"
    _, _, (row,) = _sheet(wb, "Capacity")
    assert row["forecast_cases"].number_format == "#,##0"
    assert row["gap_fte"].number_format == "#,##0.0"


def test_status_without_kpi_column_is_kept(tmp_path):
    """A reviewer's evidence status (no KPI column) stands without a target column value."""
    frame = pd.DataFrame({"reviewer": ["a"], "target": [math.nan], "status": ["not_judged"]})
    path = tmp_path / "t.xlsx"
    write_tables_xlsx([("Reviewers", frame, {})], path)
    _, _, (row,) = _sheet(load_workbook(path), "Reviewers")
    assert (row["status"].value, row["status_label"].value) == ("not_judged", "Not judged")
