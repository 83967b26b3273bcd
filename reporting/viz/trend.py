"""Figures for trend and root-cause analysis: p-chart, rate/mix waterfall, odds-ratio forest plot.

Every function takes a frame produced by :mod:`reporting.stats` and returns a matplotlib
``Figure`` (never shows it). Colours come from the house palette and every distinction that
colour makes is also made by marker, line style or hatch, so the figures survive grey-scale
printing and colour-blind readers. Call :func:`reporting.viz.style.apply_house_style` once
before plotting.
"""

from __future__ import annotations

import textwrap

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from reporting.viz.style import PALETTE, TARGET_LINE, pct_axis, spread_labels

__all__ = ["p_chart_figure", "waterfall_figure", "odds_ratio_figure"]

_POINT = PALETTE[0]  # blue
_LIMIT = "#555555"
_SIGNAL = PALETTE[3]  # vermillion
_CHANGE = PALETTE[1]  # orange
_EVENT = PALETTE[2]  # green
_RATE = PALETTE[0]
_MIX = PALETTE[1]
_OTHER = "#999999"


def _short(text: str, width: int = 28) -> str:
    return textwrap.shorten(str(text), width=width, placeholder="…")


def p_chart_figure(
    pchart_df: pd.DataFrame,
    change_points: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    title: str | None = "Daily accuracy with control limits",
    target: float | None = None,
    figsize: tuple[float, float] = (9.0, 4.6),
) -> Figure:
    """p-chart: points, centre line, each day's control limits, signals, change points, events.

    Parameters
    ----------
    pchart_df : DataFrame
        From :func:`reporting.stats.control.p_chart` (``date, p, centre, ucl, lcl, signal``,
        optionally ``rules_fired``).
    change_points : DataFrame, optional
        From :func:`reporting.stats.changepoint.detect_change_points` (``date``, ``before``,
        ``after``): dashed vertical lines labelled with the shift.
    events : DataFrame, optional
        Events (``date``, ``description``): dotted vertical lines labelled with the description
        (only those within the chart's date range).
    title : str, optional
        Axes title.
    target : float, optional
        Draws the KPI target as a reference line.
    figsize : tuple
        Figure size in inches.

    Returns
    -------
    Figure
        The limits depend on each day's number of audits, so they are drawn as a grey band per
        day (no line jumping from day to day); labels of events and change points sit at the
        top, moved down a row where they would overlap; the legend is under the axes, inside the
        figure.
    """
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    d = pchart_df
    is_date = not np.issubdtype(d["date"].dtype, np.number)
    x = pd.to_datetime(d["date"]) if is_date else d["date"]
    _limit_band(ax, x, d["lcl"], d["ucl"])
    ax.plot(x, d["p"], color=_POINT, marker="o", markersize=3.5, linewidth=1.0, label="Daily value")
    ax.plot(x, d["centre"], color=_LIMIT, linewidth=1.2, label="Centre (baseline)")
    _signals(ax, x, d)
    if target is not None:
        ax.axhline(target, label="Target", **TARGET_LINE)
    lo_x, hi_x = (x.min(), x.max()) if len(d) else (None, None)
    labels = _change_point_lines(ax, change_points) + _event_lines(ax, events, lo_x, hi_x)
    labels.sort(key=lambda t: t.xy[0] if not isinstance(t.xy[0], pd.Timestamp)
                else mdates.date2num(t.xy[0]))
    handles, names = ax.get_legend_handles_labels()
    if change_points is not None and len(change_points):
        handles.append(Line2D([], [], color=_CHANGE, linestyle="--", linewidth=1.6))
        names.append("Change point")
    if events is not None and len(events):
        handles.append(Line2D([], [], color=_EVENT, linestyle=":", linewidth=1.6))
        names.append("Event")
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=4, fontsize=8)
    if isinstance(lo_x, pd.Timestamp):
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    if title:
        ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel("Accuracy")
    _zoom_to_points(ax, d, target)
    _room_for_labels(ax, spread_labels(ax, labels))
    pct_axis(ax, "y")
    return fig


def _limit_band(ax: plt.Axes, x: pd.Series, lcl: pd.Series, ucl: pd.Series) -> None:
    """Each day's limits as a grey bar from its lower to its upper limit (0.8 of a day wide):
    they depend on the day's audits, and a line joining them jumps for no reason a reader sees."""
    ax.bar(x, (ucl - lcl).to_numpy(dtype=float), bottom=lcl.to_numpy(dtype=float), width=0.8,
           color="#e3e3e3", edgecolor="none", zorder=0, label="Control limits (3σ)")


def _zoom_to_points(ax: plt.Axes, d: pd.DataFrame, target: float | None) -> None:
    """y range of the daily values, the centre and the target: the limits of a day with a handful
    of audits reach far (40%..100%) and would squash what is read; their bars run off the axis."""
    vals = pd.concat([d["p"], d["centre"]]).astype(float).dropna()
    if target is not None:
        vals = pd.concat([vals, pd.Series([float(target)])])
    if vals.empty:
        return
    lo, hi = float(vals.min()), float(vals.max())
    pad = max(0.06 * (hi - lo), 0.005)
    ax.set_ylim(max(0.0, lo - pad), min(1.0, hi) + pad / 2)


def _signals(ax: plt.Axes, x: pd.Series, d: pd.DataFrame) -> None:
    if "signal" not in d.columns or not d["signal"].any():
        return
    flag = d["signal"].astype(bool)
    sig, xs = d[flag], x[flag]
    ax.scatter(xs, sig["p"], marker="D", s=42, color=_SIGNAL, edgecolor="black", linewidth=0.6,
               zorder=5, label="Signal (run rule)")
    if "rules_fired" in sig.columns:
        for xi, yi, rules in zip(xs, sig["p"], sig["rules_fired"], strict=True):
            if rules:
                ax.annotate(rules, (xi, yi), textcoords="offset points", xytext=(0, -11),
                            ha="center", fontsize=7, color=_SIGNAL)


def _top_label(ax: plt.Axes, x: object, text: str, colour: str) -> Text:
    return ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -4),
                       textcoords="offset points", va="top", ha="left", fontsize=8,
                       color=colour)


def _change_point_lines(ax: plt.Axes, change_points: pd.DataFrame | None) -> list[Text]:
    out: list[Text] = []
    if change_points is None or len(change_points) == 0:
        return out
    for _, cp in change_points.iterrows():
        cx = pd.to_datetime(cp["date"])
        ax.axvline(cx, color=_CHANGE, linestyle="--", linewidth=1.6)
        label = "Shift"
        if "before" in cp and "after" in cp and pd.notna(cp["before"]):
            label = f"Shift {cp['before'] * 100:.1f}% → {cp['after'] * 100:.1f}%"
        out.append(_top_label(ax, cx, label, _CHANGE))
    return out


def _event_lines(ax: plt.Axes, events: pd.DataFrame | None, lo_x: object, hi_x: object
                 ) -> list[Text]:
    out: list[Text] = []
    if events is None or len(events) == 0:
        return out
    ev = events.copy()
    ev["date"] = pd.to_datetime(ev["date"])
    if lo_x is not None and isinstance(lo_x, pd.Timestamp):
        ev = ev[(ev["date"] >= lo_x) & (ev["date"] <= hi_x)]
    for _, e in ev.iterrows():
        ax.axvline(e["date"], color=_EVENT, linestyle=":", linewidth=1.6)
        out.append(_top_label(ax, e["date"], _short(e.get("description", "event")), _EVENT))
    return out


def _room_for_labels(ax: plt.Axes, rows: int) -> None:
    """Raise the top of the axes so ``rows`` rows of labels sit above the data."""
    if not rows:
        return
    lo, hi = ax.get_ylim()
    height_pt = ax.get_window_extent().height * 72 / ax.figure.dpi
    band = min(0.5, (rows * 11 + 8) / max(height_pt, 1.0))
    ax.set_ylim(lo, hi + (hi - lo) * band / (1 - band))
    ax.set_yticks([t for t in ax.get_yticks() if lo - 1e-9 <= t <= min(hi, 1.0) + 1e-9])


def waterfall_figure(
    root_causes: pd.DataFrame,
    top: int = 8,
    dimension: str | None = None,
    labels: tuple[str, str] = ("Previous period", "This period"),
    title: str | None = None,
    figsize: tuple[float, float] = (9.0, 4.2),
) -> Figure:
    """Waterfall from the previous period's rate to this period's, by segment part.

    Parameters
    ----------
    root_causes : DataFrame
        A decomposition (:func:`reporting.stats.decomposition.mix_rate_decomposition` /
        :func:`decompose_all`) or its ranking (:func:`rank_root_causes`), with ``attrs``
        ``rate_from`` and ``rate_to``. Parts from different dimensions do not add up, so one
        dimension is drawn: ``dimension``, or the one of the part explaining most.
    top : int
        Draw the ``top`` parts with the largest absolute contribution; the remainder (including
        parts not in ``root_causes``) is one grey "Other" bar, so the bars always end at this
        period's rate.
    dimension : str, optional
        The dimension to draw.
    labels : (str, str)
        Labels of the start and end bars.
    title : str, optional
        Axes title (default names the dimension).
    figsize : tuple
        Figure size in inches.

    Returns
    -------
    Figure
        Rate parts are blue and plain, mix parts orange and hatched; each bar is labelled with
        its signed contribution in percentage points.
    """
    rc = root_causes
    r1 = rc.attrs.get("rate_from")
    r2 = rc.attrs.get("rate_to")
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    if r1 is None or r2 is None or len(rc) == 0:
        ax.text(
            0.5, 0.5, "No decomposition to show", ha="center", va="center", transform=ax.transAxes
        )
        ax.set_axis_off()
        return fig
    if dimension is None:
        key = (
            rc["share_of_gap"].abs()
            if rc["share_of_gap"].notna().any()
            else (rc["contribution_pp"].abs())
        )
        dimension = str(rc.loc[key.idxmax(), "dimension"])
    names, starts, heights, kinds = _waterfall_steps(rc, dimension, top, float(r1), float(r2),
                                                     labels)
    base, top_y = _draw_waterfall(ax, starts, heights, kinds, float(r1), float(r2))
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(base, top_y)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    pct_axis(ax, "y")  # as many decimals as the ticks need
    legend = [
        Patch(facecolor=_RATE, edgecolor="black", label="Rate effect"),
        Patch(facecolor=_MIX, edgecolor="black", hatch="///", label="Mix effect"),
    ]
    if "other" in kinds:
        legend.append(Patch(facecolor=_OTHER, edgecolor="black", hatch="--", label="Other parts"))
    # Right of the axes, inside the figure (constrained layout makes the room).
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title(
        title
        or f"From {labels[0].lower()} to {labels[1].lower()}, by {dimension.replace('_', ' ')}"
    )
    ax.set_ylabel("Accuracy")
    return fig


def _waterfall_steps(rc: pd.DataFrame, dimension: str, top: int, r1: float, r2: float,
                     labels: tuple[str, str]) -> tuple[list[str], list[float], list[float],
                                                        list[str]]:
    """Bars of the waterfall: the start level, the ``top`` largest parts of ``dimension``, an
    "Other" remainder (so the bars end at ``r2``) and the end level."""
    d = rc[rc["dimension"] == dimension].copy()
    d["abs"] = d["contribution_pp"].abs()
    shown = d.sort_values("abs", ascending=False).head(top)
    other = 100.0 * (r2 - r1) - float(shown["contribution_pp"].sum())
    names, starts, heights, kinds = [labels[0]], [0.0], [r1], ["level"]
    level = r1
    parts = [(f"{_short(r['segment'], 22)}\n({r['effect']})", float(r["contribution_pp"]) / 100,
              str(r["effect"])) for _, r in shown.iterrows()]
    if abs(other) > 1e-9:
        parts.append(("Other", other / 100, "other"))
    for name, c, kind in parts:
        names.append(name)
        starts.append(level)
        heights.append(c)
        kinds.append(kind)
        level += c
    names.append(labels[1])
    starts.append(0.0)
    heights.append(r2)
    kinds.append("level")
    return names, starts, heights, kinds


def _draw_waterfall(ax: plt.Axes, starts: list[float], heights: list[float], kinds: list[str],
                    r1: float, r2: float) -> tuple[float, float]:
    """Draw the bars with their labels; returns the y range (base, top) that shows them."""
    moving = [v for s, h, k in zip(starts, heights, kinds, strict=True) if k != "level"
              for v in (s, s + h)]
    lo, hi = min([r1, r2, *moving]), max([r1, r2, *moving])
    pad = max((hi - lo) * 0.25, 0.002)
    base = max(0.0, lo - pad)
    for i, (s, h, k) in enumerate(zip(starts, heights, kinds, strict=True)):
        if k == "level":
            ax.bar(i, h - base, bottom=base, color="#BBBBBB", edgecolor="black", linewidth=0.6)
            ax.annotate(f"{h * 100:.1f}%", (i, h), xytext=(0, 3), textcoords="offset points",
                        ha="center", fontsize=8)
            continue
        color = {"rate": _RATE, "mix": _MIX}.get(k, _OTHER)
        hatch = {"mix": "///", "other": "--"}.get(k, "")
        ax.bar(i, h, bottom=s, color=color, hatch=hatch, edgecolor="black", linewidth=0.6)
        ax.annotate(f"{h * 100:+.2f} pp".replace("-", "\u2212"), (i, s + h if h >= 0 else s),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        if i + 1 < len(starts):
            ax.plot([i + 0.4, i + 0.6], [s + h, s + h], color="#777777", linewidth=0.7)
    return base, hi + pad


def odds_ratio_figure(
    glm_table: pd.DataFrame,
    alpha: float = 0.05,
    title: str | None = "Odds of an error, adjusted (95% interval)",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Forest plot of odds ratios on a log scale.

    Parameters
    ----------
    glm_table : DataFrame
        ``GLMResult.table`` (``term, odds_ratio, ci_low, ci_high, p_value``).
    alpha : float
        Terms with ``p_value < alpha`` get filled vermillion diamonds, the others hollow blue
        circles.
    title : str, optional
        Axes title.
    figsize : tuple, optional
        Defaults to a height growing with the number of terms.

    Returns
    -------
    Figure
    """
    t = glm_table.reset_index(drop=True)
    n = len(t)
    fig, ax = plt.subplots(figsize=figsize or (8.0, max(2.0, 0.38 * n + 1.2)),
                           layout="constrained")
    if n == 0:
        ax.text(0.5, 0.5, "No model terms", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    y = np.arange(n)[::-1]
    orr = t["odds_ratio"].to_numpy(float)
    lo = t["ci_low"].to_numpy(float)
    hi = t["ci_high"].to_numpy(float)
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (orr, lo, hi)])
    xmin = max(min(finite.min(), 0.5) / 1.3, 1e-3) if len(finite) else 0.1
    xmax = min(max(finite.max(), 2.0) * 1.3, 1e3) if len(finite) else 10
    lo_c = np.clip(np.where(np.isfinite(lo) & (lo > 0), lo, xmin), xmin, xmax)
    hi_c = np.clip(np.where(np.isfinite(hi), hi, xmax), xmin, xmax)
    orr_c = np.clip(np.where(np.isfinite(orr) & (orr > 0), orr, xmin), xmin, xmax)
    sig = t["p_value"].to_numpy(float) < alpha
    ax.hlines(y, lo_c, hi_c, color="#444444", linewidth=1.2)
    ax.scatter(
        orr_c[sig],
        y[sig],
        marker="D",
        s=40,
        color=_SIGNAL,
        edgecolor="black",
        zorder=3,
        label=f"p < {alpha:g}",
    )
    ax.scatter(
        orr_c[~sig],
        y[~sig],
        marker="o",
        s=36,
        facecolor="white",
        edgecolor=_POINT,
        linewidth=1.4,
        zorder=3,
        label="not significant",
    )
    ax.axvline(1.0, **TARGET_LINE)
    ax.set_xscale("log")
    ax.set_xlim(xmin, xmax)
    ax.set_yticks(y)
    ax.set_yticklabels([_short(s, 48) for s in t["term"]], fontsize=8)
    ax.set_xlabel("Odds ratio (log scale; > 1 = more errors than the reference)")
    ticks = [
        t
        for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100)
        if xmin <= t <= xmax
    ]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    if title:
        ax.set_title(title)
    return fig
