"""DuckDB-native extract: validate a large input and write its snapshot without a pandas frame.

:func:`reporting.data.load_dataset` holds every row in pandas (about 270 bytes an audit, 4.6 GB
at 10 M audits). For large inputs :func:`extract_snapshot` does the same work inside DuckDB over
the Parquet / CSV / DuckDB source:

* every contract check of audits and production (required columns, missing values, unparseable
  dates and numbers, unknown categories, duplicate ``audit_id``, negative or non-whole numbers,
  ``weight <= 0``, ``sla_met > cases_handled``, empty tables, reviewers missing from the roster)
  runs as one SQL aggregate pass (a count and the first offending row per check) plus a
  ``GROUP BY`` of the offending values only when a check fails, producing the same
  :class:`~reporting.data.problems.Problem` records (same messages, values, example rows and
  counts) as :func:`reporting.data.validate_dataset`;
* the canonical audits and production (normalised text and categories, typed dates and
  numbers, the derived ``is_correct``, ``error_type``, ``period``, ``week``, ``tenure_days``,
  ``team_lead``, ``site``) are written with ``COPY ... TO parquet``, ordered by
  ``(period, market, source row)`` as :func:`reporting.data.write_snapshot` orders them, so that
  :func:`~reporting.data.load_snapshot` and :func:`~reporting.data.read_audits` return frames
  equal to the pandas path's;
* the small tables (roster, targets, events) go through the pandas readers and
  :func:`~reporting.data.normalize.normalize_table` unchanged.

DuckDB runs with ``memory_limit`` (default 2 GB) and ``threads`` (default 2) and spills to a
temporary folder next to the snapshot, so peak memory stays bounded whatever the input size.
:func:`large_source` is the routing rule the CLI uses (docs/data.md, "Large data and
warehouse engines").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reporting.core.settings import settings

from .normalize import (
    _ISO_DATE_RE,
    MAX_VALUES_PER_CHECK,
    NULL_TOKENS,
    UPPER_EXPECTED,
    _column_hint,
    _display,
    _name_shown,
    _short,
    empty_canonical,
    normalize_table,
    number_message,
    unique_names,
    upper_message,
)
from .problems import DataValidationError, Problem, ValidationReport
from .readers import (
    DUCKDB_EXTENSIONS,
    EXCEL_EXTENSIONS,
    INVISIBLE_CHARS,
    RawTable,
    _arrow_to_pandas,
    _read_table_file,
    _table_of,
    _unreadable,
    clean_name,
    csv_layout,
    csv_read_sql,
    csv_structure_problems,
    folder_tables,
    python_csv_structure,
    table_file_kind,
)
from .schema import (
    CANONICAL_COLUMNS,
    CONTRACT,
    DATE_MAX,
    DATE_MIN,
    TABLES,
    ColumnSpec,
    TableSpec,
)
from .snapshot import FORMAT_VERSION, MANIFEST, ROW_GROUP_SIZE, _write_table, snapshot_hash
from .validate_cases import hired_after_decision
from .validate_wave2 import wave2_problems

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_THREADS",
    "LARGE_AUDIT_BYTES",
    "LARGE_AUDIT_ROWS",
    "ExtractResult",
    "LargeSource",
    "extract_snapshot",
    "large_source",
    "source_fingerprint",
    "validate_with_duckdb",
]

#: DuckDB memory limit of an extract (DuckDB spills sorts and hash tables beyond it).
DEFAULT_MEMORY_LIMIT = "2GB"
#: DuckDB worker threads of an extract.
DEFAULT_THREADS = 2
#: Audits above this many rows go through the DuckDB extract (see :func:`large_source`).
LARGE_AUDIT_ROWS = 1_500_000
#: Audits files above this size (bytes) go through the DuckDB extract.
LARGE_AUDIT_BYTES = 150 * 1024 * 1024
#: Environment variable overriding the routing rule: ``auto`` (default), ``always``, ``never``.
ROUTE_ENV = "REPORTING_EXTRACT"

#: Parquet compression of the snapshot's audits and production (as ``write_snapshot``).
COMPRESSION = "zstd"

#: Tables validated and written in SQL; the others are small and go through pandas.
SQL_TABLES: tuple[str, ...] = ("audits", "production")

_PERIOD_RE = re.compile(r"^\d{4}-\d{2}$")
_LOWER = "abcdefghijklmnopqrstuvwxyz"
# What Python's str.strip() removes (every str.isspace() character).
_WS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Text pandas.to_numeric reads as a finite or infinite number (no thousands separators, no hex).
_NUM_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# datetime64[ns] can hold these dates only.
# What clean_name() removes from both ends of non-ASCII text (with the whitespace).
_EDGE_CHARS = _WS + INVISIBLE_CHARS
_INT_TYPES = frozenset(
    "TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT".split()
)


# ---------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract_snapshot` wrote.

    Attributes
    ----------
    snapshot_dir : pathlib.Path
        The snapshot folder (readable by :func:`~reporting.data.load_snapshot`,
        :func:`~reporting.data.read_audits`, ``ReportContext.data``).
    data_hash : str
        sha256 over the snapshot's Parquet bytes (:func:`~reporting.data.snapshot_hash`):
        the same input gives the same hash.
    catalog : dict
        ``markets``, ``product_lines``, ``team_leads``, ``periods`` of the snapshot, as
        :func:`reporting.run.runner.catalog_of` returns them.
    report : ValidationReport
        The problems found (warnings only: errors raise :class:`DataValidationError`).
    rows : dict
        Rows written per table (None for an absent table).
    seconds : float
        Wall time of the extract.
    engine : str
        ``"duckdb"``; ``"reused"`` when an earlier snapshot of the same source was reused;
        ``"pandas"`` for sources the SQL path does not read (Excel workbooks, in-memory
        frames), which go through :func:`load_dataset`.
    """

    snapshot_dir: Path
    data_hash: str
    catalog: dict[str, list[str]]
    report: ValidationReport
    rows: dict[str, int | None]
    seconds: float = 0.0
    engine: str = "duckdb"


@dataclass(frozen=True)
class LargeSource:
    """A data source too large for pandas: the runner snapshots it with :func:`extract_snapshot`.

    Attributes
    ----------
    path : pathlib.Path
        Folder, CSV/Parquet file or DuckDB file.
    reason : str
        Why it was routed here (for the log), e.g. ``"10,000,000 audits"``.
    period_from, period_to : str or None
        Optional ``YYYY-MM`` window written to the snapshot (validation covers all rows).
    reuse : bool
        Reuse a snapshot of the same source files, window and key found next to the new one
        (the run's ``.snapshots``) instead of extracting again.
    """

    path: Path
    reason: str = ""
    period_from: str | None = None
    period_to: str | None = None
    reuse: bool = True

    @property
    def source(self) -> str:
        """The source path as text (what ``Dataset.source`` would hold)."""
        return str(self.path)

    def extract(
        self, snapshot_dir: str | os.PathLike[str], *, pseudonym_key: str | None = None
    ) -> ExtractResult:
        """Validate and snapshot the source into ``snapshot_dir`` (see :func:`extract_snapshot`)."""
        d = Path(snapshot_dir)
        return extract_snapshot(
            self.path,
            d,
            period_from=self.period_from,
            period_to=self.period_to,
            pseudonym_key=pseudonym_key,
            reuse_from=d.parent if self.reuse else None,
        )


# ---------------------------------------------------------------------------------
# routing


def large_source(path: str | os.PathLike[str]) -> LargeSource | None:
    """The routing rule: a :class:`LargeSource` when ``path`` should skip pandas, else None.

    A folder, a single CSV/Parquet file or a DuckDB file is *large* when its audits table has
    more than :data:`LARGE_AUDIT_ROWS` rows (Parquet and DuckDB: counted from metadata) or
    its audits file is larger than :data:`LARGE_AUDIT_BYTES` (CSV). Excel workbooks and
    in-memory data are never routed. ``$REPORTING_EXTRACT=always`` routes every CSV / Parquet
    / DuckDB source, ``never`` none.

    Parameters
    ----------
    path : str or path
        The ``--data`` argument.

    Returns
    -------
    LargeSource or None
    """
    mode = settings().extract_route
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"${ROUTE_ENV} must be auto, always or never, got {mode!r}")
    if mode == "never":
        return None
    p = Path(path)
    try:
        rows, size = _audits_size(p)
    except Exception:  # noqa: BLE001 - an unreadable source is reported by the loader
        return None
    if rows is None and size is None:
        return None
    if mode == "always":
        return LargeSource(p, reason=f"{ROUTE_ENV}=always")
    if rows is not None and rows > LARGE_AUDIT_ROWS:
        return LargeSource(p, reason=f"{rows:,} audits")
    if size is not None and size > LARGE_AUDIT_BYTES:
        return LargeSource(p, reason=f"audits file of {size / 1e6:,.0f} MB")
    return None


def _audits_size(p: Path) -> tuple[int | None, int | None]:
    """(rows, bytes) of the audits table of a CSV/Parquet/DuckDB source; (None, None) otherwise."""
    suffix = p.suffix.lower()
    if p.is_dir():
        files = [
            f
            for f in p.iterdir()
            if f.is_file()
            and f.name.lower() in ("audits.csv", "audits.csv.gz", "audits.parquet", "audits.pq")
        ]
        if len(files) != 1:
            return None, None
        f = files[0]
    elif p.is_file() and table_file_kind(p) in ("csv", "parquet"):
        f = p
    elif p.is_file() and suffix in DUCKDB_EXTENSIONS:
        import duckdb

        con = duckdb.connect(str(p), read_only=True)
        try:
            found = con.sql(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE lower(table_name) = 'audits' ORDER BY table_schema = 'main' DESC"
            ).fetchall()
            if not found:
                return None, p.stat().st_size
            schema, name = found[0]
            n = con.sql(f"SELECT count(*) FROM {_ident(schema)}.{_ident(name)}").fetchone()
            return int(n[0]) if n else 0, p.stat().st_size
        finally:
            con.close()
    else:
        return None, None
    if table_file_kind(f) == "csv":
        return None, f.stat().st_size
    import pyarrow.parquet as pq

    return int(pq.read_metadata(f).num_rows), f.stat().st_size


# ---------------------------------------------------------------------------------
# SQL helpers


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _type_class(duck_type: str) -> str:
    t = duck_type.upper()
    if t == "VARCHAR" or t.startswith("VARCHAR("):
        return "text"
    if t == "BOOLEAN":
        return "bool"
    if t in _INT_TYPES:
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL"):
        return "float"
    if t.startswith("DECIMAL"):
        return "decimal"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamptz" if "TIME ZONE" in t else "timestamp"
    return "other"


def _text_sql(
    x: str, cls: str, *, lower: bool = False, clean: bool = False
) -> str:
    """SQL of :func:`reporting.data.normalize.to_text` for one column of DuckDB class ``cls``.

    ``clean``: the column is known to need no stripping or lower-casing (see
    :func:`_clean_flag_sql`), so the text is the column itself.
    """
    if cls == "text" and clean:
        return x
    if cls == "text":
        # to_text: strip, and for non-ASCII text also invisible edge characters and NFC form.
        # trim(x, chars) with that set is slow, so it only runs on values that are not
        # ASCII or start or end with something else than a visible ASCII character.
        out = (
            f"(CASE WHEN {_plain_sql(x)} THEN {x} "
            f"ELSE NULLIF(nfc_normalize(trim({x}, {_lit(_EDGE_CHARS)})), '') END)"
        )
        return f"lower({out})" if lower else out
    if cls == "bool":
        return f"(CASE WHEN {x} THEN 'True' WHEN NOT {x} THEN 'False' END)"
    if cls == "int":
        return f"CAST({x} AS VARCHAR)"
    if cls == "float":
        # whole numbers without ".0" (an id stored as 7.0 is "7"), others as Python prints them
        return (
            f"(CASE WHEN isnan({x}) THEN NULL "
            f"WHEN isfinite({x}) AND {x} = round({x}) AND abs({x}) < 1e38 "
            f"THEN CAST(CAST({x} AS HUGEINT) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END)"
        )
    if cls in ("date", "timestamp", "timestamptz"):
        return f"strftime(CAST({x} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S')"
    out = f"NULLIF(nfc_normalize(trim(CAST({x} AS VARCHAR), {_lit(_EDGE_CHARS)})), '')"
    return f"lower({out})" if lower else out


_OFFSET_RE = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _local_time_sql(x: str, tz: str) -> str:
    """A time-zone-aware Parquet timestamp as the wall-clock time of its own zone (the zone
    Arrow stored with the column: ``America/Sao_Paulo`` or a fixed ``-03:00``), as pandas
    reads it: 23:30 in Sao Paulo on 31 October is a decision of 31 October."""
    m = _OFFSET_RE.fullmatch(tz.strip())
    if m:
        minutes = (int(m.group(2)) * 60 + int(m.group(3))) * (-1 if m.group(1) == "-" else 1)
        return f"(CAST({x} AS TIMESTAMP) + INTERVAL ({minutes}) MINUTE)"
    return f"timezone({_lit(tz)}, {x})"


def _plain_sql(x: str) -> str:
    """True for ASCII text starting and ending with a visible character (to_text keeps it)."""
    return (
        f"ascii({x}) BETWEEN 33 AND 126 AND ascii({x}[-1]) BETWEEN 33 AND 126 "
        f"AND strlen({x}) = length({x})"
    )


def _clean_flag_sql(x: str, *, lower: bool) -> str:
    """True when no value of text column ``x`` changes by to_text (strip, lower): then
    :func:`_text_sql` is the column itself, which saves its cost in every later pass."""
    ok = _plain_sql(x)
    if lower:
        ok += f" AND {x} = lower({x})"
    return f"COALESCE(bool_and({ok}), true)"


def _token_sql(t: str) -> str:
    tokens = ", ".join(_lit(x) for x in sorted(NULL_TOKENS))
    return f"(lower({t}) IN ({tokens}))"


# ---------------------------------------------------------------------------------
# sources


@dataclass
class _Entry:
    """Where one table of the source is: a file of a folder or a table of a DuckDB file."""

    table: str
    kind: str  # "csv", "parquet", "xlsx" or "duckdb"
    path: Path
    file: str
    sheet: str | None = None
    schema: str | None = None
    is_view: bool = False


@dataclass(frozen=True)
class _Col:
    """One column of a large table: its cleaned name, DuckDB type and internal SQL name.

    Internal names (``__c0``, ``__c1``...) keep columns apart that DuckDB, whose identifiers
    are case-insensitive, would confuse (``Reviewer_ID`` next to ``reviewer_id``).
    """

    name: str
    type: str
    internal: str


@dataclass
class _SqlTable:
    """A large table readable in SQL: a relation with ``__rn`` and the internal columns."""

    name: str
    raw: RawTable  # location only (empty frame): file, sheet, line kind, offset, header
    scan: str  # SQL of a relation with __rn and the columns under their internal names
    columns: list[_Col]
    rows: int = 0


@dataclass
class _Checked:
    source: str
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # small tables, canonical
    sql: dict[str, _SqlTable] = field(default_factory=dict)  # large tables, validated


def _is_memory(source: Any) -> bool:
    return isinstance(source, Mapping) or (
        all(hasattr(source, n) for n in TABLES) and hasattr(source, "source")
    )


class _Session:
    """One DuckDB connection with bounded memory, a spill folder and the source attached."""

    def __init__(self, memory_limit: str, threads: int, temp_root: Path | None) -> None:
        import duckdb

        self.tmp = Path(tempfile.mkdtemp(prefix="tmp-extract-", dir=temp_root))
        self.con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "threads": int(threads),
                "temp_directory": str(self.tmp / "spill"),
                "preserve_insertion_order": True,
            },
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        self._n = 0

    def table_from(self, name: str, frame: pd.DataFrame) -> None:
        """Copy a (small) pandas frame into a DuckDB temp table: joins against a registered
        frame are several times slower than against a table."""
        self.con.register("__frame", frame)
        try:
            self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM __frame")
        finally:
            self.con.unregister("__frame")

    def name(self, stem: str) -> str:
        self._n += 1
        return f"__{stem}_{self._n}"

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _discover(
    path: Path, s: _Session, problems: list[Problem], tail: list[Problem]
) -> dict[str, _Entry] | None:
    """Find the tables of ``path`` (problems as :func:`reporting.data.readers.read_source`;
    the final "audits table is missing" goes to ``tail``, after every read problem).

    Returns None when the source is an Excel workbook (read by the pandas path).
    """
    entries: dict[str, _Entry] = {}
    if not path.exists():
        problems.append(
            Problem(
                "error",
                "audits",
                f"data source not found: {path} (expected a folder with audits.csv or "
                "audits.parquet, an Excel workbook or a DuckDB file)",
                file=str(path),
                code="source_not_found",
            )
        )
        return entries
    suffix = path.suffix.lower()
    if path.is_dir():
        _discover_folder(path, entries, problems)
    elif suffix in EXCEL_EXTENSIONS:
        return None
    elif suffix in DUCKDB_EXTENSIONS:
        _discover_duckdb(path, s, entries, problems)
    elif table_file_kind(path) in ("csv", "parquet"):
        name = _table_of(path) or "audits"
        entries[name] = _Entry(name, str(table_file_kind(path)), path, path.name)
    else:
        problems.append(
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
    if "audits" not in entries and not any(
        p.table == "audits" and p.is_error for p in problems
    ):
        tail.append(
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
    return entries


def _discover_folder(path: Path, entries: dict[str, _Entry], problems: list[Problem]) -> None:
    for table, f in folder_tables(path, problems).items():
        kind = table_file_kind(f)
        entries[table] = _Entry(table, "xlsx" if kind == "excel" else str(kind), f, f.name)


def _discover_duckdb(
    path: Path, s: _Session, entries: dict[str, _Entry], problems: list[Problem]
) -> None:
    if path.stat().st_size == 0:
        problems.append(
            Problem("error", "audits", "file is empty (0 bytes)", file=path.name, code="unreadable")
        )
        return
    try:
        s.con.execute(f"ATTACH {_lit(str(path))} AS __src (READ_ONLY)")
    except Exception as exc:  # noqa: BLE001
        problems.append(_unreadable("audits", path.name, exc, what="DuckDB database"))
        return
    rows = s.con.sql(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = '__src' "
        "ORDER BY table_schema = 'main' DESC, table_schema, table_name"
    ).fetchall()
    lookup: dict[str, tuple[str, str, str]] = {}
    for schema, name, ttype in rows:
        lookup.setdefault(str(name).strip().lower(), (schema, name, ttype))
    for table in TABLES:
        found = lookup.get(table)
        if found is None:
            if table == "audits":
                names = ", ".join(sorted({str(r[1]) for r in rows})) or "none"
                problems.append(
                    Problem(
                        "error",
                        "audits",
                        f"database has no table 'audits' (tables found: {names})",
                        file=path.name,
                        code="missing_table",
                    )
                )
            continue
        schema, name, ttype = found
        entries[table] = _Entry(
            table,
            "duckdb",
            path,
            path.name,
            sheet=str(name),
            schema=str(schema),
            is_view=str(ttype).upper() != "BASE TABLE",
        )


# ---------------------------------------------------------------------------------
# reading


def _read_small(entry: _Entry, s: _Session, problems: list[Problem]) -> RawTable | None:
    """A small table read with the pandas readers (exactly as the pandas path reads it)."""
    if entry.kind != "duckdb":
        return _read_table_file(entry.table, entry.path, problems)
    qualified = f"__src.{_ident(entry.schema or 'main')}.{_ident(entry.sheet or entry.table)}"
    try:
        df = _arrow_to_pandas(s.con.sql(f"SELECT * FROM {qualified}").to_arrow_table())
    except Exception as exc:  # noqa: BLE001
        problems.append(_unreadable(entry.table, entry.file, exc, sheet=entry.sheet, what="table"))
        return None
    df.columns = [clean_name(c) for c in df.columns]
    return RawTable(entry.table, df, file=entry.file, sheet=entry.sheet)


def _mangle(names: list[str]) -> list[str]:
    """pandas' names for repeated headers: ``a``, ``a.1``, ``a.2``."""
    seen: set[str] = set()
    out = []
    for n in names:
        new, k = n, 0
        while new in seen:
            k += 1
            new = f"{n}.{k}"
        seen.add(new)
        out.append(new)
    return out


def _open_sql_table(entry: _Entry, s: _Session, problems: list[Problem]) -> _SqlTable | None:
    """Make ``entry`` scannable in SQL with a 0-based source row number ``__rn``."""
    table = entry.table
    con = s.con
    drop_blank = False
    try:
        if entry.kind == "parquet":
            if entry.path.stat().st_size == 0:
                problems.append(
                    Problem(
                        "error", table, "file is empty (0 bytes)", file=entry.file, code="unreadable"
                    )
                )
                return None
            import pyarrow.parquet as pq

            scan_from = f"read_parquet({_lit(str(entry.path))}, file_row_number = true)"
            described = [
                (c[0], c[1])
                for c in con.sql(f"DESCRIBE SELECT * FROM {scan_from}").fetchall()
                if c[0] != "file_row_number"
            ]
            arrow_schema = pq.read_schema(entry.path)
            names = list(arrow_schema.names)  # DuckDB renames A next to a
            zones = [getattr(f.type, "tz", None) for f in arrow_schema]
            if len(names) != len(described):
                names, zones = [d[0] for d in described], [None] * len(described)
            sources = [
                (_local_time_sql(_ident(d[0]), tz), n, "TIMESTAMP") if tz else
                (_ident(d[0]), n, d[1])
                for d, n, tz in zip(described, names, zones, strict=True)
            ]
            rn = "file_row_number"
            raw = RawTable(table, pd.DataFrame(), file=entry.file)
        elif entry.kind == "csv":
            layout = csv_layout(table, entry.path, problems)
            if layout is None:
                return None
            written = layout.header
            internal = [f"__v{i}" for i in range(len(written))]
            staged = s.tmp / f"{table}.csv.parquet"
            rejects = s.name(f"rejects_{table}")
            try:
                con.execute(
                    f"COPY (SELECT * FROM {csv_read_sql(entry.path, layout, internal, rejects)}) "
                    f"TO {_lit(str(staged))} (FORMAT parquet)"
                )
                structural = csv_structure_problems(con, table, entry.file, layout, rejects)
            except Exception:  # noqa: BLE001 - e.g. mixed line endings: checked in Python
                structural = python_csv_structure(table, entry.path, layout)
                try:
                    con.execute(
                        f"COPY (SELECT * FROM {csv_read_sql(entry.path, layout, internal)}) "
                        f"TO {_lit(str(staged))} (FORMAT parquet)"
                    )
                except Exception as exc:  # noqa: BLE001
                    # DuckDB reads no file mixing line endings: its short lines, else a hint
                    problems.extend(structural or [_unreadable(
                        table, entry.file, exc, what="CSV file (if it mixes line endings, "
                        "CRLF, LF and CR, save it again from one program)")])
                    return None
            if structural:
                problems.extend(structural)
                return None
            scan_from = f"read_parquet({_lit(str(staged))}, file_row_number = true)"
            # pandas renames repeated header names (a, a.1); the duplicate check uses the header
            sources = [
                (_ident(i), n, "VARCHAR") for i, n in zip(internal, _mangle(written), strict=True)
            ]
            rn = "file_row_number"
            drop_blank = True
            raw = RawTable(
                table,
                pd.DataFrame(),
                file=entry.file,
                line_kind="line",
                line_offset=layout.line_offset,
                header=[clean_name(n) for n in written],
                sep=layout.sep,
            )
        elif entry.kind == "duckdb":
            qualified = f"__src.{_ident(entry.schema or 'main')}.{_ident(entry.sheet or table)}"
            if entry.is_view:
                staged = s.tmp / f"{table}.view.parquet"
                con.execute(
                    f"COPY (SELECT * FROM {qualified}) TO {_lit(str(staged))} (FORMAT parquet)"
                )
                scan_from = f"read_parquet({_lit(str(staged))}, file_row_number = true)"
                rn = "file_row_number"
            else:
                scan_from, rn = qualified, "rowid"
            cols = con.sql(f"DESCRIBE SELECT * FROM {qualified}").fetchall()
            sources = [(_ident(c[0]), c[0], c[1]) for c in cols]
            raw = RawTable(table, pd.DataFrame(), file=entry.file, sheet=entry.sheet)
        else:  # pragma: no cover - xlsx entries never get here
            raise ValueError(entry.kind)
    except Exception as exc:  # noqa: BLE001 - every read error becomes a Problem
        what = "table" if entry.kind == "duckdb" else "file"
        problems.append(_unreadable(table, entry.file, exc, sheet=entry.sheet, what=what))
        return None
    cols_ = [
        _Col(clean_name(orig), str(ty), f"__c{i}") for i, (_, orig, ty) in enumerate(sources)
    ]
    select = "".join(
        f", {src} AS {c.internal}" for (src, _, _), c in zip(sources, cols_, strict=True)
    )
    scan = f"(SELECT {rn} AS __rn{select} FROM {scan_from})"
    if drop_blank and cols_:
        blank = " AND ".join(f"{c.internal} IS NULL" for c in cols_)
        scan = f"(SELECT * FROM {scan} WHERE NOT ({blank}))"
    view = s.name(f"raw_{table}")
    try:
        con.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM {scan}")
        n = con.sql(f"SELECT count(*) FROM {view}").fetchone()
    except Exception as exc:  # noqa: BLE001
        problems.append(_unreadable(table, entry.file, exc, sheet=entry.sheet))
        return None
    return _SqlTable(table, raw, view, cols_, rows=int(n[0]) if n else 0)


# ---------------------------------------------------------------------------------
# checks


@dataclass
class _Check:
    """One check of one column: a SQL mask and how to word the problem."""

    column: str | None
    code: str
    mask: str
    message: Callable[[str, int], str]
    expected: str
    severity: str = "error"
    by_value: bool = True
    shown: str | None = None  # by_value: SQL text grouped on; else SQL values of the first row
    fmt: Callable[[tuple[Any, ...]], str] | None = None  # formats the first row's values
    duplicate_of: tuple[str, ...] | None = None  # a uniqueness check of this key (GROUP BY)


def _fmt_num(values: tuple[Any, ...]) -> str:
    v = values[0]
    return "<empty>" if v is None else f"{float(v):g}"


@dataclass
class _ColumnPlan:
    """The SQL of one contract column.

    ``parsed``: columns of the parsed view (``__t_``/``__d_``/``__val_``, ``__bad_``,
    ``__out_``, ``__raw_`` + name); ``canonical``: the canonical value over the parsed view;
    ``more``: further columns of the checked view (``__unusable_`` + name); ``checks``.
    """

    parsed: list[str]
    canonical: str
    checks: list[_Check]
    more: list[str] = field(default_factory=list)


def _plan_column(
    c: ColumnSpec, cls: str | None, clean: bool = False, internal: str = "",
    sep: str | None = None,
) -> _ColumnPlan:
    """SQL and checks of column ``c`` (``cls`` None: absent from the input; ``clean``: a text
    column that needs no normalisation)."""
    name = c.name
    src = internal or _ident(name)
    txt, dte, val = _ident(f"__t_{name}"), _ident(f"__d_{name}"), _ident(f"__val_{name}")
    bad, raw = _ident(f"__bad_{name}"), _ident(f"__raw_{name}")
    if cls is None:
        if c.default is not None:
            return _ColumnPlan([], _lit(c.default), [])
        if c.kind == "date":
            return _ColumnPlan([], "CAST(NULL AS DATE)", [])
        if c.kind in ("float", "int"):
            return _ColumnPlan([], "CAST(NULL AS DOUBLE)", [])
        return _ColumnPlan([], "CAST(NULL AS VARCHAR)", [])
    checks: list[_Check] = []
    if c.kind in ("str", "category"):
        text = _text_sql(
            src, cls, lower=c.kind == "category", clean=clean
        )
        value = txt
        if c.allowed:
            allowed = ", ".join(_lit(a) for a in c.allowed)
            checks.append(
                _Check(
                    name,
                    "unknown_value",
                    f"{txt} IS NOT NULL AND {txt} NOT IN ({allowed})",
                    lambda v, n, c=c: f"{v!r} is not one of {'/'.join(c.allowed or ())}",
                    c.expected,
                    shown=txt,
                )
            )
            value = f"(CASE WHEN {txt} IN ({allowed}) THEN {txt} END)"
        if c.unique:
            checks.append(
                _Check(
                    name,
                    "duplicate",
                    f"{_ident(name)} IS NOT NULL",
                    lambda v, n, name=name: f"{v!r} appears {n} times, expected each {name} once",
                    "unique values",
                    shown=_ident(name),
                    duplicate_of=(name,),
                )
            )
        if c.upper:
            upper = f"translate({txt}, {_lit(_LOWER)}, {_lit(_LOWER.upper())})"
            checks.append(
                _Check(
                    name,
                    "normalised_case",
                    f"{txt} <> {upper}",
                    upper_message,
                    UPPER_EXPECTED,
                    severity="warning",
                    by_value=False,
                    shown=txt,
                )
            )
            value = f"translate({value}, {_lit(_LOWER)}, {_lit(_LOWER.upper())})"
        if not c.nullable:
            checks.append(_missing(c, f"{txt} IS NULL"))
        if c.default is not None:
            value = f"COALESCE({value}, {_lit(c.default)})"
        return _ColumnPlan([f"{text} AS {txt}"], value, checks)
    if c.kind == "date":
        out = _ident(f"__out_{name}")
        if cls in ("date", "timestamp", "timestamptz"):
            given = f"CAST(CAST({src} AS TIMESTAMP) AS DATE)" if cls != "date" else src
            syntax_bad = "false"
            shown = _text_sql(src, cls)
        else:
            t = _text_sql(src, cls)
            tok = _token_sql(t)
            d = f"CAST(try_strptime(substr({t}, 1, 10), '%Y-%m-%d') AS DATE)"
            ok = f"regexp_full_match({t}, {_lit(_ISO_DATE_RE)})"
            given = f"(CASE WHEN {t} IS NOT NULL AND NOT {tok} AND {ok} THEN {d} END)"
            syntax_bad = f"({t} IS NOT NULL AND NOT {tok} AND {given} IS NULL)"
            shown = t
        outside = (
            f"COALESCE({given} < DATE {_lit(DATE_MIN)} OR {given} > DATE {_lit(DATE_MAX)}, false)"
        )
        parsed = f"(CASE WHEN {outside} THEN NULL ELSE {given} END)"
        checks.append(
            _Check(
                name,
                "bad_date",
                bad,
                lambda v, n: f"{v!r} is not a valid date, expected YYYY-MM-DD",
                c.expected,
                shown=raw,
            )
        )
        checks.append(
            _Check(
                name,
                "bad_date",
                out,
                lambda v, n: (
                    f"{v!r} is outside the supported dates {DATE_MIN} to {DATE_MAX} "
                    "(a placeholder or a typo?), expected a real date YYYY-MM-DD"
                ),
                f"a date YYYY-MM-DD from {DATE_MIN} to {DATE_MAX}",
                shown=raw,
            )
        )
        if not c.nullable:
            checks.append(_missing(c, f"{dte} IS NULL AND NOT {bad} AND NOT {out}"))
        return _ColumnPlan(
            [
                f"{parsed} AS {dte}",
                f"{syntax_bad} AS {bad}",
                f"{outside} AS {out}",
                f"{shown} AS {raw}",
            ],
            dte,
            checks,
        )
    # numbers
    if cls in ("int", "float", "decimal"):
        v = f"CAST({src} AS DOUBLE)"
        v = f"(CASE WHEN isnan({v}) THEN NULL ELSE {v} END)"
        parsed = f"(CASE WHEN isinf({v}) THEN NULL ELSE {v} END)"
        invalid = f"COALESCE(isinf({v}), false)"
        shown = _text_sql(src, cls)
    else:
        t = _text_sql(src, cls)
        tok = _token_sql(t)
        num = (
            f"(CASE WHEN regexp_full_match({t}, {_lit(_NUM_RE)}) "
            f"THEN TRY_CAST({t} AS DOUBLE) END)"
        )
        parsed = f"(CASE WHEN {t} IS NOT NULL AND NOT {tok} AND isfinite({num}) THEN {num} END)"
        invalid = f"({t} IS NOT NULL AND NOT {tok} AND {parsed} IS NULL)"
        shown = t
    # the masks of the pandas path, each on the parsed value (flat, no nested CASE):
    # low (below the minimum), then big (beyond the sanity bound), then frac (not whole)
    low = "false"
    if c.min_value is not None:
        op = "<" if c.min_inclusive else "<="
        low = f"COALESCE({val} {op} {c.min_value!r}, false)"
    big = "false"
    hi = c.upper_bound
    if hi is not None:
        mag = val if c.min_value is not None else f"abs({val})"
        big = f"(NOT {low} AND COALESCE({mag} > {hi!r}, false))"
    frac = "false"
    if c.kind == "int":
        frac = f"(NOT {low} AND NOT {big} AND COALESCE({val} <> floor({val}), false))"
    clean = f"(CASE WHEN {low} OR {big} OR {frac} THEN NULL ELSE {val} END)"
    more: list[str] = []
    if c.kind == "int" and not c.nullable:
        more.append(f"{clean} IS NULL AS {_ident(f'__unusable_{name}')}")
        clean = f"CAST(COALESCE({clean}, 0) AS BIGINT)"
    checks.append(
        _Check(
            name,
            "bad_type",
            bad,
            lambda v, n, c=c: number_message(v, c.expected, sep),
            c.expected,
            shown=raw,
        )
    )
    if c.min_value is not None:
        word = "negative" if (c.min_inclusive and c.min_value == 0) else "out of range"
        checks.append(
            _Check(
                name,
                "out_of_range",
                low,
                lambda v, n, c=c, word=word: f"{v} is {word}, expected {c.expected}",
                c.expected,
                by_value=False,
                shown=val,
                fmt=_fmt_num,
            )
        )
    if hi is not None:
        checks.append(
            _Check(
                name,
                "out_of_range",
                big,
                lambda v, n, c=c, hi=hi: (
                    f"{v} is implausibly large (beyond {hi:g}, a unit or entry error?), "
                    f"expected {c.expected}"
                ),
                f"{c.expected}, at most {hi:g}",
                by_value=False,
                shown=val,
                fmt=_fmt_num,
            )
        )
    if c.kind == "int":
        checks.append(
            _Check(
                name,
                "not_integer",
                frac,
                lambda v, n, c=c: f"{v} is not a whole number, expected {c.expected}",
                c.expected,
                by_value=False,
                shown=val,
                fmt=_fmt_num,
            )
        )
    if not c.nullable:
        checks.append(_missing(c, f"{val} IS NULL AND NOT {bad}"))
    return _ColumnPlan(
        [f"{parsed} AS {val}", f"{invalid} AS {bad}", f"{shown} AS {raw}"], clean, checks, more
    )


def _missing(c: ColumnSpec, mask: str) -> _Check:
    return _Check(
        c.name,
        "missing_value",
        mask,
        lambda v, n, c=c: f"missing value, expected {c.expected}",
        c.expected,
        by_value=False,
        shown="NULL",
    )


def _table_checks(table: str) -> list[_Check]:
    if table != "production":
        return []
    key = ("date", "reviewer_id", "market", "product_line", "queue")
    shown_key = (
        "reviewer_id || ' on ' || strftime(date, '%Y-%m-%d') || ' (' || COALESCE(market, '-') "
        "|| ' / ' || COALESCE(product_line, '-') || ' / ' || COALESCE(queue, '-') || ')'"
    )

    def sla_fmt(values: tuple[Any, ...]) -> str:
        sla, cases = values
        return f"{float(sla):g} > cases_handled {int(cases)}"

    return [
        _Check(
            "reviewer_id",
            "duplicate",
            "date IS NOT NULL AND reviewer_id IS NOT NULL",
            lambda v, n: (
                f"{v} appears {n} times, expected one row per reviewer, day, market, "
                "product line and queue (the rows would be counted twice)"
            ),
            "one row per reviewer_id, date, market, product_line and queue",
            shown=shown_key,
            duplicate_of=key,
        ),
        _Check(
            "sla_met",
            "sla_exceeds_cases",
            'COALESCE("sla_met" > "cases_handled", false) AND NOT "__unusable_cases_handled"',
            lambda v, n: f"sla_met is greater than cases_handled ({v})",
            "sla_met <= cases_handled",
            by_value=False,
            shown='"sla_met", "cases_handled"',
            fmt=sla_fmt,
        ),
        _Check(
            "productive_hours",
            "implausible",
            'COALESCE("productive_hours" > 24, false)',
            lambda v, n: f"{v} productive hours in one day",
            "at most 24 hours per reviewer per day",
            severity="warning",
            by_value=False,
            shown='"productive_hours"',
            fmt=_fmt_num,
        ),
    ]


class _TableChecker:
    """Validates one large table in SQL and defines its checked view.

    One aggregate pass counts every check (and the reviewers missing from the roster), with
    the first offending row of each; only failing checks run a second query (offending
    values grouped, or the example row).
    """

    def __init__(self, s: _Session, t: _SqlTable, spec: TableSpec) -> None:
        self.s, self.t, self.spec = s, t, spec
        self.problems: list[Problem] = []
        self.cross: list[Problem] = []  # not_in_roster (reported after every table)
        self.view = ""  # checked view: __rn, canonical columns, check columns, extras
        self.present: list[str] = []
        self.internal: dict[str, str] = {}  # contract column -> internal SQL name
        self.extras: list[tuple[str, str]] = []  # (internal SQL name, output name)

    # -- problems -----------------------------------------------------------------------
    def _problem(
        self, check: _Check, value: str, count: int, rn: int, message: str, row_id: str | None
    ) -> Problem:
        return self.t.raw.problem(
            message,
            severity=check.severity,
            column=check.column,
            value=value,
            line=self.t.raw.line_of(rn),
            row_id=row_id,
            count=count,
            expected=check.expected,
            code=check.code,
        )

    def _row_id(self, column: str | None, id_value: Any) -> str | None:
        idc = self.spec.id_column
        if idc is None or column == idc or id_value is None or idc not in self.present:
            return None
        return f"{idc} {_short(id_value)}"

    def _id_sql(self) -> str:
        idc = self.spec.id_column
        return _ident(idc) if idc and idc in self.present else "NULL"

    # -- structure ----------------------------------------------------------------------
    def _structure(self) -> bool:
        """Missing / doubled columns and the empty table; False when the table is unusable."""
        spec, t, raw = self.spec, self.t, self.t.raw
        present = [c.name for c in t.columns]
        missing = [c for c in spec.required_names if c not in present]
        # column problems point at the header line of a CSV
        header_line = raw.header_location()
        for name in missing:
            found = ", ".join(_name_shown(c) for c in present[:20])
            found += f", ... ({len(present)} columns)" if len(present) > 20 else ""
            self.problems.append(
                raw.problem(
                    f"required column is missing{_column_hint(name, present)} "
                    f"(columns found: {found or 'none'})",
                    column=name,
                    expected=f"a column named {name!r}",
                    code="missing_column",
                    **header_line,
                )
            )
        counts = Counter(raw.header if raw.header is not None else present)
        doubled = sorted(c for c in spec.names if counts[c] > 1)
        for name in doubled:
            self.problems.append(
                raw.problem(
                    f"column appears {counts[name]} times",
                    column=name,
                    expected="each column once",
                    code="duplicate_column",
                    **header_line,
                )
            )
        return not (missing or doubled)

    def _build(self, types: dict[str, str], clean: set[str], roster_view: str | None) -> list[_Check]:
        """(Re)create the parsed and checked views; the checks in the pandas path's order."""
        spec, t = self.spec, self.t
        selects: list[str] = ["__rn"]
        canonical: list[str] = []
        checks: list[_Check] = []
        for c in spec.columns:
            cls = types.get(c.name)
            plan = _plan_column(
                c, cls, clean=c.name in clean, internal=self.internal.get(c.name, ""),
                sep=t.raw.sep,
            )
            selects.extend(plan.parsed)
            canonical.append(f"{plan.canonical} AS {_ident(c.name)}")
            canonical.extend(plan.more)
            checks.extend(plan.checks)
        checks.extend(_table_checks(spec.name))
        selects.extend(internal for internal, _ in self.extras)
        parsed = self.s.name(f"parsed_{spec.name}")
        self.s.con.execute(f"CREATE TEMP VIEW {parsed} AS SELECT {', '.join(selects)} FROM {t.scan}")
        extra = ""
        if roster_view is not None:
            extra = (
                ", (reviewer_id IS NOT NULL AND reviewer_id NOT IN "
                f"(SELECT reviewer_id FROM {roster_view})) AS __not_in_roster"
            )
        view = self.s.name(f"checked_{spec.name}")
        self.s.con.execute(
            f"CREATE TEMP VIEW {view} AS SELECT *, "
            f"{', '.join(canonical)}{extra} FROM {parsed}"
        )
        self.view = view
        return checks

    def run(self, roster_view: str | None = None) -> bool:
        """Every check of the table; False when it cannot be used (missing columns).

        Parameters
        ----------
        roster_view : str, optional
            A view of the roster's reviewer ids, for the ``not_in_roster`` warning.
        """
        if not self._structure():
            return False
        spec, t, raw = self.spec, self.t, self.t.raw
        if t.rows == 0:
            self.problems.append(
                raw.problem(
                    "table is empty (header only, no data rows)",
                    severity="error" if spec.required else "warning",
                    expected="at least one data row",
                    code="empty_table",
                )
            )
            return True
        contract = set(spec.names)
        types = {c.name: _type_class(c.type) for c in t.columns if c.name in contract}
        self.internal = {c.name: c.internal for c in t.columns if c.name in contract}
        self.present = [c.name for c in spec.columns if c.name in types]
        extra_cols = [c for c in t.columns if c.name not in contract]
        names = unique_names([c.name for c in extra_cols], contract)
        self.extras = [(c.internal, n) for c, n in zip(extra_cols, names, strict=True)]
        # First assume every text column is clean (no value changes by strip/lower) and check
        # that in the same pass; only if one is not, rebuild the views and count again.
        text_cols = [
            c for c in spec.columns if c.kind in ("str", "category") and types.get(c.name) == "text"
        ]
        clean = {c.name for c in text_cols}
        checks = self._build(types, clean, roster_view)
        flags = {
            c.name: _clean_flag_sql(_ident(f"__t_{c.name}"), lower=c.kind == "category")
            for c in text_cols
        }
        counts, found = self._count(checks, flags, roster_view is not None)
        dirty = {n for n in clean if not found.get(n, True)}
        if dirty:
            checks = self._build(types, clean - dirty, roster_view)
            counts, _ = self._count(checks, {}, roster_view is not None)
        self._report(checks, counts)
        return True

    # -- the aggregate pass ---------------------------------------------------------------
    def _count(
        self, checks: list[_Check], flags: dict[str, str], roster: bool
    ) -> tuple[dict[str, Any], dict[str, bool]]:
        """One pass: count and first row of every check, distinct counts, clean flags."""
        aggs: list[str] = []
        for i, c in enumerate(checks):
            if c.duplicate_of is not None:
                if len(c.duplicate_of) == 1:  # NULLs are not counted: no FILTER needed
                    k = _ident(c.duplicate_of[0])
                    aggs.append(f"count(DISTINCT {k}) AS d{i}, count({k}) AS n{i}")
                    continue
                k = "(" + ", ".join(_ident(x) for x in c.duplicate_of) + ")"
                m = f"COALESCE({c.mask}, false)"
                aggs.append(f"count(DISTINCT {k}) FILTER (WHERE {m}) AS d{i}")
                aggs.append(f"count(*) FILTER (WHERE {m}) AS n{i}")
                continue
            m = f"COALESCE({c.mask}, false)"
            aggs.append(f"count(*) FILTER (WHERE {m}) AS n{i}")
            aggs.append(f"min(__rn) FILTER (WHERE {m}) AS f{i}")
        if roster:
            aggs.append("count(*) FILTER (WHERE __not_in_roster) AS nir_n")
            aggs.append("count(DISTINCT reviewer_id) FILTER (WHERE __not_in_roster) AS nir_ids")
            aggs.append("min(__rn) FILTER (WHERE __not_in_roster) AS nir_first")
        names = list(flags)
        aggs.extend(f"{flags[n]} AS {_ident('clean_' + n)}" for n in names)
        cur = self.s.con.sql(f"SELECT {', '.join(aggs)} FROM {self.view}")
        row = cur.fetchone() or ()
        values = dict(zip(cur.columns, row, strict=True))
        found = {n: bool(values["clean_" + n]) for n in names}
        return values, found

    def _report(self, checks: list[_Check], counts: dict[str, Any]) -> None:
        for i, c in enumerate(checks):
            if c.duplicate_of is not None:
                if counts[f"d{i}"] < counts[f"n{i}"]:
                    self._duplicates(c)
                continue
            n = int(counts[f"n{i}"] or 0)
            if not n:
                continue
            if c.by_value:
                self._by_value(c)
            else:
                self._first_row(c, n, int(counts[f"f{i}"]))
        if counts.get("nir_n"):
            self._not_in_roster(
                int(counts["nir_n"]), int(counts["nir_ids"]), int(counts["nir_first"])
            )

    # -- failing checks ---------------------------------------------------------------------
    def _first_row(self, c: _Check, n: int, first: int) -> None:
        shown = c.shown or "NULL"
        row = self.s.con.sql(
            f"SELECT {self._id_sql()}, {shown} FROM {self.view} WHERE __rn = {int(first)}"
        ).fetchone()
        assert row is not None
        vals = tuple(row[1:])
        v = c.fmt(vals) if c.fmt is not None else _display(vals[0])
        self.problems.append(
            self._problem(c, v, n, first, c.message(v, n), self._row_id(c.column, row[0]))
        )

    def _grouped(self, c: _Check, sql_groups: str) -> None:
        """Problems from groups (v, n, first): the top values, then one summary line."""
        con = self.s.con
        groups = self.s.name("groups")
        con.execute(
            f"CREATE TEMP TABLE {groups} AS SELECT *, row_number() OVER "
            f"(ORDER BY n DESC, first) AS k FROM ({sql_groups})"
        )
        try:
            top = con.sql(
                f"SELECT v, n, first FROM {groups} WHERE k <= {MAX_VALUES_PER_CHECK} ORDER BY k"
            ).fetchall()
            rest = con.sql(
                f"SELECT count(*), sum(n), arg_min(v, first), arg_min(n, first), min(first) "
                f"FROM {groups} WHERE k > {MAX_VALUES_PER_CHECK}"
            ).fetchone()
        finally:
            con.execute(f"DROP TABLE {groups}")
        firsts = [int(r[2]) for r in top] + ([int(rest[4])] if rest and rest[0] else [])
        ids = dict(
            con.sql(
                f"SELECT __rn, {self._id_sql()} FROM {self.view} "
                f"WHERE __rn IN ({', '.join(str(f) for f in firsts)})"
            ).fetchall()
        )
        for v0, n, first in top:
            v = _display(v0)
            self.problems.append(
                self._problem(
                    c, v, int(n), int(first), c.message(v, int(n)),
                    self._row_id(c.column, ids.get(int(first))),
                )
            )
        if rest and rest[0]:
            n_groups, n_rows, v0, n0, first = rest
            v = _display(v0)
            self.problems.append(
                self._problem(
                    c,
                    v,
                    int(n_rows),
                    int(first),
                    f"{int(n_groups)} more distinct values with the same problem, e.g. "
                    f"{c.message(v, int(n0))}",
                    self._row_id(c.column, ids.get(int(first))),
                )
            )

    def _by_value(self, c: _Check) -> None:
        self._grouped(
            c,
            f"SELECT {c.shown} AS v, count(*) AS n, min(__rn) AS first FROM {self.view} "
            f"WHERE COALESCE({c.mask}, false) GROUP BY {c.shown}",
        )

    def _duplicates(self, c: _Check) -> None:
        k = ", ".join(_ident(x) for x in c.duplicate_of or ())
        self._grouped(
            c,
            f"SELECT any_value({c.shown}) AS v, count(*) AS n, min(__rn) AS first "
            f"FROM {self.view} WHERE COALESCE({c.mask}, false) GROUP BY {k} HAVING count(*) > 1",
        )

    def _not_in_roster(self, n: int, n_ids: int, first: int) -> None:
        """The ``not_in_roster`` warning of :mod:`reporting.data.validate`."""
        spec, t = self.spec, self.t
        id_sql = (
            _ident(spec.id_column)
            if spec.id_column and spec.id_column != "reviewer_id" and spec.id_column in self.present
            else "NULL"
        )
        ex = self.s.con.sql(
            f"SELECT reviewer_id, {id_sql} FROM {self.view} WHERE __rn = {first}"
        ).fetchone()
        assert ex is not None
        v = _display(ex[0])
        what = "audits" if t.name == "audits" else "rows"
        self.cross.append(
            t.raw.problem(
                f"{n_ids} reviewer{'s are' if n_ids > 1 else ' is'} not in the roster, e.g. "
                f"{v!r} (team_lead, site and tenure are unknown for their {what})",
                severity="warning",
                column="reviewer_id",
                value=v,
                line=t.raw.line_of(first),
                row_id=None if ex[1] is None else f"{spec.id_column} {ex[1]}",
                count=n,
                expected="every reviewer_id listed in the roster",
                code="not_in_roster",
            )
        )


# ---------------------------------------------------------------------------------
# the extract


class _Extract:
    """Checks a source in DuckDB, then (if valid) writes its canonical snapshot."""

    def __init__(self, source: Path, s: _Session) -> None:
        self.source = source
        self.s = s
        self.checkers: dict[str, _TableChecker] = {}
        self.roster_view: str | None = None

    def check(self) -> _Checked | None:
        """Every problem of the source; None when the source needs the pandas path."""
        s = self.s
        out = _Checked(source=str(self.source))
        found: list[Problem] = []
        tail: list[Problem] = []
        entries = _discover(self.source, s, found, tail)
        if entries is None or any(e.kind == "xlsx" for n, e in entries.items() if n in SQL_TABLES):
            return None
        per_table: dict[str, list[Problem]] = {}
        small_raw: dict[str, RawTable] = {}

        def unreadable(raw: RawTable, exc: Exception) -> list[Problem]:
            return [
                raw.problem(
                    f"cannot interpret the table: {type(exc).__name__}: {exc}", code="unreadable"
                )
            ]

        # the small tables first (the roster is needed by the checks of the large ones)
        for name in TABLES:
            entry = entries.get(name)
            if entry is None or name in SQL_TABLES:
                continue
            raw = _read_small(entry, s, found)
            if raw is None:
                continue
            small_raw[name] = raw
            try:
                frame, problems = normalize_table(raw, CONTRACT[name], check_unique=True)
            except Exception as exc:  # noqa: BLE001 - a data problem never escapes as a traceback
                per_table[name] = unreadable(raw, exc)
                continue
            per_table[name] = problems
            if frame is not None:
                out.frames[name] = frame.reset_index(drop=True)
        roster = out.frames.get("roster")
        if roster is not None and len(roster):
            known = pd.DataFrame(
                {"reviewer_id": pd.Series(roster["reviewer_id"].dropna().unique(), dtype=object)}
            )
            self.roster_view = s.name("roster_ids")
            s.table_from(self.roster_view, known)
        cross: list[Problem] = []
        for name in SQL_TABLES:
            entry = entries.get(name)
            if entry is None:
                continue
            t = _open_sql_table(entry, s, found)
            if t is None:
                continue
            checker = _TableChecker(s, t, CONTRACT[name])
            try:
                usable = checker.run(self.roster_view)
            except Exception as exc:  # noqa: BLE001
                per_table[name] = unreadable(t.raw, exc)
                continue
            per_table[name] = checker.problems
            cross.extend(checker.cross)
            if usable:
                out.sql[name] = t
                self.checkers[name] = checker
        # problems in the order of the pandas path: per table read, then converted, then cross
        order = {n: i for i, n in enumerate(TABLES)}
        out.problems = sorted(found, key=lambda p: order.get(p.table, len(TABLES))) + tail
        for name in TABLES:
            out.problems.extend(per_table.get(name, []))
        out.problems.extend(cross)
        out.problems.extend(self._hired_after_decision(out.frames.get("roster"), small_raw))
        out.problems.extend(wave2_problems(out.frames, small_raw))
        for name in TABLES:
            if name in out.sql:
                out.rows[name] = out.sql[name].rows
            elif name in out.frames:
                out.rows[name] = int(len(out.frames[name]))
        return out

    def _hired_after_decision(self, roster: pd.DataFrame | None,
                              small_raw: dict[str, RawTable]) -> list[Problem]:
        """The pandas path's ``hired_after_decision`` warning, from the audits decided before
        their reviewer's hire date (selected in DuckDB: few rows however large the audits)."""
        checker = self.checkers.get("audits")
        if (roster is None or not len(roster) or checker is None or "roster" not in small_raw
                or "hire_date" not in roster.columns):
            return []
        hires = roster[["reviewer_id", "hire_date"]].dropna().drop_duplicates("reviewer_id")
        view = self.s.name("roster_hires")
        self.s.table_from(view, hires.reset_index(drop=True))
        early = self.s.con.execute(
            f"SELECT a.reviewer_id, a.decision_date, a.audit_id FROM {checker.view} a "
            f"JOIN {view} r ON r.reviewer_id = a.reviewer_id "
            "WHERE CAST(a.decision_date AS DATE) < CAST(r.hire_date AS DATE)").df()
        return hired_after_decision(small_raw["roster"], roster, early)

    def write(
        self,
        checked: _Checked,
        snapshot_dir: Path,
        period_from: str | None,
        period_to: str | None,
        pseudonym_key: str | None,
    ) -> dict[str, int | None]:
        """Write the canonical tables of a valid source; rows per table (None when absent)."""
        s, con = self.s, self.s.con
        frames = dict(checked.frames)
        for name in ("production", "roster", "events", "appeals", "coaching"):
            if name in frames and len(frames[name]) == 0:
                del frames[name]
        roster = frames.get("roster")
        key = pseudonym_key.encode("utf-8") if pseudonym_key else None
        pmap = None
        if key is not None:
            pmap = self._pseudonym_map(roster, key)
        rows: dict[str, int | None] = {}
        for name in TABLES:
            f = snapshot_dir / f"{name}.parquet"
            if f.exists():
                f.unlink()
        # audits and production in SQL
        roster_view = None
        if roster is not None and len(roster):
            r = roster.drop_duplicates("reviewer_id")[["reviewer_id", "team_lead", "site", "hire_date"]]
            roster_view = s.name("roster_c")
            s.table_from(roster_view, r.reset_index(drop=True))
        for name in SQL_TABLES:
            checker = self.checkers.get(name)
            if checker is None or checker.t.rows == 0:
                rows[name] = None
                if name == "audits":  # pragma: no cover - an error was raised before
                    raise ValueError("no audits to write")
                continue
            sql, names = self._canonical_sql(checker, roster_view, pmap, period_from, period_to)
            target = snapshot_dir / f"{name}.parquet"
            tmp = target.with_suffix(".parquet.tmp")
            con.execute(
                f"COPY ({sql}) TO {_lit(str(tmp))} (FORMAT parquet, COMPRESSION {COMPRESSION}, "
                f"ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
            )
            if names is not None:
                _rename_columns(tmp, names)
            os.replace(tmp, target)
            n = con.sql(f"SELECT count(*) FROM read_parquet({_lit(str(target))})").fetchone()
            rows[name] = int(n[0]) if n else 0
        # small tables exactly as write_snapshot writes them
        if roster is not None and key is not None:
            from .pseudonymise import pseudonymise_frame

            roster = pseudonymise_frame(roster, key)
        small = {
            "roster": roster,
            "targets": frames.get("targets", empty_canonical("targets")),
            "events": frames.get("events"),
            "appeals": frames.get("appeals"),
            "coaching": frames.get("coaching"),
        }
        if key is not None:  # the wave-2 tables name reviewers too
            from .pseudonymise import pseudonymise_frame as _pf

            small["appeals"], small["coaching"] = _pf(small["appeals"], key), _pf(small["coaching"], key)
        for name, df in small.items():
            if df is None:
                rows[name] = None
                continue
            _write_table(df, snapshot_dir / f"{name}.parquet")
            rows[name] = int(len(df))
        return {n: rows.get(n) for n in TABLES}

    def _pseudonym_map(self, roster: pd.DataFrame | None, key: bytes) -> str:
        from .pseudonymise import pseudonym

        parts = []
        for name, cols in (("audits", ("reviewer_id", "auditor_id")), ("production", ("reviewer_id",))):
            checker = self.checkers.get(name)
            if checker is None or checker.t.rows == 0:
                continue
            for col in cols:
                parts.append(f"SELECT DISTINCT {_ident(col)} AS id FROM {checker.view}")
        ids: set[str] = set()
        if parts:
            for (v,) in self.s.con.sql(" UNION ".join(parts)).fetchall():
                if v is not None:
                    ids.add(v)
        if roster is not None:
            ids.update(str(v) for v in roster["reviewer_id"].dropna().unique())
        ordered = sorted(ids)
        frame = pd.DataFrame(
            {"id": pd.Series(ordered, dtype=object),
             "pid": pd.Series([pseudonym(v, key) for v in ordered], dtype=object)}
        )
        view = self.s.name("pseudonyms")
        self.s.table_from(view, frame)
        return view

    def _canonical_sql(
        self,
        checker: _TableChecker,
        roster_view: str | None,
        pmap: str | None,
        period_from: str | None,
        period_to: str | None,
    ) -> tuple[str, list[str] | None]:
        """The COPY query of a canonical table, and the column names to rename it to (None:
        the query's names are right)."""
        name = checker.spec.name
        spec = checker.spec
        date_col = "decision_date" if name == "audits" else "date"
        joins: list[str] = []
        sel: list[str] = []
        person = {"reviewer_id", "auditor_id"} if name == "audits" else {"reviewer_id"}
        for c in spec.columns:
            q = f"a.{_ident(c.name)}"
            if c.name in person and pmap is not None and c.name in checker.present:
                alias = f"p_{c.name}"
                joins.append(f"LEFT JOIN {pmap} {alias} ON {alias}.id = {q}")
                q = f"{alias}.pid"
            if c.kind == "date":
                expr = f"CAST({q} AS TIMESTAMP_NS)"
            elif c.kind == "int" and not c.nullable:
                expr = f"CAST({q} AS BIGINT)"
            elif c.kind in ("float", "int"):
                expr = f"CAST({q} AS DOUBLE)"
            else:
                expr = f"CAST({q} AS VARCHAR)"
            sel.append(f"{expr} AS {_ident(c.name)}")
        d = f"a.{_ident(date_col)}"
        period = f"strftime({d}, '%Y-%m')"
        week = f"CAST(date_trunc('week', {d}) AS TIMESTAMP_NS)"
        if name == "audits":
            rev, qa = "a.reviewer_decision", "a.qa_decision"
            sel.append(
                f"COALESCE(({rev} = 'approve' AND {qa} = 'approve') OR "
                f"({rev} = 'reject' AND {qa} = 'reject'), false) AS is_correct"
            )
            sel.append(
                f"CAST(CASE WHEN {rev} = 'approve' AND {qa} = 'reject' THEN 'missed_violation' "
                f"WHEN {rev} = 'reject' AND {qa} = 'approve' THEN 'over_enforcement' END "
                "AS VARCHAR) AS error_type"
            )
            sel.append(f"{period} AS period")
            sel.append(f"{week} AS week")
            if roster_view is not None:
                joins.append(f"LEFT JOIN {roster_view} r ON r.reviewer_id = a.reviewer_id")
                sel.append(
                    # negative (a decision before the hire date): unknown, as on the pandas path
                    f"CAST(CASE WHEN date_diff('day', CAST(r.hire_date AS DATE), {d}) >= 0 "
                    f"THEN date_diff('day', CAST(r.hire_date AS DATE), {d}) END AS DOUBLE) "
                    "AS tenure_days"
                )
                sel.append("CAST(r.team_lead AS VARCHAR) AS team_lead")
                sel.append("CAST(r.site AS VARCHAR) AS site")
            else:
                sel.append("CAST(NULL AS DOUBLE) AS tenure_days")
                sel.append("CAST(NULL AS VARCHAR) AS team_lead")
                sel.append("CAST(NULL AS VARCHAR) AS site")
        else:
            sel.append(f"{period} AS period")
            sel.append(f"{week} AS week")
        assert [x.rsplit(" AS ", 1)[1].strip('"') for x in sel] == CANONICAL_COLUMNS[name]
        # DuckDB's names are case-insensitive: an extra "Market" next to "market" is written
        # under a placeholder and renamed afterwards
        wanted = [x.rsplit(" AS ", 1)[1].strip('"') for x in sel] + [o for _, o in checker.extras]
        clash = len({n.lower() for n in wanted}) < len(wanted)
        sel.extend(
            f"a.{internal} AS {_ident(f'__extra_{i}' if clash else out)}"
            for i, (internal, out) in enumerate(checker.extras)
        )
        where = []
        if period_from is not None:
            where.append(f"{period} >= {_lit(period_from)}")
        if period_to is not None:
            where.append(f"{period} <= {_lit(period_to)}")
        sql = f"SELECT {', '.join(sel)} FROM {checker.view} a {' '.join(joins)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sql + f" ORDER BY {period}, a.market, a.__rn", (wanted if clash else None)


def _rename_columns(path: Path, names: list[str]) -> None:
    """Rename the columns of a Parquet file, one row group at a time (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    schema = pa.schema([f.with_name(n) for f, n in zip(pf.schema_arrow, names, strict=True)])
    tmp = path.with_suffix(".renamed.tmp")
    with pq.ParquetWriter(
        tmp, schema, compression=COMPRESSION, use_dictionary=True, write_statistics=True
    ) as writer:
        for i in range(pf.num_row_groups):
            writer.write_table(pf.read_row_group(i).rename_columns(names))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------
# public API


def _check_period(bound: str | None) -> str | None:
    if bound is None:
        return None
    if not _PERIOD_RE.match(str(bound)):
        raise ValueError(f"period bound must look like 2026-10, got {bound!r}")
    return str(bound)


def _catalog(snapshot_dir: Path, roster: pd.DataFrame | None, con: Any) -> dict[str, list[str]]:
    audits = _lit(str(snapshot_dir / "audits.parquet"))

    def distinct(col: str) -> list[str]:
        rows = con.sql(
            f"SELECT DISTINCT {_ident(col)} FROM read_parquet({audits}) "
            f"WHERE {_ident(col)} IS NOT NULL"
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    leads = []
    if roster is not None and "team_lead" in roster.columns:
        leads = sorted(str(v) for v in roster["team_lead"].dropna().unique())
    return {
        "markets": distinct("market"),
        "product_lines": distinct("product_line"),
        "team_leads": leads or distinct("team_lead"),
        "periods": distinct("period"),
    }


def _write_manifest(
    d: Path,
    digest: str,
    source: str,
    rows: dict[str, int | None],
    engine: str,
    extra: dict[str, Any] | None = None,
) -> None:
    manifest = {
        "format_version": FORMAT_VERSION,
        "hash": digest,
        "source": source,
        "rows": rows,
        "tables": [n for n in TABLES if rows.get(n) is not None],
        "writer": engine,
        **(extra or {}),
    }
    (d / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


#: Bump when the extract writes different snapshot content for the same input.
EXTRACT_VERSION = 1


def source_fingerprint(
    path: Path,
    period_from: str | None = None,
    period_to: str | None = None,
    pseudonym_key: str | None = None,
) -> str:
    """What an extract depends on: the source files (name, size, modification and change time,
    inode), the window, the pseudonym key (hashed), the extract and DuckDB versions.

    Two extracts with the same fingerprint write the same snapshot, so a run can reuse an
    earlier snapshot instead of extracting again. The change time (which no tool can set back,
    unlike the modification time) makes a file rewritten with the same size and an old
    modification time count as changed.
    """
    import hashlib

    import duckdb

    files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    parts: list[object] = [EXTRACT_VERSION, duckdb.__version__, str(path.resolve()),
                           period_from, period_to]
    if pseudonym_key:
        parts.append(hashlib.sha256(pseudonym_key.encode("utf-8")).hexdigest())
    for f in files:
        st = f.stat()
        # the inode and change time too: a corrected file copied in with its old modification
        # time kept (cp -p, rsync -t, unpacking an archive, a clock set back) and the same size
        # must not reuse the old snapshot
        parts.extend([f.name, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns])
    h.update(json.dumps(parts, default=str).encode("utf-8"))
    return h.hexdigest()


def _reuse(root: Path, fingerprint: str, d: Path, t0: float) -> ExtractResult | None:
    """An earlier snapshot under ``root`` with the same fingerprint, linked into ``d``."""
    if not root.is_dir():
        return None
    for old in sorted(root.iterdir()):
        f = old / MANIFEST
        if old == d or not f.is_file():
            continue
        try:
            m = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if m.get("source_fingerprint") != fingerprint or "catalog" not in m:
            continue
        if snapshot_hash(old) != m.get("hash"):  # changed or half-written: extract again
            continue
        for name in [*(f"{t}.parquet" for t in TABLES), MANIFEST]:
            src = old / name
            if not src.exists():
                continue
            try:
                os.link(src, d / name)
            except OSError:
                shutil.copy2(src, d / name)
        problems = [
            Problem(**{k: v for k, v in p.items() if k != "text"}) for p in m.get("problems", [])
        ]
        report = ValidationReport(problems=problems, source=m.get("source", ""),
                                  rows=m.get("checked_rows", {}))
        rows = {n: m["rows"].get(n) for n in TABLES}
        return ExtractResult(d, m["hash"], m["catalog"], report, rows,
                             time.perf_counter() - t0, "reused")
    return None


def _pandas_extract(
    source: Any,
    d: Path,
    period_from: str | None,
    period_to: str | None,
    pseudonym_key: str | None,
    t0: float,
) -> ExtractResult:
    """Excel workbooks and in-memory data: the pandas path, with the same result shape."""
    import dataclasses

    from .loaders import load_dataset
    from .snapshot import write_snapshot

    ds = load_dataset(source)
    report = ValidationReport(
        problems=list(ds.problems),
        source=ds.source,
        rows={n: int(len(df)) for n, df in ds.tables().items()},
    )

    def cut(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        keep = pd.Series(True, index=frame.index)
        if period_from is not None:
            keep &= frame["period"] >= period_from
        if period_to is not None:
            keep &= frame["period"] <= period_to
        return frame[keep.to_numpy()].reset_index(drop=True)

    ds = dataclasses.replace(ds, audits=cut(ds.audits), production=cut(ds.production))
    if pseudonym_key:
        from .pseudonymise import pseudonymise_dataset

        ds = pseudonymise_dataset(ds, pseudonym_key)
    digest = write_snapshot(ds, d)
    rows = {n: (None if getattr(ds, n) is None else int(len(getattr(ds, n)))) for n in TABLES}
    import duckdb

    con = duckdb.connect()
    try:
        catalog = _catalog(d, ds.roster, con)
    finally:
        con.close()
    return ExtractResult(d, digest, catalog, report, rows, time.perf_counter() - t0, "pandas")


def _checked_report(checked: _Checked) -> ValidationReport:
    return ValidationReport(problems=list(checked.problems), source=checked.source, rows=dict(checked.rows))


def validate_with_duckdb(
    source: str | os.PathLike[str],
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = DEFAULT_THREADS,
) -> ValidationReport:
    """Check a CSV/Parquet folder or DuckDB file against contract 1 inside DuckDB.

    The same problems (codes, messages, values, example rows, counts) as
    :func:`reporting.data.validate_dataset`, computed as SQL aggregates, without loading the
    large tables into pandas. Excel workbooks and in-memory data are checked by
    :func:`~reporting.data.validate_dataset` itself.

    Parameters
    ----------
    source : str or path
        A folder (``audits.csv`` / ``audits.parquet`` ...), a CSV/Parquet file or a DuckDB file.
    memory_limit : str
        DuckDB ``memory_limit``.
    threads : int
        DuckDB worker threads.

    Returns
    -------
    ValidationReport
        Never raises for a data problem.
    """
    if _is_memory(source):
        from .validate import validate_dataset

        return validate_dataset(source)
    path = Path(source)
    s = _Session(memory_limit, threads, None)
    try:
        checked = _Extract(path, s).check()
    finally:
        s.close()
    if checked is None:
        from .validate import validate_dataset

        return validate_dataset(path)
    return _checked_report(checked)


def extract_snapshot(
    source: str | os.PathLike[str] | Any,
    snapshot_dir: str | os.PathLike[str],
    *,
    period_from: str | None = None,
    period_to: str | None = None,
    pseudonym_key: str | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = DEFAULT_THREADS,
    reuse_from: str | os.PathLike[str] | None = None,
) -> ExtractResult:
    """Validate ``source`` and write its canonical snapshot, inside DuckDB.

    The snapshot has the layout of :func:`reporting.data.write_snapshot` (one Parquet file per
    table, ``snapshot.json``) and reads back (:func:`~reporting.data.load_snapshot`,
    :func:`~reporting.data.read_audits`) to frames equal to the pandas path's
    (``load_dataset`` then ``write_snapshot``). Only the small tables (roster, targets,
    events) are ever held in pandas.

    Parameters
    ----------
    source : str, path, Dataset or mapping
        A folder of CSV/Parquet files, a single CSV/Parquet file or a DuckDB file. Excel
        workbooks and in-memory frames are accepted too and go through the pandas path.
    snapshot_dir : str or path
        Folder to write (created if needed; earlier snapshot files in it are replaced).
    period_from, period_to : str, optional
        Inclusive ``YYYY-MM`` bounds: audits and production outside them are not written
        (every row is still validated).
    pseudonym_key : str, optional
        Replace reviewer and auditor IDs by keyed pseudonyms
        (:mod:`reporting.data.pseudonymise`).
    memory_limit : str
        DuckDB ``memory_limit`` (sorts and hash tables spill to disk beyond it).
    threads : int
        DuckDB worker threads.
    reuse_from : str or path, optional
        A folder of earlier snapshots (a run's ``.snapshots``): one written from the same
        :func:`source_fingerprint` is linked into ``snapshot_dir`` instead of extracting
        again (``engine`` is then ``"reused"``).

    Returns
    -------
    ExtractResult
        Hash, catalog, warnings and rows written.

    Raises
    ------
    DataValidationError
        When the source has errors (every problem listed, as :func:`load_dataset` does).
    ValueError
        For a malformed period bound.
    """
    t0 = time.perf_counter()
    period_from, period_to = _check_period(period_from), _check_period(period_to)
    d = Path(snapshot_dir)
    d.mkdir(parents=True, exist_ok=True)
    if _is_memory(source):
        return _pandas_extract(source, d, period_from, period_to, pseudonym_key, t0)
    path = Path(source)
    fingerprint = (
        source_fingerprint(path, period_from, period_to, pseudonym_key) if path.exists() else ""
    )
    if reuse_from is not None and fingerprint:
        reused = _reuse(Path(reuse_from), fingerprint, d, t0)
        if reused is not None:
            return reused
    s = _Session(memory_limit, threads, d.parent)
    try:
        ex = _Extract(path, s)
        checked = ex.check()
        if checked is None:
            s.close()
            return _pandas_extract(path, d, period_from, period_to, pseudonym_key, t0)
        report = _checked_report(checked)
        if report.errors:
            raise DataValidationError(report.problems, source=report.source)
        rows = ex.write(checked, d, period_from, period_to, pseudonym_key)
        digest = snapshot_hash(d)
        roster = checked.frames.get("roster")
        if roster is not None and pseudonym_key:
            from .pseudonymise import pseudonymise_frame

            roster = pseudonymise_frame(roster, pseudonym_key.encode("utf-8"))
        catalog = _catalog(d, roster, s.con)
        _write_manifest(
            d,
            digest,
            str(path),
            rows,
            "duckdb",
            {
                "source_fingerprint": fingerprint,
                "catalog": catalog,
                "problems": [p.to_dict() for p in report.problems],
                "checked_rows": report.rows,
            },
        )
    finally:
        s.close()
    return ExtractResult(d, digest, catalog, report, rows, time.perf_counter() - t0, "duckdb")
