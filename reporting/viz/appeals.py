"""Figures of the appeals report: overturn rate by policy, and the weekly backlog."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from reporting.viz.style import PALETTE, STATUS_COLORS, STATUS_LABELS, TARGET_LINE

__all__ = ["backlog_chart", "overturn_chart"]


def overturn_chart(rates: pd.DataFrame, label: str = "policy", title: str | None = None
                   ) -> Figure:
    """Overturn rate per ``label`` (a row of :func:`~reporting.metrics.appeals.overturn_rates`
    each) with its interval, coloured and labelled by status, and the target as a dashed line."""
    r = rates.sort_values("value").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.42 * max(len(r), 3) + 1.2))
    if r.empty:
        ax.text(0.5, 0.5, "No decided appeals in this month", ha="center", va="center")
        ax.set_axis_off()
        return fig
    y = np.arange(len(r))
    colours = [STATUS_COLORS.get(s, STATUS_COLORS["no_data"]) for s in r["status"]]
    ax.hlines(y, r["ci_low"], r["ci_high"], color=colours, linewidth=2.5)
    ax.scatter(r["value"], y, color=colours, zorder=3, s=36)
    for yi, row in zip(y, r.itertuples(index=False), strict=True):
        ax.text(row.ci_high + 0.01, yi, f"{row.value:.0%}  ({row.overturned}/{row.decided}, "
                f"{STATUS_LABELS.get(row.status, row.status).lower()})", va="center", fontsize=8)
    target = r["target"].dropna()
    if len(target) and target.nunique() == 1:
        ax.axvline(target.iloc[0], **TARGET_LINE)
        ax.text(target.iloc[0], len(r) - 0.4, f" target {target.iloc[0]:.0%}", fontsize=8,
                color=TARGET_LINE["color"])
    ax.set_yticks(y, [str(v) for v in r[label]])
    ax.set_xlim(0, min(1.0, float(r["ci_high"].max()) + 0.25))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("decided appeals overturned (line: 95% interval)")
    ax.set_title(title or f"Overturn rate by {label.replace('_', ' ')}")
    return fig


def backlog_chart(backlog: pd.DataFrame, title: str = "Appeals by week") -> Figure:
    """Weekly appeals filed and resolved (lines) and open at the week's end (shaded)."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    if backlog.empty:
        ax.set_axis_off()
        return fig
    w = pd.to_datetime(backlog["week"])
    ax.fill_between(w, backlog["open"], color=PALETTE[4], alpha=0.35, step="post",
                    label="open at week end")
    ax.plot(w, backlog["filed"], color=PALETTE[0], marker="o", markersize=3, label="filed")
    ax.plot(w, backlog["resolved"], color=PALETTE[2], marker="s", markersize=3,
            label="resolved")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("appeals")
    ax.set_title(title)
    ax.legend(ncol=3, loc="upper left", bbox_to_anchor=(0, -0.12))
    return fig
