"""Figures of reporting.viz.trend: they render, and distinctions are not made by colour alone."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from reporting.stats.control import p_chart  # noqa: E402
from reporting.viz.trend import odds_ratio_figure, p_chart_figure, waterfall_figure  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _pchart() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = rng.integers(80, 200, 40)
    p = np.where(np.arange(40) < 25, 0.92, 0.86)
    df = pd.DataFrame(
        {"date": pd.date_range("2026-09-01", periods=40), "x": rng.binomial(n, p), "n": n}
    )
    return p_chart(df, "x", "n", "date", baseline=slice(0, 25))


def test_p_chart_figure_marks_signals_change_points_and_events():
    """Signals are drawn with their own marker (diamond) and colour; change points and events
    are labelled vertical lines; the limits are stepped lines."""
    pc = _pchart()
    assert pc["signal"].any()
    cps = pd.DataFrame({"date": [pd.Timestamp("2026-09-26")], "before": [0.92], "after": [0.86]})
    events = pd.DataFrame(
        {
            "date": [pd.Timestamp("2026-09-24"), pd.Timestamp("2027-01-01")],
            "description": ["Guideline update", "outside the chart"],
        }
    )
    fig = p_chart_figure(pc, change_points=cps, events=events)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("Shift 92.0% → 86.0%") for t in texts)
    assert "Guideline update" in texts and "outside the chart" not in texts
    markers = {c.get_label(): c for c in ax.collections}
    sig = markers["Signal (run rule)"]
    assert sig.get_offsets().shape[0] == int(pc["signal"].sum())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"Change point", "Event", "Control limits (3σ)"} <= set(legend)
    fig.canvas.draw()


def test_waterfall_distinguishes_rate_and_mix_by_hatch_and_ends_at_this_period():
    """Bars run from the previous period's rate to this period's; mix bars are hatched, rate
    bars are not; contributions not shown are one 'Other' bar."""
    rc = pd.DataFrame(
        {
            "dimension": ["policy"] * 4,
            "segment": ["FS", "FS", "Gambling", "Gambling"],
            "effect": ["rate", "mix", "rate", "mix"],
            "contribution_pp": [-1.5, -0.3, 0.2, -0.1],
            "share_of_gap": [1.5 / 1.7, 0.3 / 1.7, -0.2 / 1.7, 0.1 / 1.7],
        }
    )
    rc.attrs.update({"rate_from": 0.92, "rate_to": 0.903})
    fig = waterfall_figure(rc, top=3)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "Previous period" and labels[-1] == "This period"
    assert "Other" in labels
    hatches = [b.get_hatch() for b in bars]
    assert "///" in hatches and any(not h for h in hatches)
    assert bars[-1].get_y() + bars[-1].get_height() == pytest.approx(0.903)
    empty = waterfall_figure(rc.iloc[0:0])
    assert isinstance(empty, Figure)


def test_odds_ratio_figure_uses_log_scale_and_handles_infinite_limits():
    """Forest plot on a log x axis; infinite interval ends (separation) are clipped, not fatal."""
    t = pd.DataFrame(
        {
            "term": ["period: to vs from", "policy: A vs B", "policy: C vs B"],
            "odds_ratio": [1.2, 2.0, 0.0],
            "ci_low": [1.05, 1.5, 0.0],
            "ci_high": [1.4, 2.7, np.inf],
            "p_value": [0.01, 1e-5, 0.99],
        }
    )
    fig = odds_ratio_figure(t)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [lbl.get_text() for lbl in ax.get_yticklabels()][0] == "period: to vs from"
    fig.canvas.draw()


def test_p_chart_limits_are_a_band_labels_apart_and_legend_whole():
    """Each day's limits are one grey bar (no line jumping from day to day); event and change
    point labels do not overlap even on consecutive days; the legend lies inside the figure;
    every y tick label names its gridline."""
    pc = _pchart()
    cps = pd.DataFrame({"date": [pd.Timestamp("2026-09-26")], "before": [0.92], "after": [0.86]})
    events = pd.DataFrame({"date": pd.to_datetime(["2026-09-24", "2026-09-25", "2026-09-26"]),
                           "description": ["Guideline update", "Tool incident", "Tool fix"]})
    fig = p_chart_figure(pc, change_points=cps, events=events)
    fig.canvas.draw()
    ax = fig.axes[0]
    band = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(band) == len(pc)
    assert sorted(p.get_height() for p in band) == pytest.approx(sorted(pc["ucl"] - pc["lcl"]))
    assert not [line for line in ax.get_lines() if line.get_label() == "Control limits (3σ)"]
    labels = [t for t in ax.texts if t.get_text() in
              {"Guideline update", "Tool incident", "Tool fix", "Shift 92.0% → 86.0%"}]
    boxes = [t.get_window_extent() for t in labels]
    assert len(boxes) == 4
    fb = fig.bbox
    for i, b in enumerate(boxes):
        assert fb.x0 <= b.x0 and b.x1 <= fb.x1 and fb.y0 <= b.y0 and b.y1 <= fb.y1
        assert not any(b.overlaps(o) for o in boxes[i + 1:])
    legend = ax.get_legend().get_window_extent()
    assert fb.x0 <= legend.x0 and legend.x1 <= fb.x1 and fb.y0 <= legend.y0
    for t in ax.yaxis.get_major_ticks():
        lo, hi = ax.get_ylim()
        if lo <= t.get_loc() <= hi:
            value = float(t.label1.get_text().rstrip("%").replace("\u2212", "-"))
            assert value == pytest.approx(t.get_loc() * 100, abs=1e-6)
