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
from matplotlib.patches import Patch, Rectangle

from reporting.metrics.compute import accuracy_table
from reporting.viz.style import (
    PALETTE,
    STATUS_COLORS,
    STATUS_LABELS,
    TARGET_LINE,
    apply_house_style,
    pct_axis,
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

# Line hatches only: a dotted hatch is drawn as hundreds of tiny curves, which made each chart
# 150 KB of SVG and a tenth of a second to print.
_STATUS_HATCH = {"on_track": "", "at_risk": "--", "off_track": "///", "no_data": "xx"}


def _empty_figure(title: str, message: str = "No data for this selection") -> Figure:
    fig, ax = plt.subplots(figsize=(8, 2))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555")
    return fig


def _seg_labels(df: pd.DataFrame, by: str | Sequence[str]) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by)
    return [" / ".join(str(v) for v in row) for row in df[cols].itertuples(index=False)]


def accuracy_bar_chart(
    breakdown_df: pd.DataFrame,
    by: str | Sequence[str],
    target: float | None = None,
    *,
    title: str | None = None,
    min_n: int = 30,
    level: float = 0.95,
) -> Figure:
    """Horizontal accuracy bars per segment with confidence intervals and the target line.

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
        Figure title (default: "Accuracy by <by>").
    min_n : int, default 30
        Segments with fewer audits get a lighter bar and an "(n < min_n)" note.
    level : float, default 0.95
        Confidence level of the intervals in ``breakdown_df`` (for the axis label only).

    Returns
    -------
    matplotlib.figure.Figure
        Bars sorted from lowest to highest accuracy (lowest at the top), coloured *and*
        hatched by status, each labelled with its value and n. The x axis starts at 0.
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
    labels = _seg_labels(df, by)
    y = np.arange(len(df))
    status = df["status"] if "status" in df.columns else pd.Series("at_risk", index=df.index)
    fig, ax = plt.subplots(figsize=(8.0, max(2.2, 0.45 * len(df) + 1.2)))
    acc = df["accuracy"].to_numpy(dtype=float)
    lo = df["ci_low"].to_numpy(dtype=float)
    hi = df["ci_high"].to_numpy(dtype=float)
    small = df["n"].to_numpy() < min_n
    for i, (a, st, sm) in enumerate(zip(acc, status, small, strict=True)):
        ax.barh(
            y[i],
            a,
            color=STATUS_COLORS.get(st, "#999999"),
            alpha=0.45 if sm else 0.9,
            hatch=_STATUS_HATCH.get(st, ""),
            edgecolor="white",
            height=0.65,
        )
    ax.errorbar(
        acc,
        y,
        xerr=np.vstack([np.clip(acc - lo, 0, None), np.clip(hi - acc, 0, None)]),
        fmt="none",
        ecolor="#222222",
        elinewidth=1.2,
        capsize=3,
    )
    for i, (a, n, sm) in enumerate(zip(acc, df["n"], small, strict=True)):
        note = f" (n < {min_n})" if sm else ""
        ax.text(
            1.02,
            y[i],
            f"{a * 100:.1f}%  n={int(n):,}{note}",
            va="center",
            fontsize=8,
            color="#222222",
            transform=ax.get_yaxis_transform(),
        )
    handles: list = []
    if target is not None and np.isfinite(target):
        ax.axvline(target, **TARGET_LINE)
        handles.append(Line2D([], [], **TARGET_LINE, label=f"Target {target * 100:.1f}%"))
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1.0)
    ax.set_ylim(-0.6, len(df) - 0.4)
    pct_axis(ax, axis="x")
    ax.set_xlabel(f"Accuracy (bar: estimate; whisker: {level:.0%} interval)")
    ax.set_ylabel("")
    ax.grid(axis="y", visible=False)
    present = [s for s in STATUS_LABELS if s in set(status)]
    handles += [
        Patch(
            facecolor=STATUS_COLORS[s],
            hatch=_STATUS_HATCH[s],
            edgecolor="white",
            label=STATUS_LABELS[s],
        )
        for s in present
    ]
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=max(1, len(handles)),
        fontsize=8,
    )
    ax.set_title(title)
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
        cbar_kws={"label": "Accuracy", "format": plt.FuncFormatter(lambda v, _: f"{v:.0%}")},
    )
    cmap = plt.get_cmap("cividis")
    norm = plt.Normalize(min(vmin, 0.95), vmax)
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            n = int(cnt.iat[i, j])
            if small[i, j]:
                ax.add_patch(
                    Rectangle(
                        (j, i),
                        1,
                        1,
                        facecolor="#e6e6e6",
                        hatch="///",
                        edgecolor="#b0b0b0",
                        linewidth=0,
                        gid=SMALL_CELL_GID,
                    )
                )
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    f"n={n}" if n else "no audits",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="#555555",
                )
                continue
            v = float(acc.iat[i, j])
            r, g, b, _ = cmap(norm(v))
            light = 0.299 * r + 0.587 * g + 0.114 * b
            ax.text(
                j + 0.5,
                i + 0.5,
                f"{v * 100:.1f}%\nn={n:,}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if light > 0.5 else "white",
            )
    xlabel = col.replace("_", " ").capitalize()
    if small.any():
        xlabel += f"\n(hatched grey cells: fewer than {min_n} audits, rate not shown)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(row.replace("_", " ").capitalize())
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


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
    fig, ax = plt.subplots(figsize=(8.0, max(2.2, 0.45 * len(df) + 1.2)))
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
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
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
    fig, ax = plt.subplots(figsize=(8.0, 4.0))
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
    for k, (d, label) in enumerate(ev):
        ax.axvline(d, color="#555555", linestyle=":", linewidth=1.2)
        ax.annotate(
            label,
            xy=(d, 1.0),
            xycoords=("data", "data"),
            xytext=(3, -4 - 11 * (k % 3)),
            textcoords="offset points",
            fontsize=8,
            va="top",
            ha="left",
            color="#333333",
        )
    pct_axis(ax, axis="y")
    step = max(1, int(np.ceil(len(x) / 12)))
    ax.set_xticks(list(x.iloc[::step]), [d.strftime("%d %b") for d in x.iloc[::step]])
    ax.set_xlabel("Week starting (Monday)")
    ax.set_ylabel("Accuracy")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    return fig


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
