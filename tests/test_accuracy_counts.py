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
    from reporting.mbr import TREND_COLUMNS, mbr_report

    audits = _trend_audits(sample_dataset)
    counts = accuracy_counts(sample_snapshot.path, ["market", "period"], period_from="2026-05",
                             period_to="2026-10")
    kw = dict(capacity=False)
    from_audits = mbr_report(sample_dataset, "2026-10", trend_audits=audits[list(TREND_COLUMNS)],
                             **kw)
    from_counts = mbr_report(sample_dataset, "2026-10", trend_counts=counts, **kw)
    pd.testing.assert_frame_equal(from_counts.trend, from_audits.trend)
    assert len(from_counts.trend) == 6 * 6  # six markets, six months
