"""People figures render in the house style, including on awkward inputs (no reference values)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from reporting.people import reviewer_scorecards
from reporting.viz.people import funnel_plot, shrinkage_figure, weekly_small_multiples
from reporting.viz.style import apply_house_style


def make_audits(spec: dict[str, tuple[int, float]], period: str = "2026-10", seed: int = 0):
    """Random audits for {reviewer_id: (n_audits, true_accuracy)} within one month."""
    rng = np.random.default_rng(seed)
    start = pd.Period(period, freq="M").start_time
    rows = []
    for rid, (n, acc) in spec.items():
        ok = rng.random(n) < acc
        qa = np.where(rng.random(n) < 0.3, "reject", "approve")
        flip = np.where(qa == "reject", "approve", "reject")
        rows.append(
            pd.DataFrame(
                {
                    "audit_id": [f"{period}-{rid}-{j}" for j in range(n)],
                    "decision_date": start + pd.to_timedelta(rng.integers(0, 28, n), unit="D"),
                    "policy": rng.choice(["A", "B", "C"], n),
                    "reviewer_id": rid,
                    "reviewer_decision": np.where(ok, qa, flip),
                    "qa_decision": qa,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(autouse=True)
def _style():
    apply_house_style()
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scorecards():
    spec = {f"r{i:02d}": (int(n), 0.95) for i, n in enumerate(np.linspace(40, 220, 12))}
    spec["outlier"] = (300, 0.8)
    spec["tiny"] = (3, 0.6)
    audits = pd.concat(
        [make_audits(spec, "2026-10", seed=5), make_audits(spec, "2026-09", seed=6)],
        ignore_index=True,
    )
    return reviewer_scorecards(audits, period="2026-10"), audits


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_funnel_plot_marks_and_labels_flagged(scorecards):
    sc, _ = scorecards
    assert "outlier" in set(sc.flags["reviewer_id"])
    fig = funnel_plot(sc.table, sc.limits, sc.target)
    assert isinstance(fig, Figure)
    assert "outlier" in _texts(fig)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(lab.startswith("Flagged") for lab in labels)
    assert any("Too few audits" in lab for lab in labels)
    assert any("99.8% limits" in lab for lab in labels)


def test_weekly_small_multiples_caps_panels(scorecards):
    sc, audits = scorecards
    ids = list(sc.table["reviewer_id"])
    fig = weekly_small_multiples(audits, ids, max_panels=6, target=sc.target)
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6
    assert f"showing 6 of {len(ids)}" in fig._suptitle.get_text()


def test_shrinkage_figure(scorecards):
    sc, _ = scorecards
    fig = shrinkage_figure(sc.table, prior=sc.prior, target=sc.target)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == (sc.table["audits"] > 0).sum()


def test_figures_render_on_edge_cases():
    empty = reviewer_scorecards(None, period="2026-10")
    solo = reviewer_scorecards(make_audits({"solo": (12, 0.9)}), period="2026-10")
    for sc in (empty, solo):
        for fig in (
            funnel_plot(sc.table, sc.limits, sc.target),
            shrinkage_figure(sc.table, prior=sc.prior),
            weekly_small_multiples(make_audits({"solo": (12, 0.9)}), list(sc.table["reviewer_id"])),
        ):
            assert isinstance(fig, Figure)
            fig.savefig(_null(), format="png")
    # reviewer with no audits in the window gets an empty panel, not an error
    fig = weekly_small_multiples(make_audits({"a": (20, 0.9)}), ["a", "ghost"])
    assert "no audits" in _texts(fig)
    assert isinstance(weekly_small_multiples(pd.DataFrame(), ["a"]), Figure)


def _null():
    import io

    return io.BytesIO()


def test_status_chart_zooms_to_the_data_and_labels_statuses():
    from reporting.people.evidence import reviewer_evidence
    from reporting.viz.people import status_chart

    mc = pd.DataFrame({"reviewer_id": ["a", "b", "c", "d"], "period": "2026-10",
                       "audits": [600, 600, 600, 10], "correct": [540, 571, 594, 10]})
    ev = reviewer_evidence(mc, 0.95, period="2026-10")
    fig = status_chart(ev, 0.95)
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert 0.85 < low < 0.9 and high <= 1.0  # zoomed, not 0-100%
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"Below target", "On target", "Above target", "Target 95%"} <= labels
    assert len(ax.get_yticklabels()) == 3  # the 10-audit reviewer is not judged, not drawn
    empty = status_chart(ev[ev["status"] == "not_judged"], 0.95)
    assert "Nobody has enough audits" in empty.axes[0].texts[0].get_text()
    plt.close("all")
