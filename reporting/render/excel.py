"""Key tables -> one formatted workbook: a sheet per table, styled header, number formats,
autofilter and frozen header. Strings that a spreadsheet would run as formulas are stored as text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BAD_SHEET = re.compile(r"[\[\]\:\*\?\/\\]")
RATE_HINTS = ("accuracy", "rate", "share", "ci_low", "ci_high", "attainment", "coverage",
              "precision", "recall", "target")


def _sheet_name(name: str, used: set[str]) -> str:
    base = _BAD_SHEET.sub("_", name).strip("'") or "table"
    base = base[:31]
    candidate, i = base, 2
    while candidate.lower() in used:
        suffix = f" ({i})"
        candidate = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(candidate.lower())
    return candidate


def _guess_format(column: str, series: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return "#,##0"
    if pd.api.types.is_float_dtype(series):
        low = column.lower()
        if low.endswith("_pp"):
            return "0.00"
        if any(h in low for h in RATE_HINTS):
            values = series.dropna()
            if len(values) and values.between(-1, 1).all():
                return "0.0%"
        if "p_value" in low or low.startswith("q_"):
            return "0.0000"
        return "#,##0.00"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "yyyy-mm-dd"
    return None


def write_tables_xlsx(tables: Sequence[tuple[str, pd.DataFrame, dict[str, str]]], path: Path
                      ) -> None:
    """Write ``(name, frame, formats)`` tables to ``path`` (an .xlsx file)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="0072B2")
    for name, frame, formats in tables:
        ws = wb.create_sheet(_sheet_name(name, used))
        frame = frame.copy()
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_localize(None)
        ws.append([str(c) for c in frame.columns])
        for cell in ws[1]:
            cell.font, cell.fill = header_font, header_fill
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        col_formats = [formats.get(str(c)) or _guess_format(str(c), frame[c])
                       for c in frame.columns]
        for row in frame.itertuples(index=False):
            values = []
            for v in row:
                if v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v)):
                    values.append(None)
                elif isinstance(v, (list, dict)):
                    values.append(str(v))
                elif hasattr(v, "item") and not isinstance(v, str):
                    values.append(v.item())
                else:
                    values.append(v)
            ws.append(values)
            for cell, v in zip(ws[ws.max_row], values, strict=True):
                if isinstance(v, str) and v.startswith(FORMULA_START):
                    cell.data_type = "s"  # text, never a formula (CSV/Excel injection)
        for idx, fmt in enumerate(col_formats, start=1):
            letter = get_column_letter(idx)
            if fmt:
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
            width = max([len(str(frame.columns[idx - 1]))] +
                        [len(str(v)) for v in frame.iloc[:200, idx - 1].tolist()])
            ws.column_dimensions[letter].width = min(max(10, width + 2), 50)
        ws.freeze_panes = "A2"
        if frame.shape[1]:
            ws.auto_filter.ref = f"A1:{get_column_letter(frame.shape[1])}{max(1, len(frame) + 1)}"
    if not wb.sheetnames:
        ws = wb.create_sheet("README")
        ws.append(["This report recorded no tables."])
    wb.save(path)


def collect_tables(tables_dir: Path) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
    """The tables a template registered with ``ctx.table`` (see :mod:`reporting.notebook`)."""
    from reporting.core.iorw import read_json

    meta = read_json(tables_dir / "tables.json", default=[]) or []
    return [(m["name"], pd.read_parquet(tables_dir / m["file"]), m.get("formats") or {})
            for m in meta]
