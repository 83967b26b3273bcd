"""Figures of the monthly business review: the six-month accuracy trend per market (target
drawn only from its ``effective_from``) and the capacity outlook."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reporting.viz.style import PALETTE, STATUS_COLORS, STATUS_LABELS, TARGET_LINE, pct_axis

__all__ = ["capacity_figure", "trend_figure"]


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def capacity_figure(report) -> Figure | None:
    """Required vs available FTE per market (the capacity plan's gap chart, one bar pair per
    market, labelled with the gap and the SLA risk in words); None without any plan."""
    from reporting.viz.capacity import capacity_gap_figure

    frame = report.capacity[report.capacity["required_fte"].notna()].rename(
        columns={"market": "product_line"})
    if frame.empty:
        return None
    for col in ("required_fte", "required_fte_low", "required_fte_high", "available_fte",
                "gap_fte"):
        frame[col] = frame[col].astype(float)
    return capacity_gap_figure(
        frame, title=f"Required vs available FTE, {pd.Period(report.plan_month, freq='M').strftime('%B %Y')}")

# -- display: trend ------------------------------------------------------------------------
def trend_figure(report) -> Figure:
    """Small multiples: monthly accuracy per market with its interval and target; the panel
    title names the market and this month's status in words."""
    from reporting.viz.style import apply_house_style

    apply_house_style()
    markets = list(report.markets)
    ncols = min(3, max(1, len(markets)))
    nrows = max(1, math.ceil(len(markets) / ncols))
    fig = Figure(figsize=(9.0, 2.5 * nrows + 0.7))
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    t = report.trend
    months = sorted(t["period"].unique()) if len(t) else []
    x_of = {p: i for i, p in enumerate(months)}
    finite = t[["ci_low", "ci_high", "target"]].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    lo = float(finite.min()) if finite.size else 0.8
    hi = float(finite.max()) if finite.size else 1.0
    pad = max(0.005, 0.08 * (hi - lo))
    for i, ax in enumerate(axes.ravel()):
        if i >= len(markets):
            ax.set_axis_off()
            continue
        m = markets[i]
        d = t[t["market"] == m].sort_values("period")
        d = d[d["value"].notna()]
        x = d["period"].map(x_of).to_numpy(dtype=float)
        y = d["value"].to_numpy(dtype=float)
        yerr = np.vstack([y - d["ci_low"].to_numpy(dtype=float),
                          d["ci_high"].to_numpy(dtype=float) - y])
        ax.errorbar(x, y, yerr=yerr, fmt="o-", color=PALETTE[0], ecolor=PALETTE[0],
                    elinewidth=1, capsize=2.5, ms=4, lw=1.2)
        # the target of each month (a step where a new target takes effect), not today's
        # target drawn over months it did not apply to
        tm = t[t["market"] == m].sort_values("period")
        tx = tm["period"].map(x_of).to_numpy(dtype=float)
        ty = tm["target"].to_numpy(dtype=float)
        if np.isfinite(ty).any():
            ax.step(np.r_[tx - 0.5, tx[-1:] + 0.5], np.r_[ty, ty[-1:]], where="post",
                    **TARGET_LINE)
        status = _status(report, m)
        colour = STATUS_COLORS.get(status, STATUS_COLORS["no_data"])
        if len(d) and d["period"].iloc[-1] == report.period:
            ax.plot(x[-1:], y[-1:], marker={"on_track": "o", "at_risk": "^",
                                            "off_track": "s"}.get(status, "o"),
                    ms=8, color=colour, zorder=5, ls="none")
        ax.set_title(f"{m}: {STATUS_LABELS.get(status, status)}", fontsize=10,
                     color=colour if status in STATUS_COLORS else "#333333")
        ax.set_xticks(range(len(months)),
                      [pd.Period(p, freq="M").strftime("%b") for p in months], fontsize=8)
        ax.set_xlim(-0.5, len(months) - 0.5)
        ax.set_ylim(lo - pad, min(1.0, hi + pad))
        pct_axis(ax, decimals=0 if hi - lo > 0.05 else 1)
        ax.tick_params(axis="y", labelsize=8)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=PALETTE[0], marker="o", lw=1.2,
               label=f"Monthly accuracy ({report.level:.0%} interval)"),
        Line2D([], [], **TARGET_LINE, label="Target"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _target(report, market: str) -> float | None:
    r = report.kpis[(report.kpis["market"] == market) & (report.kpis["kpi"] == "accuracy")]
    return float(r["target"].iloc[0]) if len(r) and _finite(r["target"].iloc[0]) else None

def _status(report, market: str) -> str:
    r = report.kpis[(report.kpis["market"] == market) & (report.kpis["kpi"] == "accuracy")]
    return str(r["status"].iloc[0]) if len(r) else "no_data"

