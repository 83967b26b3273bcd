"""Key tables -> one formatted workbook a lead can pivot: a sheet per table, styled header,
autofilter and frozen header; rates as percentages and changes of rates in percentage points,
counts without decimals; readable labels beside codes (KPI, status), a unit column, and no status
where there is no target. All of it driven by column names and the KPI registry, so every report
gets it. Strings that a spreadsheet would run as formulas are stored as text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BAD_SHEET = re.compile(r"[\[\]\:\*\?\/\\]")
RATE_HINTS = ("accuracy", "rate", "share", "ci_low", "ci_high", "attainment", "coverage",
              "precision", "recall", "target", "margin_of_error", "agreement")
#: Excel number formats by KPI unit (rates are fractions, shown as percentages).
UNIT_FORMATS = {"rate": "0.0%", "count": "#,##0", "seconds": '#,##0" s"',
                "cases_per_hour": "0.0"}
#: A unit column a reader understands, by KPI unit.
UNIT_WORDS = {"rate": "%", "count": "count", "seconds": "seconds",
              "cases_per_hour": "cases per hour"}
PP_FORMAT = '+0.0" pp";-0.0" pp";0.0" pp"'
PP2_FORMAT = '+0.00" pp";-0.00" pp";0.00" pp"'
SECONDS_DIFF_FORMAT = '+0.0" s";-0.0" s";0.0" s"'
# Columns holding a KPI's value (in its own unit) and columns holding a change of it.
_VALUE_COLUMNS = ("value", "ci_low", "ci_high", "target", "from", "to", "previous", "current")
_DIFF_COLUMNS = ("diff", "ci_low", "ci_high")


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


def _whole_numbers(series: pd.Series) -> bool:
    values = series.dropna()
    return bool(len(values)) and bool(((values - values.round()).abs() < 1e-9).all())


def _guess_format(column: str, series: pd.Series) -> str | None:
    """A column's number format from its name and values (a rate shows as a percentage, a pp
    change with a sign and ' pp', counts without decimals)."""
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return "#,##0"
    if pd.api.types.is_float_dtype(series):
        low = column.lower()
        if low.endswith("_pp"):
            return PP2_FORMAT
        if any(h in low for h in RATE_HINTS):
            values = series.dropna()
            if len(values) and values.between(-1, 1).all():
                return "0.0%"
        if "p_value" in low or low.startswith("q_"):
            return "0.0000"
        if "cases" in low:  # a forecast of cases is read in whole cases
            return "#,##0"
        if "fte" in low:
            return "#,##0.0"
        if _whole_numbers(series):  # cases, audits needed: '192,405' rather than '192,405.00'
            return "#,##0"
        return "#,##0.00"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "yyyy-mm-dd"
    return None


def status_label(code: object) -> object:
    """``off_track`` -> ``Off track``, ``above_target`` -> ``Above target`` (others unchanged)."""
    from reporting.viz.style import STATUS_LABELS

    if not isinstance(code, str) or not code:
        return code
    return STATUS_LABELS.get(code, code.replace("_", " ").capitalize())


def _insert_after(frame: pd.DataFrame, after: str, name: str, values: object) -> None:
    if name not in frame.columns:
        frame.insert(frame.columns.get_loc(after) + 1, name, values)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with what a reader needs beside the codes, driven by column names and the KPI
    registry: ``kpi_label`` beside ``kpi``, a ``unit`` column, ``status_label`` beside ``status``;
    and no status where there is no target (a KPI without a target is not on or off track).
    Rates in a changes table (a ``diff`` column) become percentage points."""
    from reporting.core.kpis import KPIS

    out = frame.copy()
    if "kpi" in out.columns and out["kpi"].isin(list(KPIS)).any():
        spec = out["kpi"].map(lambda k: KPIS.get(k))
        _insert_after(out, "kpi", "kpi_label",
                      [s.label if s is not None else str(k).replace("_", " ").capitalize()
                       for s, k in zip(spec, out["kpi"], strict=True)])
        units = [s.unit if s is not None else "" for s in spec]
        if "unit" in out.columns:
            out["unit"] = [UNIT_WORDS.get(u, u) for u in out["unit"].astype(object)]
        else:
            _insert_after(out, "kpi_label", "unit", [UNIT_WORDS.get(u, u) for u in units])
        if "diff" in out.columns:  # a rate's change is read in percentage points
            rate = pd.Series([u == "rate" for u in units], index=out.index)
            for c in _DIFF_COLUMNS:
                if c in out.columns and pd.api.types.is_numeric_dtype(out[c]):
                    out[c] = out[c].astype(float).where(~rate, out[c].astype(float) * 100)
    if "status" in out.columns:
        if {"kpi", "target"} <= set(out.columns):  # a KPI row; a reviewer's status stands alone
            out["status"] = out["status"].astype(object).where(out["target"].notna(), None)
        _insert_after(out, "status", "status_label", out["status"].map(status_label))
    return out


def _kpi_units(frame: pd.DataFrame) -> list[str] | None:
    from reporting.core.kpis import KPIS

    if "kpi" not in frame.columns:
        return None
    return [KPIS[k].unit if k in KPIS else "" for k in frame["kpi"]]


def cell_formats(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """The number format of every cell: the column's (``formats`` first, else guessed), and in
    a KPI table the format of each row's KPI unit for its value columns (a rate as a
    percentage, seconds with ' s', counts without decimals) and of its change (pp or s)."""
    col = {str(c): formats.get(str(c)) or _guess_format(str(c), frame[c]) for c in frame.columns}
    out = pd.DataFrame({c: [col[str(c)]] * len(frame) for c in frame.columns}, index=frame.index,
                       dtype=object)
    units = _kpi_units(frame)
    if units is None:
        return out
    changes = "diff" in frame.columns
    for c in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
            continue
        if changes and c in _DIFF_COLUMNS:
            out[c] = [PP_FORMAT if u == "rate" else SECONDS_DIFF_FORMAT if u == "seconds"
                      else col[str(c)] for u in units]
        elif c in _VALUE_COLUMNS:
            whole = (frame[c].isna() | ((frame[c] - frame[c].round()).abs() < 1e-9)).to_numpy()
            # A KPI the registry does not know (e.g. cases handled): whole numbers as counts.
            out[c] = [UNIT_FORMATS.get(u) or ("#,##0" if w else col[str(c)])
                      for u, w in zip(units, whole, strict=True)]
    return out


def _cell_value(v: object) -> object:
    if v is None or (not isinstance(v, (str, list, dict)) and pd.isna(v)):
        return None
    if isinstance(v, (list, dict)):
        return str(v)
    if hasattr(v, "item") and not isinstance(v, str):
        return v.item()
    return v


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
        frame = readable(frame)
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_localize(None)
        ws.append([str(c) for c in frame.columns])
        for cell in ws[1]:
            cell.font, cell.fill = header_font, header_fill
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        fmts = cell_formats(frame, dict(formats or {}))
        for row, row_fmts in zip(frame.itertuples(index=False),
                                 fmts.itertuples(index=False), strict=True):
            values = [_cell_value(v) for v in row]
            ws.append(values)
            for cell, v, fmt in zip(ws[ws.max_row], values, row_fmts, strict=True):
                if isinstance(v, str) and v.startswith(FORMULA_START):
                    cell.data_type = "s"  # text, never a formula (CSV/Excel injection)
                if fmt:
                    cell.number_format = fmt
        for idx in range(1, frame.shape[1] + 1):
            width = max([len(str(frame.columns[idx - 1]))] +
                        [len(str(v)) for v in frame.iloc[:200, idx - 1].tolist()])
            ws.column_dimensions[get_column_letter(idx)].width = min(max(10, width + 2), 50)
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
