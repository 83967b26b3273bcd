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

from reporting.core.settings import settings

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

TABLE_EXTENSIONS: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".pq", ".xlsx", ".xlsm")
#: Formats a table file may not be in, with what to do instead (a known table name in one of
#: these is an error, never silently ignored).
UNSUPPORTED_FORMATS: dict[str, str] = {
    ".xls": "Excel 97-2003 workbooks (.xls) are not read: save it as .xlsx or .csv",
    ".xlsb": "binary Excel workbooks (.xlsb) are not read: save it as .xlsx or .csv",
    ".ods": "OpenDocument spreadsheets are not read: save it as .xlsx or .csv",
    ".json": "JSON is not read: export the table as .csv or .parquet",
    ".tsv": "save it as .csv (tab-separated content is fine, the name must end in .csv)",
    ".txt": "save it as .csv (tab-separated content is fine, the name must end in .csv)",
}
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
    raw = settings().max_inmemory
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
    sep : str or None
        The separator of a CSV file (for hints such as decimal commas in a ``;`` file).
    """

    name: str
    frame: pd.DataFrame
    file: str | None = None
    sheet: str | None = None
    line_kind: str = "record"
    line_offset: int = 1
    header: list[str] | None = None
    sep: str | None = None

    def line_of(self, index_label: int) -> int:
        """Line / row / record number of the row with index label ``index_label``."""
        return int(index_label) + self.line_offset

    def header_location(self) -> dict[str, int]:
        """``{"line": n}`` of the header line of a CSV / first row of a sheet, else ``{}``
        (column problems point at it)."""
        return {"line": self.line_offset - 1} if self.line_offset >= 2 else {}

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
    elif table_file_kind(path) in ("csv", "parquet"):
        name = _table_of(path) or "audits"
        raw = _read_table_file(name, path, src.problems)
        if raw is not None:
            src.tables[name] = raw
    else:
        src.problems.append(
            Problem(
                "error",
                "audits",
                f"unsupported data source {path.name!r}: expected a folder, an Excel "
                "workbook (.xlsx), a DuckDB file (.duckdb/.ddb) or a CSV (.csv, .csv.gz)/Parquet "
                "file",
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


def table_file_kind(f: Path) -> str | None:
    """``csv``, ``parquet`` or ``excel`` for a file name a table may have, else None."""
    name = f.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(EXCEL_EXTENSIONS):
        return "excel"
    return None


def _table_stem(f: Path) -> str:
    """What a file in a data folder names: ``audits.csv.gz`` -> ``audits``."""
    return f.name.split(".", 1)[0].strip().lower()


def _table_of(f: Path) -> str | None:
    """The table a file holds when its name is ``<table><extension read>``, else None."""
    name = f.name.lower()
    for ext in TABLE_EXTENSIONS:
        if name.endswith(ext) and name[: -len(ext)] in TABLES:
            return name[: -len(ext)]
    return None


def _unused_file(f: Path, problems: list[Problem]) -> None:
    """Name a file of the data folder that is not read, and why (never silently skipped)."""
    stem = _table_stem(f)
    if stem in TABLES:
        suffix = "".join(f.suffixes[-2:]).lower() if f.suffixes else ""
        advice = UNSUPPORTED_FORMATS.get(f.suffix.lower()) or (
            f"'{suffix or f.name}' files are not read: save it as {stem}.csv, {stem}.csv.gz, "
            f"{stem}.parquet or {stem}.xlsx"
        )
        problems.append(
            Problem(
                "error",
                stem,
                f"the {stem} table is in a format that is not read ({advice})",
                file=f.name,
                expected=f"{stem}.csv, {stem}.csv.gz, {stem}.parquet or {stem}.xlsx",
                code="unsupported_file",
            )
        )
        return
    problems.append(
        Problem(
            "warning",
            "",
            "file not used: its name is not one of the tables " + ", ".join(TABLES),
            file=f.name,
            expected="files named after a table (audits.csv, roster.parquet, ...)",
            code="unused_file",
        )
    )


def folder_tables(path: Path, problems: list[Problem]) -> dict[str, Path]:
    """The file of each table in a data folder (both load paths read a folder through this).

    Every other file is named in ``problems``: a table in a format that is not read
    (``roster.xls``) is an ``unsupported_file`` error, a file that is no table
    (``notes.txt``) an ``unused_file`` warning; hidden files (``.DS_Store``) and folders are
    skipped. Two files for one table are an ``ambiguous_table`` error, no audits file a
    ``missing_table`` error.
    """
    by_table: dict[str, list[Path]] = {}
    for f in sorted(path.iterdir()):
        if f.name.startswith(".") or f.is_dir():
            continue
        table = _table_of(f)
        if not f.is_file():  # a named pipe, socket or device: read once, or never ends
            if table is not None:
                problems.append(Problem(
                    "error", table, "not a regular file (a named pipe, socket or device): copy "
                    "the data into a file", file=f.name, expected="a regular file",
                    code="unreadable"))
            continue
        if table is not None:
            by_table.setdefault(table, []).append(f)
        else:
            _unused_file(f, problems)
    files: dict[str, Path] = {}
    for table in TABLES:
        found = by_table.get(table, [])
        if len(found) > 1:
            names = " and ".join(f.name for f in found)
            problems.append(
                Problem(
                    "error",
                    table,
                    f"found both {names}: keep exactly one file per table",
                    file=found[0].name,
                    code="ambiguous_table",
                )
            )
        elif found:
            files[table] = found[0]
        elif table == "audits" and not any(p.table == "audits" for p in problems):
            problems.append(
                Problem(
                    "error",
                    "audits",
                    f"missing file audits.csv (or audits.csv.gz / audits.parquet / audits.xlsx) "
                    f"in {path}",
                    file="audits.csv",
                    expected="a file audits.csv, audits.csv.gz, audits.parquet or audits.xlsx",
                    code="missing_table",
                )
            )
    return files


def _read_folder(path: Path, src: RawSource) -> None:
    for table, f in folder_tables(path, src.problems).items():
        raw = _read_table_file(table, f, src.problems)
        if raw is not None:
            src.tables[table] = raw


def _read_table_file(table: str, f: Path, problems: list[Problem]) -> RawTable | None:
    kind = table_file_kind(f)
    if kind is None:
        problems.append(
            Problem(
                "error", table, f"unsupported file type {f.suffix.lower()}", file=f.name,
                code="unreadable",
            )
        )
        return None
    if not _size_guard(table, f, problems, kind):
        return None
    try:
        if kind == "csv":
            return _read_csv(table, f, problems)
        if kind == "parquet":
            return _read_parquet(table, f, problems)
        return _read_excel_file(table, f, problems)
    except Exception as exc:  # noqa: BLE001 - every read error becomes a Problem
        problems.append(_unreadable(table, f.name, exc))
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


# ---------------------------------------------------------------------------------
# CSV (plain or gzip-compressed): one layout check and one structure check for both paths


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is laid out, from its first lines.

    Attributes
    ----------
    sep : str
        The separator: from Excel's ``sep=;`` first line when there is one, else the most
        frequent of ``,`` ``;`` tab ``|`` in the header line.
    skip : int
        Lines before the header (1 after a ``sep=`` line, else 0).
    header : list of str
        The header's names as written (before cleaning).
    """

    sep: str
    skip: int
    header: list[str]

    @property
    def line_offset(self) -> int:
        """Line number of the first data row."""
        return 2 + self.skip


_SEP_LINE_RE = re.compile(r"sep=(.)", re.IGNORECASE)
#: DuckDB's longest accepted CSV line (its default, 2 MB, is shorter than cells users have).
CSV_MAX_LINE_BYTES = 64 * 1024**2


def _head_bytes(f: Path, n: int = 65536) -> bytes:
    """The first ``n`` bytes of a CSV file, decompressed for ``.gz``."""
    if f.name.lower().endswith(".gz"):
        import gzip

        with gzip.open(f, "rb") as fh:
            return fh.read(n)
    with open(f, "rb") as fh:
        return fh.read(n)


def _csv_file_problem(table: str, name: str, message: str, expected: str | None) -> Problem:
    return Problem("error", table, message, file=name, expected=expected, code="unreadable")


def csv_layout(table: str, f: Path, problems: list[Problem]) -> CsvLayout | None:
    """Check a CSV file's first bytes (empty, binary, not UTF-8, no header) and find its
    layout; None (with a problem) when it cannot be read as a CSV."""
    name = f.name
    try:
        head = _head_bytes(f) if f.stat().st_size else b""
    except (OSError, EOFError) as exc:
        problems.append(_unreadable(table, name, exc, what="compressed file"))
        return None
    if not head:
        problems.append(
            _csv_file_problem(
                table, name, "file is empty (0 bytes), expected a header line and data rows", None
            )
        )
        return None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:80:2].count(0) > 30:
        problems.append(  # Excel's "Unicode Text", Notepad's "Unicode": readable once re-saved
            _csv_file_problem(
                table, name, "file is UTF-16 text (e.g. Excel's 'Unicode Text'): save it as "
                "'CSV UTF-8'", "UTF-8 encoded CSV"
            )
        )
        return None
    if b"\x00" in head:
        problems.append(
            _csv_file_problem(
                table, name, "not a text CSV file (binary content)", "comma-separated UTF-8 text"
            )
        )
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        problems.append(_not_utf8(table, name, head[: exc.start].count(b"\n") + 1,
                                  head[exc.start:exc.start + 1]))
        return None
    lines = re.split(r"\r\n|\r|\n", text.lstrip("\r\n"), maxsplit=2)
    skip = 0
    m = _SEP_LINE_RE.fullmatch(lines[0].strip())
    if m and len(lines) > 1:  # Excel's separator hint: honoured, and not read as the header
        sep, skip, first = m.group(1), 1, lines[1]
    else:
        first = lines[0]
        sep = _sniff_delimiter(first)
    if not first.strip():
        problems.append(
            _csv_file_problem(
                table, name, "file has no header line", "a header line with the column names"
            )
        )
        return None
    try:
        names = next(csv.reader([first], delimiter=sep), [])
    except csv.Error as exc:
        problems.append(_unreadable(table, name, exc, what="CSV file"))
        return None
    return CsvLayout(sep, skip, names)


def _not_utf8(table: str, name: str, line: int | None = None, byte: bytes = b"") -> Problem:
    """Not UTF-8: most often Excel's 'CSV (Comma delimited)' / 'CSV (MS-DOS)' (Windows-1252) or
    a Latin-1 export. Refused, never guessed: a wrong guess changes names silently."""
    where = f" (byte 0x{byte.hex()})" if byte else ""
    return Problem(
        "error",
        table,
        f"file is not UTF-8 text{where}: it looks like a Windows-1252 or Latin-1 export (Excel's "
        "'CSV (Comma delimited)' or 'CSV (MS-DOS)'); save it as 'CSV UTF-8'",
        file=name,
        line=line,
        expected="UTF-8 encoded CSV",
        code="unreadable",
    )


def _sql_text(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def csv_read_sql(
    f: Path, layout: CsvLayout, names: list[str], rejects: str | None = None
) -> str:
    """DuckDB ``read_csv`` of ``f`` as text columns ``names`` (``.gz`` is decompressed).

    With ``rejects`` (a table name) the read is strict: a line with too few or too many
    fields, an unclosed quote or bad UTF-8 is recorded there (read by
    :func:`csv_structure_problems`), never padded or guessed. Without, short lines are padded
    with NULLs, as pandas does (the fallback for files DuckDB's strict reader cannot follow,
    such as mixed line endings).
    """
    columns = "{" + ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in names) + "}"
    mode = (
        "null_padding = false, store_rejects = true, "
        f"rejects_table = {_sql_text(rejects)}, rejects_scan = {_sql_text(rejects + '_scan')}"
        if rejects
        else "null_padding = true"
    )
    return (
        f"read_csv({_sql_text(str(f))}, delim = {_sql_text(layout.sep)}, skip = {layout.skip}, "
        f"header = true, auto_detect = false, columns = {columns}, quote = '\"', "
        "escape = '\"', strict_mode = true, encoding = 'utf-8', "
        f"max_line_size = {CSV_MAX_LINE_BYTES}, {mode})"
    )


def csv_structure_problems(con: Any, table: str, name: str, layout: CsvLayout,
                           rejects: str) -> list[Problem]:
    """The lines DuckDB rejected while reading a CSV with :func:`csv_read_sql`, as problems:
    one per kind (wrong number of fields, unclosed quote, not UTF-8, too long), at its first
    line, with the number of lines of that kind."""
    exists = con.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", params=[rejects]
    ).fetchone()
    if not exists or not exists[0]:  # DuckDB creates the table with the first rejected line
        return []
    rows = con.sql(
        f"SELECT error_type::VARCHAR, min(line), count(DISTINCT line) FROM {rejects} "
        "GROUP BY 1 ORDER BY 2"
    ).fetchall()
    found_at = {
        (str(k), int(line)): (int(want), int(saw))
        for k, line, want, saw in con.sql(
            "SELECT error_type::VARCHAR, line, "
            "max(CAST(regexp_extract(error_message, 'Expected Number of Columns: (\\d+)', 1) "
            "AS INTEGER)), "
            "CASE WHEN error_type::VARCHAR = 'MISSING COLUMNS' "
            "THEN min(CAST(regexp_extract(error_message, 'Found: (\\d+)', 1) AS INTEGER)) "
            "ELSE max(CAST(regexp_extract(error_message, 'Found: (\\d+)', 1) AS INTEGER)) END "
            f"FROM {rejects} WHERE error_type::VARCHAR IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') "
            "GROUP BY 1, 2"
        ).fetchall()
        if want is not None and saw is not None
    }
    out: list[Problem] = []
    shown = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(layout.sep, repr(layout.sep))
    for kind, line, n in rows:
        line, n = int(line), int(n)
        if (kind, line) in found_at:
            want, saw = found_at[kind, line]
            why = (
                f"a value containing the separator {shown} must be quoted"
                if saw > want
                else "the line is cut short: its last values are missing, not empty"
            )
            text = f"line {line} has {saw} field{'s' if saw != 1 else ''} but the header has {want} ({why})"
            expected = f"{want} fields on every line"
        elif kind == "UNQUOTED VALUE":
            text = f"a quoted value opened on line {line} is never closed (a '\"' is missing)"
            expected = "balanced double quotes"
        elif kind == "INVALID ENCODING":
            out.append(_not_utf8(table, name))
            continue
        else:
            text = f"cannot read line {line} ({kind.lower()})"
            expected = f"CSV lines of at most {CSV_MAX_LINE_BYTES // 1024**2} MiB"
        out.append(
            Problem("error", table, text, file=name, line=line, line_kind="line",
                    count=n if n > 1 else 0, expected=expected, code="unreadable")
        )
    return out


def python_csv_structure(table: str, f: Path, layout: CsvLayout) -> list[Problem]:
    """Short and long lines found by Python's csv module: the check for the files DuckDB's strict
    reader cannot parse (mixed line endings: CRLF, LF and lone CR in one file, as files appended
    to by different tools are). Without it such a file's short lines were padded silently.

    Blank lines are skipped (pandas drops them too); line numbers count physical lines.
    """
    import gzip

    want = len(layout.header)
    bad: dict[str, list[tuple[int, int]]] = {}
    opener = gzip.open if f.name.lower().endswith(".gz") else open
    with opener(f, "rt", encoding="utf-8-sig", newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=layout.sep)
        start = reader.line_num
        for row in reader:
            line = start + 1  # the first physical line of this record
            start = reader.line_num
            if line <= layout.skip + 1 or not any(v.strip() for v in row):
                continue
            if len(row) != want:
                bad.setdefault("short" if len(row) < want else "long", []).append((line, len(row)))
    out = []
    for kind, found in bad.items():
        line, saw = found[0]
        why = ("the line is cut short: its last values are missing, not empty" if kind == "short"
               else f"a value containing the separator {layout.sep!r} must be quoted")
        out.append(Problem(
            "error", table, f"line {line} has {saw} field{'s' if saw != 1 else ''} but the "
            f"header has {want} ({why}); the file mixes line endings (CRLF, LF, CR)",
            file=f.name, line=line, line_kind="line", count=len(found) if len(found) > 1 else 0,
            expected=f"{want} fields on every line", code="unreadable"))
    return out


def check_csv_structure(table: str, f: Path, layout: CsvLayout) -> list[Problem]:
    """Read ``f`` once with DuckDB's strict CSV reader (:func:`csv_read_sql`) and return its
    structure problems: pandas pads a short line with empty values, silently."""
    import duckdb

    con = duckdb.connect(":memory:", config={"threads": 2})
    try:
        names = [f"__v{i}" for i in range(len(layout.header))]
        try:
            con.sql(f"SELECT count(*) FROM {csv_read_sql(f, layout, names, '__rejects')}").fetchall()
        except duckdb.Error:  # e.g. mixed line endings: the same check, in Python
            return python_csv_structure(table, f, layout)
        return csv_structure_problems(con, table, f.name, layout, "__rejects")
    finally:
        con.close()


def _read_csv(table: str, f: Path, problems: list[Problem]) -> RawTable | None:
    name = f.name
    layout = csv_layout(table, f, problems)
    if layout is None:
        return None
    structural = check_csv_structure(table, f, layout)
    if structural:
        problems.extend(structural)
        return None
    try:
        df = pd.read_csv(
            f,
            dtype=str,
            sep=layout.sep,
            skiprows=layout.skip,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8-sig",
            engine="c",
        )
    except UnicodeDecodeError:
        problems.append(_not_utf8(table, name))
        return None
    except pd.errors.EmptyDataError:
        problems.append(
            _csv_file_problem(
                table, name, "file has no header line", "a header line with the column names"
            )
        )
        return None
    except pd.errors.ParserError as exc:
        problems.append(_csv_parse_problem(table, name, exc, layout.sep))
        return None
    df = _drop_blank_rows(df)
    header: list[str] | None = [clean_name(n) for n in layout.header]
    df.columns = [clean_name(c) for c in df.columns]
    if header == list(df.columns) or len(header or []) != df.shape[1]:
        header = None
    return RawTable(
        table, df, file=name, line_kind="line", line_offset=layout.line_offset, header=header,
        sep=layout.sep,
    )


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
        # a TIMESTAMPTZ column stores an instant without its zone: its date is the UTC date,
        # whatever the machine's zone (the DuckDB extract reads it the same way)
        con.execute("SET TimeZone = 'UTC'")
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
