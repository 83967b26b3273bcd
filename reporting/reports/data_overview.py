"""The data-overview report: audits and accuracy by market for one month.

The model of a report module: ``read(ctx, params)`` is the only code that touches the data,
``build(inputs, params)`` returns a frozen result that knows its ``records()`` (results.json) and
``tables()`` (tables.xlsx); the notebook shows the result's sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from reporting.core.errors import NoData
from reporting.reports._records import kpi_records


@dataclass(frozen=True)
class MarketOverview:
    """Audits and accuracy per market for one month.

    Attributes
    ----------
    audits : DataFrame
        The month's audit rows (for the daily chart).
    table : DataFrame
        ``market, audits, correct, accuracy, ci_low, ci_high``.
    kpis : DataFrame
        ``market, kpi, value, ci_low, ci_high, n``.
    """

    audits: pd.DataFrame
    table: pd.DataFrame
    kpis: pd.DataFrame

    def records(self) -> dict[str, Any]:
        """What goes to results.json: the accuracy KPI of each market."""
        return {"kpis": kpi_records(self.kpis, ["market"])}

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """What goes to tables.xlsx: one sheet, by market."""
        return [("By market", self.table, {})]


def read(ctx: Any, params: Mapping[str, Any]) -> pd.DataFrame:
    """The month's audits (filter pushed down to the snapshot); :class:`NoData` if none."""
    period = params["period"]
    audits = ctx.data(period_from=period, period_to=period).audits
    if audits.empty:
        raise NoData(f"No audits in {period}.")
    return audits


def build(audits: pd.DataFrame, params: Mapping[str, Any]) -> MarketOverview:
    """The overview of ``audits``."""
    return market_overview(audits, level=float(params.get("level", 0.95)))


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
    return MarketOverview(audits, grouped, kpis)


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
