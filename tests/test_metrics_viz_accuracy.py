"""Market-accuracy figures render without error and mark what must not be over-read."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reporting.metrics.compute import accuracy_table, error_mix, weekly_accuracy  # noqa: E402
from reporting.viz.accuracy import (  # noqa: E402
    SMALL_CELL_GID,
    accuracy_bar_chart,
    error_mix_chart,
    policy_product_heatmap,
    weekly_trend_chart,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def audits(n: int = 1200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    policy = rng.choice(["Adult", "Financial Services", "Weapons"], n)
    product = rng.choice(["In-Feed Ads", "Spark Ads", "TopView"], n)
    qa = rng.choice(["approve", "reject"], n, p=[0.7, 0.3])
    wrong = rng.random(n) < np.where(policy == "Financial Services", 0.12, 0.04)
    rev = np.where(wrong, np.where(qa == "approve", "reject", "approve"), qa)
    a = pd.DataFrame(
        {
            "market": "BR",
            "policy": policy,
            "product_line": product,
            "reviewer_decision": rev,
            "qa_decision": qa,
            "decision_date": pd.Timestamp("2026-09-01")
            + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
        }
    )
    # make exactly one small cell: Adult x TopView with 7 audits
    small = a[(a["policy"] == "Adult") & (a["product_line"] == "TopView")].head(7)
    return pd.concat(
        [a[~((a["policy"] == "Adult") & (a["product_line"] == "TopView"))], small],
        ignore_index=True,
    )


def test_accuracy_bar_chart():
    fig = accuracy_bar_chart(accuracy_table(audits(), "policy"), "policy", target=0.95)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]  # bottom to top
    assert labels[-1] == "Financial Services"  # the worst segment is drawn on top
    assert any(abs(line.get_xdata()[0] - 0.95) < 1e-12 for line in ax.get_lines())


def test_heatmap_marks_small_cells():
    fig = policy_product_heatmap(audits(), min_n=30)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    marked = [p for p in ax.patches if p.get_gid() == SMALL_CELL_GID]
    assert len(marked) == 1
    assert marked[0].get_hatch()
    assert marked[0].get_xy() == (2, 0)  # column TopView, row Adult
    texts = [t.get_text() for t in ax.texts]
    assert "n=7" in texts  # the small cell shows its n, not a rate
    assert not any(t.startswith(("0.", "1")) and "n=7" in t for t in texts)


def test_error_mix_chart_and_weekly_trend():
    a = audits()
    for value in ("rate", "count", "share"):
        assert isinstance(error_mix_chart(error_mix(a), "policy", value=value), Figure)
    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-09-10", "2027-01-01"]),
            "description": ["Policy update", "x"],
        }
    )
    fig = weekly_trend_chart(weekly_accuracy(a), target=0.95, events=events)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "Policy update" in labels and "x" not in labels  # only events inside the window


def test_empty_inputs_still_give_a_figure():
    empty = audits().iloc[:0]
    assert isinstance(accuracy_bar_chart(accuracy_table(empty, "policy"), "policy"), Figure)
    assert isinstance(policy_product_heatmap(empty), Figure)
    assert isinstance(error_mix_chart(error_mix(empty)), Figure)
    assert isinstance(weekly_trend_chart(weekly_accuracy(empty)), Figure)


# --------------------------------------------------------------------------------------------
# Honest axes, whole legends, labels that never overlap (issue 13, item 8)
# --------------------------------------------------------------------------------------------


def _inside(box, fig, tol=1.0):
    fb = fig.bbox
    return (box.x0 >= fb.x0 - tol and box.y0 >= fb.y0 - tol and box.x1 <= fb.x1 + tol
            and box.y1 <= fb.y1 + tol)


def assert_honest_percent_ticks(ax, axis="x"):
    """Every visible tick label names its gridline's value exactly ('2.5%', never '2%')."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(a.get_view_interval())
    ticks = [t for t in a.get_major_ticks() if lo - 1e-12 <= t.get_loc() <= hi + 1e-12]
    assert ticks
    for t in ticks:
        text = t.label1.get_text()
        assert text.endswith("%"), text
        assert float(text.rstrip("%").replace("\u2212", "-")) == pytest.approx(
            t.get_loc() * 100, abs=1e-6), (text, t.get_loc())


def test_tick_decimals():
    from reporting.viz.style import tick_decimals

    assert tick_decimals([0.0, 0.025, 0.05, 0.075]) == 1
    assert tick_decimals([0.90, 0.92, 0.94]) == 0
    assert tick_decimals([0.9, 0.9025]) == 2


def test_accuracy_chart_is_zoomed_to_the_data_with_the_target():
    table = accuracy_table(audits(), "policy")
    fig = accuracy_bar_chart(table, "policy", target=0.95)
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo > 0.5  # not from 0%: 91% and 93% must look different
    assert lo <= table["ci_low"].min() and hi >= min(1.0, table["ci_high"].max())
    assert lo < 0.95 < hi
    assert_honest_percent_ticks(ax, "x")
    assert _inside(ax.get_legend().get_window_extent(), fig)


def test_error_mix_ticks_name_their_gridlines():
    # Totals up to 15%: gridlines every 2.5%, which whole-percent labels misname ('2%, 5%, 8%').
    mix = pd.DataFrame({"policy": ["A", "B", "C"], "n": [400, 400, 400],
                        "missed_violation_rate": [0.08, 0.03, 0.02],
                        "over_enforcement_rate": [0.07, 0.02, 0.01]})
    fig = error_mix_chart(mix.assign(missed_violations=1, over_enforcements=1), "policy")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert 0.025 in [round(t, 6) for t in ax.get_xticks()]  # the case the test is about
    assert_honest_percent_ticks(ax, "x")
    assert _inside(ax.get_legend().get_window_extent(), fig)


def test_weekly_trend_event_labels_never_overlap():
    a = audits()
    events = [(pd.Timestamp("2026-09-08") + pd.Timedelta(days=i), f"({i + 1})")
              for i in range(5)]  # five events on five consecutive days
    fig = weekly_trend_chart(weekly_accuracy(a), target=0.95, events=events)
    fig.canvas.draw()
    ax = fig.axes[0]
    boxes = [t.get_window_extent() for t in ax.texts]
    assert len(boxes) == 5
    for i, b in enumerate(boxes):
        assert _inside(b, fig)
        for other in boxes[i + 1:]:
            assert not b.overlaps(other)
    assert _inside(ax.get_legend().get_window_extent(), fig)
    assert max(ax.get_yticks()) <= 1.0 + 1e-9  # the label room adds no tick above 100%
    assert_honest_percent_ticks(ax, "y")


def test_accuracy_chart_marks_each_segments_own_target():
    """TopView's 96% beside the others' 95%: no single line, a tick at each segment's target."""
    table = accuracy_table(audits(), "product_line").assign(target=[0.95, 0.95, 0.96])
    fig = accuracy_bar_chart(table, "product_line")
    ax = fig.axes[0]
    ticks = [c for c in ax.collections if c.get_offsets().shape[0] == 3
             and sorted(c.get_offsets()[:, 0]) == pytest.approx([0.95, 0.95, 0.96])]
    assert len(ticks) == 1
    assert "Target (each segment's own)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlim()[1] > 0.96
