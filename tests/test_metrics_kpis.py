"""KPI registry, target resolution and status rules."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from reporting.core.kpis import (
    KPI_NAMES,
    KPIS,
    get_kpi,
    resolve_target,
    resolve_targets,
    status_against_target,
)

# docs/conventions.md, "KPI names": name -> better direction
CONVENTIONS = {
    "accuracy": "higher",
    "weighted_accuracy": "higher",
    "missed_violation_rate": "lower",
    "over_enforcement_rate": "lower",
    "miss_rate_among_violations": "lower",
    "over_enforcement_among_clean": "lower",
    "enforcement_precision": "higher",
    "enforcement_recall": "higher",
    "audit_volume": "higher",
    "audit_coverage": "higher",
    "handling_time_mean": "lower",
    "handling_time_median": "lower",
    "productivity": "higher",
    "sla_attainment": "higher",
    "overturn_rate": "lower",  # issue 15 (appeals)
    "accuracy_corrected": "higher",  # issue 14 (auditor calibration)
}
DEFAULT_TARGETS = {
    "accuracy": 0.95,
    "weighted_accuracy": 0.95,
    "missed_violation_rate": 0.03,
    "over_enforcement_rate": 0.02,
    "miss_rate_among_violations": 0.10,
    "over_enforcement_among_clean": 0.03,
    "enforcement_precision": 0.95,
    "enforcement_recall": 0.90,
    "audit_volume": None,
    "audit_coverage": 0.02,
    "handling_time_mean": 90.0,
    "handling_time_median": 60.0,
    "productivity": 40.0,
    "sla_attainment": 0.95,
    "overturn_rate": 0.15,
    "accuracy_corrected": 0.95,  # judged against the accuracy target
}


def test_registry_covers_exactly_the_conventions_kpis():
    assert set(KPI_NAMES) == set(CONVENTIONS)
    for name, direction in CONVENTIONS.items():
        k = KPIS[name]
        assert k.name == name and k.direction == direction
        assert k.default_target == DEFAULT_TARGETS[name]
        assert k.label and k.definition and k.interval_method
    assert KPIS["productivity"].unit == "cases_per_hour"
    assert KPIS["handling_time_mean"].unit == "seconds"
    assert KPIS["audit_volume"].kind == "count" and KPIS["audit_volume"].unit == "count"
    assert KPIS["accuracy"].unit == "rate" and KPIS["accuracy"].kind == "proportion"


def test_kpis_are_frozen_and_the_registry_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        KPIS["accuracy"].default_target = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        KPIS["new"] = KPIS["accuracy"]  # type: ignore[index]
    with pytest.raises(KeyError, match="known KPIs"):
        get_kpi("acuracy")


TARGETS = pd.DataFrame(
    {
        "kpi": ["accuracy", "accuracy", "accuracy", "accuracy", "accuracy", "accuracy"],
        "market": ["*", "BR", "BR", "BR", "*", "DE"],
        "product_line": ["*", "*", "TopView", "TopView", "Search Ads", "*"],
        "target": [0.94, 0.93, 0.90, 0.92, 0.97, 0.96],
        "effective_from": pd.to_datetime(
            [None, "2026-01-01", "2026-01-01", "2026-09-01", None, "2026-12-01"]
        ),
    }
)


def test_most_specific_target_wins():
    # market + product line
    assert resolve_target(TARGETS, "accuracy", "BR", "TopView", as_of="2026-10-15") == 0.92
    # market only
    assert resolve_target(TARGETS, "accuracy", "BR", "Spark Ads", as_of="2026-10-15") == 0.93
    assert resolve_target(TARGETS, "accuracy", "BR", as_of="2026-10-15") == 0.93
    # '*' market with a specific product line comes after the market level ...
    assert resolve_target(TARGETS, "accuracy", "BR", "Search Ads", as_of="2026-10-15") == 0.93
    # ... and before the global row
    assert resolve_target(TARGETS, "accuracy", "US", "Search Ads", as_of="2026-10-15") == 0.97
    # global
    assert resolve_target(TARGETS, "accuracy", "US", "TopView", as_of="2026-10-15") == 0.94
    assert resolve_target(TARGETS, "accuracy") == 0.94


def test_effective_from_latest_in_force_wins():
    # before 2026-09-01 the older TopView target applies
    assert resolve_target(TARGETS, "accuracy", "BR", "TopView", as_of="2026-05-31") == 0.90
    # the BR rows start 2026-01-01: before that only the undated global row applies
    assert resolve_target(TARGETS, "accuracy", "BR", "TopView", as_of="2025-12-31") == 0.94
    # DE's own target is not in force until December
    assert resolve_target(TARGETS, "accuracy", "DE", as_of="2026-11-30") == 0.94
    assert resolve_target(TARGETS, "accuracy", "DE", as_of="2026-12-01") == 0.96
    # without as_of, the latest effective row wins
    assert resolve_target(TARGETS, "accuracy", "BR", "TopView") == 0.92


def test_default_targets_apply_when_the_table_has_no_row():
    assert resolve_target(None, "missed_violation_rate") == 0.03
    assert resolve_target(TARGETS, "productivity", "BR") == 40.0
    assert math.isnan(resolve_target(TARGETS, "audit_volume", "BR"))
    with pytest.raises(KeyError):
        resolve_target(TARGETS, "not_a_kpi")


def test_targets_without_optional_columns_are_accepted():
    t = pd.DataFrame({"kpi": ["accuracy"], "target": [0.91]})
    assert resolve_target(t, "accuracy", "BR", "TopView") == 0.91
    with pytest.raises(ValueError, match="target"):
        resolve_target(pd.DataFrame({"kpi": ["accuracy"]}), "accuracy")


def test_vectorised_resolution_matches_the_scalar_one():
    frame = pd.DataFrame(
        {
            "kpi": ["accuracy", "accuracy", "accuracy", "productivity", "accuracy"],
            "market": ["BR", "BR", "US", "BR", None],
            "product_line": ["TopView", "Spark Ads", "Search Ads", "TopView", "TopView"],
        },
        index=[10, 11, 12, 13, 14],
    )
    got = resolve_targets(frame, TARGETS, as_of="2026-10-15")
    assert list(got.index) == [10, 11, 12, 13, 14]
    assert list(got) == [0.92, 0.93, 0.97, 40.0, 0.94]


def test_status_rules_for_both_directions():
    # higher is better, target 0.95
    assert status_against_target(0.955, 0.97, 0.95, "higher") == "on_track"
    assert status_against_target(0.95, 0.97, 0.95, "higher") == "on_track"  # touching counts
    assert status_against_target(0.93, 0.96, 0.95, "higher") == "at_risk"
    assert status_against_target(0.90, 0.949, 0.95, "higher") == "off_track"
    # lower is better, target 0.03
    assert status_against_target(0.01, 0.029, 0.03, "lower") == "on_track"
    assert status_against_target(0.02, 0.04, 0.03, "lower") == "at_risk"
    assert status_against_target(0.031, 0.05, 0.03, "lower") == "off_track"


def test_status_missing_values_and_no_data():
    assert status_against_target(np.nan, np.nan, 0.95, "higher") == "at_risk"
    assert status_against_target(0.96, 0.98, np.nan, "higher") == "at_risk"
    assert status_against_target(np.nan, np.nan, 0.95, "higher", n=0) == "no_data"
    assert status_against_target(0.96, 0.98, 0.95, "higher", n=0) == "no_data"
    with pytest.raises(ValueError, match="direction"):
        status_against_target(0.9, 0.95, 0.9, "up")


def test_status_is_vectorised():
    out = status_against_target(
        np.array([0.96, 0.93, 0.90, 0.01, np.nan]),
        np.array([0.98, 0.96, 0.94, 0.02, np.nan]),
        np.array([0.95, 0.95, 0.95, 0.03, 0.95]),
        np.array(["higher", "higher", "higher", "lower", "higher"]),
        n=np.array([100, 100, 100, 100, 0]),
    )
    assert list(out) == ["on_track", "at_risk", "off_track", "on_track", "no_data"]
