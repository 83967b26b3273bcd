"""The template-side API: the pushed-down data slice equals a pandas filter of the full data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reporting import notebook as rn
from reporting.core.errors import NoDataForReport


def test_slice_from_snapshot_equals_pandas_filter(sample_snapshot, sample_dataset, sample_data):
    ctx = rn.start("t", {}, data_dir=str(sample_snapshot.path))
    part = ctx.data(market="DE", period_from="2026-09", period_to="2026-10")
    full = sample_dataset.audits
    expected = full[(full["market"] == "DE") & full["period"].between("2026-09", "2026-10")]
    pd.testing.assert_frame_equal(part.audits, expected.reset_index(drop=True))
    prod = sample_dataset.production
    expected_prod = prod[(prod["market"] == "DE") & prod["period"].between("2026-09", "2026-10")]
    pd.testing.assert_frame_equal(part.production, expected_prod.reset_index(drop=True))
    assert part.roster is not None and len(part.roster) == len(sample_dataset.roster)
    # Without a snapshot (an analyst in JupyterLab on raw files) the same slice comes back.
    raw = rn.start("t", {}, data_dir=str(sample_data)).data(market="DE", period_from="2026-09",
                                                            period_to="2026-10")
    pd.testing.assert_frame_equal(raw.audits, part.audits)


def test_team_slice_gives_the_same_team_report_as_the_whole_market(
        sample_snapshot, sample_dataset, sample_data):
    """A team report reads only its team's rows (pushed down): same selection, same report."""
    from reporting.reports.individual_performance import select_team, team_performance_report

    roster = sample_dataset.roster
    lead = sorted(roster["team_lead"].dropna().unique())[0]
    market = roster.loc[roster["team_lead"] == lead, "market"].iloc[0]
    ctx = rn.start("t", {}, data_dir=str(sample_snapshot.path))
    team = ctx.data(market=[market], team_lead=lead)
    whole = ctx.data(market=[market])
    assert 0 < len(team.audits) < len(whole.audits) / 2
    a, b = (select_team(d, period="2026-10", team_lead=lead) for d in (team, whole))
    pd.testing.assert_frame_equal(a.audits.reset_index(drop=True),
                                  b.audits.reset_index(drop=True))
    # the same production rows; their order is not part of the contract (a reviewer can work
    # two product lines on one day: rows of one day may come in either order)
    pd.testing.assert_frame_equal(_in_key_order(a.production), _in_key_order(b.production))
    assert a.members == b.members
    ra, rb = (team_performance_report(d, "2026-10", team_lead=lead) for d in (team, whole))
    pd.testing.assert_frame_equal(ra.scorecards.table, rb.scorecards.table)
    assert ra.headline == rb.headline
    # the same slice without a snapshot (raw files in JupyterLab)
    raw = rn.start("t", {}, data_dir=str(sample_data)).data(market=[market], team_lead=lead)
    pd.testing.assert_frame_equal(raw.audits, team.audits)
    pd.testing.assert_frame_equal(_in_key_order(raw.production), _in_key_order(team.production))


def _in_key_order(production: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("date", "reviewer_id", "product_line", "queue") if c in production]
    return production.sort_values(keys, kind="stable").reset_index(drop=True)


def test_records_and_no_data(tmp_path):
    ctx = rn.start("t", {"market": "BR"}, data_dir=str(tmp_path), report_dir=str(tmp_path / "r"))
    frame = pd.DataFrame({"market": ["BR"], "policy": [None], "kpi": ["accuracy"],
                          "value": [0.9], "ci_low": [0.85], "ci_high": [float("nan")], "n": [40],
                          "target": [0.95], "status": ["off_track"]})
    ctx.record_kpis(frame)
    ctx.record("changes", pd.DataFrame({"kpi": ["accuracy"], "diff": [-0.01]}))
    saved = json.loads((tmp_path / "r" / rn.RESULTS_PARTIAL).read_text())
    assert saved["kpis"] == [{"scope": {"market": "BR"}, "kpi": "accuracy", "value": 0.9,
                              "ci_low": 0.85, "ci_high": None, "n": 40, "target": 0.95,
                              "status": "off_track"}]
    assert saved["changes"] == [{"kpi": "accuracy", "diff": -0.01}]
    with pytest.raises(ValueError, match="written by the engine"):
        ctx.record("params", {})
    with pytest.raises(NoDataForReport):
        ctx.no_data("No data for BR in 2026-10.")
