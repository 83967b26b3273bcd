"""Snapshots: deterministic content hash, faithful round trip, filter push-down."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from reporting.data import (
    TABLES,
    Dataset,
    DataValidationError,
    generate_sample_data,
    load_dataset,
    load_snapshot,
    read_audits,
    read_production,
    snapshot_hash,
    write_snapshot,
)
from reporting.data.snapshot import audits_query


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(generate_sample_data(seed=3, scale=0.05))


@pytest.fixture(scope="module")
def snap(dataset, tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("snap")
    return str(d), write_snapshot(dataset, d)


def _by_id(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("audit_id").reset_index(drop=True)


def test_hash_is_deterministic_and_content_based(dataset, snap, tmp_path):
    d, digest = snap
    assert len(digest) == 64
    assert write_snapshot(dataset, tmp_path / "again") == digest
    assert snapshot_hash(d) == digest
    reloaded = load_dataset(generate_sample_data(seed=3, scale=0.05))
    assert write_snapshot(reloaded, tmp_path / "reloaded") == digest  # same data, same hash
    changed = dataset.audits.copy()
    changed.loc[0, "handling_time_s"] += 1.0
    other = Dataset(
        audits=changed,
        production=dataset.production,
        roster=dataset.roster,
        targets=dataset.targets,
        events=dataset.events,
    )
    assert write_snapshot(other, tmp_path / "changed") != digest
    manifest = json.loads((tmp_path / "again" / "snapshot.json").read_text())
    assert manifest["hash"] == digest
    assert manifest["rows"]["audits"] == len(dataset.audits)


def test_snapshot_round_trip(dataset, snap):
    d, _ = snap
    back = load_snapshot(d, verify=True)
    for name in TABLES:
        expected = getattr(dataset, name)
        if name in ("audits", "production"):  # stored stably grouped by period, market
            expected = expected.sort_values(["period", "market"], kind="stable")
            expected = expected.reset_index(drop=True)
        pd.testing.assert_frame_equal(getattr(back, name), expected, obj=name)


def test_absent_tables_stay_absent(dataset, tmp_path):
    small = Dataset(audits=dataset.audits, targets=dataset.targets)
    write_snapshot(dataset, tmp_path)
    write_snapshot(small, tmp_path)  # overwriting removes the stale files
    back = load_snapshot(tmp_path)
    assert back.production is None and back.roster is None and back.events is None
    assert not (tmp_path / "roster.parquet").exists()


def test_tampered_snapshot_is_detected(dataset, tmp_path):
    write_snapshot(dataset, tmp_path)
    f = tmp_path / "events.parquet"
    pd.DataFrame({"date": [pd.Timestamp("2026-01-01")], "description": ["x"]}).to_parquet(f)
    load_snapshot(tmp_path)  # without verification it reads
    with pytest.raises(DataValidationError, match="hash mismatch"):
        load_snapshot(tmp_path, verify=True)
    with pytest.raises(DataValidationError, match="not a data snapshot"):
        load_snapshot(tmp_path / "missing")


@pytest.mark.parametrize(
    "market, period_from, period_to",
    [
        ("BR", "2026-09", "2026-10"),
        ("DE", None, None),
        (None, "2026-10", None),
        (["GB", "JP"], None, "2026-06"),
        ("XX", None, None),
    ],
)
def test_read_audits_equals_a_pandas_filter(dataset, snap, market, period_from, period_to):
    d, _ = snap
    got = read_audits(d, market=market, period_from=period_from, period_to=period_to)
    a = load_snapshot(d).audits
    keep = pd.Series(True, index=a.index)
    if market is not None:
        keep &= a["market"].isin([market] if isinstance(market, str) else market)
    if period_from is not None:
        keep &= a["period"] >= period_from
    if period_to is not None:
        keep &= a["period"] <= period_to
    expected = a[keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_read_audits_columns(snap):
    d, _ = snap
    got = read_audits(d, market="US", columns=["audit_id", "is_correct"])
    assert list(got.columns) == ["audit_id", "is_correct"] and len(got) > 0
    with pytest.raises(ValueError):
        read_audits(d, columns=["nope"])
    with pytest.raises(ValueError):
        read_audits(d, period_from="October")


def test_filters_are_pushed_into_the_parquet_scan(snap):
    d, _ = snap
    sql, params = audits_query(d, market="BR", period_from="2026-09", period_to="2026-10")
    con = duckdb.connect()
    plan = "\n".join(str(row[1]) for row in con.execute("EXPLAIN " + sql, params).fetchall())
    con.close()
    scan = plan[plan.find("READ_PARQUET") if "READ_PARQUET" in plan else plan.find("PARQUET") :]
    assert "Filters" in scan and "market" in scan and "period" in scan, plan


def test_read_production_equals_a_pandas_filter(snap, tmp_path, dataset):
    d, _ = snap
    got = read_production(d, market=["BR", "ID"], period_from="2026-09")
    p = load_snapshot(d).production
    keep = p["market"].isin(["BR", "ID"]) & (p["period"] >= "2026-09")
    pd.testing.assert_frame_equal(got, p[keep].reset_index(drop=True))
    write_snapshot(Dataset(audits=dataset.audits, targets=dataset.targets), tmp_path)
    assert read_production(tmp_path, market="BR") is None


def test_raw_tables_are_refused(tmp_path):
    with pytest.raises(ValueError, match="load_dataset"):
        write_snapshot(generate_sample_data(seed=3, scale=0.05), tmp_path)
