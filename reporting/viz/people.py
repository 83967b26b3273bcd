"""Figures for individual performance (team reports only: see the privacy rule in docs/people.md).

All functions take DataFrames and return a matplotlib ``Figure`` in the house style
(call :func:`reporting.viz.style.apply_house_style` once before plotting); none calls
``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reporting.people._common import in_sample, prepare_audits, wilson_interval
from reporting.people.funnel import level_label
from reporting.people.shrinkage import BetaPrior
from reporting.viz.style import PALETTE, STATUS_COLORS, TARGET_LINE, pct_axis

__all__ = ["STATUS_STYLES", "StatusStyle", "funnel_plot", "weekly_small_multiples",
           "shrinkage_figure", "status_chart"]

_FLAG_COLOR = STATUS_COLORS["off_track"]  # vermillion
_OK_COLOR = PALETTE[0]  # blue
_GREY = "#999999"


class StatusStyle(NamedTuple):
    """How a status is shown: a label, a colour and a symbol (never colour alone)."""

    label: str
    colour: str
    symbol: str


#: Reviewer statuses (evidence over months) and KPI statuses, as shown in the team report.
STATUS_STYLES: dict[str | None, StatusStyle] = {
    "above_target": StatusStyle("Above target", PALETTE[0], "▲"),
    "on_target": StatusStyle("On target", "#009E73", "●"),
    "watch": StatusStyle("Watch", STATUS_COLORS["at_risk"], "◆"),
    "below_target": StatusStyle("Below target", STATUS_COLORS["off_track"], "▼"),
    "not_judged": StatusStyle("Not judged", _GREY, "○"),
    "on_track": StatusStyle("On track", STATUS_COLORS["on_track"], "●"),
    "at_risk": StatusStyle("At risk", STATUS_COLORS["at_risk"], "▲"),
    "off_track": StatusStyle("Off track", STATUS_COLORS["off_track"], "■"),
    "no_data": StatusStyle("No data", _GREY, "○"),
    "none": StatusStyle("–", _GREY, ""),
}


def _pct_decimals(span: float) -> int:
    """Decimals for percentage ticks so that e.g. 87.5% is not printed as 88%."""
    return 1 if span < 0.3 else 0


def _empty_figure(message: str, title: str | None = None) -> Figure:
    fig, ax = plt.subplots(figsize=(6.0, 2.0))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#444444")
    if title:
        ax.set_title(title)
    return fig


def funnel_plot(
    scorecards_table: pd.DataFrame,
    limits: pd.DataFrame,
    target: float,
    *,
    title: str | None = None,
    label_flagged: bool = True,
) -> Figure:
    """Accuracy against number of audits, with exact binomial funnels around the target.

    Parameters
    ----------
    scorecards_table
        ``Scorecards.table`` (uses ``reviewer_id, audits, accuracy``, and ``flagged`` and
        ``judged`` when present).
    limits
        Tidy funnel limits (``n, level, lower, upper``) from
        :func:`reporting.people.funnel.funnel_limits`, e.g. ``Scorecards.limits``.
    target
        The accuracy target the funnel is centred on (dashed line).
    title
        Figure title; a default is used when omitted.
    label_flagged
        Write the reviewer_id next to each flagged reviewer.

    Returns
    -------
    Figure
        Flagged reviewers are vermillion crosses (labelled), other judged reviewers blue
        dots, reviewers with too few audits to judge hollow grey circles.
    """
    title = title or f"Accuracy vs audits, funnel around the {target * 100:g}% target"
    t = scorecards_table
    t = t[pd.to_numeric(t["audits"], errors="coerce").fillna(0) > 0] if len(t) else t
    if len(t) == 0:
        return _empty_figure("No audits in this period", title)
    flagged = (
        t["flagged"].fillna(False).astype(bool)
        if "flagged" in t
        else pd.Series(False, index=t.index)
    )
    judged = (
        t["judged"].fillna(False).astype(bool) if "judged" in t else pd.Series(True, index=t.index)
    )

    fig, ax = plt.subplots(figsize=(8.0, 4.5))
    n_max = float(t["audits"].max())
    handles = _draw_funnel(ax, limits, n_max)
    ax.axhline(target, **TARGET_LINE)
    handles.append(Line2D([], [], **TARGET_LINE, label=f"Target {target * 100:g}%"))
    # the y-range follows the judged reviewers; unjudged ones further down sit on the
    # bottom edge as hollow triangles, so a 1-of-3 score cannot squash everyone else
    acc_ref = t.loc[(judged | flagged).to_numpy(), "accuracy"]
    acc_min = float(acc_ref.min()) if len(acc_ref) else float(t["accuracy"].min())
    y_low = max(0.0, min(acc_min, target - 0.10) - 0.02)
    handles += _draw_points(ax, t, judged, flagged, y_low)
    if label_flagged:
        for r in t[flagged.to_numpy()].itertuples():
            ax.annotate(str(r.reviewer_id), (r.audits, r.accuracy), xytext=(6, -3),
                        textcoords="offset points", fontsize=8, color=_FLAG_COLOR,
                        fontweight="bold")
    ax.set_ylim(y_low, 1.005)
    ax.set_xlim(0, n_max * 1.05 + 1)
    pct_axis(ax, decimals=_pct_decimals(1.0 - y_low))
    ax.set_xlabel("Audits in the accuracy sample")
    ax.set_ylabel("Accuracy")
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def _draw_funnel(ax: plt.Axes, limits: pd.DataFrame | None, n_max: float) -> list:
    """The funnel limits (first level shaded), one line style per level; legend handles."""
    handles: list = []
    if limits is None or not len(limits):
        return handles
    lim = limits[limits["n"] <= max(n_max * 1.05, 2)].sort_values("n")
    styles = ["-", "--", ":"]
    for i, lev in enumerate(sorted(lim["level"].unique())):
        part = lim[lim["level"] == lev]
        ls = styles[min(i, len(styles) - 1)]
        if i == 0:
            ax.fill_between(part["n"], part["lower"], part["upper"], color=_GREY, alpha=0.12,
                            lw=0)
        ax.plot(part["n"], part["lower"], color="#666666", lw=1.0, ls=ls)
        ax.plot(part["n"], part["upper"], color="#666666", lw=1.0, ls=ls)
        handles.append(Line2D([], [], color="#666666", lw=1.0, ls=ls,
                              label=f"{level_label(lev)}% limits"))
    return handles


def _draw_points(ax: plt.Axes, t: pd.DataFrame, judged: pd.Series, flagged: pd.Series,
                 y_low: float) -> list:
    """Judged dots, hollow unjudged circles, flagged crosses (triangles on the bottom edge
    when below the axis); legend handles."""
    y_plot = t["accuracy"].clip(lower=y_low + 0.003)
    off_scale = (t["accuracy"] < y_low).to_numpy()
    groups = [
        (judged & ~flagged, dict(marker="o", s=36, color=_OK_COLOR, edgecolor="white", lw=0.5),
         "Judged"),
        (~judged & ~flagged, dict(marker="o", s=36, facecolor="none", edgecolor=_GREY, lw=1.0),
         "Too few audits to judge"),
        (flagged, dict(marker="X", s=110, color=_FLAG_COLOR, edgecolor="black", lw=0.6),
         "Flagged (below target, FDR-controlled)"),
    ]
    handles: list = []
    for mask, kw, label in groups:
        m = mask.to_numpy()
        part = t[m]
        if not len(part):
            continue
        inside = ~off_scale[m]
        ax.scatter(part["audits"][inside], part["accuracy"][inside], zorder=3, **kw)
        if (~inside).any():
            ax.scatter(part["audits"][~inside], y_plot[m][~inside], zorder=3, clip_on=False,
                       **{**kw, "marker": "v"})
        handles.append(Line2D([], [], ls="", markersize=8 if kw["marker"] == "X" else 6,
                              marker=kw["marker"],
                              markerfacecolor=kw.get("color", kw.get("facecolor")),
                              markeredgecolor=kw.get("edgecolor"), label=f"{label} ({len(part)})"))
    if off_scale.any():
        handles.append(Line2D([], [], ls="", marker="v", markerfacecolor="none",
                              markeredgecolor=_GREY, label="Below the axis (too few audits)"))
    return handles


def weekly_small_multiples(
    audits: pd.DataFrame,
    reviewer_ids: Sequence[str],
    max_panels: int = 24,
    *,
    target: float = 0.95,
    sample_types: Sequence[str] = ("random",),
    level: float = 0.95,
    col_wrap: int = 4,
) -> Figure:
    """Weekly accuracy per reviewer, one small panel each, with Wilson bands and the target.

    Parameters
    ----------
    audits
        Canonical audits (a ``week`` column is derived from ``decision_date`` if missing);
        typically the team's last few months.
    reviewer_ids
        Reviewers to show, in panel order (e.g. flagged first); at most ``max_panels``.
    max_panels
        Cap on the number of panels; the title says when some were left out.
    target
        Accuracy target (dashed line).
    sample_types
        Audit sample types counted for accuracy.
    level
        Level of the Wilson band.
    col_wrap
        Panels per row.

    Returns
    -------
    Figure
        A grid of panels sharing both axes (point size grows with the week's audits).
    """
    ids = [str(r) for r in dict.fromkeys(reviewer_ids)]
    shown = ids[: max(int(max_panels), 0)]
    title = f"Weekly accuracy ({', '.join(sample_types)} audits), {level * 100:g}% Wilson band"
    if len(shown) < len(ids):
        title += f" - showing {len(shown)} of {len(ids)} reviewers"
    if not shown or audits is None or len(audits) == 0:
        return _empty_figure("No audits to show", title)
    a = prepare_audits(audits)
    a = a[in_sample(a["sample_type"], sample_types) & a["reviewer_id"].isin(shown)]
    if a.empty:
        return _empty_figure("No audits to show", title)
    w = a.groupby(["reviewer_id", "week"], as_index=False).agg(
        n=("is_correct", "size"), correct=("is_correct", "sum")
    )
    w["accuracy"] = w["correct"] / w["n"]
    w["lo"], w["hi"] = wilson_interval(w["correct"], w["n"], level)
    n_max = float(w["n"].max())

    wrap = max(1, min(col_wrap, len(shown)))
    rows = -(-len(shown) // wrap)
    # A plain grid with fixed margins: FacetGrid's two tight_layout passes measured every tick
    # label of every panel and cost about 2 s a team report.
    panel_w, panel_h = 1.9 * 1.45, 1.9
    fig, axes = plt.subplots(rows, wrap, figsize=(panel_w * wrap, panel_h * rows + 0.5),
                             sharex=True, sharey=True, squeeze=False)
    top = 1 - 0.45 / (panel_h * rows + 0.5)
    fig.subplots_adjust(left=0.6 / (panel_w * wrap), right=0.98,
                        bottom=0.55 / (panel_h * rows),
                        top=top - 0.25 / (panel_h * rows + 0.5), wspace=0.12, hspace=0.45)
    y_low = max(0.0, min(float(w["accuracy"].min()), target - 0.1) - 0.05)
    by_reviewer = dict(tuple(w.sort_values("week").groupby("reviewer_id", sort=False)))
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        _weekly_panel(ax, shown[i], by_reviewer.get(shown[i]), target, n_max)
        if i % wrap == 0:
            ax.set_ylabel("Accuracy")
        if i + wrap >= len(shown):  # nothing below this panel: it carries the dates
            ax.xaxis.set_tick_params(labelbottom=True)
    # shared axes: one locator and formatter serve every panel
    first = axes.flat[0]
    first.set_ylim(y_low, 1.01)
    pct_axis(first, decimals=_pct_decimals(1.01 - y_low))
    first.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2, maxticks=4))
    first.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    fig.suptitle(title, x=0.01, y=0.995, ha="left", va="top", fontweight="bold", fontsize=10)
    return fig


def _weekly_panel(ax: plt.Axes, reviewer: str, d: pd.DataFrame | None, target: float,
                  n_max: float) -> None:
    """One reviewer's weekly accuracy with its band (or "no audits")."""
    ax.set_title(reviewer, fontsize=9, loc="center", fontweight="normal")
    ax.axhline(target, **TARGET_LINE)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    if d is None:
        ax.text(0.5, 0.5, "no audits", ha="center", va="center", transform=ax.transAxes,
                color=_GREY, fontsize=8)
        return
    ax.fill_between(d["week"], d["lo"], d["hi"], color=_OK_COLOR, alpha=0.18, lw=0)
    ax.plot(d["week"], d["accuracy"], color=_OK_COLOR, lw=1.2)
    ax.scatter(d["week"], d["accuracy"], s=8 + 40 * np.sqrt(d["n"] / n_max), color=_OK_COLOR,
               zorder=3)


def shrinkage_figure(
    table: pd.DataFrame,
    *,
    prior: BetaPrior | None = None,
    target: float | None = None,
    max_reviewers: int = 60,
) -> Figure:
    """Raw accuracy vs shrunk (posterior mean) accuracy per reviewer, with arrows.

    Parameters
    ----------
    table
        ``Scorecards.table`` (uses ``reviewer_id, audits, accuracy, shrunk_accuracy``).
    prior
        When given, its mean is drawn as a dotted line (the point reviewers are pulled to).
    target
        When given, drawn as the dashed target line.
    max_reviewers
        Show at most this many reviewers (those with the most audits).

    Returns
    -------
    Figure
        One row per reviewer sorted by shrunk accuracy: hollow circle = raw accuracy (area
        proportional to audits), filled dot = shrunk accuracy, arrow from raw to shrunk. Few
        audits means a long arrow.
    """
    title = "Raw vs shrunk accuracy (arrow: raw to shrunk; circle area: audits)"
    t = table
    if len(t):
        t = t[
            (pd.to_numeric(t["audits"], errors="coerce").fillna(0) > 0)
            & t["shrunk_accuracy"].notna()
        ]
    if len(t) == 0:
        return _empty_figure("No audits in this period", title)
    t = t.nlargest(max_reviewers, "audits") if len(t) > max_reviewers else t
    t = t.sort_values(["shrunk_accuracy", "reviewer_id"]).reset_index(drop=True)
    k = len(t)
    fig, ax = plt.subplots(figsize=(8.0, max(2.5, 0.26 * k + 1.2)))
    y = np.arange(k)
    n = t["audits"].to_numpy(float)
    sizes = 15 + 250 * n / n.max()
    for yi, raw, shr in zip(y, t["accuracy"], t["shrunk_accuracy"], strict=True):
        if abs(raw - shr) > 1e-9:
            ax.annotate(
                "",
                xy=(shr, yi),
                xytext=(raw, yi),
                arrowprops=dict(arrowstyle="->", color="#666666", lw=0.9, shrinkA=3, shrinkB=3),
            )
    ax.scatter(t["accuracy"], y, s=sizes, facecolor="none", edgecolor=PALETTE[1], lw=1.2, zorder=3)
    ax.scatter(t["shrunk_accuracy"], y, s=22, color=PALETTE[0], zorder=4)
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            markerfacecolor="none",
            markeredgecolor=PALETTE[1],
            markersize=8,
            label="Raw accuracy",
        ),
        Line2D([], [], ls="", marker="o", color=PALETTE[0], markersize=5, label="Shrunk accuracy"),
    ]
    if prior is not None:
        ax.axvline(prior.mean, color=PALETTE[2], ls=":", lw=1.2)
        handles.append(
            Line2D([], [], color=PALETTE[2], ls=":", label=f"Prior mean {prior.mean:.1%}")
        )
    if target is not None:
        ax.axvline(target, **TARGET_LINE)
        handles.append(Line2D([], [], **TARGET_LINE, label=f"Target {target * 100:g}%"))
    ax.set_yticks(
        y,
        [f"{r} ({int(a)})" for r, a in zip(t["reviewer_id"], t["audits"], strict=True)],
        fontsize=8,
    )
    ax.set_ylim(-0.7, k - 0.3)
    lo, hi = ax.get_xlim()
    pct_axis(ax, axis="x", decimals=_pct_decimals(hi - lo))
    ax.set_xlabel("Accuracy")
    ax.set_ylabel("Reviewer (audits)")
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def status_chart(evidence: pd.DataFrame, target: float, *, max_reviewers: int = 40) -> Figure:
    """Each judged reviewer's accumulated accuracy with its interval, coloured by status.

    Parameters
    ----------
    evidence
        :func:`reporting.people.evidence.reviewer_evidence` (uses ``reviewer_id, status, n,
        accuracy, ci_low, ci_high, months``).
    target
        Drawn as the dashed target line.
    max_reviewers
        Show at most this many (those with most audits); the title says when some are left out.

    Returns
    -------
    Figure
        One row per reviewer, lowest accuracy at the top; the axis is zoomed to the intervals
        and the target, so 91% and 93% look different.
    """
    title = "Accuracy over the window, with its 95% interval"
    e = evidence[evidence["status"] != "not_judged"]
    if e.empty:
        return _empty_figure("Nobody has enough audits to be judged yet", title)
    if len(e) > max_reviewers:
        title += f" ({max_reviewers} of {len(e)} reviewers with most audits)"
        e = e.nlargest(max_reviewers, "n")
    e = e.sort_values(["accuracy", "reviewer_id"], ascending=[False, True]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.0, max(2.4, 0.28 * len(e) + 1.2)))
    y = np.arange(len(e))
    for status, rows in e.groupby("status"):
        style = STATUS_STYLES[status]
        idx = rows.index.to_numpy()
        ax.hlines(idx, rows["ci_low"], rows["ci_high"], color=style.colour, lw=2, alpha=0.6)
        ax.plot(rows["accuracy"], idx, "o", color=style.colour, label=style.label, ms=6)
    ax.axvline(target, **TARGET_LINE, label=f"Target {target * 100:g}%")
    ax.set_yticks(y, [f"{r} ({int(n)})" for r, n in zip(e["reviewer_id"], e["n"], strict=True)],
                  fontsize=8)
    low = min(float(e["ci_low"].min()), target) - 0.005
    high = min(max(float(e["ci_high"].max()), target) + 0.005, 1.0)
    ax.set_xlim(low, high)
    pct_axis(ax, axis="x", decimals=_pct_decimals(high - low))
    ax.set_ylim(-0.7, len(e) - 0.3)
    ax.set_xlabel("Accuracy (all audits of the window)")
    ax.set_ylabel("Reviewer (audits)")
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig
