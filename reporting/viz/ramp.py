"""Figures of the new-hire ramp: a measure by week since hire, one line per hiring cohort, with
its interval as a band (and the target or the full-speed line dashed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reporting.viz.style import PALETTE, TARGET_LINE, apply_house_style, pct_axis


def ramp_figure(curve: pd.DataFrame, *, value: str = "accuracy", low: str = "ci_low",
                high: str = "ci_high", reference: float | None = None,
                reference_label: str = "Target", used: pd.DataFrame | None = None,
                percent: bool = True, ylabel: str = "Accuracy",
                title: str | None = None) -> Figure:
    """A measure by week since hire, one line per ``cohort``.

    Parameters
    ----------
    curve : DataFrame
        ``cohort``, ``week`` and the ``value``, ``low`` and ``high`` columns (e.g.
        :func:`reporting.people.ramp.accuracy_ramp` or
        :func:`reporting.capacity.ramp.productivity_ramp`).
    value, low, high : str
        Columns drawn: the line and its interval band.
    reference : float, optional
        A dashed horizontal line (the target, or 1.0 for full speed).
    reference_label : str
        Its legend label.
    used : DataFrame, optional
        ``week``, ``factor_used`` (and ``factor_ci_low``/``factor_ci_high``): the ramp a
        capacity plan used, drawn as a black step line over its interval; drawn alone when
        ``curve`` is empty (a market without hiring cohorts of its own).
    percent : bool
        Percent axis.
    ylabel, title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    apply_house_style()
    fig = Figure(figsize=(8.0, 3.6))
    ax = fig.add_subplot()
    if curve.empty and (used is None or used.empty):
        ax.text(0.5, 0.5, "No new hire seen from their first week", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    for i, (cohort, c) in enumerate(curve.groupby("cohort", sort=True)):
        c = c.sort_values("week")
        colour = PALETTE[i % 6]
        n = int(c["reviewers"].max()) if "reviewers" in c.columns else 0
        label = f"hired {cohort} ({n})" if cohort != "all" else f"all new hires ({n})"
        x = c["week"].to_numpy() + 1  # week 1 = the first seven days
        ax.plot(x, c[value], marker="o", markersize=3, color=colour, label=label)
        ok = c[low].notna() & c[high].notna()
        ax.fill_between(x[ok.to_numpy()], c.loc[ok, low], c.loc[ok, high], color=colour,
                        alpha=0.15, linewidth=0)
    if used is not None and len(used):
        x = used["week"].to_numpy() + 1
        if {"factor_ci_low", "factor_ci_high"} <= set(used.columns):
            ok = (used["factor_ci_low"].notna() & used["factor_ci_high"].notna()).to_numpy()
            ax.fill_between(x[ok], used.loc[ok, "factor_ci_low"], used.loc[ok, "factor_ci_high"],
                            color="#000000", alpha=0.07, linewidth=0, step="mid")
        ax.step(x, used["factor_used"], where="mid", color="#000000", linewidth=1.6,
                label="ramp used by the plan (grey: 95% interval of each week)")
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, label=reference_label, **TARGET_LINE)
    ax.set_xlabel("Week since hire")
    ax.set_ylabel(ylabel)
    if percent:
        pct_axis(ax)
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    if title:
        ax.set_title(title)
    return fig
