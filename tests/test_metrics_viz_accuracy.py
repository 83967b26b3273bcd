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
