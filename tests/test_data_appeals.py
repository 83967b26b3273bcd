"""The optional wave-2 tables (issue 15): appeals and coaching load on both paths, reach the
snapshot, and bad rows give clear messages naming them."""

from __future__ import annotations

import pandas as pd
import pytest
from data_fixtures import small_tables, write_tables

from reporting.data import load_dataset, load_snapshot, validate_dataset
from reporting.data.extract import ROUTE_ENV, large_source
from reporting.data.problems import DataValidationError
from reporting.run.runner import make_snapshot


def wave2_tables() -> dict[str, pd.DataFrame]:
    tables = small_tables()
    tables["appeals"] = pd.DataFrame({
        "appeal_id": ["AP1", "AP2", "AP3"],
        "market": ["BR", "BR", "DE"],
        "policy": ["Financial Services", "Gambling", "Political Content"],
        "appeal_date": ["2026-10-02", "2026-10-03", "2026-10-20"],
        "outcome": ["overturned", "upheld", None],
        "resolved_date": ["2026-10-05", "2026-10-09", None],
        "case_id": ["C1", "C2", "C3"],
        "reviewer_id": ["R1", "R1", "R2"],
    })
    tables["coaching"] = pd.DataFrame({
        "reviewer_id": ["R1", "R2"],
        "date": ["2026-10-01", "2026-10-02"],
        "kind": ["Coaching", "training"],
        "note": ["1:1", None],
    })
    return tables


@pytest.mark.parametrize("route", ["never", "always"])
def test_wave2_tables_reach_the_snapshot_on_both_paths(route, tmp_path, monkeypatch):
    folder = write_tables(wave2_tables(), tmp_path / "in", "csv")
    monkeypatch.setenv(ROUTE_ENV, route)
    source = large_source(folder)
    assert (source is None) == (route == "never")
    snap = make_snapshot(source if source is not None else load_dataset(folder), tmp_path / "out")
    ds = load_snapshot(snap.path)
    assert ds.appeals["appeal_id"].tolist() == ["AP1", "AP2", "AP3"]
    assert ds.appeals["outcome"].tolist()[:2] == ["overturned", "upheld"]
    assert pd.isna(ds.appeals["resolved_date"].iloc[2])  # still open
    assert str(ds.appeals["appeal_date"].dtype) == "datetime64[ns]"
    assert ds.coaching["kind"].tolist() == ["coaching", "training"]  # a category: lower-cased


def test_without_the_tables_nothing_changes(tmp_path):
    tables = small_tables()
    with_them = load_dataset(write_tables(tables, tmp_path / "with", "csv"))
    del tables["appeals"], tables["coaching"]
    ds = load_dataset(write_tables(tables, tmp_path / "without", "csv"))
    assert ds.appeals is None and ds.coaching is None
    for name in ("audits", "production", "roster", "targets", "events"):
        pd.testing.assert_frame_equal(getattr(ds, name), getattr(with_them, name))
    assert [p.message for p in ds.problems] == [p.message for p in with_them.problems]


def _problems(tables, tmp_path, route, monkeypatch):
    folder = write_tables(tables, tmp_path / route, "csv")
    monkeypatch.setenv(ROUTE_ENV, route)
    source = large_source(folder)
    if source is None:
        return validate_dataset(folder).problems
    with pytest.raises(DataValidationError) as err:
        source.extract(tmp_path / f"snap-{route}")
    return err.value.problems


@pytest.mark.parametrize("route", ["never", "always"])
def test_bad_appeals_and_coaching_are_named(route, tmp_path, monkeypatch):
    t = wave2_tables()
    t["appeals"].loc[1, "resolved_date"] = "2026-09-30"  # before its appeal_date 2026-10-03
    t["appeals"].loc[0, "outcome"] = "reversed"  # not upheld/overturned
    t["coaching"].loc[1, "reviewer_id"] = "R9"  # not on the roster
    problems = _problems(t, tmp_path, route, monkeypatch)
    text = {p.code: p for p in problems if p.table in ("appeals", "coaching")}
    early = text["resolved_before_filed"]
    assert early.is_error and "resolved before it was filed" in early.message
    assert "AP2" in early.message and early.line == 3  # the CSV line of AP2
    bad = [p for p in problems if p.table == "appeals" and p.column == "outcome"]
    assert bad and bad[0].is_error and bad[0].value == "reversed"
    assert "upheld/overturned" in bad[0].expected
    roster = text["not_in_roster"]
    assert roster.table == "coaching" and "'R9'" in roster.message and not roster.is_error


def test_a_resolved_appeal_needs_an_outcome(tmp_path, monkeypatch):
    t = wave2_tables()
    t["appeals"].loc[1, "outcome"] = None
    problems = _problems(t, tmp_path, "never", monkeypatch)
    p = [p for p in problems if p.code == "missing_outcome"]
    assert p and p[0].is_error and "AP2" in p[0].message
