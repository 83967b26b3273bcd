"""The run's result cache: exact round trips, keys that follow the inputs, and forecasts that are
the same whether fitted or read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporting import notebook as rn
from reporting.capacity import forecast_volume
from reporting.core.cache import ResultCache, fingerprint, frame_from_record, frame_to_record

WEEKLY = np.array([60.0, 80.0, 60.0, 40.0, 20.0, -120.0, -140.0])


def _series(seed: int = 1, n: int = 120) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-06-01", periods=n, freq="D")
    return pd.Series(1000 + 2.0 * np.arange(n) + WEEKLY[idx.day_of_week]
                     + rng.normal(0, 25, n), index=idx)


def test_frame_round_trip_is_bit_exact():
    frame = pd.DataFrame({
        "date": pd.date_range("2026-10-01", periods=4, freq="D").as_unit("s"),
        "x": [0.1 + 0.2, np.nan, np.inf, -1e-300],
        "n": np.array([1, 2, 3, 4], dtype="int64"),
        "label": ["a", None, "ü<b>", "=1+1"],
    })
    back = frame_from_record(json.loads(json.dumps(frame_to_record(frame))))
    pd.testing.assert_frame_equal(back, frame)
    assert back["x"].to_numpy().tobytes() == frame["x"].to_numpy().tobytes()
    assert back["date"].dtype == np.dtype("datetime64[s]")


def test_fingerprint_follows_every_input():
    s = _series()
    base = fingerprint(s, "2026-10", 0.95)
    assert base == fingerprint(s.copy(), "2026-10", 0.95)
    changed = s.copy()
    changed.iloc[5] += 1e-9
    assert fingerprint(changed, "2026-10", 0.95) != base
    assert fingerprint(s, "2026-11", 0.95) != base
    assert fingerprint(s, "2026-10", 0.9) != base
    shifted = pd.Series(s.to_numpy(), index=s.index + pd.Timedelta(days=1))
    assert fingerprint(shifted, "2026-10", 0.95) != base


def _same_forecast(a, b) -> None:
    for name in ("month", "total", "total_low", "total_high", "level", "model", "used_model",
                 "baseline_mape", "model_mape", "observed_in_month", "backtest_weeks", "notes"):
        va, vb = getattr(a, name), getattr(b, name)
        assert va == vb or (isinstance(va, float) and np.isnan(va) and np.isnan(vb)), name
    assert a.last_observed == b.last_observed and a.last_observed.unit == b.last_observed.unit
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.backtest, b.backtest)


def test_cached_forecast_equals_the_fitted_one(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    s = _series()
    fresh = forecast_volume(s, "2026-10")
    first = forecast_volume(s, "2026-10", cache=cache)  # fits and stores
    entries = list((tmp_path / "cache" / "volume_forecast").glob("*.json"))
    assert len(entries) == 1
    second = forecast_volume(s, "2026-10", cache=cache)  # reads back
    _same_forecast(fresh, first)
    _same_forecast(fresh, second)
    # a longer history trimmed to the same 364 days hits the same entry; other inputs do not
    forecast_volume(s, "2026-11", cache=cache)
    forecast_volume(s, "2026-10", level=0.8, cache=cache)
    assert len(list((tmp_path / "cache" / "volume_forecast").glob("*.json"))) == 3


def test_a_read_back_entry_is_really_used(tmp_path):
    """The cache is not decoration: a stored entry is what comes back (here, doctored)."""
    cache = ResultCache(tmp_path / "cache")
    s = _series()
    forecast_volume(s, "2026-10", cache=cache)
    entry = next((tmp_path / "cache" / "volume_forecast").glob("*.json"))
    record = json.loads(entry.read_text())
    record["total"] = 12345.0
    entry.write_text(json.dumps(record))
    assert forecast_volume(s, "2026-10", cache=cache).total == 12345.0


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"month": "2026-10"}'])
def test_a_broken_entry_is_a_miss_and_is_rewritten(tmp_path, content):
    cache = ResultCache(tmp_path / "cache")
    s = _series()
    good = forecast_volume(s, "2026-10", cache=cache)
    entry = next((tmp_path / "cache" / "volume_forecast").glob("*.json"))
    entry.write_text(content)
    _same_forecast(forecast_volume(s, "2026-10", cache=cache), good)
    assert json.loads(entry.read_text())["total"] == good.total


def test_an_unwritable_cache_only_costs_time(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    good = forecast_volume(_series(), "2026-10")
    _same_forecast(forecast_volume(_series(), "2026-10", cache=ResultCache(blocker)), good)


def test_entry_names_cannot_leave_the_cache(tmp_path):
    cache = ResultCache(tmp_path)
    with pytest.raises(ValueError):
        cache.load("../x", "ab")
    with pytest.raises(ValueError):
        cache.store("forecast", "../../etc", {})


def test_context_cache_only_for_run_snapshots(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    assert rn.start("t", params={}, data_dir=str(raw)).cache is None
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "snapshot.json").write_text("{}")
    cache = rn.start("t", params={}, data_dir=str(snap)).cache
    assert isinstance(cache, ResultCache) and cache.root == snap / "cache"


# Reports that compute the same things for one market: the MBR fits the market's accuracy_corrected
# model (as the market report does) and its capacity outlook's forecasts (as the capacity plan does).
SHARING = [("monthly_business_review", {"period": "2026-10", "markets": ["BR"]}),
           ("market_accuracy", {"market": "BR", "period": "2026-10"}),
           ("capacity_plan", {"market": "BR", "period": "2026-10"})]


def test_reports_share_work_through_the_run_cache_with_identical_results(
        sample_dataset, tmp_path, monkeypatch):
    """The same reports built with the run's result cache and without it
    (``REPORTING_RESULT_CACHE=0``): every results.json identical field for field, and the cache
    holds one accuracy_corrected fit for BR, written by one report and read by the other."""
    from conftest import build_reports

    from reporting.run.runner import make_snapshot

    results = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("REPORTING_RESULT_CACHE", mode)
        snap = make_snapshot(sample_dataset, tmp_path / f"cache-{mode}")
        out = tmp_path / f"cache-{mode}"
        summary = build_reports(snap, SHARING, out, formats=("html",))
        assert [r.status for r in summary.results] == ["ok"] * 3, [r.error for r in summary.results]
        results[mode] = {r.id: json.loads((out / r.id / "results.json").read_text())
                         for r in summary.results}
        cache = snap.path / "cache"
        if mode == "1":
            fits = sorted((cache / "accuracy_corrected").glob("*.json"))
            assert len(fits) == 1  # MBR and market report: one key, so one fit of BR
            assert list((cache / "volume_forecast").glob("*.json"))
            corrected = [k for k in results["1"]["monthly_business_review"]["kpis"]
                         if k["kpi"] == "accuracy_corrected"]
            assert corrected and json.loads(fits[0].read_text())["value"] == corrected[0]["value"]
        else:
            assert not cache.exists()
    assert results["1"].keys() == results["0"].keys()
    for report_id, cached in results["1"].items():
        uncached = results["0"][report_id]
        assert cached.keys() == uncached.keys(), report_id
        for field in cached:
            assert cached[field] == uncached[field], (report_id, field)


def test_frame_fingerprint_is_by_value_and_order():
    """Text is hashed by value (two processes reading the same rows agree, whatever the objects'
    addresses), and a reordering or a changed value is a different key."""
    from reporting.core.cache import frame_fingerprint

    a = pd.DataFrame({"audit_id": ["a1", "a2", "a3"], "qa_decision": ["approve", "reject", "reject"],
                      "other": [1, 2, 3]})
    copy = pd.DataFrame({c: [str(v) if c != "other" else v for v in a[c]] for c in a.columns})
    cols = ["audit_id", "qa_decision", "case_id"]  # a missing column counts as absent
    assert frame_fingerprint(a, cols) == frame_fingerprint(copy, cols)
    assert frame_fingerprint(a, cols) == frame_fingerprint(a.assign(other=[9, 9, 9]), cols)
    assert frame_fingerprint(a, cols) != frame_fingerprint(a.iloc[::-1], cols)
    changed = a.assign(qa_decision=["approve", "reject", "approve"])
    assert frame_fingerprint(a, cols) != frame_fingerprint(changed, cols)
