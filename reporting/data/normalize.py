"""Turning a raw table into its canonical frame, collecting a Problem for each bad value.

Conversion and checking happen in one vectorised pass per column: text is stripped
(categories also lower-cased), numbers and dates are parsed, and every value that does
not fit the contract becomes a :class:`~reporting.data.problems.Problem` (grouped by
offending value, with the count of rows and an example line) and is set to missing in
the returned frame.

Low-cardinality text columns are converted through their distinct values
(``pandas.factorize``), so a 10-million-row table costs one hash pass per column.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

from .problems import Problem
from .readers import RawTable
from .schema import (
    CANONICAL_COLUMNS,
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
    if is_bool_dtype(s.dtype) or is_numeric_dtype(s.dtype):
        if not is_bool_dtype(s.dtype) and s.dtype.kind == "f":
            vals = s.to_numpy(dtype="float64", na_value=np.nan)
            finite = np.isfinite(vals)
            if np.all(vals[finite] == np.round(vals[finite])):
                s = s.astype("Int64")
        out = s.astype(STR)
        out.index = s.index
        return out.mask(s.isna())
    if is_datetime64_any_dtype(s.dtype):
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").astype(STR)
    if unique:
        out = s.astype(STR).str.strip()
        if lower:
            out = out.str.lower()
        return out.mask(out == "")
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    u0 = pd.Series(uniques)
    u = u0 if u0.dtype == STR else u0.map(_scalar_text).astype(STR)
    u = u.str.strip()
    if lower:
        u = u.str.lower()
    u = u.mask(u == "")
    if s.dtype == STR and u0.dtype == STR and u.equals(u0):
        return s  # already clean: no need to rebuild the column
    return _take(u, codes, s.index)


def _scalar_text(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ")
    if hasattr(v, "isoformat"):
        return v.isoformat()  # datetime.date / datetime.datetime
    return str(v)


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
    if is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        parsed = s.dt.normalize().astype("datetime64[ns]")
        invalid = pd.Series(False, index=s.index)
        return parsed, invalid
    text = to_text(s)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=STR)
    u = u.mask(u.str.lower().isin(NULL_TOKENS))
    ok = u.str.fullmatch(_ISO_DATE_RE).fillna(False).astype(bool)
    parsed_u = pd.to_datetime(u.str.slice(0, 10).where(ok), format="%Y-%m-%d", errors="coerce")
    parsed_u = parsed_u.astype("datetime64[ns]")
    parsed = pd.Series(parsed_u.array.take(codes, allow_fill=True), index=s.index)
    null_u = u.isna().to_numpy()
    given = (codes >= 0) & ~np.append(null_u, True)[codes]
    invalid = pd.Series(given & parsed.isna().to_numpy(), index=s.index)
    return parsed, invalid


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
    if is_numeric_dtype(s.dtype) and not is_bool_dtype(s.dtype):
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

    def _row_id(self, label: int, column: str | None) -> str | None:
        if self.id_text is None or column == self.spec.id_column:
            return None
        v = self.id_text.get(label)
        if v is None or pd.isna(v):
            return None
        return f"{self.spec.id_column} {v}"

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
    return str(v)


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
    for name in missing:
        found = ", ".join(present[:20]) + (", ..." if len(present) > 20 else "")
        problems.append(
            raw.problem(
                f"required column is missing{_column_hint(name, present)} "
                f"(columns found: {found or 'none'})",
                column=name,
                expected=f"a column named {name!r}",
                code="missing_column",
            )
        )
    contract = set(spec.names)
    doubled = sorted({c for c in present if present.count(c) > 1 and c in contract})
    for name in doubled:
        problems.append(
            raw.problem(
                f"column appears {present.count(name)} times",
                column=name,
                expected="each column once",
                code="duplicate_column",
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

    id_text = None
    if spec.id_column and spec.id_column in df:
        id_text = to_text(df[spec.id_column], unique=True)
    rep = ProblemCollector(raw, spec, id_text)
    out: dict[str, pd.Series] = {}
    n = len(df)
    for c in spec.columns:
        if c.name not in df:
            out[c.name] = _absent_column(spec.name, c, df.index)
            continue
        out[c.name] = _convert_column(
            df[c.name], c, rep, spec, check_unique, id_text if c.name == spec.id_column else None
        )
    frame = pd.DataFrame(out, index=df.index)
    extras = [c for c in df.columns if c not in out]
    for c in extras:
        frame[c] = df[c]
    assert len(frame) == n
    _table_checks(spec.name, frame, rep)
    problems.extend(rep.problems)
    return frame, problems


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
) -> pd.Series:
    name = c.name
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
        values: pd.Series = text
    elif c.kind == "date":
        values, invalid = parse_dates(s)
        nulls = values.isna() & ~invalid
        rep.add(
            name,
            invalid,
            lambda idx: to_text(s.loc[idx]),
            lambda v, n: f"{v!r} is not a valid date, expected YYYY-MM-DD",
            expected=c.expected,
            code="bad_date",
        )
    else:
        values, invalid = parse_numbers(s)
        nulls = values.isna() & ~invalid
        rep.add(
            name,
            invalid,
            lambda idx: to_text(s.loc[idx]),
            lambda v, n: f"{v!r} is not a number, expected {c.expected}",
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
                values = values.fillna(0).astype("int64")
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


def _table_checks(table: str, frame: pd.DataFrame, rep: ProblemCollector) -> None:
    if table == "production":
        over = frame["sla_met"] > frame["cases_handled"]

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
