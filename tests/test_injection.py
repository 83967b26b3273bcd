"""Strings from data and parameters reach HTML, Excel and file names: they must stay data."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from reporting.run.jobs import ReportJob
from reporting.run.runner import Snapshot, run_jobs
from reporting.run.templates import coerce_parameters, load_template

HOSTILE = [
    "<script>alert(1)</script>",
    "../../etc",
    "a/b\\c",
    "'); import os; open('PWNED', 'w'); ('",
    '"""; raise SystemExit; """',
    "=HYPERLINK(\"http://x\",\"y\")",
    "+1", "-1+2", "@SUM(A1)",
]


def test_hostile_parameter_values_are_data(tmp_path, fixture_templates, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tpl = load_template("hello")
    catalog = {"markets": HOSTILE}
    jobs = [ReportJob(tpl, coerce_parameters(tpl, {"market": m}, catalog), ("market",))
            for m in HOSTILE]
    assert len({j.id for j in jobs}) == len(HOSTILE)
    snap = tmp_path / "snap"
    snap.mkdir()
    out = tmp_path / "out"
    summary = run_jobs(jobs, snapshot=Snapshot(snap, "a" * 64, catalog), out_dir=out,
                       period="2026-10", progress=False)
    assert {r.status for r in summary.results} == {"ok"}, [r.error for r in summary.results]
    # Nothing was executed from a parameter, nothing written outside the output folder.
    assert not list(tmp_path.rglob("PWNED"))
    inside = {p.resolve() for p in out.iterdir()}
    for job in jobs:
        folder = (out / job.id).resolve()
        assert folder in inside and folder.parent == out.resolve()
        results = json.loads((folder / "results.json").read_text())
        assert results["params"]["market"] == job.params["market"]  # the value, verbatim
        html = (folder / "report.html").read_text()
        assert "<script>alert(1)</script>" not in html
        wb = openpyxl.load_workbook(folder / "tables.xlsx")
        for row in wb["Numbers"].iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"  # never a formula
    index = (out / "index.html").read_text()
    assert "<script>alert(1)</script>" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index


def test_excel_cells_starting_with_formula_characters_are_text(tmp_path):
    import pandas as pd

    from reporting.render.excel import write_tables_xlsx

    frame = pd.DataFrame({"policy": HOSTILE, "n": range(len(HOSTILE))})
    path = tmp_path / "t.xlsx"
    write_tables_xlsx([("Injected / sheet:name?", frame, {})], path)
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    assert "/" not in ws.title and ":" not in ws.title
    values = [c.value for c in ws["A"][1:]]
    assert values == HOSTILE
    assert all(c.data_type == "s" for c in ws["A"][1:])
    # The raw XML holds them as strings (shared or inline), never as <f> formulas.
    import zipfile

    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml
    assert Path(path).stat().st_size > 0
