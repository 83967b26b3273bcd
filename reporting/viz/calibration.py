"""Figures of the auditor-calibration report (restricted: it names auditors).

Functions take the report's frames and return a matplotlib ``Figure`` in the house style.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from reporting.viz.style import PALETTE, STATUS_COLORS, TARGET_LINE, pct_axis

__all__ = ["accuracy_figure", "auditor_funnel"]

_FLAG = STATUS_COLORS["off_track"]
_GREY = "#999999"


def _funnel_panel(ax: plt.Axes, auditors: pd.DataFrame, rate: str, n_col: str, title: str,
                  tolerance: float, level: float) -> None:
    """One direction: each auditor's rate against the number of cases it is measured on, with
    the peers' overall rate, the tolerance band and the binomial limits around the band."""
    n = auditors[n_col].astype(float)
    pooled = float((auditors[rate] * n).sum() / n.sum()) if n.sum() else 0.0
    grid = np.linspace(max(n.min() * 0.5, 5), n.max() * 1.3 + 10, 120)
    upper = np.minimum(pooled + tolerance, 1.0)
    limit = stats.binom.ppf(0.5 + level / 2, grid.astype(int), upper) / grid.astype(int)
    ax.fill_between(grid, 0, upper, color=PALETTE[0], alpha=0.08, label="within tolerance")
    ax.plot(grid, limit, color=_GREY, lw=1, ls="--", label=f"{level:.0%} limit of the band")
    ax.axhline(pooled, color=TARGET_LINE["color"], lw=1, label="all auditors")
    for row in auditors.itertuples():
        colour = _FLAG if row.flagged and title.split()[0].lower() in row.reason else PALETTE[0]
        ax.scatter(getattr(row, n_col), getattr(row, rate), color=colour, s=40, zorder=3)
        ax.annotate(str(row.auditor_id), (getattr(row, n_col), getattr(row, rate)),
                    textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("cases another auditor " + ("rejected" if rate == "leniency" else "passed"))
    ax.set_title(title)
    pct_axis(ax, "y")
    ax.set_ylim(0, max(float(auditors[rate].max()) * 1.25, upper * 1.4, 0.05))


def auditor_funnel(auditors: pd.DataFrame, tolerance: float = 0.05, level: float = 0.95
                   ) -> Figure:
    """Leniency and severity of every auditor, funnel style (flagged auditors in red).

    Parameters
    ----------
    auditors : DataFrame
        :func:`reporting.people.auditors.auditor_calibration`'s table.
    tolerance : float
        The tolerance band above the overall rate.
    level : float
        Level of the binomial limits drawn around the band.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    _funnel_panel(axes[0], auditors, "leniency", "n_others_reject",
                  "Passes what others reject", tolerance, level)
    _funnel_panel(axes[1], auditors, "severity", "n_others_pass",
                  "Rejects what others pass", tolerance, level)
    axes[0].set_ylabel("share of shared cases")
    axes[1].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_figure(kpis: pd.DataFrame) -> Figure:
    """Measured and corrected accuracy with their intervals and the target."""
    fig, ax = plt.subplots(figsize=(7, 2.2))
    labels = {"accuracy": "measured (auditor = truth)",
              "accuracy_corrected": "corrected for auditor error"}
    for i, row in enumerate(kpis.itertuples()):
        ax.errorbar(row.value, i, xerr=[[row.value - row.ci_low], [row.ci_high - row.value]],
                    fmt="o", color=PALETTE[i], capsize=4)
    target = float(kpis["target"].iloc[0])
    if np.isfinite(target):
        ax.axvline(target, **TARGET_LINE)
        ax.annotate("target", (target, len(kpis) - 0.6), fontsize=8, color=TARGET_LINE["color"])
    ax.set_yticks(range(len(kpis)), [labels.get(k, k) for k in kpis["kpi"]])
    ax.set_ylim(-0.6, len(kpis) - 0.3)
    pct_axis(ax, "x", decimals=1)
    ax.set_title("Accuracy: measured and corrected")
    fig.tight_layout()
    return fig
