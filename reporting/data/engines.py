"""Warehouse engines through one portable layer (Ibis): the extract written once, run anywhere.

``--data`` may name an engine instead of files:

========================================  ==================================================
URL                                       engine
========================================  ==================================================
``duckdb:///abs/path.ddb``                a DuckDB database file (Ibis duckdb backend),
                                          one table per contract table
``duckdb:///abs/folder``                  in-process DuckDB over ``<folder>/<table>.parquet``
``spark:///abs/folder``                   a local Spark session (``local[2]``) reading
                                          ``<folder>/<table>.parquet``
``spark://HOST:PORT/abs/folder``          a Spark standalone master; the folder must be
                                          visible to the driver and the executors
========================================  ==================================================

The extract is expressed once as Ibis expressions (:func:`extract_expressions`): the contract
columns of each table, audits and production filtered to the needed period window inside the
engine (rows whose date does not parse are kept, so validation still sees them), the small
tables whole, every table in a deterministic order. Only those rows travel to Python, where
:func:`reporting.data.load_dataset` canonicalises and validates them exactly as it does any
in-memory frames (:func:`load_engine_dataset`); the run then snapshots the :class:`Dataset` as
usual. :func:`accuracy_by` shows an aggregate computed entirely in the engine (audits and
correct audits by market, policy and week).

The same expressions give equal frames on DuckDB and on a real Spark (``tests/test_data_engines.py``).
Portability rules learnt on the way: no ``iso_year()`` (does not compile on PySpark; weeks use
``truncate("W")``), ``try_cast`` instead of ``cast`` for text dates (Spark 4 runs in ANSI mode),
explicit ``NULLS LAST`` ordering (Ibis emits it for both engines).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reporting.core.errors import DataError

from .dataset import Dataset
from .schema import CONTRACT, TABLES

__all__ = [
    "DEFAULT_HISTORY_MONTHS",
    "ENGINE_SCHEMES",
    "Engine",
    "EngineError",
    "EngineURL",
    "accuracy_by",
    "connect",
    "extract_expressions",
    "extract_frames",
    "history_window",
    "is_engine_url",
    "load_engine_dataset",
    "parse_engine_url",
    "spark_session",
]

#: URL schemes understood as engines by ``--data``.
ENGINE_SCHEMES: tuple[str, ...] = ("duckdb", "spark")
#: Months of history extracted before the first reported month (trends, comparisons).
DEFAULT_HISTORY_MONTHS = 12
#: Master of the local Spark session of ``spark:///...`` URLs.
SPARK_LOCAL_MASTER = "local[2]"

_DATE_COLUMN = {"audits": "decision_date", "production": "date"}
_PERIOD_RE = re.compile(r"^\d{4}-\d{2}$")
_URL_RE = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>[^/]*)(?P<path>/.*)$")


class EngineError(DataError, RuntimeError):
    """An engine URL that cannot be used (bad URL, engine or Java missing, unreachable)."""


@dataclass(frozen=True)
class EngineURL:
    """A parsed engine URL.

    Attributes
    ----------
    url : str
        As given.
    scheme : {"duckdb", "spark"}
        The engine.
    path : pathlib.Path
        Absolute path of the DuckDB file or of the folder of Parquet tables.
    master : str or None
        Spark master (``local[2]`` or ``spark://HOST:PORT``); None for DuckDB.
    """

    url: str
    scheme: str
    path: Path
    master: str | None = None


def is_engine_url(text: str | os.PathLike[str] | None) -> bool:
    """True when ``text`` looks like ``duckdb://...`` or ``spark://...``."""
    if text is None:
        return False
    return any(str(text).startswith(f"{s}://") for s in ENGINE_SCHEMES)


def parse_engine_url(url: str) -> EngineURL:
    """Parse ``duckdb:///abs/path``, ``spark:///abs/folder`` or ``spark://HOST:PORT/abs/folder``.

    Parameters
    ----------
    url : str
        The URL.

    Returns
    -------
    EngineURL

    Raises
    ------
    EngineError
        For an unknown scheme, a relative path or a DuckDB URL with a host.
    """
    m = _URL_RE.match(str(url))
    if not m or m.group("scheme") not in ENGINE_SCHEMES:
        raise EngineError(
            f"{url!r} is not an engine URL: expected duckdb:///abs/path.ddb, "
            "spark:///abs/folder or spark://HOST:PORT/abs/folder"
        )
    scheme, host, path = m.group("scheme"), m.group("host"), m.group("path")
    if scheme == "duckdb":
        if host:
            raise EngineError(
                f"{url!r}: a DuckDB URL has no host; write duckdb:///abs/path.ddb (three slashes)"
            )
        return EngineURL(str(url), scheme, Path(path))
    if host:
        if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d+", host):
            raise EngineError(f"{url!r}: expected spark://HOST:PORT/abs/folder")
        return EngineURL(str(url), scheme, Path(path), master=f"spark://{host}")
    return EngineURL(str(url), scheme, Path(path), master=SPARK_LOCAL_MASTER)


def history_window(
    periods: Sequence[str] | None, months: int = DEFAULT_HISTORY_MONTHS
) -> tuple[str | None, str | None]:
    """The ``(period_from, period_to)`` window to extract for reporting ``periods``.

    Parameters
    ----------
    periods : sequence of str or None
        The months a run reports (``YYYY-MM``); None or empty: no window (everything).
    months : int
        Months of data ending at each reported month (trends and comparisons need history).

    Returns
    -------
    tuple of (str or None, str or None)
    """
    if not periods:
        return None, None
    first = min(pd.Period(p, freq="M") for p in periods) - (max(int(months), 1) - 1)
    last = max(pd.Period(p, freq="M") for p in periods)
    return first.strftime("%Y-%m"), last.strftime("%Y-%m")


# ---------------------------------------------------------------------------------
# connections


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Mute Ibis' and PySpark's deprecation chatter about pandas 3 and duckdb 1.5."""
    with warnings.catch_warnings():
        for module in (r"ibis(\..*)?", r"pyspark(\..*)?"):
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
            warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        yield


def _require_java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineError(
            "Spark needs a Java runtime (17 or later) and none was found: install one "
            "(Debian: apt-get install -y default-jre-headless) or set JAVA_HOME"
        )


def spark_session(master: str = SPARK_LOCAL_MASTER, app_name: str = "reporting") -> Any:
    """A Spark session with the project's settings (docs/data.md).

    Local masters bind to 127.0.0.1 (``SPARK_LOCAL_IP``, driver host and bind address), the
    web UI and console progress bars are off, shuffles use 4 partitions and the session time
    zone is UTC. An active session is returned as it is (Spark allows one per process).

    Parameters
    ----------
    master : str
        ``local[2]`` (default) or ``spark://HOST:PORT``.
    app_name : str
        Spark application name.

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    EngineError
        When pyspark or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "spark:// URLs need pyspark: pip install 'qa-reporting[warehouse]'"
        ) from None
    _require_java()
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if local:
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - e.g. the master is unreachable
        raise EngineError(f"cannot start Spark ({master}): {exc}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass
class Engine:
    """An open engine: the Ibis backend and the raw contract tables it holds.

    Attributes
    ----------
    url : EngineURL
        Where the data is.
    backend : ibis.BaseBackend
        The Ibis connection.
    tables : dict of str to ibis.Table
        Raw contract tables present (absent optional tables are missing from the dict).
    """

    url: EngineURL
    backend: Any
    tables: dict[str, Any] = field(default_factory=dict)
    _spark: Any = None  # a Spark session this object started (stopped by close)

    def close(self) -> None:
        """Release the connection (and stop the Spark session if this engine started it)."""
        try:
            if self.url.scheme == "duckdb":
                self.backend.disconnect()
        finally:
            if self._spark is not None:
                self._spark.stop()
                self._spark = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str | EngineURL, *, spark: Any = None) -> Engine:
    """Open an engine URL and find its contract tables.

    Parameters
    ----------
    url : str or EngineURL
        ``duckdb:///abs/path.ddb``, ``duckdb:///abs/folder``, ``spark:///abs/folder`` or
        ``spark://HOST:PORT/abs/folder``.
    spark : pyspark.sql.SparkSession, optional
        A session to use for ``spark`` URLs (it is not stopped by :meth:`Engine.close`);
        by default one is started (and stopped on close), or an active one is reused.

    Returns
    -------
    Engine

    Raises
    ------
    EngineError
        When the URL, the path or the engine cannot be used.
    """
    u = url if isinstance(url, EngineURL) else parse_engine_url(url)
    with _quiet():
        return _connect(u, spark)


def _connect(u: EngineURL, spark: Any) -> Engine:
    import ibis

    if u.scheme == "duckdb":
        if not u.path.exists():
            raise EngineError(f"{u.url}: {u.path} does not exist")
        if u.path.is_dir():
            backend = ibis.duckdb.connect(threads=2, memory_limit="2GB")
            eng = Engine(u, backend)
            _read_folder(eng, u.path)
            return eng
        try:
            backend = ibis.duckdb.connect(str(u.path), read_only=True)
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"{u.url}: cannot open the DuckDB file: {exc}") from None
        eng = Engine(u, backend)
        names = {str(n).strip().lower(): n for n in backend.list_tables()}
        for name in TABLES:
            if name in names:
                eng.tables[name] = backend.table(names[name])
        return eng
    # spark
    from pyspark.sql import SparkSession

    local = (u.master or "").startswith("local")
    if local and not u.path.is_dir():
        raise EngineError(f"{u.url}: {u.path} is not a folder of <table>.parquet files")
    owned = None
    if spark is None:
        spark = SparkSession.getActiveSession()
        if spark is None:
            spark = owned = spark_session(u.master or SPARK_LOCAL_MASTER)
    eng = Engine(u, ibis.pyspark.connect(spark), _spark=owned)
    try:
        _read_folder(eng, u.path)
    except BaseException:
        eng.close()
        raise
    return eng


def _read_folder(eng: Engine, folder: Path) -> None:
    """Register ``<folder>/<table>.parquet`` (file or folder of parts) for each table present."""
    for name in TABLES:
        f = folder / f"{name}.parquet"
        if not f.exists():
            continue
        path = str(f / "*.parquet") if f.is_dir() and eng.url.scheme == "duckdb" else str(f)
        try:
            eng.tables[name] = eng.backend.read_parquet(path, table_name=f"reporting_raw_{name}")
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"{eng.url.url}: cannot read {f}: {exc}") from None


# ---------------------------------------------------------------------------------
# the extract, written once


def _to_pandas(expr: Any) -> pd.DataFrame:
    """Execute an Ibis expression into a frame with a 0..n-1 index."""
    with _quiet():
        return expr.to_pandas().reset_index(drop=True)


def _bounds(period_from: str | None, period_to: str | None) -> tuple[Any, Any]:
    import ibis

    lo = hi = None
    for bound in (period_from, period_to):
        if bound is not None and not _PERIOD_RE.match(str(bound)):
            raise ValueError(f"period bound must look like 2026-10, got {bound!r}")
    if period_from is not None:
        lo = ibis.date(pd.Period(period_from, freq="M").start_time.date())
    if period_to is not None:
        hi = ibis.date((pd.Period(period_to, freq="M") + 1).start_time.date())
    return lo, hi


def _as_date(col: Any) -> Any | None:
    """A column as an Ibis date: dates as they are, timestamps' dates, ISO text (try_cast)."""
    t = col.type()
    if t.is_date():
        return col
    if t.is_timestamp():
        return col.date()
    if t.is_string():
        return col.strip().substr(0, 10).try_cast("date")
    return None


def _contract_columns(table: Any, name: str) -> list[str]:
    present = set(table.columns)
    return [c.name for c in CONTRACT[name].columns if c.name in present]


def extract_expressions(
    engine: Engine, *, period_from: str | None = None, period_to: str | None = None
) -> dict[str, Any]:
    """The extract as unbound-to-Python Ibis expressions, one per table present.

    Parameters
    ----------
    engine : Engine
        An open engine.
    period_from, period_to : str, optional
        Inclusive ``YYYY-MM`` window for audits (``decision_date``) and production
        (``date``). Rows whose date is missing or does not parse are kept, so that
        validation reports them.

    Returns
    -------
    dict of str to ibis.Table
        Contract columns only, ordered by every column (deterministic on any engine).
    """
    import ibis

    lo, hi = _bounds(period_from, period_to)
    out: dict[str, Any] = {}
    for name, table in engine.tables.items():
        cols = _contract_columns(table, name)
        if not cols:
            cols = list(table.columns)  # no contract column: validation names what is missing
        expr = table.select(*cols)
        date_col = _DATE_COLUMN.get(name)
        if date_col in cols and (lo is not None or hi is not None):
            d = _as_date(expr[date_col])
            if d is not None:
                inside = ibis.literal(True)
                if lo is not None:
                    inside = inside & (d >= lo)
                if hi is not None:
                    inside = inside & (d < hi)
                expr = expr.filter(d.isnull() | inside)
        out[name] = expr.order_by([ibis.asc(c, nulls_first=False) for c in cols])
    return out


def extract_frames(
    engine: Engine, *, period_from: str | None = None, period_to: str | None = None
) -> dict[str, pd.DataFrame]:
    """Run :func:`extract_expressions` on the engine; the rows as raw pandas frames.

    Returns
    -------
    dict of str to pandas.DataFrame
        Raw (not yet canonical) frames with a 0..n-1 index.
    """
    exprs = extract_expressions(engine, period_from=period_from, period_to=period_to)
    return {name: _to_pandas(expr) for name, expr in exprs.items()}


def accuracy_by(
    engine: Engine,
    by: Sequence[str] = ("market", "policy", "week"),
    *,
    period_from: str | None = None,
    period_to: str | None = None,
) -> pd.DataFrame:
    """Audits and correct audits per group, computed inside the engine.

    An audit is correct when the reviewer's and the QA decision agree (both ``approve`` or
    both ``reject``, compared stripped and lower-cased). Audits whose date does not parse
    are left out (validation reports them).

    Parameters
    ----------
    engine : Engine
        An open engine.
    by : sequence of str
        Audit columns (text is stripped; ``reviewer_decision``, ``qa_decision``,
        ``sample_type`` and ``severity`` are also lower-cased) and the derived ``week``
        (Monday of the ISO week), ``period`` (``YYYY-MM``) and ``date``.
    period_from, period_to : str, optional
        Inclusive ``YYYY-MM`` window.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then ``audits`` and ``correct`` (int64), sorted by ``by``; ``week``
        and ``date`` as ``datetime64[ns]``.
    """
    import ibis

    t = engine.tables.get("audits")
    if t is None:
        raise EngineError(f"{engine.url.url}: no audits table")
    d = _as_date(t["decision_date"])
    if d is None:
        raise EngineError(f"{engine.url.url}: audits.decision_date is not a date or text column")
    lo, hi = _bounds(period_from, period_to)
    keep = d.notnull()
    if lo is not None:
        keep = keep & (d >= lo)
    if hi is not None:
        keep = keep & (d < hi)

    def norm(col: str) -> Any:
        c = t[col]
        if not c.type().is_string():
            return c
        c = c.strip()
        return c.lower() if CONTRACT["audits"].column(col).kind == "category" else c

    keys: dict[str, Any] = {}
    for k in by:
        if k == "week":
            keys[k] = d.truncate("W")
        elif k == "period":
            keys[k] = d.truncate("M")
        elif k == "date":
            keys[k] = d
        elif k in t.columns:
            keys[k] = norm(k)
        else:
            raise ValueError(f"cannot group audits by {k!r}: not a column, week, period or date")
    rev, qa = norm("reviewer_decision"), norm("qa_decision")
    correct = ((rev == qa) & rev.isin(["approve", "reject"])).ifelse(1, 0)
    expr = (
        t.filter(keep)
        .mutate(**keys, __correct=correct)
        .group_by(list(keys))
        .aggregate(audits=ibis._.count(), correct=ibis._["__correct"].sum())
        .order_by([ibis.asc(k, nulls_first=False) for k in keys])
    )
    out = _to_pandas(expr)
    for k in keys:
        if k in ("week", "date"):
            out[k] = pd.to_datetime(out[k]).astype("datetime64[ns]")
        elif k == "period":
            out[k] = pd.to_datetime(out[k]).dt.strftime("%Y-%m").astype("str")
    out["audits"] = out["audits"].astype("int64")
    out["correct"] = out["correct"].fillna(0).astype("int64")
    return out


def load_engine_dataset(
    url: str | Engine,
    *,
    period_from: str | None = None,
    period_to: str | None = None,
    spark: Any = None,
    validate: bool = True,
) -> Dataset:
    """Extract from an engine and canonicalise/validate in pandas: a normal :class:`Dataset`.

    Parameters
    ----------
    url : str or Engine
        An engine URL (opened and closed here) or an open :class:`Engine`.
    period_from, period_to : str, optional
        Inclusive ``YYYY-MM`` window of audits and production to extract.
    spark : pyspark.sql.SparkSession, optional
        Session for ``spark`` URLs (see :func:`connect`).
    validate : bool
        As :func:`reporting.data.load_dataset`.

    Returns
    -------
    Dataset
        Canonical frames of the window; ``source`` is the URL.

    Raises
    ------
    DataValidationError
        When the extracted rows break the contract (record numbers count rows of the
        extract, in its order).
    EngineError
        When the engine cannot be used.
    """
    from .loaders import load_dataset

    if isinstance(url, Engine):
        frames = extract_frames(url, period_from=period_from, period_to=period_to)
        source = url.url.url
    else:
        with connect(url, spark=spark) as eng:
            frames = extract_frames(eng, period_from=period_from, period_to=period_to)
        source = str(url)
    raw = Dataset(
        audits=frames.get("audits"),  # type: ignore[arg-type]  # None: reported as missing
        production=frames.get("production"),
        roster=frames.get("roster"),
        targets=frames.get("targets"),
        events=frames.get("events"),
        appeals=frames.get("appeals"),
        coaching=frames.get("coaching"),
        source=source,
    )
    return load_dataset(raw, validate=validate)
