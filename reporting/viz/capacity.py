"""Figures of the capacity plan: volume forecast and required vs available FTE."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reporting.capacity.forecast import VolumeForecast, month_bounds
from reporting.viz.style import PALETTE, STATUS_COLORS, apply_house_style

RISK_STATUS = {"low": "on_track", "medium": "at_risk", "high": "off_track"}
RISK_LABELS = {"low": "low risk", "medium": "medium risk", "high": "high risk"}


def _thousands(ax, axis: str = "y") -> None:
    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def forecast_figure(
    history: pd.Series,
    forecast: VolumeForecast,
    *,
    history_days: int = 91,
    title: str | None = None,
) -> Figure:
    """Daily volume: recent history, the forecast line, its prediction band, the month shaded.

    Parameters
    ----------
    history : pandas.Series
        Daily cases on a ``DatetimeIndex`` (e.g. ``CapacityPlan.history[product_line]``).
    forecast : VolumeForecast
        Forecast made from that history.
    history_days : int, default 91
        Days of history shown before the forecast origin.
    title : str, optional
        Figure title; default names the month.

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_house_style()
    fig = Figure(figsize=(8.0, 4.0))
    ax = fig.add_subplot()
    start, end = month_bounds(forecast.month)
    hist = history.sort_index()
    hist = (
        hist[hist.index > hist.index.max() - pd.Timedelta(days=history_days)] if len(hist) else hist
    )
    ax.axvspan(
        start - pd.Timedelta(hours=12),
        end + pd.Timedelta(hours=12),
        color="#000000",
        alpha=0.06,
        lw=0,
        label=f"Planned month ({start:%b %Y})",
    )
    if len(hist):
        ax.plot(hist.index, hist.to_numpy(), color=PALETTE[0], lw=1.3, label="Actual cases")
    daily = forecast.daily
    pct = f"{forecast.level:.0%}"
    ax.fill_between(
        daily["date"],
        daily["pi_low"],
        daily["pi_high"],
        color=PALETTE[1],
        alpha=0.25,
        lw=0,
        label=f"{pct} prediction interval",
    )
    ax.plot(
        daily["date"],
        daily["forecast"],
        color=PALETTE[1],
        lw=1.6,
        ls="--",
        label="Forecast (" + ("ETS" if forecast.used_model == "ets" else "seasonal naive") + ")",
    )
    ax.set_ylim(bottom=0)
    _thousands(ax)
    ax.set_ylabel("Cases per day")
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=8))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_title(title or f"Case volume forecast for {start:%B %Y}")
    total = (
        f"Month total: {forecast.total:,.0f} cases ({pct} PI {forecast.total_low:,.0f}"
        f"\u2013{forecast.total_high:,.0f})"
    )
    ax.text(
        0.0, -0.2, total, transform=ax.transAxes, ha="left", va="top", fontsize=9, color="#444444"
    )
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    return fig


def capacity_gap_figure(by_product_line: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Required vs available FTE per product line, with the gap and SLA risk as labels.

    Parameters
    ----------
    by_product_line : pandas.DataFrame
        ``product_line``, ``required_fte``, ``available_fte``, ``gap_fte``, ``sla_risk`` and
        optionally ``required_fte_low`` / ``required_fte_high`` (drawn as an error bar),
        e.g. ``CapacityPlan.by_product_line``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_house_style()
    frame = by_product_line[by_product_line["required_fte"].notna()].reset_index(drop=True)
    height = max(2.2, 0.75 * len(frame) + 1.4)
    fig = Figure(figsize=(8.0, height))
    ax = fig.add_subplot()
    if frame.empty:
        ax.text(
            0.5,
            0.5,
            "No product line with a forecast",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return fig
    y = np.arange(len(frame))
    bar = 0.36
    ax.barh(y - bar / 2, frame["required_fte"], height=bar, color=PALETTE[5], label="Required FTE")
    ax.barh(
        y + bar / 2, frame["available_fte"], height=bar, color=PALETTE[4], label="Available FTE"
    )
    if {"required_fte_low", "required_fte_high"} <= set(frame.columns):
        low = (frame["required_fte"] - frame["required_fte_low"]).clip(lower=0)
        high = (frame["required_fte_high"] - frame["required_fte"]).clip(lower=0)
        ax.errorbar(
            frame["required_fte"],
            y - bar / 2,
            xerr=[low, high],
            fmt="none",
            ecolor="#333333",
            elinewidth=1,
            capsize=3,
            label="Interval of required FTE",
        )
    right = float(
        np.nanmax(
            np.r_[
                frame["required_fte"],
                frame["available_fte"],
                frame.get("required_fte_high", frame["required_fte"]),
            ]
        )
    )
    for i, row in frame.iterrows():
        gap = float(row["gap_fte"])
        risk = row.get("sla_risk")
        text = f"{gap:+.1f} FTE short" if gap > 0 else f"{-gap:.1f} FTE spare"
        if isinstance(risk, str):
            text += f" ({RISK_LABELS.get(risk, risk)})"
        colour = STATUS_COLORS.get(RISK_STATUS.get(risk, "no_data"), "#444444")
        ax.text(
            right * 1.03,
            i,
            text,
            va="center",
            ha="left",
            fontsize=9,
            color=colour,
            fontweight="bold",
        )
    ax.set_yticks(y, frame["product_line"].astype(str))
    ax.grid(axis="y", visible=False)
    ax.invert_yaxis()
    ax.set_xlim(0, right * 1.45 if right > 0 else 1)
    ax.set_xlabel("FTE")
    ax.set_title(title or "Required vs available FTE by product line")
    axes_height_in = height * (fig.subplotpars.top - fig.subplotpars.bottom)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.6 / axes_height_in), ncol=3, fontsize=8)
    return fig
