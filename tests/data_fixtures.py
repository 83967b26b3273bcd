"""Shared helpers for the data-layer tests (tests/test_data_*.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

AUDIT_HEADER = [
    "audit_id",
    "decision_date",
    "market",
    "product_line",
    "policy",
    "reviewer_id",
    "reviewer_decision",
    "qa_decision",
    "queue",
    "handling_time_s",
    "weight",
    "sample_type",
    "severity",
    "auditor_id",
]


def small_tables() -> dict[str, pd.DataFrame]:
    """A small hand-checked raw data set (typed columns, as a user might have it).

    R3 is deliberately missing from the roster (one warning).
    """
    nan = np.nan
    audits = pd.DataFrame(
        {
            "audit_id": ["A1", "A2", "A3", "A4", "A5"],
            "decision_date": pd.to_datetime(
                ["2026-09-30", "2026-10-01", "2026-10-04", "2026-10-05", "2026-11-02"]
            ),
            "market": ["BR", "BR", "DE", "DE", "US"],
            "product_line": ["Spark Ads", "Spark Ads", "TopView", "TopView", "Search Ads"],
            "policy": [
                "Financial Services",
                "Financial Services",
                "Political Content",
                "Political Content",
                "Gambling",
            ],
            "reviewer_id": ["R1", "R1", "R2", "R2", "R3"],
            "reviewer_decision": ["approve", "approve", "reject", "reject", "approve"],
            "qa_decision": ["approve", "reject", "approve", "reject", "approve"],
            "queue": ["standard", "priority", nan, "standard", "escalations"],
            "handling_time_s": [30.5, 45.0, 61.25, nan, 12.0],
            "weight": [100.0, 12.25, nan, 5.5, 1.0],
            "sample_type": ["random", "random", "targeted", "calibration", "random"],
            "severity": [nan, "major", "minor", nan, nan],
            "auditor_id": ["QA1", "QA1", "QA2", nan, "QA3"],
        }
    )
    production = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-01", "2026-10-01", "2026-10-04"]),
            "reviewer_id": ["R1", "R2", "R2"],
            "market": ["BR", "DE", "DE"],
            "product_line": ["Spark Ads", "TopView", "TopView"],
            "cases_handled": [250, 310, 0],
            "productive_hours": [6.5, 7.25, 0.0],
            "sla_met": [240, 300, 0],
        }
    )
    roster = pd.DataFrame(
        {
            "reviewer_id": ["R1", "R2"],
            "team_lead": ["Ana Souza", "Lukas Becker"],
            "market": ["BR", "DE"],
            "hire_date": pd.to_datetime(["2026-08-03", "2020-01-15"]),
            "site": ["Sao Paulo", "Berlin"],
            "status": ["active", nan],
        }
    )
    targets = pd.DataFrame(
        {
            "kpi": ["accuracy", "accuracy", "sla_attainment"],
            "target": [0.95, 0.96, 0.95],
            "market": ["*", "JP", "*"],
            "product_line": ["*", "*", "*"],
            "effective_from": pd.to_datetime([None, "2026-07-01", None]),
        }
    )
    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-01"]),
            "description": ["Financial Services policy update"],
            "market": ["BR"],
            "policy": ["Financial Services"],
            "product_line": [nan],
            "kind": ["policy_update"],
        }
    )
    # the wave-2 optional tables (issue 15): one open appeal, one resolved
    appeals = pd.DataFrame(
        {
            "appeal_id": ["AP1", "AP2"],
            "market": ["BR", "DE"],
            "policy": ["Financial Services", "Political Content"],
            "appeal_date": pd.to_datetime(["2026-10-02", "2026-10-06"]),
            "outcome": ["overturned", nan],
            "resolved_date": pd.to_datetime(["2026-10-05", None]),
            "case_id": ["C1", "C2"],
            "reviewer_id": ["R1", "R2"],
        }
    )
    coaching = pd.DataFrame(
        {
            "reviewer_id": ["R1"],
            "date": pd.to_datetime(["2026-10-01"]),
            "kind": ["coaching"],
            "note": ["1:1 on Financial Services"],
        }
    )
    return {
        "audits": audits,
        "production": production,
        "roster": roster,
        "targets": targets,
        "events": events,
        "appeals": appeals,
        "coaching": coaching,
    }


def write_tables(tables: dict[str, pd.DataFrame], dest: Path, fmt: str) -> Path:
    """Write raw tables in one of the supported source layouts; return what to load.

    fmt: ``csv`` / ``parquet`` / ``xlsx`` (folder, one file per table), ``workbook``
    (one Excel file, a sheet per table) or ``duckdb`` (one database file).
    """
    dest.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        for name, df in tables.items():
            df.to_csv(dest / f"{name}.csv", index=False, date_format="%Y-%m-%d")
        return dest
    if fmt == "parquet":
        for name, df in tables.items():
            df.to_parquet(dest / f"{name}.parquet", index=False)
        return dest
    if fmt == "xlsx":
        for name, df in tables.items():
            df.to_excel(dest / f"{name}.xlsx", index=False, sheet_name=name)
        return dest
    if fmt == "workbook":
        path = dest / "data.xlsx"
        with pd.ExcelWriter(path) as xw:
            for name, df in tables.items():
                df.to_excel(xw, sheet_name=name, index=False)
        return path
    if fmt == "duckdb":
        import duckdb

        path = dest / "data.duckdb"
        con = duckdb.connect(str(path))
        try:
            for name, df in tables.items():
                con.register("t", df)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM t')
                con.unregister("t")
        finally:
            con.close()
        return path
    raise ValueError(fmt)


def audit_rows(n: int = 12) -> list[dict[str, str]]:
    """``n`` valid raw audit rows as text (CSV line of row i is i + 2)."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "audit_id": f"A{i + 1:06d}",
                "decision_date": f"2026-10-{(i % 28) + 1:02d}",
                "market": "BR" if i % 2 else "DE",
                "product_line": "Spark Ads",
                "policy": "Gambling",
                "reviewer_id": f"R{i % 3 + 1}",
                "reviewer_decision": "approve",
                "qa_decision": "approve" if i % 5 else "reject",
                "queue": "standard",
                "handling_time_s": f"{20 + i}.5",
                "weight": "10",
                "sample_type": "random",
                "severity": "" if i % 5 else "major",
                "auditor_id": "QA1",
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """Write text rows to a CSV file (all values as given)."""
    header = header or list(rows[0].keys())
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def roster_rows(ids: tuple[str, ...] = ("R1", "R2", "R3")) -> list[dict[str, str]]:
    """Valid raw roster rows for the given reviewer ids."""
    return [
        {"reviewer_id": r, "team_lead": "Ana Souza", "market": "BR", "hire_date": "2025-01-06"}
        for r in ids
    ]
