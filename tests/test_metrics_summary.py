"""Written summaries are generated from the numbers, and honest about noise and significance."""

from __future__ import annotations

import pandas as pd
import pytest

from reporting.metrics.summary import accuracy_summary_text, format_p_value

KPI_ROW = {
    "kpi": "accuracy",
    "value": 0.9334,
    "ci_low": 0.9231,
    "ci_high": 0.9424,
    "n": 3100,
    "target": 0.95,
    "status": "off_track",
}
BREAKDOWN = pd.DataFrame(
    {
        "policy": ["Adult", "Financial Services", "Weapons", "Gambling"],
        "n": [900, 412, 1770, 12],
        "accuracy": [0.951, 0.881, 0.948, 0.50],
        "ci_low": [0.935, 0.8498, 0.937, 0.25],
        "ci_high": [0.963, 0.9071, 0.957, 0.75],
    }
)


def test_sentence_from_numbers():
    text = accuracy_summary_text(KPI_ROW, BREAKDOWN)
    assert text == (
        "Accuracy 93.3% [92.3, 94.2], off track against 95.0%; the largest gap is "
        "Financial Services at 88.1% [85.0, 90.7] on 412 audits."
    )


def test_significant_change_is_called_a_drop():
    text = accuracy_summary_text(
        KPI_ROW, BREAKDOWN, change={"diff": -0.012, "p_value": 0.003, "from": "2026-09"}
    )
    assert text.startswith(
        "Accuracy 93.3% [92.3, 94.2], down 1.2 pp vs 2026-09 (p = 0.003), off track against 95.0%"
    )


def test_non_significant_change_is_not_called_a_drop():
    text = accuracy_summary_text(
        KPI_ROW, None, change={"diff": -0.004, "p_value": 0.41, "from": "2026-09"}
    )
    assert "down" not in text
    assert "not significantly different vs 2026-09 (-0.4 pp, p = 0.41)" in text
    # an explicit `significant` flag wins over the p-value
    flagged = accuracy_summary_text(
        KPI_ROW, None, change={"diff": 0.02, "p_value": 0.01, "significant": False}
    )
    assert "up" not in flagged.split(",")[1]


def test_small_segments_and_segments_above_target_are_not_named():
    only_small = BREAKDOWN[BREAKDOWN["n"] < 30]
    assert "gap" not in accuracy_summary_text(KPI_ROW, only_small)
    all_good = BREAKDOWN.assign(accuracy=0.97)
    assert "gap" not in accuracy_summary_text(KPI_ROW, all_good)
    assert accuracy_summary_text({**KPI_ROW, "status": "on_track"}, None).endswith(
        "on track against 95.0%."
    )


def test_no_data_and_p_value_formatting():
    text = accuracy_summary_text(
        {"kpi": "accuracy", "value": float("nan"), "n": 0, "status": "no_data"}, None
    )
    assert text == "Accuracy: no audits in scope, so no figure is reported."
    assert format_p_value(0.0004) == "p < 0.001"
    assert format_p_value(0.0031) == "p = 0.003"
    assert format_p_value(0.2) == "p = 0.20"


# --------------------------------------------------------------------------------------------
# Decisions first: headline, expected gain, where a target comes from
# --------------------------------------------------------------------------------------------


def test_gap_closing_gain_is_the_segment_excess_errors_over_all_audits():
    from reporting.metrics.summary import gap_closing_gain

    # 771 audits at 85.9% of 3,090, target 95%: 70.2 excess errors / 3,090 audits = 2.27 pp.
    assert gap_closing_gain(771, 0.859, 0.95, 3090) == pytest.approx(70.161 / 3090 * 100)
    assert gap_closing_gain(100, 0.97, 0.95, 1000) == 0.0  # already above target: no gain
    assert gap_closing_gain(10, 0.5, 0.95, 0) == 0.0


def test_target_sources_tell_table_from_default():
    from reporting.metrics.summary import target_sources

    kpis = pd.DataFrame({"market": ["BR", "BR", "BR", "JP"],
                         "kpi": ["accuracy", "enforcement_precision", "audit_volume", "accuracy"],
                         "target": [0.95, 0.95, float("nan"), 0.96]})
    targets = pd.DataFrame({"kpi": ["accuracy"], "target": [0.96], "market": ["JP"],
                            "product_line": ["*"]})
    assert list(target_sources(kpis, targets)) == [
        "built-in default", "built-in default", "", "targets table"]
    targets = pd.concat([targets, pd.DataFrame({"kpi": ["accuracy"], "target": [0.95],
                                                "market": ["*"], "product_line": ["*"]})])
    assert list(target_sources(kpis, targets))[0] == "targets table"
    assert list(target_sources(kpis, None)) == ["built-in default"] * 2 + ["", "built-in default"]


def _headline(status="off_track", share=0.75, events=None):
    from reporting.metrics.summary import accuracy_headline

    row = {"kpi": "accuracy", "value": 0.90, "target": 0.95, "n": 300, "status": status}
    by_policy = pd.DataFrame({"policy": ["B", "A"], "n": [100, 200], "accuracy": [0.80, 0.95],
                              "target": [0.95, 0.95], "status": ["off_track", "at_risk"]})
    mix = pd.DataFrame({"policy": ["B", "A"], "missed_violation_share": [share, 0.5]})
    change = {"diff": -0.07, "p_value": 0.0001, "significant": True, "from": "2026-09"}
    others = pd.DataFrame({"kpi": ["enforcement_recall"], "label": ["Enforcement recall"],
                           "unit": ["rate"], "value": [0.81], "target": [0.90],
                           "target_source": ["built-in default"]})
    return accuracy_headline("BR", row, change=change, breakdown=by_policy, mix=mix,
                             events=events, others_off=others)


def test_headline_says_what_is_off_where_and_what_to_do_with_its_gain():
    h = _headline()
    assert h.lead == ("BR's accuracy is off track: 90.0% against a 95.0% target, 5.0 pp short. "
                      "It fell 7.0 pp since September 2026.")
    assert h.points[0].startswith("The gap is mostly in B: 80.0% on 100 audits, 15 more errors")
    assert "75% of its errors are ads approved that should have been rejected" in h.points[0]
    assert "(target 90.0%, a built-in default nobody has set)" in h.points[-1]
    (action,) = h.actions
    assert action["expected_gain_pp"] == pytest.approx(5.0)  # 15 errors of 300 audits
    assert action["owner"] == "team leads" and "what must be rejected" in action["action"]
    assert "enough to reach the target" in action["action"]
    assert "p =" not in h.lead + " ".join(h.points)  # statistics go to the method note


def test_headline_names_the_policy_event_and_a_balanced_mix():
    events = pd.DataFrame({"date": pd.to_datetime(["2026-10-01"]), "policy": ["B"],
                           "description": ["B policy update"], "kind": ["policy_update"]})
    h = _headline(share=0.5, events=events)
    assert "It coincides with what was recorded on 1 Oct: B policy update." in h.points
    assert "both ads wrongly approved (50%) and ads wrongly rejected (50%)" in h.points[0]
    assert h.actions[0]["owner"] == "policy and team leads"
    assert h.actions[0]["action"].startswith("Brief B reviewers on the 1 Oct policy change")
    # An event that is not a policy change (a campaign) is named, but calls for retraining.
    campaign = events.assign(description="Election campaign starts", kind="external")
    h = _headline(share=0.5, events=campaign)
    assert "It coincides with what was recorded on 1 Oct: Election campaign starts." in h.points
    assert h.actions[0]["owner"] == "team leads"
    assert h.actions[0]["action"].startswith("Retrain B reviewers on where its line")


def test_headline_on_track_has_no_action():
    h = _headline(status="on_track")
    assert h.lead.startswith("BR's accuracy is on track: 90.0% against a 95.0% target.")
    assert h.actions == ()
