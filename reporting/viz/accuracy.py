"""Market-accuracy figures: breakdown bars, policy x product heatmap, error mix, weekly trend.

Every function takes a DataFrame produced by :mod:`reporting.metrics` and returns a matplotlib
``Figure`` (never shows it). Figures use the house style and stay readable in grey scale:
status is carried by hatching and text as well as colour, the heatmap uses a colour map that is
monotone in lightness, and small cells are hatched and greyed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from reporting.metrics.compute import accuracy_table
from reporting.viz.style import (
    PALETTE,
    STATUS_COLORS,
    STATUS_LABELS,
    TARGET_LINE,
    PercentFormatter,
    apply_house_style,
    pct_axis,
    spread_labels,
)

__all__ = [
    "SMALL_CELL_GID",
    "accuracy_bar_chart",
    "error_mix_chart",
    "policy_product_heatmap",
    "weekly_trend_chart",
]

#: ``gid`` of the patches that mark small heatmap cells (for tests and post-processing).
SMALL_CELL_GID = "small_cell"


def _empty_figure(title: str, message: str = "No data for this selection") -> Figure:
    fig, ax = plt.subplots(figsize=(8, 2))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555")
    return fig


def _seg_labels(df: pd.DataFrame, by: str | Sequence[str]) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by)
    return [" / ".join(str(v) for v in row) for row in df[cols].itertuples(index=False)]


def _zoom(values: np.ndarray, target: float | None) -> tuple[float, float]:
    """x limits around the intervals and the target, with a margin, never past 0% or much past
    100%: 91% and 93% must look different."""
    pts = values[np.isfinite(values)]
    if target is not None and np.isfinite(target):
        pts = np.append(pts, target)
    if pts.size == 0:
        return 0.0, 1.0
    lo, hi = float(pts.min()), float(pts.max())
    pad = max(0.08 * (hi - lo), 0.005)
    return max(0.0, lo - pad), min(1.0 + pad / 2, hi + pad)


# Status is told by marker shape as well as colour (the badge symbols: circle, triangle, square).
_STATUS_MARKER = {"on_track": "o", "at_risk": "^", "off_track": "s", "no_data": "X"}


def accuracy_bar_chart(
    breakdown_df: pd.DataFrame,
    by: str | Sequence[str],
    target: float | None = None,
    *,
    title: str | None = None,
    min_n: int = 30,
    level: float = 0.95,
) -> Figure:
    """Accuracy per segment as a dot with its confidence interval, against the target line.

    Parameters
    ----------
    breakdown_df : pandas.DataFrame
        Output of :func:`~reporting.metrics.compute.accuracy_table` (``n, accuracy, ci_low,
        ci_high`` and optionally ``status``).
    by : str or sequence of str
        Segment column(s) of ``breakdown_df``.
    target : float, optional
        Target drawn as a dashed vertical line (default: the table's ``target`` when it is the
        same for every segment).
    title : str, optional
        Figure title (default: "Accuracy by <by>"; ``" "`` for none, when a heading names it).
    min_n : int, default 30
        Segments with fewer audits get a hollow marker and an "(n < min_n)" note.
    level : float, default 0.95
        Confidence level of the intervals in ``breakdown_df`` (for the axis label only).

    Returns
    -------
    matplotlib.figure.Figure
        Segments sorted from lowest to highest accuracy (lowest at the top), the marker's colour
        *and* shape telling the status, each labelled with its value and n. The x axis is zoomed
        to the intervals and the target (a bar from 0% would make 91% and 93% look the same, so
        the estimate is a dot, whose position is all that is read).
    """
    apply_house_style()
    name = by if isinstance(by, str) else " / ".join(by)
    title = title or f"Accuracy by {name.replace('_', ' ')}"
    df = breakdown_df[breakdown_df["n"] > 0] if len(breakdown_df) else breakdown_df
    if len(df) == 0:
        return _empty_figure(title)
    if target is None and "target" in df.columns:
        tv = df["target"].dropna().unique()
        target = float(tv[0]) if len(tv) == 1 else None
    df = df.sort_values(["accuracy", "n"], ascending=[False, True], kind="stable")
    y = np.arange(len(df))
    status = (df["status"].astype(str) if "status" in df.columns
              else pd.Series("at_risk", index=df.index))
    fig, ax = plt.subplots(figsize=(8.0, max(2.4, 0.42 * len(df) + 1.5)), layout="constrained")
    acc, lo, hi = (df[c].to_numpy(dtype=float) for c in ("accuracy", "ci_low", "ci_high"))
    small = df["n"].to_numpy() < min_n
    ax.hlines(y, lo, hi, color="#333333", linewidth=1.6, zorder=2)
    for st in dict.fromkeys(status):
        m = (status == st).to_numpy()
        colour = STATUS_COLORS.get(st, "#999999")
        for hollow in (False, True):
            k = m & (small == hollow)
            if k.any():
                ax.scatter(acc[k], y[k], marker=_STATUS_MARKER.get(st, "o"), s=64, zorder=3,
                           color="white" if hollow else colour, edgecolor=colour, linewidth=1.6)
    for i, (a, n, sm) in enumerate(zip(acc, df["n"], small, strict=True)):
        note = f" (n < {min_n})" if sm else ""
        ax.text(1.01, y[i], f"{a * 100:.1f}%  n={int(n):,}{note}", va="center", fontsize=8,
                color="#222222", transform=ax.get_yaxis_transform())
    handles: list = []
    targets = df["target"].to_numpy(dtype=float) if "target" in df.columns else np.array([])
    if target is not None and np.isfinite(target):
        ax.axvline(target, **TARGET_LINE)
        handles.append(Line2D([], [], **TARGET_LINE, label=f"Target {target * 100:.1f}%"))
    elif np.isfinite(targets).any():  # targets differ by segment: a tick at each one's own
        ax.scatter(targets, y, marker="|", s=260, color="#444444", linewidth=2, zorder=4)
        handles.append(Line2D([], [], linestyle="", marker="|", markersize=12, color="#444444",
                              markeredgewidth=2, label="Target (each segment's own)"))
    ax.set_yticks(y, _seg_labels(df, by))
    ax.set_xlim(*_zoom(np.concatenate([lo, hi, acc, targets]), target))
    ax.set_ylim(-0.6, len(df) - 0.4)
    pct_axis(ax, axis="x")
    ax.set_xlabel(f"Accuracy (dot: estimate; line: {level:.0%} interval; axis zoomed to the data)")
    ax.set_ylabel("")
    ax.grid(axis="y", visible=False)
    handles += [Line2D([], [], linestyle="", marker=_STATUS_MARKER[s], markersize=8,
                       color=STATUS_COLORS[s], label=STATUS_LABELS[s])
                for s in STATUS_LABELS if s in set(status)]
    # Above the axes from the left edge: text grows into the figure, never past its edge.
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=max(1, len(handles)), fontsize=8)
    ax.set_title(title if title.strip() else "", pad=24 if title.strip() else 6)
    return fig


def policy_product_heatmap(
    audits: pd.DataFrame,
    *,
    row: str = "policy",
    col: str = "product_line",
    min_n: int = 30,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    title: str | None = None,
) -> Figure:
    """Accuracy heatmap of ``row`` x ``col`` (policy x product line), annotated with value and n.

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits.
    row, col : str
        Dimensions of the grid.
    min_n : int, default 30
        Cells with fewer audits are greyed out and hatched (``gid`` :data:`SMALL_CELL_GID`) and
        show only their n, so that noisy rates are not over-read.
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`~reporting.metrics.compute.compute_kpis`.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Heatmap on the ``cividis`` colour map (monotone in lightness, so it prints in grey).
    """
    apply_house_style()
    title = title or f"Accuracy by {row.replace('_', ' ')} and {col.replace('_', ' ')}"
    if len(audits) == 0:
        return _empty_figure(title)
    tab = accuracy_table(audits, [row, col], accuracy_sample_types=accuracy_sample_types)
    if len(tab) == 0:
        return _empty_figure(title)
    acc = tab.pivot(index=row, columns=col, values="accuracy").sort_index().sort_index(axis=1)
    cnt = tab.pivot(index=row, columns=col, values="n").reindex_like(acc).fillna(0).astype(int)
    small = cnt.to_numpy() < min_n
    shown = acc.mask(small)
    fig, ax = plt.subplots(
        figsize=(max(5.0, 1.5 * acc.shape[1] + 3.0), max(2.5, 0.6 * acc.shape[0] + 1.5))
    )
    vals = shown.to_numpy(dtype=float)
    finite = vals[np.isfinite(vals)]
    vmin = float(np.floor(finite.min() * 20) / 20) if finite.size else 0.0
    vmax = 1.0
    sns.heatmap(
        shown,
        ax=ax,
        cmap="cividis",
        vmin=min(vmin, 0.95),
        vmax=vmax,
        annot=False,
        linewidths=1,
        linecolor="white",
        cbar_kws={"label": "Accuracy", "format": PercentFormatter()},
    )
    _annotate_cells(ax, acc, cnt, small, plt.Normalize(min(vmin, 0.95), vmax))
    xlabel = col.replace("_", " ").capitalize()
    if small.any():
        xlabel += f"\n(hatched grey cells: fewer than {min_n} audits, rate not shown)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(row.replace("_", " ").capitalize())
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _annotate_cells(ax: plt.Axes, acc: pd.DataFrame, cnt: pd.DataFrame, small: np.ndarray,
                    norm: plt.Normalize) -> None:
    """Value and n in each cell (black or white text by the cell's lightness); small cells
    hatched grey (``gid`` :data:`SMALL_CELL_GID`) showing only their n."""
    cmap = plt.get_cmap("cividis")
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            n = int(cnt.iat[i, j])
            if small[i, j]:
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#e6e6e6", hatch="///",
                                       edgecolor="#b0b0b0", linewidth=0, gid=SMALL_CELL_GID))
                ax.text(j + 0.5, i + 0.5, f"n={n}" if n else "no audits", ha="center",
                        va="center", fontsize=8, color="#555555")
                continue
            v = float(acc.iat[i, j])
            r, g, b, _ = cmap(norm(v))
            light = 0.299 * r + 0.587 * g + 0.114 * b
            ax.text(j + 0.5, i + 0.5, f"{v * 100:.1f}%\nn={n:,}", ha="center", va="center",
                    fontsize=8, color="black" if light > 0.5 else "white")


def error_mix_chart(
    error_mix_df: pd.DataFrame,
    by: str | Sequence[str] = "policy",
    *,
    value: str = "rate",
    title: str | None = None,
) -> Figure:
    """Stacked horizontal bars of missed violations vs over-enforcement per segment.

    Parameters
    ----------
    error_mix_df : pandas.DataFrame
        Output of :func:`~reporting.metrics.compute.error_mix`.
    by : str or sequence of str, default "policy"
        Segment column(s).
    value : {"rate", "count", "share"}, default "rate"
        Plot errors per audit (bar length = error rate), error counts, or shares of errors.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Largest total at the top; the two error types differ in colour, lightness and hatching.
    """
    apply_house_style()
    cols = {
        "rate": ("missed_violation_rate", "over_enforcement_rate"),
        "count": ("missed_violations", "over_enforcements"),
        "share": ("missed_violation_share", "over_enforcement_share"),
    }
    if value not in cols:
        raise ValueError(f"value must be one of {sorted(cols)}, got {value!r}")
    name = by if isinstance(by, str) else " / ".join(by)
    title = title or f"Error mix by {name.replace('_', ' ')}"
    df = error_mix_df[error_mix_df["n"] > 0] if len(error_mix_df) else error_mix_df
    if len(df) == 0:
        return _empty_figure(title)
    mcol, ocol = cols[value]
    df = df.assign(_tot=df[mcol].fillna(0) + df[ocol].fillna(0))
    df = df.sort_values("_tot", ascending=True, kind="stable")
    labels = _seg_labels(df, by)
    y = np.arange(len(df))
    m = df[mcol].fillna(0).to_numpy(dtype=float)
    o = df[ocol].fillna(0).to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(8.0, max(2.4, 0.45 * len(df) + 1.5)), layout="constrained")
    ax.barh(y, m, color=PALETTE[0], edgecolor="white", height=0.65, label="Missed violation")
    ax.barh(
        y,
        o,
        left=m,
        color=PALETTE[1],
        hatch="///",
        edgecolor="white",
        height=0.65,
        label="Over-enforcement",
    )
    for i, (mi, oi, n) in enumerate(zip(m, o, df["n"], strict=True)):
        lab = (
            f"{(mi + oi) * 100:.1f}%"
            if value == "rate"
            else (f"{int(mi + oi):,}" if value == "count" else "")
        )
        ax.text(mi + oi, y[i], f"  {lab}  n={int(n):,}", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    if value in ("rate", "share"):
        pct_axis(ax, axis="x")
    ax.set_xlim(0, max(float((m + o).max()) * 1.3, 1e-9) if value != "share" else 1.25)
    ax.set_xlabel(
        {"rate": "Errors per audit", "count": "Errors", "share": "Share of errors"}[value]
    )
    # Above the axes, from the left: never over a bar, never cut at the figure's edge.
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8)
    ax.set_title(title, pad=24)
    return fig


def weekly_trend_chart(
    weekly_df: pd.DataFrame,
    target: float | None = None,
    events: pd.DataFrame | Sequence[tuple[object, str]] | None = None,
    *,
    title: str = "Weekly accuracy",
    level: float = 0.95,
) -> Figure:
    """Weekly accuracy line with its interval band, the target and dated events.

    Parameters
    ----------
    weekly_df : pandas.DataFrame
        Output of :func:`~reporting.metrics.compute.weekly_accuracy` (``week, n, accuracy,
        ci_low, ci_high``). Weeks without audits break the line.
    target : float, optional
        Target line.
    events : pandas.DataFrame or sequence of (date, label), optional
        Events (canonical ``events`` frame with ``date`` and ``description``); those inside the
        plotted weeks are drawn as labelled vertical lines.
    title : str, default "Weekly accuracy"
        Figure title.
    level : float, default 0.95
        Confidence level of the band (for the legend only).

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_house_style()
    if len(weekly_df) == 0 or weekly_df["n"].sum() == 0:
        return _empty_figure(title)
    df = weekly_df.sort_values("week")
    x = pd.to_datetime(df["week"])
    fig, ax = plt.subplots(figsize=(8.0, 4.0), layout="constrained")
    ax.fill_between(
        x,
        df["ci_low"],
        df["ci_high"],
        color=PALETTE[0],
        alpha=0.18,
        linewidth=0,
        label=f"{level:.0%} interval",
    )
    ax.plot(x, df["accuracy"], color=PALETTE[0], marker="o", linewidth=2, label="Accuracy")
    if target is not None and np.isfinite(target):
        ax.axhline(target, **TARGET_LINE, label=f"Target {target * 100:.1f}%")
    ev = _events_list(events)
    lo_x, hi_x = x.min(), x.max() + pd.Timedelta(days=6)
    ev = [(d, s) for d, s in ev if lo_x <= d <= hi_x]
    finite = pd.concat([df["ci_low"], df["ci_high"], df["accuracy"]]).dropna()
    ymin = float(finite.min()) if len(finite) else 0.0
    if target is not None and np.isfinite(target):
        ymin = min(ymin, target)
    ymin = max(0.0, ymin - 0.02)
    ax.set_ylim(ymin, 1.0)
    step = max(1, int(np.ceil(len(x) / 12)))
    ax.set_xticks(list(x.iloc[::step]), [d.strftime("%d %b") for d in x.iloc[::step]])
    _event_labels(ax, ev)
    pct_axis(ax, axis="y")
    ax.set_xlabel("Week starting (Monday)")
    ax.set_ylabel("Accuracy")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=3, fontsize=8)
    ax.set_title(title)
    return fig


def _event_labels(ax: plt.Axes, events: list[tuple[pd.Timestamp, str]]) -> None:
    """Dotted lines at the events, labelled at the top of the axes, moved down a row where two
    labels would overlap; the top of the axes is raised so the labels stay clear of the data."""
    labels = []
    for d, label in sorted(events, key=lambda e: e[0]):
        ax.axvline(d, color="#555555", linestyle=":", linewidth=1.2)
        labels.append(ax.annotate(label, xy=(d, 1.0), xycoords=("data", "axes fraction"),
                                  xytext=(3, -4), textcoords="offset points", fontsize=8,
                                  va="top", ha="left", color="#333333"))
    rows = spread_labels(ax, labels)
    if rows:
        lo, hi = ax.get_ylim()
        height_pt = ax.get_window_extent().height * 72 / ax.figure.dpi
        band = min(0.45, (rows * 11 + 6) / max(height_pt, 1.0))
        ax.set_ylim(lo, hi + (hi - lo) * band / (1 - band))
        # No tick above 100% in the room made for the labels.
        ax.set_yticks([t for t in ax.get_yticks() if lo - 1e-9 <= t <= min(hi, 1.0) + 1e-9])


def _events_list(
    events: pd.DataFrame | Sequence[tuple[object, str]] | None,
) -> list[tuple[pd.Timestamp, str]]:
    if events is None:
        return []
    if isinstance(events, pd.DataFrame):
        if len(events) == 0:
            return []
        label_col = "description" if "description" in events.columns else events.columns[-1]
        return [
            (pd.Timestamp(d), str(s))
            for d, s in zip(events["date"], events[label_col], strict=True)
            if not pd.isna(d)
        ]
    return [(pd.Timestamp(d), str(s)) for d, s in events]
