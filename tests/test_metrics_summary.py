"""Written summaries are generated from the numbers, and honest about noise and significance."""

from __future__ import annotations

import pandas as pd

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
