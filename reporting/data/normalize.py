"""Turning a raw table into its canonical frame, collecting a Problem for each bad value.

Conversion and checking happen in one vectorised pass per column: text is stripped
(categories also lower-cased), numbers and dates are parsed, and every value that does
not fit the contract becomes a :class:`~reporting.data.problems.Problem` (grouped by
offending value, with the count of rows and an example line) and is set to missing in
the returned frame.

Low-cardinality text columns are converted through their distinct values
(``pandas.factorize``), so a 10-million-row table costs one hash pass per column.

Text is compared as people see it: whitespace and invisible format characters (zero-width
spaces, BOMs, bidirectional marks) are removed from both ends and non-ASCII text is put in
Unicode NFC form, so ``'DE\u200b'`` is market ``DE`` and a decomposed ``'Cafe\u0301'`` is the
same policy as ``'Caf\u00e9'``. Values no column can hold (lists, binary data that is not
UTF-8, complex numbers), dates outside :data:`~reporting.data.schema.DATE_MIN` ..
:data:`~reporting.data.schema.DATE_MAX` and numbers beyond the sanity bounds of the schema
are problems like any other bad value, located by column and row.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import difflib
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

from .problems import Problem
from .readers import RawTable, clean_name
from .schema import (
    ASCII_UPPER,
    CANONICAL_COLUMNS,
    DATE_MAX,
    DATE_MIN,
    KNOWN_KPIS,
    RATE_KPIS,
    ColumnSpec,
    TableSpec,
)

__all__ = [
    "MAX_VALUES_PER_CHECK",
    "empty_canonical",
    "normalize_table",
    "parse_dates",
    "parse_numbers",
    "to_text",
]

#: Distinct offending values listed one by one per column and check; the rest are summed up.
MAX_VALUES_PER_CHECK = 8

#: Text read as "missing" in number and date columns (case-insensitive).
NULL_TOKENS = frozenset({"na", "n/a", "nan", "null", "none", "nat"})

#: Longest offending value or row id quoted in a problem; longer ones are cut.
MAX_SHOWN_CHARS = 60

_DATE_LO = pd.Timestamp(DATE_MIN)
_DATE_HI = pd.Timestamp(DATE_MAX)

_ISO_DATE_RE = (
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)

STR = "str"


# ---------------------------------------------------------------------------------
# vectorised converters


def _take(uniques: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    arr = uniques.array.take(codes, allow_fill=True)
    return pd.Series(arr, index=index, name=None)


def to_text(s: pd.Series, *, lower: bool = False, unique: bool = False) -> pd.Series:
    """Text column: ``str`` dtype, whitespace-stripped, empty strings as missing.

    Parameters
    ----------
    s : pandas.Series
        Any dtype (numbers become their shortest text, whole floats without ``.0``).
    lower : bool
        Also lower-case (for category columns).
    unique : bool
        Hint that values are mostly distinct (ids): skips the distinct-value path.

    Returns
    -------
    pandas.Series
        ``str`` dtype, same index.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype)
    simple = is_bool_dtype(s.dtype) or (is_numeric_dtype(s.dtype) and s.dtype.kind != "c")
    if simple and not is_bool_dtype(s.dtype) and s.dtype.kind == "f":
        vals = s.to_numpy(dtype="float64", na_value=np.nan)
        v = vals[~np.isnan(vals)]
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)) and np.all(np.abs(v) < 2**53):
            s = s.astype("Int64")
        else:  # infinities or whole floats beyond 2**53: via their distinct values
            simple = unique = False
    if simple:
        out = s.astype(STR)
        out.index = s.index
        return out.mask(s.isna())
    if is_datetime64_any_dtype(s.dtype):
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").astype(STR)
    if unique:
        out = _clean_text(s.astype(STR))
        if lower:
            out = out.str.lower()
        return out.mask(out == "")
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    u0 = pd.Series(uniques)
    u = u0 if u0.dtype == STR else u0.map(_scalar_text).astype(STR)
    u = _clean_text(u)
    if lower:
        u = u.str.lower()
    u = u.mask(u == "")
    if s.dtype == STR and u0.dtype == STR and u.equals(u0):
        return s  # already clean: no need to rebuild the column
    return _take(u, codes, s.index)


def _clean_text(u: pd.Series) -> pd.Series:
    """Strip whitespace; for non-ASCII values also invisible edge characters and NFC form."""
    u = u.str.strip()
    odd = u.notna() & ~u.str.isascii().fillna(True).astype(bool)
    if odd.any():
        u = u.copy()
        u[odd] = u[odd].map(clean_name)
    return u


def _scalar_text(v: object) -> object:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()  # datetime.date / datetime.datetime / datetime.time
    return str(v)


# ---------------------------------------------------------------------------------
# values no column can hold


_SCALAR_TYPES = (
    str,
    bool,
    int,
    float,
    decimal.Decimal,
    _dt.date,
    _dt.time,
    pd.Timestamp,
    np.bool_,
    np.integer,
    np.floating,
    np.datetime64,
)


def _hashable(v: object) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _odd_kind(v: object) -> str | None:
    """Why ``v`` cannot be a table value (None: it can)."""
    if v is None or v is pd.NA or v is pd.NaT or isinstance(v, _SCALAR_TYPES):
        return None
    if isinstance(v, (bytes, bytearray, memoryview)):
        try:
            bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            return "binary data that is not UTF-8 text"
        return None
    if isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
        return "a list of values"
    if isinstance(v, dict):
        return "a mapping of values"
    if isinstance(v, (complex, np.complexfloating)):
        return "a complex number"
    return f"a value of type {type(v).__name__}"


def _prepare(s: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    """Set values that no column can hold to missing; return them as a display series.

    Only ``object`` and complex columns can hold such values (lists or arrays from Parquet
    list columns or in-memory frames, binary data, arbitrary objects); UTF-8 ``bytes`` are
    decoded (Parquet writers that store text as plain BINARY).

    Returns
    -------
    values : pandas.Series
        ``s`` with the odd values set to missing (and bytes decoded).
    odd : pandas.Series or None
        Description of each odd value (NA elsewhere), None when there is none.
    """
    if s.dtype.kind == "c":
        odd = pd.Series(None, index=s.index, dtype=object)
        given = s.notna().to_numpy()
        odd[given] = [f"a complex number {v}" for v in s[given]]
        return pd.Series(np.nan, index=s.index, dtype="float64"), odd
    if s.dtype != object:
        return s, None
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts, arrays)
        unhashable = s.map(lambda v: not _hashable(v)).to_numpy(dtype=bool)
        shown = s.where(unhashable, None).astype(object)
        s = s.where(~unhashable, None).astype(object)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    else:
        unhashable = None
        shown = None
    u = pd.Series(uniques, dtype=object)
    kinds = [_odd_kind(v) for v in u]
    is_bytes = [isinstance(v, (bytes, bytearray, memoryview)) for v in u]
    if not any(k is not None for k in kinds) and not any(is_bytes) and unhashable is None:
        return s, None
    good = u.copy()
    for k, (kind, b) in enumerate(zip(kinds, is_bytes, strict=True)):
        if kind is not None:
            good.iloc[k] = None
        elif b:
            good.iloc[k] = bytes(u.iloc[k]).decode("utf-8")
    values = pd.Series(good.array.take(codes, allow_fill=True), index=s.index, dtype=object)
    odd_u = pd.Series(
        [None if kind is None else f"{kind} {_short(u.iloc[k])}" for k, kind in enumerate(kinds)],
        dtype=object,
    )
    odd = pd.Series(odd_u.array.take(codes, allow_fill=True), index=s.index, dtype=object)
    if unhashable is not None and shown is not None:
        odd[unhashable] = [
            f"{_odd_kind(v) or 'an unhashable value'} {_short(v)}" for v in shown[unhashable]
        ]
    if odd.isna().all():
        return values, None
    return values, odd


def parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a date column to midnight ``datetime64[ns]``.

    Accepts ISO ``YYYY-MM-DD``, ISO datetime strings (the written calendar date is
    kept, whatever the time zone), and native date/datetime values.

    Parameters
    ----------
    s : pandas.Series
        Raw column.

    Returns
    -------
    parsed : pandas.Series
        ``datetime64[ns]`` at midnight, NaT where missing or invalid.
    invalid : pandas.Series
        Boolean, True where a value was given but is not a valid date.
    """
    parsed, invalid, _ = _parse_dates(s)
    return parsed, invalid


def _in_window(d: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates (any datetime64 unit) inside DATE_MIN..DATE_MAX as ``datetime64[ns]``; outside mask."""
    outside = d.notna() & ((d < _DATE_LO) | (d > _DATE_HI))
    if outside.any():
        d = d.mask(outside)
    return d.astype("datetime64[ns]"), outside


def _parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """:func:`parse_dates`, plus the mask of valid dates outside DATE_MIN..DATE_MAX
    (they are in ``invalid`` too)."""
    if is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        parsed, outside = _in_window(s.dt.normalize())
        return parsed, outside.copy(), outside
    text = to_text(s)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=STR)
    u = u.mask(u.str.lower().isin(NULL_TOKENS))
    ok = u.str.fullmatch(_ISO_DATE_RE).fillna(False).astype(bool)
    parsed_u = pd.to_datetime(u.str.slice(0, 10).where(ok), format="%Y-%m-%d", errors="coerce")
    parsed_u, outside_u = _in_window(parsed_u)
    parsed = pd.Series(parsed_u.array.take(codes, allow_fill=True), index=s.index)
    null_u = u.isna().to_numpy()
    given = (codes >= 0) & ~np.append(null_u, True)[codes]
    invalid = pd.Series(given & parsed.isna().to_numpy(), index=s.index)
    outside = pd.Series(np.append(outside_u.to_numpy(dtype=bool), False)[codes], index=s.index)
    return parsed, invalid, outside


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a number column to ``float64``.

    Parameters
    ----------
    s : pandas.Series
        Raw column (numbers or text).

    Returns
    -------
    values : pandas.Series
        ``float64``; NaN where missing or invalid.
    invalid : pandas.Series
        Boolean, True where a value was given but is not a finite number.
    """
    if is_numeric_dtype(s.dtype) and not is_bool_dtype(s.dtype) and s.dtype.kind != "c":
        values = s.astype("float64")
        invalid = pd.Series(np.isinf(values.to_numpy()), index=s.index)
        return values.mask(invalid), invalid
    text = to_text(s)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=STR)
    u = u.mask(u.str.lower().isin(NULL_TOKENS))
    num_u = pd.to_numeric(u, errors="coerce").astype("float64")
    bad_u = u.notna() & (num_u.isna() | np.isinf(num_u))
    num_u = num_u.mask(bad_u)
    values = pd.Series(np.append(num_u.to_numpy(), np.nan)[codes], index=s.index)
    invalid = pd.Series(np.append(bad_u.to_numpy(), False)[codes], index=s.index)
    return values, invalid


# ---------------------------------------------------------------------------------
# problem reporting


class ProblemCollector:
    """Builds grouped Problems for one raw table."""

    def __init__(self, raw: RawTable, spec: TableSpec, id_text: pd.Series | None) -> None:
        self.raw = raw
        self.spec = spec
        self.id_text = id_text
        self.problems: list[Problem] = []
        #: per column, the rows whose value was bad or missing (set to a default)
        self.unusable: dict[str, pd.Series] = {}

    def _row_id(self, label: int, column: str | None) -> str | None:
        if self.id_text is None or column == self.spec.id_column:
            return None
        v = self.id_text.get(label)
        if v is None or pd.isna(v):
            return None
        return f"{self.spec.id_column} {_short(v)}"

    def add(
        self,
        column: str | None,
        mask: pd.Series,
        shown: pd.Series | Callable[[pd.Index], pd.Series],
        message: Callable[[str, int], str],
        *,
        expected: str,
        code: str,
        severity: str = "error",
        by_value: bool = True,
    ) -> None:
        """Report the rows where ``mask`` is True.

        Parameters
        ----------
        column : str or None
            Column concerned.
        mask : pandas.Series
            Boolean, aligned with the raw frame.
        shown : pandas.Series or callable
            Display value of each row's offending value, or a function of the
            offending rows' index returning them (computed only when needed).
        message : callable
            ``message(value_text, n_rows) -> str``.
        expected : str
            What was expected.
        code : str
            Problem kind.
        severity : {"error", "warning"}
            Problem severity.
        by_value : bool
            One Problem per distinct value (up to MAX_VALUES_PER_CHECK) or one for all.
        """
        m = mask.to_numpy(dtype=bool, na_value=False)
        if not m.any():
            return
        idx = mask.index[m]
        vals = shown(idx) if callable(shown) else shown.loc[idx]
        disp = vals.astype(object).where(vals.notna(), None).to_numpy()
        if not by_value:
            first = idx[0]
            v = _display(disp[0])
            self._emit(
                column, v, int(m.sum()), first, message(v, int(m.sum())), expected, code, severity
            )
            return
        codes, uniq = pd.factorize(pd.Series(disp, dtype=object), use_na_sentinel=False)
        counts = np.bincount(codes)
        _, first_pos = np.unique(codes, return_index=True)
        order = sorted(range(len(uniq)), key=lambda k: (-counts[k], first_pos[k]))
        for k in order[:MAX_VALUES_PER_CHECK]:
            v = _display(uniq[k])
            n = int(counts[k])
            self._emit(column, v, n, idx[first_pos[k]], message(v, n), expected, code, severity)
        rest = order[MAX_VALUES_PER_CHECK:]
        if rest:
            n_rows = int(sum(counts[k] for k in rest))
            k0 = min(rest, key=lambda k: first_pos[k])
            v = _display(uniq[k0])
            self._emit(
                column,
                v,
                n_rows,
                idx[first_pos[k0]],
                f"{len(rest)} more distinct values with the same problem, e.g. "
                f"{message(v, int(counts[k0]))}",
                expected,
                code,
                severity,
            )

    def _emit(
        self,
        column: str | None,
        value: str | None,
        count: int,
        label: int,
        message: str,
        expected: str,
        code: str,
        severity: str,
    ) -> None:
        self.problems.append(
            self.raw.problem(
                message,
                severity=severity,
                column=column,
                value=value,
                line=self.raw.line_of(label),
                row_id=self._row_id(label, column),
                count=count,
                expected=expected,
                code=code,
            )
        )


def _display(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "<empty>"
    return _short(v)


def _short(v: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``str(v)``, cut to ``limit`` characters (a 5 MB cell must not make a 5 MB message)."""
    text = str(v)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}... ({len(text):,} characters)"


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _formatted(values: pd.Series) -> Callable[[pd.Index], pd.Series]:
    """Lazy display of numbers: formats only the offending rows."""
    return lambda idx: values.loc[idx].map(_fmt_num, na_action="ignore")


# ---------------------------------------------------------------------------------
# table conversion


def _column_hint(name: str, present: list[str]) -> str:
    lower = {c.lower().replace(" ", "_"): c for c in present}
    if name in lower and lower[name] != name:
        return f"; found {lower[name]!r}: column names are case-sensitive, rename it to {name!r}"
    close = difflib.get_close_matches(name, present, n=1, cutoff=0.75)
    if close:
        return f"; did you mean {close[0]!r}?"
    return ""


def empty_canonical(table: str) -> pd.DataFrame:
    """An empty canonical frame of ``table`` with the right columns and dtypes."""
    from .schema import CONTRACT

    spec = CONTRACT[table]
    data: dict[str, pd.Series] = {}
    for c in spec.columns:
        data[c.name] = pd.Series([], dtype=_canonical_dtype(table, c))
    df = pd.DataFrame(data)
    if table == "audits":
        df["is_correct"] = pd.Series([], dtype=bool)
        for c in ("error_type", "period"):
            df[c] = pd.Series([], dtype=STR)
        df["week"] = pd.Series([], dtype="datetime64[ns]")
        df["tenure_days"] = pd.Series([], dtype="float64")
        for c in ("team_lead", "site"):
            df[c] = pd.Series([], dtype=STR)
    if table == "production":
        df["period"] = pd.Series([], dtype=STR)
        df["week"] = pd.Series([], dtype="datetime64[ns]")
    return df[CANONICAL_COLUMNS[table]]


def _canonical_dtype(table: str, c: ColumnSpec) -> str:
    if c.kind == "date":
        return "datetime64[ns]"
    if c.kind == "float":
        return "float64"
    if c.kind == "int":
        return "float64" if c.nullable else "int64"
    return STR


def normalize_table(
    raw: RawTable, spec: TableSpec, *, check_unique: bool = True
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Convert one raw table to its canonical columns (derived columns excluded).

    Parameters
    ----------
    raw : RawTable
        The table as read.
    spec : TableSpec
        Its contract.
    check_unique : bool
        Run the (costlier) uniqueness checks.

    Returns
    -------
    frame : pandas.DataFrame or None
        Contract columns in canonical order, then any extra input columns; index =
        position in the source. None when a required column is missing (or a
        contract column appears twice).
    problems : list of Problem
        Every problem found in the table.
    """
    df = raw.frame
    present = [str(c) for c in df.columns]
    problems: list[Problem] = []
    missing = [c for c in spec.required_names if c not in present]
    # column problems point at the header line of a CSV / the first row of a sheet
    header_line = raw.header_location()
    for name in missing:
        found = ", ".join(_name_shown(c) for c in present[:20])
        found += f", ... ({len(present)} columns)" if len(present) > 20 else ""
        problems.append(
            raw.problem(
                f"required column is missing{_column_hint(name, present)} "
                f"(columns found: {found or 'none'})",
                column=name,
                expected=f"a column named {name!r}",
                code="missing_column",
                **header_line,
            )
        )
    contract = set(spec.names)
    counts = Counter(raw.header if raw.header is not None else present)
    doubled = sorted(c for c in contract if counts[c] > 1)
    for name in doubled:
        problems.append(
            raw.problem(
                f"column appears {counts[name]} times",
                column=name,
                expected="each column once",
                code="duplicate_column",
                **header_line,
            )
        )
    if missing or doubled:
        return None, problems
    if len(df) == 0:
        problems.append(
            raw.problem(
                "table is empty (header only, no data rows)",
                severity="error" if spec.required else "warning",
                expected="at least one data row",
                code="empty_table",
            )
        )
        return empty_canonical(spec.name), problems

    prepared = {c.name: _prepare(df[c.name]) for c in spec.columns if c.name in df}
    id_text = None
    if spec.id_column and spec.id_column in prepared:
        id_text = to_text(prepared[spec.id_column][0], unique=True)
    rep = ProblemCollector(raw, spec, id_text)
    out: dict[str, pd.Series] = {}
    n = len(df)
    for c in spec.columns:
        if c.name not in prepared:
            out[c.name] = _absent_column(spec.name, c, df.index)
            continue
        values, odd = prepared.pop(c.name)
        try:
            out[c.name] = _convert_column(
                values,
                c,
                rep,
                spec,
                check_unique,
                id_text if c.name == spec.id_column else None,
                odd,
            )
        except Exception as exc:  # noqa: BLE001 - still name the column, never a traceback
            problems.append(
                raw.problem(
                    f"cannot interpret the column: {type(exc).__name__}: {_short(exc, 200)}",
                    column=c.name,
                    expected=c.expected,
                    code="unreadable",
                )
            )
            out[c.name] = _absent_column(spec.name, c, df.index)
    frame = pd.DataFrame(out, index=df.index)
    extra_pos = [i for i, c in enumerate(df.columns) if c not in out]
    if extra_pos:
        names = unique_names([str(df.columns[i]) for i in extra_pos], set(out))
        extras = pd.DataFrame(
            {name: _extra_column(df.iloc[:, i]) for name, i in zip(names, extra_pos, strict=True)},
            index=df.index,
        )
        frame = pd.concat([frame, extras], axis=1)
    assert len(frame) == n
    _table_checks(spec.name, frame, rep, check_unique=check_unique)
    problems.extend(rep.problems)
    return frame, problems


def _extra_column(s: pd.Series) -> pd.Series:
    """An extra (non-contract) column, kept as read; a column of mixed Python objects (an
    Excel ``notes`` column with numbers and text) becomes text, so it can be written to
    Parquet (the run's snapshot) like any other column."""
    if s.dtype != object:
        return s
    try:
        return to_text(s)
    except TypeError:  # unhashable values (lists, dicts)
        return s.map(lambda v: None if v is None else _scalar_text(v)).astype(STR)


def unique_names(names: list[str], taken: set[str]) -> list[str]:
    """Extra column names made unique (a second ``note`` becomes ``note.1``); the DuckDB
    extract names them the same way."""
    seen = set(taken)
    out = []
    for name in names:
        new, k = name, 0
        while new in seen:
            k += 1
            new = f"{name}.{k}"
        seen.add(new)
        out.append(new)
    return out


def _name_shown(name: object) -> str:
    text = _short(name, 40)
    return text if text.isprintable() else repr(text)


def _absent_column(table: str, c: ColumnSpec, index: pd.Index) -> pd.Series:
    dtype = _canonical_dtype(table, c)
    if c.default is not None:
        return pd.Series(c.default, index=index, dtype=STR)
    if dtype == STR:
        return pd.Series(np.nan, index=index, dtype=STR)
    if dtype == "datetime64[ns]":
        return pd.Series(pd.NaT, index=index, dtype=dtype)
    return pd.Series(np.nan, index=index, dtype="float64")


def _convert_column(
    s: pd.Series,
    c: ColumnSpec,
    rep: ProblemCollector,
    spec: TableSpec,
    check_unique: bool,
    text_hint: pd.Series | None,
    odd: pd.Series | None = None,
) -> pd.Series:
    name = c.name
    if odd is not None:
        rep.add(
            name,
            odd.notna(),
            odd,
            lambda v, n: f"{v} cannot be read as {c.expected}",
            expected=c.expected,
            code="bad_type",
        )
    if c.kind in ("str", "category"):
        text = (
            text_hint
            if text_hint is not None
            else to_text(s, lower=c.kind == "category", unique=c.unique)
        )
        nulls = text.isna()
        if c.allowed:
            bad = text.notna() & ~text.isin(list(c.allowed))
            rep.add(
                name,
                bad,
                text,
                lambda v, n: f"{v!r} is not one of {'/'.join(c.allowed)}",
                expected=c.expected,
                code="unknown_value",
            )
            text = text.mask(bad)
        if c.unique and check_unique:
            dup = text.notna() & text.duplicated(keep=False)
            rep.add(
                name,
                dup,
                text,
                lambda v, n: f"{v!r} appears {n} times, expected each {name} once",
                expected="unique values",
                code="duplicate",
            )
        if c.upper:
            text = _upper_codes(text, rep, name)
        values: pd.Series = text
    elif c.kind == "date":
        values, invalid, outside = _parse_dates(s)
        nulls = values.isna() & ~invalid
        rep.add(
            name,
            invalid & ~outside,
            lambda idx: to_text(s.loc[idx]),
            lambda v, n: f"{v!r} is not a valid date, expected YYYY-MM-DD",
            expected=c.expected,
            code="bad_date",
        )
        rep.add(
            name,
            outside,
            lambda idx: to_text(s.loc[idx]),
            lambda v, n: (
                f"{v!r} is outside the supported dates {DATE_MIN} to {DATE_MAX} "
                "(a placeholder or a typo?), expected a real date YYYY-MM-DD"
            ),
            expected=f"a date YYYY-MM-DD from {DATE_MIN} to {DATE_MAX}",
            code="bad_date",
        )
    else:
        values, invalid = parse_numbers(s)
        nulls = values.isna() & ~invalid
        rep.add(
            name,
            invalid,
            lambda idx: to_text(s.loc[idx]),
            lambda v, n: number_message(v, c.expected, rep.raw.sep),
            expected=c.expected,
            code="bad_type",
        )
        if c.min_value is not None:
            low = values < c.min_value if c.min_inclusive else values <= c.min_value
            word = "negative" if (c.min_inclusive and c.min_value == 0) else "out of range"
            rep.add(
                name,
                low,
                _formatted(values),
                lambda v, n: f"{v} is {word}, expected {c.expected}",
                expected=c.expected,
                code="out_of_range",
                by_value=False,
            )
            values = values.mask(low)
        hi = c.upper_bound
        if hi is not None:
            big = (values > hi) if c.min_value is not None else (values.abs() > hi)
            rep.add(
                name,
                big,
                _formatted(values),
                lambda v, n: (
                    f"{v} is implausibly large (beyond {hi:g}, a unit or entry error?), "
                    f"expected {c.expected}"
                ),
                expected=f"{c.expected}, at most {hi:g}",
                code="out_of_range",
                by_value=False,
            )
            values = values.mask(big)
        if c.kind == "int":
            frac = values.notna() & (values != np.floor(values))
            rep.add(
                name,
                frac,
                _formatted(values),
                lambda v, n: f"{v} is not a whole number, expected {c.expected}",
                expected=c.expected,
                code="not_integer",
                by_value=False,
            )
            values = values.mask(frac)
            if not c.nullable:
                rep.unusable[name] = values.isna()
                values = values.fillna(0).astype("int64")
    if odd is not None:
        nulls = nulls & odd.isna()
    if not c.nullable:
        rep.add(
            name,
            nulls,
            pd.Series(None, index=nulls.index, dtype=object),
            lambda v, n: f"missing value, expected {c.expected}",
            expected=c.expected,
            code="missing_value",
            by_value=False,
        )
    if c.default is not None:
        values = values.fillna(c.default)
    return values


_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d+")


def number_message(value: str, expected: str, sep: str | None) -> str:
    """Wording of a ``bad_type`` number (shared with the DuckDB extract), with a hint when a
    ``;``-separated file holds decimal commas (a European-locale spreadsheet export)."""
    text = f"{value!r} is not a number, expected {expected}"
    if sep == ";" and _DECIMAL_COMMA_RE.fullmatch(value):
        text += (
            " (the file looks like ';'-separated with decimal commas: export it with ',' as "
            "the separator and '.' as the decimal mark, e.g. as 'CSV UTF-8' with the system "
            "decimal separator set to '.')"
        )
    return text


def upper_message(value: str, n: int) -> str:
    """Wording of the ``normalised_case`` warning (shared with the DuckDB extract)."""
    return (
        f"{n:,} value{'s' if n != 1 else ''} written in lower or mixed case "
        f"{'were' if n != 1 else 'was'} upper-cased, e.g. {value!r} -> "
        f"{value.translate(ASCII_UPPER)!r} (codes are compared in upper case)"
    )


UPPER_EXPECTED = "a code in upper case (BR, not br)"


def _upper_codes(text: pd.Series, rep: ProblemCollector, name: str) -> pd.Series:
    """ASCII letters of a code column upper-cased (via its distinct values), with a warning
    counting the values that changed."""
    codes, uniq = pd.factorize(text, use_na_sentinel=True)
    u = pd.Series(uniq, dtype=STR)
    up = u.str.translate(ASCII_UPPER)
    if up.equals(u):
        return text
    changed_u = (up != u).to_numpy(dtype=bool)
    changed = pd.Series(np.append(changed_u, False)[codes], index=text.index)
    rep.add(
        name,
        changed,
        text,
        upper_message,
        expected=UPPER_EXPECTED,
        code="normalised_case",
        severity="warning",
        by_value=False,
    )
    return _take(up, codes, text.index)


def _table_checks(
    table: str, frame: pd.DataFrame, rep: ProblemCollector, *, check_unique: bool = True
) -> None:
    if table == "production" and check_unique:
        key = ["date", "reviewer_id", "market", "product_line", "queue"]
        k = frame[key]
        dup = k[["date", "reviewer_id"]].notna().all(axis=1) & k.duplicated(keep=False)
        if dup.any():

            def shown_key(idx: pd.Index) -> pd.Series:
                d = k.loc[idx]
                text = d["reviewer_id"].astype(object) + " on " + d["date"].dt.strftime("%Y-%m-%d")
                rest = d[["market", "product_line", "queue"]].astype(object).fillna("-")
                return text + " (" + rest.agg(" / ".join, axis=1) + ")"

            rep.add(
                "reviewer_id",
                dup,
                shown_key,
                lambda v, n: (
                    f"{v} appears {n} times, expected one row per reviewer, day, market, "
                    "product line and queue (the rows would be counted twice)"
                ),
                expected="one row per reviewer_id, date, market, product_line and queue",
                code="duplicate",
            )
    if table == "production":
        over = frame["sla_met"] > frame["cases_handled"]
        if "cases_handled" in rep.unusable:  # already reported: no second problem for the row
            over &= ~rep.unusable["cases_handled"]

        def shown(idx: pd.Index) -> pd.Series:
            sla = frame.loc[idx, "sla_met"].map(_fmt_num)
            cases = frame.loc[idx, "cases_handled"].astype(str)
            return sla.astype(object) + " > cases_handled " + cases.astype(object)

        rep.add(
            "sla_met",
            over,
            shown,
            lambda v, n: f"sla_met is greater than cases_handled ({v})",
            expected="sla_met <= cases_handled",
            code="sla_exceeds_cases",
            by_value=False,
        )
        frame.loc[over.to_numpy(), "sla_met"] = np.nan
        long = frame["productive_hours"] > 24
        rep.add(
            "productive_hours",
            long,
            _formatted(frame["productive_hours"]),
            lambda v, n: f"{v} productive hours in one day",
            expected="at most 24 hours per reviewer per day",
            code="implausible",
            severity="warning",
            by_value=False,
        )
    elif table == "targets":
        kpi = frame["kpi"]
        unknown = kpi.notna() & ~kpi.isin(list(KNOWN_KPIS))
        rep.add(
            "kpi",
            unknown,
            kpi,
            lambda v, n: f"{v!r} is not a known KPI name (the target is ignored by reports)",
            expected="a KPI of docs/conventions.md, e.g. accuracy",
            code="unknown_kpi",
            severity="warning",
        )
        is_rate = kpi.isin(list(RATE_KPIS))
        bad = is_rate & ((frame["target"] < 0) | (frame["target"] > 1))
        rep.add(
            "target",
            bad,
            _formatted(frame["target"]),
            lambda v, n: (
                f"{v} is not a fraction in [0, 1] (rates are fractions: write 0.95, not 95)"
            ),
            expected="a fraction in [0, 1] for rate KPIs",
            code="out_of_range",
            by_value=False,
        )
        key = frame[["kpi", "market", "product_line", "effective_from"]].astype(str)
        dup = kpi.notna() & key.duplicated(keep=False)
        rep.add(
            "kpi",
            dup,
            key["kpi"] + " / " + key["market"] + " / " + key["product_line"],
            lambda v, n: f"target {v} is given {n} times for the same effective_from",
            expected="one target per kpi, market, product_line and effective_from",
            code="duplicate",
        )
