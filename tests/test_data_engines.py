"""Warehouse engines through Ibis: one extract, equal frames on DuckDB and on a real Spark.

A local Spark session (pyspark local mode, ``local[2]``) is started once for the module. Under
``CI=true`` a missing Java or pyspark fails these tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reporting.data import load_dataset, write_sample_data
from reporting.data.engines import (
    EngineError,
    accuracy_by,
    connect,
    extract_frames,
    history_window,
    is_engine_url,
    load_engine_dataset,
    parse_engine_url,
)

WINDOW = {"period_from": "2026-09", "period_to": "2026-10"}


def _require_spark() -> None:
    """Skip locally, fail under CI, when Spark cannot run here."""
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark is not installed (pip install 'qa-reporting[warehouse]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("Java is not installed (apt-get install -y default-jre-headless)")
    if missing:
        message = "; ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def spark():
    _require_spark()
    from reporting.data.engines import spark_session

    session = spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Sample data (seed 11, scale 0.2) as one Parquet file per table."""
    return write_sample_data(tmp_path_factory.mktemp("pq"), seed=11, scale=0.2, fmt="parquet")


@pytest.fixture(scope="module")
def duck_frames(folder):
    with connect(f"duckdb://{folder}") as eng:
        return extract_frames(eng, **WINDOW), accuracy_by(eng, **WINDOW)


# ---------------------------------------------------------------------------------
# URLs (no engine needed)


def test_engine_urls():
    assert is_engine_url("spark:///data") and is_engine_url("duckdb:///x.ddb")
    assert not is_engine_url("/data/folder") and not is_engine_url(None)
    u = parse_engine_url("duckdb:///abs/qa.ddb")
    assert (u.scheme, u.path, u.master) == ("duckdb", Path("/abs/qa.ddb"), None)
    assert parse_engine_url("spark:///abs/folder").master == "local[2]"
    remote = parse_engine_url("spark://spark-master.internal:7077/mnt/qa")
    assert remote.master == "spark://spark-master.internal:7077"
    assert remote.path == Path("/mnt/qa")
    for bad in ("postgres:///x", "duckdb://host/x.ddb", "spark://nohost/x", "spark:relative"):
        with pytest.raises(EngineError):
            parse_engine_url(bad)
    with pytest.raises(EngineError, match="does not exist"):
        connect("duckdb:///no/such/file.ddb")


def test_history_window():
    assert history_window(None) == (None, None)
    assert history_window(["2026-10"]) == ("2025-11", "2026-10")
    assert history_window(["2026-09", "2026-10"], months=3) == ("2026-07", "2026-10")


# ---------------------------------------------------------------------------------
# DuckDB: the extract equals the pandas path on the same data


def test_duckdb_extract_equals_the_pandas_path(folder, duck_frames, tmp_path):
    frames, _ = duck_frames
    ds = load_engine_dataset(f"duckdb://{folder}", **WINDOW)
    want = load_dataset(folder)
    for name in ("audits", "production"):
        got = getattr(ds, name)
        full = getattr(want, name)
        assert set(got["period"]) == {"2026-09", "2026-10"}
        expected = full[full["period"].between("2026-09", "2026-10")]
        keys = list(got.columns[:6])
        pd.testing.assert_frame_equal(
            got.sort_values(keys).reset_index(drop=True),
            expected.sort_values(keys).reset_index(drop=True),
        )
    for name in ("roster", "targets", "events"):
        got, full = getattr(ds, name), getattr(want, name)
        keys = list(got.columns)
        pd.testing.assert_frame_equal(
            got.sort_values(keys).reset_index(drop=True),
            full.sort_values(keys).reset_index(drop=True),
        )
    assert ds.source == f"duckdb://{folder}"
    # a DuckDB database file with the same tables gives the same frames
    db = write_sample_data(tmp_path / "db", seed=11, scale=0.2, fmt="duckdb")
    with connect(f"duckdb://{db}") as eng:
        from_file = extract_frames(eng, **WINDOW)
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(from_file[name], frame, check_dtype=False)


def test_duckdb_aggregate_equals_pandas(folder, duck_frames):
    _, agg = duck_frames
    a = load_dataset(folder).audits
    a = a[a["period"].between("2026-09", "2026-10")]
    want = (a.groupby(["market", "policy", "week"]).agg(audits=("is_correct", "size"),
                                                        correct=("is_correct", "sum"))
            .reset_index())
    want["correct"] = want["correct"].astype("int64")
    pd.testing.assert_frame_equal(agg, want, check_dtype=False)
    assert agg["audits"].sum() == len(a)


# ---------------------------------------------------------------------------------
# Spark: the same expressions, equal frames


def test_spark_extract_equals_duckdb(spark, folder, duck_frames):
    frames, _ = duck_frames
    with connect(f"spark://{folder}", spark=spark) as eng:
        got = extract_frames(eng, **WINDOW)
    assert set(got) == set(frames) == {"audits", "production", "roster", "targets", "events",
                                      "appeals", "coaching"}  # wave 2 tables too
    for name in frames:
        pd.testing.assert_frame_equal(got[name], frames[name], obj=name)


def test_spark_aggregate_equals_duckdb(spark, folder, duck_frames):
    _, agg = duck_frames
    with connect(f"spark://{folder}", spark=spark) as eng:
        got = accuracy_by(eng, **WINDOW)
        by_period = accuracy_by(eng, by=("period", "sample_type"))
    pd.testing.assert_frame_equal(got, agg)
    with connect(f"duckdb://{folder}") as eng:
        pd.testing.assert_frame_equal(by_period, accuracy_by(eng, by=("period", "sample_type")))
    assert list(by_period["period"].unique()) == sorted(by_period["period"].unique())


def test_spark_dataset_equals_duckdb_dataset(spark, folder):
    from_spark = load_engine_dataset(f"spark://{folder}", spark=spark, **WINDOW)
    from_duck = load_engine_dataset(f"duckdb://{folder}", **WINDOW)
    for name in ("audits", "production", "roster", "targets", "events"):
        pd.testing.assert_frame_equal(getattr(from_spark, name), getattr(from_duck, name))
    assert spark.sparkContext._jsc is not None  # the module's session is still running
