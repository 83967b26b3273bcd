"""The data-overview report's numbers: audits and accuracy by market for one month."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True)
class MarketOverview:
    table: pd.DataFrame  # market, audits, correct, accuracy, ci_low, ci_high
    kpis: pd.DataFrame  # market, kpi, value, ci_low, ci_high, n


def market_overview(audits: pd.DataFrame, level: float = 0.95) -> MarketOverview:
    """Audits and accuracy (Wilson interval) per market."""
    grouped = audits.groupby("market", observed=True)["is_correct"].agg(["size", "sum"])
    grouped.columns = ["audits", "correct"]
    grouped = grouped.reset_index()
    low, high = proportion_confint(grouped["correct"], grouped["audits"], alpha=1 - level,
                                   method="wilson")
    grouped["accuracy"] = grouped["correct"] / grouped["audits"]
    grouped["ci_low"], grouped["ci_high"] = low, high
    kpis = grouped.assign(kpi="accuracy", value=grouped["accuracy"], n=grouped["audits"])[
        ["market", "kpi", "value", "ci_low", "ci_high", "n"]]
    return MarketOverview(grouped, kpis)


def daily_audits_figure(audits: pd.DataFrame) -> plt.Figure:
    """Audits per day and market, stacked."""
    daily = (audits.groupby([audits["decision_date"], "market"]).size()
             .unstack(fill_value=0))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.stackplot(daily.index, daily.T.to_numpy(), labels=[str(c) for c in daily.columns],
                 linewidth=0)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("")
    ax.set_ylabel("audits per day")
    ax.set_title("Audits per day by market")
    ax.legend(ncol=min(6, daily.shape[1]), loc="upper left", bbox_to_anchor=(0, -0.15))
    return fig
