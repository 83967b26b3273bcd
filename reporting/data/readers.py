"""Reading raw tables from a data source, turning every read error into a Problem.

A source is a folder (one file per table: ``<table>.csv``, ``.parquet`` or ``.xlsx``),
an Excel workbook (one sheet per table), a DuckDB database file (one table per name),
a single CSV/Parquet file (read as the audits table), or in-memory frames (a
:class:`~reporting.data.Dataset` or a mapping of table name to DataFrame).

Readers return the tables *as found* (no type conversion beyond what the format
itself carries) together with their location, so later problems can name the file,
the sheet and the line of an offending value. The frame index is the 0-based position
of the row in the source (blank CSV lines are dropped but keep line numbers right).

Size guard: a file larger than :func:`max_inmemory_bytes` (``$REPORTING_MAX_INMEMORY_BYTES``,
default 1 GiB; for a workbook its unpacked size counts) is refused with a ``too_large``
problem before any of it is parsed, instead of being loaded whole into memory.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .problems import Problem
from .schema import TABLES

__all__ = [
    "DEFAULT_MAX_INMEMORY_BYTES",
    "MAX_INMEMORY_ENV",
    "DataSource",
    "RawSource",
    "RawTable",
    "clean_name",
    "max_inmemory_bytes",
    "read_source",
]

DataSource = str | os.PathLike[str] | Mapping[str, pd.DataFrame | None] | Any

TABLE_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".pq", ".xlsx", ".xlsm")
EXCEL_EXTENSIONS: tuple[str, ...] = (".xlsx", ".xlsm")
DUCKDB_EXTENSIONS: tuple[str, ...] = (".duckdb", ".ddb", ".db")

#: Environment variable: the largest file (bytes) a reader loads into memory; ``0`` = no limit.
MAX_INMEMORY_ENV = "REPORTING_MAX_INMEMORY_BYTES"
#: Default of :data:`MAX_INMEMORY_ENV`: 1 GiB.
DEFAULT_MAX_INMEMORY_BYTES = 1024**3

#: Invisible format characters removed (with whitespace) from both ends of names and text
#: values: zero-width space / joiners, word joiner, BOM, and the bidirectional marks,
#: embeddings and isolates that editors insert around right-to-left text.
INVISIBLE_CHARS = (
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)
#: what :func:`clean_name` strips: every ``str.isspace()`` character and INVISIBLE_CHARS
#: (``str.strip(chars)`` is linear; an anchored regex would be quadratic on long padding)
_STRIP_CHARS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + INVISIBLE_CHARS


def clean_name(name: object) -> str:
    """A column or sheet name as compared with the contract.

    Whitespace and invisible format characters (:data:`INVISIBLE_CHARS`) are removed from
    both ends and the text is put in Unicode NFC form, so ``' audit_id'``,
    ``'\\ufeffaudit_id'`` and ``'audit_id\\u200b'`` all name ``audit_id``.
    """
    text = str(name)
    if text.isascii():
        return text.strip()
    return unicodedata.normalize("NFC", text.strip(_STRIP_CHARS))


def _parse_size(text: str) -> int:
    t = text.strip().lower().replace("_", "").replace(" ", "")
    units = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:([kmgt])(?:i?b)?|b)?", t)
    if not m:
        raise ValueError(text)
    return int(float(m.group(1)) * units.get(m.group(2) or "", 1))


def max_inmemory_bytes() -> int | None:
    """The size above which a file is refused instead of loaded into memory.

    Read from ``$REPORTING_MAX_INMEMORY_BYTES`` (bytes, or with a unit: ``512M``, ``2G``,
    ``1.5GiB``); default :data:`DEFAULT_MAX_INMEMORY_BYTES` (1 GiB). ``0`` disables the guard.

    Returns
    -------
    int or None
        The limit in bytes, None when disabled.

    Raises
    ------
    ValueError
        When the variable is set to something that is not a size.
    """
    raw = os.environ.get(MAX_INMEMORY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INMEMORY_BYTES
    try:
        limit = _parse_size(raw)
    except ValueError:
        raise ValueError(
            f"${MAX_INMEMORY_ENV}={raw!r} is not a size: give bytes (1073741824) or a size "
            "with a unit (512M, 2G); 0 disables the limit"
        ) from None
    return limit or None


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"  # pragma: no cover


def _unpacked_size(f: Path) -> int:
    """Size of a workbook once unzipped (0 when it is not a zip file)."""
    import zipfile

    try:
        with zipfile.ZipFile(f) as z:
            return sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def _size_guard(table: str, f: Path, problems: list[Problem], kind: str) -> bool:
    """Refuse (a ``too_large`` problem, False) a file too large to load into memory."""
    try:
        limit = max_inmemory_bytes()
    except ValueError as exc:
        problems.append(Problem("error", table, str(exc), file=f.name, code="bad_setting"))
        return False
    if limit is None:
        return True
    size = f.stat().st_size
    what = f"{_human(size)} ({size:,} bytes)"
    if kind == "excel" and size <= limit:
        unpacked = _unpacked_size(f)
        if unpacked > limit:
            size = unpacked
            what = f"{_human(unpacked)} once unpacked ({unpacked:,} bytes)"
    if size <= limit:
        return True
    advice = {
        "csv": "convert it to Parquet (typically 10x smaller) or load it into a DuckDB file",
        "parquet": "keep only the months needed, or load it into a DuckDB file",
        "excel": "save the sheets as Parquet or CSV files",
        "duckdb": "keep only the months needed in a smaller DuckDB file",
    }[kind]
    problems.append(
        Problem(
            "error",
            table,
            f"file is {what}, more than the {_human(limit)} that may be loaded into memory: "
            f"{advice}, or raise the limit with {MAX_INMEMORY_ENV}=<bytes> (0 = no limit) "
            "if the machine has several times that much memory",
            file=f.name,
            expected=f"a file of at most {_human(limit)}",
            code="too_large",
        )
    )
    return False


@dataclass
class RawTable:
    """One table as read from the source, with where it came from.

    Attributes
    ----------
    name : str
        Contract table name.
    frame : pandas.DataFrame
        The data as read; column names whitespace-stripped; index = 0-based position
        of the row in the source.
    file : str or None
        File name for messages (``audits.csv``), None for in-memory frames.
    sheet : str or None
        Sheet (Excel) or table (DuckDB) name inside ``file``.
    line_kind : str
        ``"line"`` (CSV), ``"row"`` (Excel) or ``"record"`` (Parquet, DuckDB, memory).
    line_offset : int
        Number of the first data row: 2 when a header line counts as 1, else 1.
    header : list of str or None
        Column names exactly as written in the file (cleaned like the frame's), when the
        reader renamed duplicates (pandas turns a second ``market`` into ``market.1``);
        lets the duplicate-column check see them. None: the frame's columns are as written.
    """

    name: str
    frame: pd.DataFrame
    file: str | None = None
    sheet: str | None = None
    line_kind: str = "record"
    line_offset: int = 1
    header: list[str] | None = None

    def line_of(self, index_label: int) -> int:
        """Line / row / record number of the row with index label ``index_label``."""
        return int(index_label) + self.line_offset

    def problem(self, message: str, **kw: Any) -> Problem:
        """A Problem located in this table (severity ``error`` unless given)."""
        kw.setdefault("severity", "error")
        kw.setdefault("line_kind", self.line_kind)
        return Problem(table=self.name, message=message, file=self.file, sheet=self.sheet, **kw)


@dataclass
class RawSource:
    """Everything read from one data source.

    Attributes
    ----------
    source : str
        Description of the source (its path).
    tables : dict
        Raw tables that could be read, by name.
    problems : list of Problem
        Read problems (missing audits, unreadable files, ...).
    """

    source: str
    tables: dict[str, RawTable] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read_source(data: DataSource) -> RawSource:
    """Read every contract table available in ``data``.

    Parameters
    ----------
    data : str, path, Dataset or mapping of str to DataFrame
        The data source (see module docstring).

    Returns
    -------
    RawSource
        The tables read and the problems met; never raises for a data problem.
    """
    if isinstance(data, Mapping) or _is_dataset(data):
        return _read_memory(data)
    path = Path(data)
    src = RawSource(source=str(path))
    if not path.exists():
        src.problems.append(
            Problem(
                "error",
                "audits",
                f"data source not found: {path} (expected a folder with audits.csv or "
                "audits.parquet, an Excel workbook or a DuckDB file)",
                file=str(path),
                code="source_not_found",
            )
        )
        return src
    suffix = path.suffix.lower()
    if path.is_dir():
        _read_folder(path, src)
    elif suffix in EXCEL_EXTENSIONS:
        _read_workbook(path, src)
    elif suffix in DUCKDB_EXTENSIONS:
        _read_duckdb(path, src)
    elif suffix in (".csv", ".parquet", ".pq"):
        name = path.stem.lower() if path.stem.lower() in TABLES else "audits"
        raw = _read_table_file(name, path, src.problems)
        if raw is not None:
            src.tables[name] = raw
    else:
        src.problems.append(
            Problem(
                "error",
                "audits",
                f"unsupported data source {path.name!r}: expected a folder, an Excel "
                "workbook (.xlsx), a DuckDB file (.duckdb/.ddb) or a CSV/Parquet file",
                file=path.name,
                code="unsupported_source",
            )
        )
    if "audits" not in src.tables and not any(
        p.table == "audits" and p.is_error for p in src.problems
    ):
        src.problems.append(
            Problem(
                "error",
                "audits",
                "the required audits table is missing (expected audits.csv, "
                "audits.parquet or audits.xlsx in a folder, a sheet 'audits' in a "
                "workbook, or a table 'audits' in a DuckDB file)",
                file=path.name,
                code="missing_table",
            )
        )
    return src


# ---------------------------------------------------------------------------------
# in-memory


def _is_dataset(obj: Any) -> bool:
    return all(hasattr(obj, n) for n in TABLES) and hasattr(obj, "source")


def _read_memory(data: Any) -> RawSource:
    if _is_dataset(data):
        frames = {n: getattr(data, n) for n in TABLES}
        src = RawSource(source=getattr(data, "source", "") or "<memory>")
    else:
        frames = {str(k).strip().lower(): v for k, v in data.items()}
        src = RawSource(source="<memory>")
    for name in TABLES:
        df = frames.get(name)
        if df is None:
            continue
        if not isinstance(df, pd.DataFrame):
            src.problems.append(
                Problem(
                    "error",
                    name,
                    f"expected a DataFrame, got {type(df).__name__}",
                    code="unreadable",
                )
            )
            continue
        df = df.reset_index(drop=True)
        df.columns = [clean_name(c) for c in df.columns]
        src.tables[name] = RawTable(name, df, file=None, line_kind="record", line_offset=1)
    if "audits" not in src.tables and not src.problems:
        src.problems.append(
            Problem("error", "audits", "the required audits table is missing", code="missing_table")
        )
    return src


# ---------------------------------------------------------------------------------
# folder of files


def _read_folder(path: Path, src: RawSource) -> None:
    by_lower: dict[str, list[Path]] = {}
    for f in sorted(path.iterdir()):
        if not f.is_file():
            continue
        name = f.name.lower()
        for ext in TABLE_EXTENSIONS:
            if name.endswith(ext):
                stem = name[: -len(ext)]
                if stem in TABLES:
                    by_lower.setdefault(stem, []).append(f)
    for table in TABLES:
        files = by_lower.get(table, [])
        if not files:
            if table == "audits":
                src.problems.append(
                    Problem(
                        "error",
                        "audits",
                        f"missing file audits.csv (or audits.parquet / audits.xlsx) in {path}",
                        file="audits.csv",
                        expected="a file audits.csv, audits.parquet or audits.xlsx",
                        code="missing_table",
                    )
                )
            continue
        if len(files) > 1:
            names = " and ".join(f.name for f in files)
            src.problems.append(
                Problem(
                    "error",
                    table,
                    f"found both {names}: keep exactly one file per table",
                    file=files[0].name,
                    code="ambiguous_table",
                )
            )
            continue
        raw = _read_table_file(table, files[0], src.problems)
        if raw is not None:
            src.tables[table] = raw


def _read_table_file(table: str, f: Path, problems: list[Problem]) -> RawTable | None:
    suffix = f.suffix.lower()
    kind = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(suffix, "excel")
    if suffix in TABLE_EXTENSIONS and not _size_guard(table, f, problems, kind):
        return None
    try:
        if suffix == ".csv":
            return _read_csv(table, f, problems)
        if suffix in (".parquet", ".pq"):
            return _read_parquet(table, f, problems)
        if suffix in EXCEL_EXTENSIONS:
            return _read_excel_file(table, f, problems)
    except Exception as exc:  # noqa: BLE001 - every read error becomes a Problem
        problems.append(_unreadable(table, f.name, exc))
        return None
    problems.append(
        Problem("error", table, f"unsupported file type {suffix}", file=f.name, code="unreadable")
    )
    return None


def _unreadable(
    table: str, file: str | None, exc: BaseException, sheet: str | None = None, what: str = "file"
) -> Problem:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Problem(
        "error",
        table,
        f"cannot read the {what}: {msg[:300]}",
        file=file,
        sheet=sheet,
        code="unreadable",
    )


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(table: str, f: Path, problems: list[Problem]) -> RawTable | None:
    name = f.name
    size = f.stat().st_size
    if size == 0:
        problems.append(
            Problem(
                "error",
                table,
                "file is empty (0 bytes), expected a header line and data rows",
                file=name,
                code="unreadable",
            )
        )
        return None
    with open(f, "rb") as fh:
        head = fh.read(65536)
    if b"\x00" in head:
        problems.append(
            Problem(
                "error",
                table,
                "not a text CSV file (binary content)",
                file=name,
                expected="comma-separated UTF-8 text",
                code="unreadable",
            )
        )
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        problems.append(
            Problem(
                "error",
                table,
                "file is not UTF-8 text (save it as 'CSV UTF-8')",
                file=name,
                expected="UTF-8 encoded CSV",
                code="unreadable",
            )
        )
        return None
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    sep = _sniff_delimiter(first_line)
    try:
        df = pd.read_csv(
            f,
            dtype=str,
            sep=sep,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8-sig",
            engine="c",
        )
    except UnicodeDecodeError:
        problems.append(
            Problem(
                "error",
                table,
                "file is not UTF-8 text (save it as 'CSV UTF-8')",
                file=name,
                expected="UTF-8 encoded CSV",
                code="unreadable",
            )
        )
        return None
    except pd.errors.EmptyDataError:
        problems.append(
            Problem(
                "error",
                table,
                "file has no header line",
                file=name,
                expected="a header line with the column names",
                code="unreadable",
            )
        )
        return None
    except pd.errors.ParserError as exc:
        problems.append(_csv_parse_problem(table, name, exc, sep))
        return None
    df = _drop_blank_rows(df)
    header = _csv_header(first_line, sep, df.shape[1])
    df.columns = [clean_name(c) for c in df.columns]
    if header == list(df.columns):
        header = None
    return RawTable(table, df, file=name, line_kind="line", line_offset=2, header=header)


def _csv_header(first_line: str, sep: str, ncols: int) -> list[str] | None:
    """The header's names as written (pandas renames duplicates), None if not parseable."""
    try:
        names = next(csv.reader([first_line.rstrip("\r")], delimiter=sep), [])
    except csv.Error:
        return None
    return [clean_name(n) for n in names] if len(names) == ncols else None


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_RE = re.compile(r"EOF inside string starting at row (\d+)")


def _csv_parse_problem(table: str, name: str, exc: BaseException, sep: str) -> Problem:
    """A CSV tokenizer error in words, with the line it happened on when pandas says."""
    text = str(exc)
    shown = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(sep, repr(sep))
    m = _FIELDS_RE.search(text)
    if m:
        want, line, saw = (int(g) for g in m.groups())
        return Problem(
            "error",
            table,
            f"line {line} has {saw} fields but the header has {want} (a value containing "
            f"the separator {shown} must be quoted)",
            file=name,
            line=line,
            line_kind="line",
            expected=f"{want} fields on every line",
            code="unreadable",
        )
    m = _EOF_RE.search(text)
    if m:
        line = int(m.group(1)) + 1
        return Problem(
            "error",
            table,
            f"a quoted value opened on line {line} is never closed (a '\"' is missing)",
            file=name,
            line=line,
            line_kind="line",
            expected="balanced double quotes",
            code="unreadable",
        )
    return _unreadable(table, name, exc, what="CSV file")


def _drop_blank_rows(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) == 0 or df.shape[1] == 0:
        return df
    first = df.iloc[:, 0]
    candidates = first.isna()
    if not candidates.any():
        return df
    blank = candidates & df.isna().all(axis=1)
    return df[~blank] if blank.any() else df


def _read_parquet(table: str, f: Path, problems: list[Problem]) -> RawTable | None:
    import pyarrow.parquet as pq

    if f.stat().st_size == 0:
        problems.append(
            Problem("error", table, "file is empty (0 bytes)", file=f.name, code="unreadable")
        )
        return None
    tbl = pq.read_table(f)
    df = _arrow_to_pandas(tbl)
    del tbl
    df = df.reset_index(drop=True)
    df.columns = [clean_name(c) for c in df.columns]
    return RawTable(table, df, file=f.name, line_kind="record", line_offset=1)


def _arrow_to_pandas(tbl: Any) -> pd.DataFrame:
    """Arrow table to pandas, freeing Arrow buffers column by column (lower peak memory)."""
    return tbl.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)


def _excel_sheet_lookup(sheets: list[str]) -> dict[str, str]:
    return {clean_name(s).lower(): s for s in sheets}


def _parse_sheet(xl: pd.ExcelFile, sheet: str) -> tuple[pd.DataFrame, list[str] | None]:
    df = pd.read_excel(xl, sheet_name=sheet, keep_default_na=False, na_values=[""])
    df = _drop_blank_rows(df)
    header = _sheet_header(xl, sheet, list(df.columns))
    df.columns = [clean_name(c) for c in df.columns]
    if header == list(df.columns):
        header = None
    return df, header


def _sheet_header(xl: pd.ExcelFile, sheet: str, columns: list[Any]) -> list[str] | None:
    """The sheet's first row as written (pandas renames duplicate names), None if unknown."""
    try:
        ws = xl.book[sheet]
        first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
    except Exception:  # noqa: BLE001 - only a refinement of the duplicate-column check
        return None
    values = list(first)
    while values and values[-1] is None:
        values.pop()
    if len(values) > len(columns):
        return None
    values += [None] * (len(columns) - len(values))
    return [clean_name(c if v is None else v) for v, c in zip(values, columns, strict=True)]


def _read_excel_file(table: str, f: Path, problems: list[Problem]) -> RawTable | None:
    if f.stat().st_size == 0:
        problems.append(
            Problem("error", table, "file is empty (0 bytes)", file=f.name, code="unreadable")
        )
        return None
    with pd.ExcelFile(f, engine="openpyxl") as xl:
        lookup = _excel_sheet_lookup(xl.sheet_names)
        sheet = lookup.get(table, xl.sheet_names[0])
        df, header = _parse_sheet(xl, sheet)
    return RawTable(
        table, df, file=f.name, sheet=str(sheet), line_kind="row", line_offset=2, header=header
    )


# ---------------------------------------------------------------------------------
# workbook


def _read_workbook(path: Path, src: RawSource) -> None:
    if path.stat().st_size == 0:
        src.problems.append(
            Problem("error", "audits", "file is empty (0 bytes)", file=path.name, code="unreadable")
        )
        return
    if not _size_guard("audits", path, src.problems, "excel"):
        return
    try:
        xl = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001
        src.problems.append(_unreadable("audits", path.name, exc, what="Excel workbook"))
        return
    with xl:
        lookup = _excel_sheet_lookup(xl.sheet_names)
        if "audits" not in lookup and path.stem.strip().lower() == "audits":
            lookup["audits"] = xl.sheet_names[0]  # a per-table audits.xlsx given directly
        for table in TABLES:
            sheet = lookup.get(table)
            if sheet is None:
                if table == "audits":
                    found = ", ".join(map(str, xl.sheet_names)) or "none"
                    src.problems.append(
                        Problem(
                            "error",
                            "audits",
                            f"workbook has no sheet 'audits' (sheets found: {found})",
                            file=path.name,
                            expected="a sheet named after each table: audits, production, "
                            "roster, targets, events",
                            code="missing_table",
                        )
                    )
                continue
            try:
                df, header = _parse_sheet(xl, sheet)
            except Exception as exc:  # noqa: BLE001
                src.problems.append(
                    _unreadable(table, path.name, exc, sheet=str(sheet), what="sheet")
                )
                continue
            src.tables[table] = RawTable(
                table,
                df,
                file=path.name,
                sheet=str(sheet),
                line_kind="row",
                line_offset=2,
                header=header,
            )


# ---------------------------------------------------------------------------------
# DuckDB


def _read_duckdb(path: Path, src: RawSource) -> None:
    import duckdb

    if path.stat().st_size == 0:
        src.problems.append(
            Problem("error", "audits", "file is empty (0 bytes)", file=path.name, code="unreadable")
        )
        return
    if not _size_guard("audits", path, src.problems, "duckdb"):
        return
    try:
        con = duckdb.connect(str(path), read_only=True)
    except Exception as exc:  # noqa: BLE001
        src.problems.append(_unreadable("audits", path.name, exc, what="DuckDB database"))
        return
    try:
        rows = con.sql(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "ORDER BY table_schema = 'main' DESC, table_schema, table_name"
        ).fetchall()
        lookup: dict[str, tuple[str, str]] = {}
        for schema, name in rows:
            lookup.setdefault(clean_name(name).lower(), (schema, name))
        for table in TABLES:
            found = lookup.get(table)
            if found is None:
                if table == "audits":
                    names = ", ".join(sorted({str(r[1]) for r in rows})) or "none"
                    src.problems.append(
                        Problem(
                            "error",
                            "audits",
                            f"database has no table 'audits' (tables found: {names})",
                            file=path.name,
                            code="missing_table",
                        )
                    )
                continue
            schema, name = found
            qualified = f'"{schema}"."{name}"'
            try:
                tbl = con.sql(f"SELECT * FROM {qualified}").to_arrow_table()
                df = _arrow_to_pandas(tbl)
                del tbl
            except Exception as exc:  # noqa: BLE001
                src.problems.append(
                    _unreadable(table, path.name, exc, sheet=str(name), what="table")
                )
                continue
            df.columns = [clean_name(c) for c in df.columns]
            src.tables[table] = RawTable(
                table, df, file=path.name, sheet=str(name), line_kind="record", line_offset=1
            )
    finally:
        con.close()
