"""Accuracy from counts (a trend over many months counted in DuckDB) equals compute_kpis over
the audits themselves."""

from __future__ import annotations

import pandas as pd
import pytest

from reporting.data.snapshot import accuracy_counts
from reporting.metrics.compute import accuracy_from_counts, compute_kpis, count_accuracy


def _trend_audits(ds, first="2026-05", last="2026-10"):
    a = ds.audits
    return a[(a["period"] >= first) & (a["period"] <= last)].reset_index(drop=True)


@pytest.mark.parametrize("by", [["market", "period"], ["market"], ["period", "product_line"]])
def test_counts_give_the_kpi_frame_of_the_audits(sample_dataset, sample_snapshot, by):
    audits = _trend_audits(sample_dataset)
    targets = sample_dataset.targets
    expected = compute_kpis(audits, None, targets, by=by, kpis=["accuracy"])
    in_memory = accuracy_from_counts(count_accuracy(audits, by), by, targets)
    pd.testing.assert_frame_equal(in_memory, expected)
    counted = accuracy_counts(sample_snapshot.path, by, period_from="2026-05",
                              period_to="2026-10")
    pd.testing.assert_frame_equal(accuracy_from_counts(counted, by, targets), expected)


def test_scopes_without_sample_audits_are_no_data(sample_dataset):
    audits = _trend_audits(sample_dataset, "2026-10", "2026-10")
    audits = audits.assign(sample_type=audits["sample_type"].where(audits["market"] != "DE",
                                                                   "targeted"))
    expected = compute_kpis(audits, None, None, by=["market"], kpis=["accuracy"])
    got = accuracy_from_counts(count_accuracy(audits, ["market"]), ["market"])
    pd.testing.assert_frame_equal(got, expected)
    de = got[got["market"] == "DE"].iloc[0]
    assert de["n"] == 0 and pd.isna(de["value"]) and de["status"] == "no_data"


def test_counting_by_an_unknown_column_is_refused(sample_snapshot):
    with pytest.raises(ValueError, match="cannot count by"):
        accuracy_counts(sample_snapshot.path, ["reviewer_id; DROP TABLE x"])


def test_mbr_trend_from_counts_equals_the_trend_from_audits(sample_dataset, sample_snapshot):
    from reporting.reports.monthly_business_review import TREND_COLUMNS, mbr_report

    audits = _trend_audits(sample_dataset)
    counts = accuracy_counts(sample_snapshot.path, ["market", "period"], period_from="2026-05",
                             period_to="2026-10")
    kw = dict(capacity=False)
    from_audits = mbr_report(sample_dataset, "2026-10", trend_audits=audits[list(TREND_COLUMNS)],
                             **kw)
    from_counts = mbr_report(sample_dataset, "2026-10", trend_counts=counts, **kw)
    pd.testing.assert_frame_equal(from_counts.trend, from_audits.trend)
    assert len(from_counts.trend) == 6 * 6  # six markets, six months


@pytest.mark.parametrize("market", ["ID", "DE"])  # ID: the planted change point
def test_trend_report_from_two_months_and_daily_counts_equals_the_full_read(
        sample_snapshot, sample_dataset, market):
    """The trend template reads the two months compared and a daily series counted in DuckDB;
    the report is the same as from all of the market's audits."""
    from reporting import notebook as rn
    from reporting.reports.trend_root_cause import _window, read_trend_data, trend_root_cause_report
    from reporting.stats.control import daily_accuracy_series

    ctx = rn.start("t", {}, data_dir=str(sample_snapshot.path))
    data, daily = read_trend_data(ctx, market, "2026-10")
    full = ctx.data(market=market)
    assert len(data.audits) < len(full.audits)
    start, end = _window("2026-10", "2026-09")
    a = full.audits
    expected_daily = daily_accuracy_series(
        a[(a["decision_date"] >= start) & (a["decision_date"] <= end)])
    pd.testing.assert_frame_equal(daily, expected_daily)
    got = trend_root_cause_report(data, market, "2026-10", daily=daily)
    ref = trend_root_cause_report(full, market, "2026-10")
    assert got.verdict == ref.verdict and got.actions == ref.actions
    for name in ("kpis", "changes", "pchart", "change_points", "decomposition", "root_causes",
                 "gap_to_target", "events"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(ref, name), obj=name)


def test_trend_data_read_from_raw_files_equals_the_snapshot_read(sample_snapshot, sample_data):
    from reporting import notebook as rn
    from reporting.reports.trend_root_cause import read_trend_data

    snap_data, snap_daily = read_trend_data(rn.start("t", {}, data_dir=str(sample_snapshot.path)),
                                            "BR", "2026-10")
    raw_data, raw_daily = read_trend_data(rn.start("t", {}, data_dir=str(sample_data)), "BR",
                                          "2026-10")
    pd.testing.assert_frame_equal(raw_daily, snap_daily)
    pd.testing.assert_frame_equal(raw_data.audits, snap_data.audits)
