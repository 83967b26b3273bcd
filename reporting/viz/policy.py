"""Figure of policy-change impact: a policy's weekly accuracy around a policy update.

Takes the :class:`reporting.stats.policy_change.PolicyChange` results (their ``weeks`` frame)
and draws one panel per update: the weekly accuracy with its Wilson interval, the fitted
pre-change and post-change lines of the segmented regression, the pre-change line carried on
(what accuracy would have been without the change) and the pre-change level's interval, so a
lead sees the dip and whether the line is back in the band. Colour distinctions are doubled by
line style and marker (grey-scale printing, colour-blind readers).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from reporting.viz.style import PALETTE, pct_axis

__all__ = ["policy_change_figure"]

_POINT = PALETTE[0]  # blue
_FIT = PALETTE[3]  # vermillion
_BASE = "#555555"
_EVENT = PALETTE[2]  # green


def _panel(ax: plt.Axes, pc) -> None:
    w = pc.weeks
    if not len(w):
        why = ("Not shown: fewer than 3 reviewers" if pc.status == "too_few_reviewers"
               else "No audits around the update")
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    x = w["week"].to_numpy(float)
    acc = w["accuracy"].to_numpy(float)
    err = np.vstack([acc - w["ci_low"].to_numpy(float), w["ci_high"].to_numpy(float) - acc])
    ax.errorbar(x, acc, yerr=err, fmt="o", color=_POINT, markersize=4, elinewidth=0.8,
                capsize=2, label="Weekly accuracy (95% interval)")
    if np.isfinite(pc.pre_low):
        ax.axhspan(pc.pre_low, pc.pre_high, color=_BASE, alpha=0.12, linewidth=0,
                   label="Pre-change level (95% interval)")
    if w["fitted"].notna().any():
        pre, post = x < 0, x >= 0
        ax.plot(x[pre], w["fitted"].to_numpy(float)[pre], color=_BASE, linewidth=1.6,
                label="Fitted before the update")
        ax.plot(x[post], w["counterfactual"].to_numpy(float)[post], color=_BASE,
                linestyle="--", linewidth=1.2, label="Without the update (trend carried on)")
        ax.plot(x[post], w["fitted"].to_numpy(float)[post], color=_FIT, linewidth=2.0,
                label="Fitted after the update")
    ax.axvline(-0.5, color=_EVENT, linestyle=":", linewidth=1.6, label="Policy update")
    ax.set_title(f"{pc.market} · {pc.policy}: update on {pc.date.day} {pc.date:%b}",
                 fontsize=10)
    ax.set_xlabel("Weeks since the update")
    ax.set_ylabel("Accuracy")
    pct_axis(ax, "y")


def policy_change_figure(changes: Sequence, figsize_per_panel: tuple[float, float] = (8.0, 3.4)
                         ) -> Figure:
    """One panel per policy update (see the module docstring).

    Parameters
    ----------
    changes : sequence of PolicyChange
        From :func:`reporting.stats.policy_change.policy_changes` (at least one).
    figsize_per_panel : tuple
        Width and height of one panel in inches.

    Returns
    -------
    Figure
        Week 0 is the 7 days from the update (the dotted line sits just before it); the legend
        is under the last panel.
    """
    if not len(changes):
        raise ValueError("policy_change_figure needs at least one policy change")
    k = len(changes)
    fig, axes = plt.subplots(k, 1, figsize=(figsize_per_panel[0], figsize_per_panel[1] * k),
                             layout="constrained", squeeze=False)
    for ax, pc in zip(axes[:, 0], changes, strict=True):
        _panel(ax, pc)
    last = axes[-1, 0]
    handles, names = last.get_legend_handles_labels()
    last.legend(handles, names, loc="upper left", bbox_to_anchor=(0.0, -0.22), ncol=3,
                fontsize=8)
    return fig
