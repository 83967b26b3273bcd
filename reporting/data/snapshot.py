"""Snapshots: extract once, report many.

A run loads and validates the data once, then writes a *snapshot*: one Parquet file
per canonical table plus ``snapshot.json``. Every report of the run reads the snapshot
(whole, with :func:`load_snapshot`, or just its slice of audits with
:func:`read_audits` / of production with :func:`read_production`, which lets DuckDB push the market/period filter down into the
Parquet scan), so the pack is consistent and fast.

The snapshot hash is the sha256 over the Parquet bytes in table order; Parquet files
are written deterministically (fixed writer options, audits and production stably
ordered by period and market), so the same data always gives the same hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from reporting.core.iorw import create_private

from .dataset import Dataset
from .normalize import empty_canonical
from .problems import DataValidationError, Problem
from .schema import TABLES

__all__ = [
    "audits_query",
    "load_snapshot",
    "read_audits",
    "read_production",
    "snapshot_hash",
    "write_snapshot",
]

MANIFEST = "snapshot.json"
FORMAT_VERSION = 1
ROW_GROUP_SIZE = 262_144
_PERIOD_RE = re.compile(r"^\d{4}-\d{2}$")


def _write_table(df: pd.DataFrame, path: Path, *, sort: Sequence[str] = ()) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tbl = pa.Table.from_pandas(df, preserve_index=False)
    if sort and len(df):
        tbl = tbl.sort_by([(c, "ascending") for c in sort])
    tmp = create_private(path.with_suffix(".parquet.tmp"))  # every reviewer's audits: 0600
    pq.write_table(
        tbl,
        tmp,
        row_group_size=ROW_GROUP_SIZE,
        compression="zstd",
        use_dictionary=True,
        write_statistics=True,
    )
    os.replace(tmp, path)


def snapshot_hash(snapshot_dir: str | os.PathLike[str]) -> str:
    """sha256 over the snapshot's Parquet bytes, in table order.

    Parameters
    ----------
    snapshot_dir : str or path
        A folder written by :func:`write_snapshot`.

    Returns
    -------
    str
        Hex digest; absent tables contribute their name only.
    """
    d = Path(snapshot_dir)
    h = hashlib.sha256()
    for name in TABLES:
        h.update(name.encode() + b"\0")
        f = d / f"{name}.parquet"
        if f.exists():
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def write_snapshot(dataset: Dataset, snapshot_dir: str | os.PathLike[str]) -> str:
    """Write a canonical data set as a Parquet snapshot and return its content hash.

    Parameters
    ----------
    dataset : Dataset
        A loaded (canonical) data set, e.g. from :func:`reporting.data.load_dataset`.
    snapshot_dir : str or path
        Folder to write (created if needed); earlier snapshot files in it are replaced.

    Returns
    -------
    str
        sha256 hex digest over the Parquet bytes in table order (deterministic: the
        same data gives the same hash).

    Raises
    ------
    ValueError
        When ``dataset`` holds raw (not loaded) tables.
    """
    missing = {"period", "is_correct"} - set(dataset.audits.columns)
    if missing:
        raise ValueError(
            "write_snapshot expects a loaded (canonical) Dataset; pass the raw tables "
            "through load_dataset first"
        )
    d = Path(snapshot_dir)
    d.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int | None] = {}
    for name in TABLES:
        df = getattr(dataset, name)
        f = d / f"{name}.parquet"
        if df is None:
            if f.exists():
                f.unlink()
            rows[name] = None
            continue
        sort = ("period", "market") if name in ("audits", "production") else ()
        _write_table(df, f, sort=sort)
        rows[name] = int(len(df))
    digest = snapshot_hash(d)
    manifest = {
        "format_version": FORMAT_VERSION,
        "hash": digest,
        "source": dataset.source,
        "rows": rows,
        "tables": [n for n in TABLES if rows[n] is not None],
    }
    create_private(d / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return digest


def _snapshot_error(d: Path, message: str) -> DataValidationError:
    return DataValidationError(
        [Problem("error", "audits", message, file=str(d), code="bad_snapshot")], source=str(d)
    )


def load_snapshot(snapshot_dir: str | os.PathLike[str], *, verify: bool = False) -> Dataset:
    """Read a snapshot written by :func:`write_snapshot` back into a :class:`Dataset`.

    Parameters
    ----------
    snapshot_dir : str or path
        The snapshot folder.
    verify : bool
        Recompute the hash and compare it with ``snapshot.json``.

    Returns
    -------
    Dataset
        Canonical frames (audits and production stably ordered by period, then
        market); ``source`` is the snapshot folder.

    Raises
    ------
    DataValidationError
        When the folder is not a readable snapshot (or the hash does not match).
    """
    import pyarrow.parquet as pq

    d = Path(snapshot_dir)
    if not (d / "audits.parquet").exists():
        raise _snapshot_error(d, f"not a data snapshot: {d / 'audits.parquet'} is missing")
    if verify:
        try:
            expected = json.loads((d / MANIFEST).read_text())["hash"]
        except (OSError, ValueError, KeyError) as exc:
            raise _snapshot_error(d, f"cannot read {MANIFEST}: {exc}") from None
        if snapshot_hash(d) != expected:
            raise _snapshot_error(d, "snapshot files changed since written (hash mismatch)")
    frames: dict[str, pd.DataFrame | None] = {}
    for name in TABLES:
        f = d / f"{name}.parquet"
        if not f.exists():
            frames[name] = None
            continue
        try:
            frames[name] = pq.read_table(f).to_pandas()
        except Exception as exc:  # noqa: BLE001
            raise _snapshot_error(d, f"cannot read {f.name}: {exc}") from None
    return Dataset(
        audits=frames["audits"],
        production=frames["production"],
        roster=frames["roster"],
        targets=frames["targets"] if frames["targets"] is not None else empty_canonical("targets"),
        events=frames["events"],
        appeals=frames["appeals"],
        coaching=frames["coaching"],
        source=str(d),
    )


def audits_query(
    snapshot_dir: str | os.PathLike[str],
    *,
    market: str | Sequence[str] | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    columns: Sequence[str] | None = None,
    team_lead: str | None = None,
) -> tuple[str, list[object]]:
    """The DuckDB query (and its parameters) behind :func:`read_audits`.

    Plain column comparisons on the Parquet scan, so DuckDB pushes them into the scan
    and skips row groups by their min/max statistics.
    """
    extra = {"team_lead": [team_lead]} if team_lead is not None else None
    return _slice_query(snapshot_dir, "audits", market, period_from, period_to, columns, extra)


_FILTER_COLUMNS = ("team_lead", "reviewer_id")


def _slice_query(
    snapshot_dir: str | os.PathLike[str],
    table: str,
    market: str | Sequence[str] | None,
    period_from: str | None,
    period_to: str | None,
    columns: Sequence[str] | None,
    equal: dict[str, Sequence[str]] | None = None,
) -> tuple[str, list[object]]:
    f = Path(snapshot_dir) / f"{table}.parquet"
    if not f.exists():
        if table == "audits":
            raise _snapshot_error(Path(snapshot_dir), f"not a data snapshot: {f} is missing")
        raise FileNotFoundError(f)
    where: list[str] = []
    params: list[object] = [str(f)]
    if market is not None:
        markets = [market] if isinstance(market, str) else [str(m) for m in market]
        if not markets:
            where.append("FALSE")
        else:
            where.append(f"market IN ({', '.join('?' for _ in markets)})")
            params.extend(markets)
    for col, values in (equal or {}).items():  # column IN (values); no values keeps no row
        if col not in _FILTER_COLUMNS:
            raise ValueError(f"cannot filter {table} on {col!r}")
        values = [str(v) for v in values]
        where.append(f"{col} IN ({', '.join('?' for _ in values)})" if values else "FALSE")
        params.extend(values)
    for bound, op in ((period_from, ">="), (period_to, "<=")):
        if bound is not None:
            if not _PERIOD_RE.match(str(bound)):
                raise ValueError(f"period bound must look like 2026-10, got {bound!r}")
            where.append(f"period {op} ?")
            params.append(str(bound))
    if columns is None:
        select = "*"
    else:
        import pyarrow.parquet as pq

        known = set(pq.read_schema(f).names)
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f"unknown {table} columns: {', '.join(unknown)}")
        select = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    sql = f"SELECT {select} FROM read_parquet(?)"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


def read_audits(
    snapshot_dir: str | os.PathLike[str],
    *,
    market: str | Sequence[str] | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    columns: Sequence[str] | None = None,
    team_lead: str | None = None,
) -> pd.DataFrame:
    """Read one slice of the snapshot's audits, filtering inside DuckDB.

    The filter is pushed down into the Parquet scan (row groups whose statistics
    exclude the slice are skipped), so a report reads only its market and periods.

    Parameters
    ----------
    snapshot_dir : str or path
        A folder written by :func:`write_snapshot`.
    market : str or sequence of str, optional
        Market(s) to keep; all when None.
    period_from, period_to : str, optional
        Inclusive bounds ``"YYYY-MM"`` on ``period``.
    columns : sequence of str, optional
        Columns to read (all when None).
    team_lead : str, optional
        Keep only the audits of this team lead's reviewers (the derived ``team_lead`` column).

    Returns
    -------
    pandas.DataFrame
        Canonical audits of the slice, in snapshot order, index 0..n-1.

    Examples
    --------
    >>> br = read_audits("snap/", market="BR", period_from="2026-09")  # doctest: +SKIP
    """
    sql, params = audits_query(
        snapshot_dir,
        market=market,
        period_from=period_from,
        period_to=period_to,
        columns=columns,
        team_lead=team_lead,
    )
    return _run(sql, params)


def _sample_condition(sample_types: Sequence[str] | None) -> tuple[str, list[object]]:
    """SQL for "in the accuracy sample" (a missing sample type counts as random, as in
    ``compute_kpis``) and its parameters."""
    if sample_types is None:
        return "TRUE", []
    types = [str(t).strip().lower() for t in sample_types]
    return f"coalesce(sample_type, 'random') IN ({', '.join('?' for _ in types)})", types


def _group_keys(by: Sequence[str], allowed: Sequence[str]) -> str:
    """``by`` as quoted SQL keys, after checking each is a column one may count by."""
    bad = [c for c in by if c not in allowed]
    if bad or not by:
        raise ValueError(f"cannot count by {bad or 'nothing'}")
    return ", ".join(f'"{c}"' for c in by)


def accuracy_counts(
    snapshot_dir: str | os.PathLike[str],
    by: Sequence[str],
    *,
    market: str | Sequence[str] | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """Audits in the accuracy sample and those QA upheld, per ``by`` group, counted in DuckDB.

    The input of :func:`reporting.metrics.compute.accuracy_from_counts`: a trend over many
    months reads a few dozen rows instead of every audit. Groups with audits but none in the
    sample are kept (``audits`` 0), as :func:`~reporting.metrics.compute.compute_kpis` keeps them.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``audits``, ``correct`` and ``last_day`` (the group's latest
        ``decision_date``), ordered by ``by``.
    """
    keys = _group_keys(by, ("market", "period", "product_line", "policy", "queue", "site",
                            "week", "decision_date"))
    sql, params = audits_query(snapshot_dir, market=market, period_from=period_from,
                               period_to=period_to)
    in_sample, sample_params = _sample_condition(sample_types)
    agg = (f"SELECT {keys}, sum(CASE WHEN {in_sample} THEN 1 ELSE 0 END)::BIGINT AS audits, "
           f"sum(CASE WHEN {in_sample} AND reviewer_decision = qa_decision THEN 1 ELSE 0 END)"
           f"::BIGINT AS correct, max(decision_date) AS last_day "
           f"FROM ({sql}) GROUP BY {keys} ORDER BY {keys}")
    return _run(agg, sample_params + sample_params + params)


def daily_accuracy_counts(
    snapshot_dir: str | os.PathLike[str],
    market: str,
    date_from: object,
    date_to: object,
    sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """Audits in the accuracy sample and those QA upheld, per day of ``market``, counted in
    DuckDB (``date, n, correct``; days without sample audits are absent). The input of a
    control chart over months, without reading the months' audits.
    """
    sql, params = audits_query(snapshot_dir, market=market)
    in_sample, sample_params = _sample_condition(sample_types)
    day = "CAST(date_trunc('day', decision_date) AS TIMESTAMP)"
    agg = (f"SELECT {day} AS date, count(*)::BIGINT AS n, "
           f"sum(CASE WHEN reviewer_decision = qa_decision THEN 1 ELSE 0 END)::BIGINT AS correct "
           f"FROM ({sql}) WHERE {in_sample} AND decision_date >= ? AND decision_date <= ? "
           f"GROUP BY 1 ORDER BY 1")
    bounds = [pd.Timestamp(date_from).to_pydatetime(), pd.Timestamp(date_to).to_pydatetime()]
    return _run(agg, params + sample_params + bounds)


def distinct_reviewers(
    snapshot_dir: str | os.PathLike[str],
    by: Sequence[str],
    *,
    market: str | Sequence[str] | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    sample_types: Sequence[str] | None = ("random",),
) -> pd.DataFrame:
    """Distinct reviewers with accuracy-sample audits per ``by`` group (``by`` + ``reviewers``),
    counted in DuckDB: what a market report checks before it shows a group (privacy)."""
    keys = _group_keys(by, ("market", "period", "product_line", "policy", "queue"))
    sql, params = audits_query(snapshot_dir, market=market, period_from=period_from,
                               period_to=period_to)
    in_sample, sample_params = _sample_condition(sample_types)
    agg = (f"SELECT {keys}, count(DISTINCT reviewer_id)::BIGINT AS reviewers FROM ({sql}) "
           f"WHERE {in_sample} GROUP BY {keys} ORDER BY {keys}")
    return _run(agg, params + sample_params)


def read_production(
    snapshot_dir: str | os.PathLike[str],
    *,
    market: str | Sequence[str] | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    columns: Sequence[str] | None = None,
    reviewers: Sequence[str] | None = None,
) -> pd.DataFrame | None:
    """Read one slice of the snapshot's production table (as :func:`read_audits`);
    ``reviewers`` keeps only those reviewers' rows.

    Returns
    -------
    pandas.DataFrame or None
        Canonical production rows of the slice; None when the snapshot has no
        production table.
    """
    try:
        sql, params = _slice_query(
            snapshot_dir, "production", market, period_from, period_to, columns,
            {"reviewer_id": reviewers} if reviewers is not None else None,
        )
    except FileNotFoundError:
        return None
    return _run(sql, params)


def _run(sql: str, params: list[object]) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect()
    try:
        # execute() binds parameters once; con.sql(..., params=) was several times slower here.
        tbl = con.execute(sql, params).to_arrow_table()
    finally:
        con.close()
    return tbl.to_pandas().reset_index(drop=True)
