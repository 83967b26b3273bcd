"""Actions, headlines, follow-up (reporting.stats.actions) and coinciding events
(reporting.stats.events) on hand-made tables."""

from __future__ import annotations

import pandas as pd
import pytest
from test_stats_gap import _audits

from reporting.stats.actions import (
    OWNERS,
    choose_drivers,
    follow_up,
    gap_headline,
    plan_actions,
    segment_words,
)
from reporting.stats.events import coinciding_events
from reporting.stats.gap import ReviewerConcentration, gap_drivers

EVENTS = pd.DataFrame({
    "date": ["2026-09-15", "2026-09-25", "2026-10-01", "2026-10-01", "2026-08-03"],
    "description": ["Review tool incident", "Review tool fix deployed",
                    "Financial Services policy update", "Election campaign starts",
                    "Hiring wave"],
    "market": ["ID", "ID", "BR", "DE", "BR"],
    "policy": [None, None, "Financial Services", "Political Content", None],
    "product_line": [None] * 5,
    "kind": ["tooling", "tooling", "policy_update", "external", "staffing"],
})


def test_events_match_market_window_and_policy():
    got = coinciding_events(EVENTS, "ID", "2026-09-01", "2026-10-31")
    assert list(got["description"]) == ["Review tool incident", "Review tool fix deployed"]
    # a policy-scoped event needs its policy among the segments of the finding
    assert coinciding_events(EVENTS, "BR", "2026-09-01", "2026-10-31").empty
    got = coinciding_events(EVENTS, "BR", "2026-09-01", "2026-10-31",
                            segments=["Financial Services × <90d"])
    assert list(got["description"]) == ["Financial Services policy update"]
    # outside the window (the August hiring wave) or another market: never
    assert coinciding_events(EVENTS, "BR", "2026-09-01", "2026-10-31",
                             segments=["Political Content"]).empty
    star = EVENTS.assign(market="*")
    assert len(coinciding_events(star, "US", "2026-09-01", "2026-10-31")) == 2


def _drivers(rows):
    cols = ["dimension", "segment", "n", "gain_pp"]
    return pd.DataFrame(rows, columns=cols)


def test_a_narrow_cell_stands_in_for_its_broader_segments_and_overlaps_are_dropped():
    d = _drivers([("tenure_band", "<90d", 910, 2.83), ("policy × tenure_band",
                  "Financial Services × <90d", 217, 2.22), ("policy", "Financial Services", 771,
                  2.21), ("policy", "Political Content", 135, 0.37)])
    got = choose_drivers(d)
    assert list(got["segment"]) == ["Financial Services × <90d", "Political Content"]
    # a cell that is nearly the whole segment (1y+ is most reviewers) does not replace it
    d = _drivers([("policy", "Political Content", 737, 2.70),
                  ("policy × tenure_band", "Political Content × 1y+", 695, 2.48)])
    assert list(choose_drivers(d)["segment"]) == ["Political Content"]


def test_segment_words_are_plain():
    assert (segment_words("policy × tenure_band", "Financial Services × <90d")
            == "Financial Services for reviewers in their first 90 days")
    assert segment_words("tenure_band", "1y+") == "reviewers with over a year in the job"


def _kpi(value, target, status, n=1000, lo=None, hi=None):
    return pd.DataFrame([{"kpi": "accuracy", "value": value, "target": target, "status": status,
                          "n": n, "ci_low": lo or value - 0.01, "ci_high": hi or value + 0.01}])


def test_actions_from_a_known_gap_carry_owner_gain_and_evidence():
    a = _audits([("General", f"R{i}", 100, 96) for i in range(9)] + [("Finance", "R9", 100, 80)])
    d = gap_drivers(a, target=0.95, dimensions=["policy"])
    acts = plan_actions("BR", _kpi(0.944, 0.95, "off_track"), {"accuracy": d})
    assert len(acts) == 1
    act = acts[0]
    assert act["number"] == 1 and act["owner"] == "policy" and act["owner"] in OWNERS
    assert act["expected_gain_pp"] == pytest.approx(1.5)
    assert "Finance" in act["action"] and "80.0%" in act["evidence"]
    assert "95.9%" in act["evidence"]  # the market's rate with Finance at target


def test_reviewer_concentration_comes_first_and_names_no_one():
    c = ReviewerConcentration(26, 1, 1, 0.939, 0.951, 1.2, 0.8, 1.7, 0.08, True)
    acts = plan_actions("US", _kpi(0.939, 0.95, "off_track"),
                        {"accuracy": pd.DataFrame(columns=["dimension", "segment", "n",
                                                           "gain_pp"])},
                        {"accuracy": c})
    assert acts[0]["owner"] == "team lead" and acts[0]["expected_gain_pp"] == 1.2
    assert "One reviewer accounts for the whole gap (93.9% with, 95.1% without)" in \
        acts[0]["evidence"]
    text = gap_headline("US", _kpi(0.939, 0.95, "off_track").iloc[0], None, c)
    assert "1.1 pp below its 95.0% target" in text and "One reviewer accounts" in text


def test_off_track_without_driver_gets_a_market_wide_action_with_the_gap_as_gain():
    acts = plan_actions("GB", _kpi(0.94, 0.95, "off_track"), {"accuracy": None})
    assert acts[0]["expected_gain_pp"] == pytest.approx(1.0)
    acts = plan_actions("JP", _kpi(0.956, 0.96, "at_risk"), {"accuracy": None})
    assert acts[0]["owner"] == "QA" and acts[0]["expected_gain_pp"] is None
    assert plan_actions("US", _kpi(0.97, 0.95, "on_track"), {}) == []


def test_headline_names_change_and_events_in_plain_words():
    change = {"diff": -0.018, "p_value": 0.001, "significant": True}
    text = gap_headline("BR", _kpi(0.925, 0.95, "off_track").iloc[0], None, None, change,
                        "September", ["Financial Services policy update (1 Oct)"])
    assert "fell 1.8 pp since September" in text
    assert "coincides with Financial Services policy update (1 Oct)" in text
    for jargon in ("p =", "p-value", "Holm", "significant"):
        assert jargon not in text


def test_follow_up_says_whether_the_aimed_kpi_moved():
    prev = [{"market": "BR", "action": "Train", "kpi": "accuracy", "expected_gain_pp": 2.0},
            {"market": "DE", "action": "Calibrate", "expected_gain_pp": 1.0},
            {"market": "XX", "action": "Other"}]
    changes = pd.DataFrame({"market": ["BR", "DE"], "kpi": ["accuracy", "accuracy"],
                            "diff": [0.021, -0.004], "significant": [True, False]})
    got = follow_up(prev, changes, "September 2026")
    assert [g["moved"] for g in got] == ["improved", "no_change", "unknown"]
    assert "rose 2.1 pp, a real improvement" in got[0]["text"]


def test_secondary_line_is_short_and_names_the_same_group():
    from reporting.stats.actions import secondary_line

    d = pd.DataFrame([{"dimension": "policy", "segment": "Finance", "gain_pp": 1.0,
                       "closes_gap": False}])
    row = {"kpi": "over_enforcement_rate", "value": 0.033, "target": 0.02}
    text = secondary_line("BR", row, d, ["Finance"])
    assert text == ("Over-enforcement rate is off track too: 3.3% against a 2.0% target; fixing "
                    "Finance (the same group) would recover 1.0 pp of it.")
