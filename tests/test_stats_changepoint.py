"""Change-point detection (reporting.stats.changepoint) on planted shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporting.stats.changepoint import (
    CHANGE_POINT_COLUMNS,
    BinomialCost,
    detect_change_points,
    match_events,
    overdispersion,
)

START = pd.Timestamp("2026-09-01")


def _series(
    days: int = 60,
    n_per_day: int = 150,
    acc: float = 0.92,
    shifts: tuple[tuple[int, float], ...] = (),
    seed: int = 0,
    beta_od: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.poisson(n_per_day, days) + 10
    p = np.full(days, acc)
    for day, delta in shifts:
        p[day:] += delta
    if beta_od > 0:  # beta-binomial day-to-day variation
        k = 1 / beta_od - 1
        p = rng.beta(p * k, (1 - p) * k)
    x = rng.binomial(n, p)
    return pd.DataFrame({"date": pd.date_range(START, periods=days), "correct": x, "n": n})


def test_binomial_cost_is_minus_twice_the_maximised_log_likelihood():
    """Cost of a segment = -2 Σ [x log p̂ + (n - x) log(1 - p̂)] with p̂ pooled over the segment
    (the binomial coefficients are constant across segmentations and left out)."""
    sig = np.array([[8, 10], [9, 10], [5, 10]], dtype=float)
    c = BinomialCost().fit(sig)
    p = 22 / 30
    expected = -2 * (22 * np.log(p) + 8 * np.log(1 - p))
    assert c.error(0, 3) == pytest.approx(expected)
    # splitting never increases the cost (needed for PELT's pruning)
    assert c.error(0, 2) + c.error(2, 3) <= c.error(0, 3)
    assert BinomialCost().fit(np.array([[10, 10], [10, 10]], float)).error(0, 2) == 0.0


@pytest.mark.parametrize("method", ["pelt", "binseg"])
def test_planted_shift_found_within_three_days(method):
    """A 4-point drop in accuracy planted on day 40 of 60 (about 150 audits a day) is found
    within 3 days, with before/after accuracies near the planted ones and a tiny p-value."""
    s = _series(shifts=((40, -0.04),), seed=11)
    cp = detect_change_points(s, method=method)
    assert list(cp.columns) == CHANGE_POINT_COLUMNS
    assert len(cp) == 1
    row = cp.iloc[0]
    assert abs((row["date"] - (START + pd.Timedelta(days=40))).days) <= 3
    assert row["before"] == pytest.approx(0.92, abs=0.01)
    assert row["after"] == pytest.approx(0.88, abs=0.015)
    assert row["diff"] < 0 and row["p_value"] < 1e-4
    assert row["ci_low"] < row["diff"] < row["ci_high"]
    assert row["segment_end"] == s["date"].iloc[-1]


def test_two_shifts_and_max_changes():
    """Two planted shifts (down on day 20, back up on day 45) are both found; max_changes=1 keeps
    the one with the larger likelihood gain."""
    s = _series(days=70, n_per_day=200, shifts=((20, -0.06), (45, 0.06)), seed=2)
    cp = detect_change_points(s)
    days = sorted((cp["date"] - START).dt.days)
    assert len(days) == 2
    assert abs(days[0] - 20) <= 3 and abs(days[1] - 45) <= 3
    assert len(detect_change_points(s, max_changes=1)) == 1


def test_stable_series_gives_no_change_points():
    """Stable binomial series (fixed seeds) give no change point with the default penalty."""
    found = sum(len(detect_change_points(_series(seed=seed))) for seed in range(10))
    assert found <= 1


def test_overdispersion_guards_against_false_alarms():
    """A stable but over-dispersed series (beta-binomial, large daily n) has φ̂ > 1; without
    the adjustment the binomial penalty cuts it into many segments, with it there are (almost)
    none."""
    s = _series(n_per_day=1000, beta_od=0.003, seed=4)
    assert overdispersion(s["correct"].to_numpy(), s["n"].to_numpy()) > 2
    naive = detect_change_points(s, adjust_overdispersion=False)
    adjusted = detect_change_points(s)
    assert len(naive) >= 2
    assert len(adjusted) <= 1
    assert adjusted.attrs["phi"] > 2


def test_short_series_and_explicit_penalty():
    """Too short a series returns an empty frame with the columns; an explicit penalty is used."""
    short = _series(days=4)
    assert detect_change_points(short, min_size=3).empty
    s = _series(shifts=((30, -0.05),), seed=5)
    cp = detect_change_points(s, penalty=1e9)
    assert cp.empty and cp.attrs["penalty"] == 1e9


def test_match_events_nearest_within_window():
    """Each change point gets the nearest event within the window (ties: the earlier event);
    events for another market are ignored; '*' applies to all markets."""
    cps = pd.DataFrame({"date": pd.to_datetime(["2026-10-10", "2026-11-20"])})
    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-07", "2026-10-13", "2026-10-09", "2026-11-01"]),
            "description": ["training wave", "tool release", "policy update DE", "far away"],
            "market": ["*", "BR", "DE", "*"],
            "kind": ["training", "tooling", "policy_update", pd.NA],
        }
    )
    m = match_events(cps, events, window_days=7, market="BR")
    assert m.loc[0, "description"] == "training wave"  # 3 days before beats 3 days after
    assert m.loc[0, "days_apart"] == 3
    assert m.loc[0, "kind"] == "training"
    assert m.loc[0, "event_date"] == pd.Timestamp("2026-10-07")
    assert pd.isna(m.loc[1, "description"]) and pd.isna(m.loc[1, "days_apart"])
    m_de = match_events(cps, events, window_days=7, market="DE")
    assert m_de.loc[0, "description"] == "policy update DE"
    assert m_de.loc[0, "days_apart"] == 1
    none = match_events(cps, None)
    assert none["description"].isna().all()
