"""What every report module shares to write its records (results.json, contract 2)."""

from __future__ import annotations

from typing import Any

import pandas as pd

KPI_FIELDS = ("kpi", "value", "ci_low", "ci_high", "n", "target", "status")


def kpi_records(frame: pd.DataFrame, scope: list[str]) -> list[dict[str, Any]]:
    """KPI rows as results.json records: ``scope`` columns become the record's ``scope`` dict
    (missing values left out), followed by the fields of :data:`KPI_FIELDS` the frame has."""
    keep = [c for c in KPI_FIELDS if c in frame.columns]
    return [{"scope": {c: row[c] for c in scope if pd.notna(row[c])}, **{c: row[c] for c in keep}}
            for row in frame.to_dict(orient="records")]
