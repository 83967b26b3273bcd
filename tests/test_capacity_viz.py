"""Capacity figures: they render headless and return Figures with the expected elements."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reporting.capacity import forecast_volume
from reporting.viz.capacity import capacity_gap_figure, forecast_figure


def _series() -> pd.Series:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2026-06-01", "2026-09-30", freq="D")
    weekly = np.array([60.0, 80.0, 60.0, 40.0, 20.0, -120.0, -140.0])
    return pd.Series(1000 + weekly[idx.day_of_week] + rng.normal(0, 30, len(idx)), index=idx)


def test_forecast_figure():
    history = _series()
    fc = forecast_volume(history, "2026-11")
    fig = forecast_figure(history, fc)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "November 2026" in ax.get_title(loc="left")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Actual cases" in labels
    assert any(label.startswith("95% prediction interval") for label in labels)
    assert any("Planned month" in label for label in labels)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert f"{fc.total:,.0f}" in texts


def test_capacity_gap_figure():
    frame = pd.DataFrame(
        {
            "product_line": ["Search Ads", "Spark Ads", "TopView"],
            "required_fte": [7.0, 3.0, np.nan],
            "required_fte_low": [6.5, 2.5, np.nan],
            "required_fte_high": [7.6, 3.4, np.nan],
            "available_fte": [6.35, 4.15, 1.0],
            "gap_fte": [0.65, -1.15, np.nan],
            "sla_risk": ["high", "low", None],
        }
    )
    fig = capacity_gap_figure(frame)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "+0.7 FTE short (high risk)" in texts
    assert "1.1 FTE spare (low risk)" in texts
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Search Ads", "Spark Ads"]
    empty = capacity_gap_figure(frame.iloc[2:])
    assert "No product line" in empty.axes[0].texts[0].get_text()
