"""The monthly business review (MBR): every market on one page, from the same library calls as the
per-market reports.

:func:`mbr_report` builds, for one reporting month and a set of markets, in one pass over the
month's data:

* the **scorecard**: per market the KPIs of :func:`reporting.metrics.compute_kpis`, computed exactly
  as the ``market_accuracy`` report computes its market-level figures (same audits of the month,
  same production, same default accuracy sample, same targets), plus cases handled and headcount;
* **month over month**: :func:`reporting.stats.period_changes` per market on the accuracy samples
  of both months (as ``market_accuracy``), with intervals and p-values;
* **trends**: monthly accuracy per market over the last ``trend_months`` months with Wilson
  intervals;
* **top findings**: per market the rate/mix decomposition of the accuracy change
  (:func:`~reporting.stats.decompose_all`, :func:`~reporting.stats.rank_root_causes`) told by
  :func:`~reporting.stats.change_verdict`, on the same dimensions and with the same small-group
  protection as the ``trend_root_cause`` report;
* the **capacity outlook** of the next month per market (:func:`reporting.reports.capacity_plan.
  capacity_report`, the same plan as the ``capacity_plan`` reports of the pack);
* an **executive summary** written from those numbers.

Privacy: the MBR shows no individual. Nothing it holds has a reviewer or auditor column; segments
of fewer than three reviewers are merged before any finding is computed; reviewer-level capacity
detail stays inside the capacity plans and is never copied out.

See ``docs/reports.md`` (section *monthly_business_review*) for how to read it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reporting.core.cache import ResultCache
from reporting.core.kpis import KPIS
from reporting.core.periods import month as _month
from reporting.data.normalize import to_text
from reporting.metrics.compute import (
    PRODUCTION_KPIS,
    accuracy_from_counts,
    compute_kpis,
    count_accuracy,
)
from reporting.reports.capacity_plan import (
    HISTORY_MONTHS,
    NoCapacityData,
    capacity_report,
    html_grid,
    read_slices,
    risk_badge,
    with_note,
)
from reporting.stats.change import CHANGES_COLUMNS, period_changes
from reporting.stats.decomposition import COMBINE, decompose_all, rank_root_causes
from reporting.stats.narrative import change_verdict
from reporting.viz.style import PALETTE, STATUS_COLORS, STATUS_LABELS, TARGET_LINE, pct_axis
from reporting.viz.tables import status_badge

__all__ = [
    "CHANGE_KPIS",
    "FINDING_DIMENSIONS",
    "MBRReport",
    "PERSONAL_COLUMNS",
    "SCORECARD_KPIS",
    "TREND_COLUMNS",
    "mbr_no_data_message",
    "mbr_report",
    "read_mbr_data",
]

#: Rows of the scorecard, in order: (key, label). ``cases_handled`` and ``headcount`` come from
#: production; the others are KPIs of :func:`reporting.metrics.compute_kpis`.
SCORECARD_KPIS: tuple[tuple[str, str], ...] = (
    ("cases_handled", "Cases handled"),
    ("audit_volume", "Audits"),
    ("accuracy", "Accuracy"),
    ("missed_violation_rate", "Missed violations"),
    ("over_enforcement_rate", "Over-enforcement"),
    ("productivity", "Productivity (cases/h)"),
    ("handling_time_mean", "Handling time (mean)"),
    ("sla_attainment", "SLA attainment"),
    ("headcount", "Headcount"),
)
#: KPIs compared month over month: the same as the market_accuracy report.
CHANGE_KPIS: tuple[str, ...] = (
    "accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "enforcement_precision",
    "enforcement_recall",
    "handling_time_mean",
)
#: Changes shown in the month-over-month table (all of CHANGE_KPIS are recorded).
SHOWN_CHANGES: tuple[str, ...] = (
    "accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "handling_time_mean",
)
#: Dimensions of the findings: those of the trend_root_cause report (never reviewer_id).
FINDING_DIMENSIONS: tuple[str, ...] = (
    "policy",
    "product_line",
    "queue",
    "tenure_band",
    "team_lead",
    "site",
)
FINDING_COMBINATION: tuple[str, str] = ("policy", "tenure_band")
#: Columns read for the monthly trend (a narrow read over several months).
TREND_COLUMNS: tuple[str, ...] = (
    "market", "period", "decision_date", "reviewer_decision", "qa_decision", "sample_type",
)
#: Columns that identify a person: never kept by the MBR.
PERSONAL_COLUMNS: tuple[str, ...] = ("reviewer_id", "auditor_id")
#: Markets per scorecard table (more markets: several tables, so it fits a printed page).
MARKETS_PER_TABLE = 6

OVER_100 = " (A share above 100% means the rest of the market moved the other way.)"
_KPI_COLS = ["kpi", "value", "ci_low", "ci_high", "n", "target", "status"]
_NBSP = "\u00a0"
_MINUS = "\u2212"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------




def _shift(period: str, months: int) -> str:
    return (_month(period) + months).strftime("%Y-%m")


def _month_name(period: str, short: bool = False) -> str:
    return _month(period).strftime("%b %Y" if short else "%B %Y")


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _fmt_value(value: Any, kpi: str) -> str:
    if not _finite(value):
        return "–"
    v = float(value)
    unit = KPIS[kpi].unit if kpi in KPIS else "count"
    if unit == "rate":
        return f"{100 * v:.1f}%"
    if unit == "seconds":
        return f"{v:.1f}{_NBSP}s"
    if unit == "cases_per_hour":
        return f"{v:.1f}"
    return f"{v:,.0f}"


def _fmt_interval(low: Any, high: Any, kpi: str) -> str:
    if not (_finite(low) and _finite(high)):
        return ""
    unit = KPIS[kpi].unit if kpi in KPIS else "count"
    if unit == "count":
        return ""
    k, d = (100.0, 1) if unit == "rate" else (1.0, 1)
    return f"[{float(low) * k:.{d}f},{_NBSP}{float(high) * k:.{d}f}]"


def _fmt_diff(diff: Any, kpi: str, unit: bool = True) -> str:
    if not _finite(diff):
        return "–"
    d = float(diff)
    if kpi.startswith("handling_time"):
        text, zero = f"{abs(d):.1f}" + (f"{_NBSP}s" if unit else ""), round(d, 1) == 0
    else:
        text, zero = f"{abs(100 * d):.1f}" + (f"{_NBSP}pp" if unit else ""), round(100 * d, 1) == 0
    return text if zero else ("+" if d > 0 else _MINUS) + text


def _fmt_p(p: Any) -> str:
    if not _finite(p):
        return "p n/a"
    p = float(p)
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _join(items: Sequence[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _higher_is_better(kpi: str) -> bool:
    return KPIS[kpi].direction == "higher" if kpi in KPIS else True


def _sample(audits: pd.DataFrame, types: Sequence[str] | None) -> pd.DataFrame:
    """The accuracy sample, as compute_kpis and the market_accuracy report select it."""
    if types is None or "sample_type" not in audits.columns:
        return audits
    if isinstance(types, str):
        types = (types,)
    st = to_text(audits["sample_type"], lower=True).fillna("random")
    return audits[st.isin([str(t).strip().lower() for t in types]).to_numpy(dtype=bool)]


def _in_month(frame: pd.DataFrame, col: str, period: str) -> pd.DataFrame:
    p = _month(period)
    d = pd.to_datetime(frame[col]).dt.normalize()
    keep = (d >= p.start_time.normalize()) & (d <= p.end_time.normalize())
    return frame[keep.to_numpy(dtype=bool)]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MBRData:
    """What the MBR reads from a run, made to be read one market at a time (bounded memory).

    Attributes
    ----------
    base : reporting.data.Dataset
        Roster, targets and events (small); no audits or production.
    markets_with_audits : dict
        ``{month: markets with audits in that month}`` for the month and the one before.
    trend_counts : pandas.DataFrame
        Accuracy-sample counts per market and month of the trend months (``accuracy_counts``).
    read_market : callable
        ``read_market(market)``: that market's audits of the two months and production of the
        capacity history, as a Dataset.
    """

    base: Any
    markets_with_audits: dict[str, list[str]]
    trend_counts: pd.DataFrame
    read_market: Any


def read_mbr_data(ctx: Any, period: str, markets: Sequence[str] | None = None, *,
                  trend_months: int = 6,
                  accuracy_sample_types: Sequence[str] | None = ("random",)) -> MBRData:
    """What the MBR reads, each table over the window it needs, one market at a time.

    * audits of ``period`` and the month before, all columns (KPIs, changes, findings), and
      production of the capacity history (``HISTORY_MONTHS`` months before the next month):
      read per market when :func:`mbr_report` gets to it, so only one market's rows are in
      memory at once;
    * for the trend, only counts: audits in the accuracy sample and those upheld, per market and
      month of the last ``trend_months`` months (counted inside DuckDB on a run snapshot).

    On a run snapshot every read is a DuckDB slice; opened by hand it filters the loaded data.
    ``accuracy_sample_types`` must be the one given to :func:`mbr_report`.
    """
    compare_to = _shift(period, -1)
    plan = _shift(period, 1)
    first = _shift(period, -(trend_months - 1))
    mlist = list(markets) if markets else None
    if ctx.on_snapshot:
        from reporting.data.snapshot import accuracy_counts

        counts = accuracy_counts(ctx.data_dir, ["market", "period"], market=mlist,
                                 period_from=first, period_to=period,
                                 sample_types=accuracy_sample_types)
        every = accuracy_counts(ctx.data_dir, ["market", "period"], market=mlist,
                                period_from=compare_to, period_to=period, sample_types=None)
    else:
        a = ctx.dataset.audits
        keep = (a["period"] >= first) & (a["period"] <= period)
        if mlist is not None:
            keep &= a["market"].isin(mlist)
        counts = count_accuracy(a.loc[keep.to_numpy(dtype=bool), list(TREND_COLUMNS)],
                                ["market", "period"], accuracy_sample_types)
        two = a["period"].isin([compare_to, period])
        if mlist is not None:
            two &= a["market"].isin(mlist)
        every = count_accuracy(a.loc[two.to_numpy(dtype=bool), list(TREND_COLUMNS)],
                               ["market", "period"], None)
    with_audits = {m: sorted(str(x) for x in every.loc[(every["period"] == m)
                                                      & (every["audits"] > 0), "market"])
                   for m in (compare_to, period)}

    def read_market(market: str):
        return read_slices(ctx, [market], audits_from=compare_to, audits_to=period,
                           production_from=_shift(plan, -HISTORY_MONTHS), production_to=plan)

    base = ctx.data(market=[])  # roster, targets, events; no audits or production
    return MBRData(base, with_audits, counts, read_market)


def mbr_no_data_message(dataset: Any, period: str, markets: Sequence[str] | None = None
                        ) -> str | None:
    """Why the MBR cannot be built (no audit of any selected market in ``period``), or None.

    ``dataset``: a Dataset, or the :class:`MBRData` of :func:`read_mbr_data`."""
    if isinstance(dataset, MBRData):
        present = dataset.markets_with_audits.get(period, [])
        if any(m in present for m in markets) if markets else present:
            return None
    else:
        a = dataset.audits
        cur = a[(a["period"] == period).to_numpy(dtype=bool)]
        if markets:
            cur = cur[cur["market"].isin(list(markets)).to_numpy(dtype=bool)]
        if len(cur):
            return None
    which = f" for {', '.join(markets)}" if markets else ""
    return f"No audits in {period}{which}."


# --------------------------------------------------------------------------------------------
# The report object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MBRReport:
    """Everything the ``monthly_business_review`` template shows and records.

    Attributes
    ----------
    period, compare_to, plan_month : str
        The reporting month, the month it is compared with, and the month the capacity outlook
        plans.
    markets : tuple of str
        Markets covered (those without audits in the month are shown as "no data").
    level, alpha : float
        Confidence level of the intervals and significance level of the tests.
    kpis : DataFrame
        Per market: ``market, kpi, value, ci_low, ci_high, n, target, status, label, unit``:
        :func:`~reporting.metrics.compute_kpis` exactly as the market_accuracy report calls it.
    volume : DataFrame
        Per market: ``market, cases_handled, headcount`` (reviewers with production in the month).
    changes : DataFrame
        ``market`` + the changes frame (:data:`reporting.stats.CHANGES_COLUMNS`).
    trend : DataFrame
        Monthly accuracy: ``market, period, value, ci_low, ci_high, n, target, status``.
    findings : DataFrame
        One row per market: ``market, diff, p_value, significant, dimension, segment, effect,
        share_of_gap, finding`` (the cause columns describe the top significant cause, if any).
    root_causes : DataFrame
        ``market`` + :func:`~reporting.stats.rank_root_causes` rows of every market.
    capacity : DataFrame
        One row per market with the plan of ``plan_month`` (totals of the capacity plan):
        forecast and interval, required / available FTE, gap, utilisation, SLA risk, backlog,
        ``status`` (on the interval, as the capacity_plan KPI records) and ``outlook``.
    summary : tuple of str
        The executive summary, one sentence (or two) per bullet.
    notes : tuple of str
        Caveats (markets without data, capacity plans that could not be made, ...).
    """

    period: str
    compare_to: str
    plan_month: str
    markets: tuple[str, ...]
    level: float
    alpha: float
    kpis: pd.DataFrame
    volume: pd.DataFrame
    changes: pd.DataFrame
    trend: pd.DataFrame
    findings: pd.DataFrame
    root_causes: pd.DataFrame
    capacity: pd.DataFrame
    summary: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    # -- records -------------------------------------------------------------------------------
    def kpi_records(self) -> pd.DataFrame:
        """``market, kpi, value, ci_low, ci_high, n, target, status`` for
        ``ctx.record_kpis(..., scope=["market"])``."""
        return self.kpis[["market", *_KPI_COLS]].reset_index(drop=True)

    def changes_records(self) -> pd.DataFrame:
        """The changes frame with ``market`` on every record."""
        return self.changes.reset_index(drop=True)

    def root_causes_records(self) -> pd.DataFrame:
        """Contract columns first (``market, dimension, segment, effect, contribution_pp,
        share_of_gap, p_value``), then the rest."""
        rc = self.root_causes
        first = ["market", "dimension", "segment", "effect", "contribution_pp", "share_of_gap",
                 "p_value"]
        return rc[[*first, *[c for c in rc.columns if c not in first]]].reset_index(drop=True)

    def capacity_records(self) -> pd.DataFrame:
        """The capacity outlook per market (numbers; the sentence is in ``outlook``)."""
        return self.capacity.reset_index(drop=True)

    # -- display: summary ----------------------------------------------------------------------
    def summary_html(self) -> str:
        """The executive summary as a bullet list (escaped)."""
        items = "".join(f"<li>{html.escape(s)}</li>" for s in self.summary)
        return f'<div class="qa-summary"><ul style="margin:4px 0;padding-left:20px">{items}</ul></div>'

    # -- display: scorecard --------------------------------------------------------------------
    def _cell(self, market: str, key: str) -> str:
        if key in ("cases_handled", "headcount"):
            v = self.volume.loc[self.volume["market"] == market, key]
            return f"<b>{_fmt_value(v.iloc[0], 'audit_volume')}</b>" if len(v) and _finite(
                v.iloc[0]) else "–"
        row = self.kpis[(self.kpis["market"] == market) & (self.kpis["kpi"] == key)]
        if row.empty:
            return "–"
        r = row.iloc[0]
        if KPIS[key].unit == "count":
            return f"<b>{_fmt_value(r['value'], key)}</b>"
        if r["status"] == "no_data":
            return status_badge("no_data")
        parts = [f"<b>{_fmt_value(r['value'], key)}</b>"]
        ci = _fmt_interval(r["ci_low"], r["ci_high"], key)
        if ci:
            parts.append(f'<span class="qa-note">{ci}</span>')
        common = self._common_target(key)
        if _finite(r["target"]) and (common is None or abs(float(r["target"]) - common) > 1e-12):
            parts.append(f'<span class="qa-note">target {_fmt_value(r["target"], key)}</span>')
        parts.append(status_badge(str(r["status"])))
        return "<br>".join(parts)

    def _common_target(self, key: str) -> float | None:
        t = self.kpis.loc[self.kpis["kpi"] == key, "target"].dropna()
        if t.empty:
            return None
        mode = t.round(12).mode()
        return float(mode.iloc[0]) if len(mode) else None

    def scorecard_html(self) -> str:
        """KPIs as rows, markets as columns: value, interval, (market target when it differs
        from the usual one), and the status as a colour-blind-safe badge *with* its label."""
        tables = []
        markets = list(self.markets)
        for i in range(0, len(markets), MARKETS_PER_TABLE):
            chunk = markets[i:i + MARKETS_PER_TABLE]
            rows = []
            for key, label in SCORECARD_KPIS:
                if key not in ("cases_handled", "headcount") and not (self.kpis["kpi"] == key).any():
                    continue
                common = self._common_target(key) if key in KPIS else None
                better = ""
                if key in KPIS and KPIS[key].unit != "count":
                    better = "higher is better" if _higher_is_better(key) else "lower is better"
                target = _fmt_value(common, key) if common is not None else "–"
                head = (f"<b>{html.escape(label)}</b><br>"
                        f'<span class="qa-note">{better}</span>' if better
                        else f"<b>{html.escape(label)}</b>")
                rows.append([head, target, *[self._cell(m, key) for m in chunk]])
            cols = ["KPI", "Target", *[html.escape(m) for m in chunk]]
            numeric = [False, True, *[True] * len(chunk)]
            tables.append(html_grid(cols, rows, numeric=numeric))
        return "".join(tables)

    def scorecard_frame(self) -> pd.DataFrame:
        """The scorecard as numbers (one row per market and KPI) for tables.xlsx."""
        k = self.kpis[["market", *_KPI_COLS]]
        vol = self.volume.melt(id_vars="market", var_name="kpi", value_name="value")
        vol = vol.assign(ci_low=np.nan, ci_high=np.nan, n=np.nan, target=np.nan, status=None)
        out = pd.concat([vol[["market", *_KPI_COLS]], k], ignore_index=True)
        order = {key: i for i, (key, _) in enumerate(SCORECARD_KPIS)}
        out["_o"] = out["kpi"].map(order).fillna(len(order))
        out = out.sort_values(["market", "_o"], kind="stable").drop(columns="_o")
        return out.reset_index(drop=True)

    # -- display: changes ----------------------------------------------------------------------
    def changes_html(self) -> str:
        """Markets as rows; per KPI the change, its interval and p-value, and in words whether it
        is a significant improvement or deterioration (never colour alone)."""
        shown = [k for k in SHOWN_CHANGES if (self.changes["kpi"] == k).any()]
        rows = []
        for m in self.markets:
            cells = [f"<b>{html.escape(m)}</b>"]
            for k in shown:
                r = self.changes[(self.changes["market"] == m) & (self.changes["kpi"] == k)]
                if r.empty or not _finite(r.iloc[0]["p_value"]):
                    cells.append("–")
                    continue
                r = r.iloc[0]
                lo, hi = _fmt_diff(r["ci_low"], k, unit=False), _fmt_diff(r["ci_high"], k,
                                                                         unit=False)
                if bool(r["significant"]):
                    good = (float(r["diff"]) > 0) == _higher_is_better(k)
                    word = "▲ better" if good else "▼ worse"
                    colour = STATUS_COLORS["on_track" if good else "off_track"]
                    verdict = f'<span style="color:{colour};font-weight:600">{word}</span>'
                else:
                    verdict = '<span class="qa-note">no significant change</span>'
                cells.append(
                    f"<b>{_fmt_diff(r['diff'], k)}</b> "
                    f'<span class="qa-note">[{lo},{_NBSP}{hi}]</span><br>'
                    f'<span class="qa-note">{_fmt_p(r["p_value"])}</span><br>{verdict}')
            rows.append(cells)
        labels = [KPIS[k].label for k in shown]
        return html_grid(["Market", *labels], rows, numeric=[False, *[True] * len(shown)])

    # -- display: findings and capacity ---------------------------------------------------------
    def finding_sentences(self) -> list[str]:
        """One finding per market, prefixed with the market."""
        out = []
        for r in self.findings.to_dict(orient="records"):
            text = f"{r['market']}: {r['finding']}"
            if _finite(r["share_of_gap"]) and float(r["share_of_gap"]) > 1:
                text += OVER_100
            out.append(text)
        return out

    def capacity_html(self) -> str:
        """Markets as rows: forecast with interval, FTE required vs available, gap, SLA risk."""
        if len(self.capacity) == 0:
            return "<p>No production data: no capacity outlook.</p>"
        level = f"{self.level:.0%}"
        rows = []
        for r in self.capacity.to_dict(orient="records"):
            if not _finite(r.get("forecast_cases")):
                rows.append([html.escape(str(r["market"])), *["–"] * 6,
                             html.escape(str(r.get("outlook") or "no plan"))])
                continue
            gap = float(r["gap_fte"])
            gap_text = f"{gap:+.1f} short" if gap > 0.05 else (
                f"{-gap:.1f} spare" if gap < -0.05 else "0.0")
            status = str(r["status"])
            reading = {"on_track": "enough even at the high forecast",
                       "off_track": "short even at the low forecast",
                       "at_risk": "depends on where volume lands"}.get(status, "–")
            rows.append([
                f"<b>{html.escape(str(r['market']))}</b>",
                with_note(f"{r['forecast_cases']:,.0f}",
                          f"{r['forecast_low']:,.0f}–{r['forecast_high']:,.0f}"),
                with_note(f"{r['required_fte']:.1f}",
                          f"{r['required_fte_low']:.1f}–{r['required_fte_high']:.1f}"),
                f"{r['available_fte']:.1f}",
                gap_text,
                risk_badge(r["sla_risk"]),
                f"{r['backlog_cases_per_day']:,.0f}" if _finite(r["backlog_cases_per_day"]) else "–",
                f"{status_badge(status)}<br><span class=\"qa-note\">{reading}</span>",
            ])
        cols = ["Market", f"Forecast cases<br>({level} interval)", "Required FTE<br>(range)",
                "Available FTE", "Gap (FTE)", "SLA risk", "Backlog per day if nothing changes",
                "FTE status over the forecast interval"]
        numeric = [False, True, True, True, True, False, True, False]
        return html_grid(cols, rows, numeric=numeric)

    def capacity_figure(self) -> Figure | None:
        """Required vs available FTE per market (the capacity plan's gap chart, one bar pair per
        market, labelled with the gap and the SLA risk in words); None without any plan."""
        from reporting.viz.capacity import capacity_gap_figure

        frame = self.capacity[self.capacity["required_fte"].notna()].rename(
            columns={"market": "product_line"})
        if frame.empty:
            return None
        for col in ("required_fte", "required_fte_low", "required_fte_high", "available_fte",
                    "gap_fte"):
            frame[col] = frame[col].astype(float)
        return capacity_gap_figure(
            frame, title=f"Required vs available FTE, {_month_name(self.plan_month)}")

    # -- display: trend ------------------------------------------------------------------------
    def trend_figure(self) -> Figure:
        """Small multiples: monthly accuracy per market with its interval and target; the panel
        title names the market and this month's status in words."""
        from reporting.viz.style import apply_house_style

        apply_house_style()
        markets = list(self.markets)
        ncols = min(3, max(1, len(markets)))
        nrows = max(1, math.ceil(len(markets) / ncols))
        fig = Figure(figsize=(9.0, 2.5 * nrows + 0.7))
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
        t = self.trend
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
            target = self._target(m)
            if target is not None:
                ax.axhline(target, **TARGET_LINE)
            status = self._status(m)
            colour = STATUS_COLORS.get(status, STATUS_COLORS["no_data"])
            if len(d) and d["period"].iloc[-1] == self.period:
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
                   label=f"Monthly accuracy ({self.level:.0%} interval)"),
            Line2D([], [], **TARGET_LINE, label="Target"),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=9, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        return fig

    def _target(self, market: str) -> float | None:
        r = self.kpis[(self.kpis["market"] == market) & (self.kpis["kpi"] == "accuracy")]
        return float(r["target"].iloc[0]) if len(r) and _finite(r["target"].iloc[0]) else None

    def _status(self, market: str) -> str:
        r = self.kpis[(self.kpis["market"] == market) & (self.kpis["kpi"] == "accuracy")]
        return str(r["status"].iloc[0]) if len(r) else "no_data"

    # -- Excel ---------------------------------------------------------------------------------
    def excel_tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """``(sheet name, frame, formats)`` for tables.xlsx (numbers, not text)."""
        findings = self.findings
        cap = self.capacity
        pct = "0.0%"
        return [
            ("Scorecard", self.scorecard_frame(), {}),
            ("Changes", self.changes_records(), {"p_value": "0.0000"}),
            ("Findings", findings, {"share_of_gap": pct, "p_value": "0.0000"}),
            ("Root causes", self.root_causes_records(), {"share_of_gap": pct}),
            ("Capacity", cap, {"utilisation": pct, "expected_sla_shortfall": pct}),
            ("Accuracy trend", self.trend, {"value": pct, "ci_low": pct, "ci_high": pct,
                                            "target": pct}),
        ]


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


def _kpis(cur: pd.DataFrame, prod: pd.DataFrame | None, targets: Any, markets: list[str],
          level: float, types: Sequence[str] | None) -> pd.DataFrame:
    """Per-market KPIs, exactly as the market_accuracy report computes its market-level frame.

    That report calls compute_kpis once per market on the market's audits and production of the
    month, with targets in force at the market's latest decision date. One call over all markets
    gives the same numbers (every KPI is computed per scope) when every market's latest decision
    date is the same; otherwise the markets are computed one by one.
    """
    cols = ["market", *_KPI_COLS, "label", "unit"]
    parts = []
    has_prod = set(prod["market"]) if prod is not None and len(prod) else set()
    present = [m for m in markets if (cur["market"] == m).any()]
    if not present:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    last = pd.to_datetime(cur["decision_date"]).groupby(cur["market"]).max()
    if last.loc[present].nunique() == 1:
        groups = [present]
    else:
        groups = [[m] for m in present]
    for group in groups:
        a = cur[cur["market"].isin(group).to_numpy(dtype=bool)]
        p = prod[prod["market"].isin(group).to_numpy(dtype=bool)] if has_prod else None
        p = p if p is not None and len(p) else None
        k = compute_kpis(a, p, targets, by=["market"], level=level, accuracy_sample_types=types)
        # a market without production in the month has no production KPIs in its own report
        k = k[~(k["kpi"].isin(PRODUCTION_KPIS) & ~k["market"].isin(has_prod))]
        parts.append(k[cols])
    out = pd.concat(parts, ignore_index=True)
    order = {m: i for i, m in enumerate(markets)}
    out["_o"] = out["market"].map(order)
    return out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def _volume(prod: pd.DataFrame | None, markets: list[str]) -> pd.DataFrame:
    if prod is None or len(prod) == 0:
        return pd.DataFrame({"market": markets, "cases_handled": np.nan, "headcount": np.nan})
    g = prod.groupby("market").agg(cases_handled=("cases_handled", "sum"),
                                   headcount=("reviewer_id", "nunique"))
    g = g.reindex(markets)
    return g.reset_index().rename(columns={"index": "market"})


def _trend(trend_audits: pd.DataFrame | None, trend_counts: pd.DataFrame | None, targets: Any,
           markets: list[str], first: str, period: str, level: float,
           types: Sequence[str] | None) -> pd.DataFrame:
    cols = ["market", "period", *_KPI_COLS]
    if trend_counts is None:
        t = trend_audits[((trend_audits["period"] >= first) & (trend_audits["period"] <= period)
                          & trend_audits["market"].isin(markets)).to_numpy(dtype=bool)]
        counts = count_accuracy(t, ["market", "period"], types)
    else:
        t = trend_counts
        counts = t[((t["period"] >= first) & (t["period"] <= period)
                    & t["market"].isin(markets)).to_numpy(dtype=bool)]
    if counts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    k = accuracy_from_counts(counts, ["market", "period"], targets, level=level)
    return k[cols].reset_index(drop=True)


def _finding(market: str, pair: pd.DataFrame, period: str, compare_to: str,
             change_row: pd.Series | None, level: float, alpha: float, min_reviewers: int
             ) -> tuple[dict[str, Any], pd.DataFrame]:
    """The market's accuracy finding (as the trend_root_cause verdict starts) and its causes."""
    from reporting.reports.trend_root_cause import protect_small_groups, verdict_causes

    row: dict[str, Any] = {"market": market, "diff": np.nan, "p_value": np.nan,
                           "significant": False, "dimension": None, "segment": None,
                           "effect": None, "share_of_gap": np.nan}
    if change_row is None or not _finite(change_row["p_value"]):
        missing = compare_to if (pair["period"] == period).any() else period
        row["finding"] = f"no random-sample audits in {missing}: no change to explain."
        return row, pd.DataFrame()
    row.update(diff=float(change_row["diff"]), p_value=float(change_row["p_value"]),
               significant=bool(change_row["significant"]))
    protected, _small = protect_small_groups(pair, dimensions=FINDING_DIMENSIONS,
                                             combination=FINDING_COMBINATION,
                                             min_reviewers=min_reviewers)
    a_from = protected[(protected["period"] == compare_to).to_numpy(dtype=bool)]
    a_to = protected[(protected["period"] == period).to_numpy(dtype=bool)]
    dims = [*FINDING_DIMENSIONS, COMBINE.join(FINDING_COMBINATION)]
    decomp = decompose_all(a_from, a_to, dimensions=dims, level=level, combinations=())
    ranked = rank_root_causes(decomp, alpha=alpha)
    causes = verdict_causes(ranked)
    row["finding"] = change_verdict(change_row, causes, decomp)
    sig = causes[causes["significant"].astype(bool)] if len(causes) else causes
    if len(sig):
        top = sig.sort_values("share_of_gap", ascending=False).iloc[0]
        row.update(dimension=str(top["dimension"]), segment=str(top["segment"]),
                   effect=str(top["effect"]), share_of_gap=float(top["share_of_gap"]))
    rc = ranked.drop(columns=[c for c in ("n_from", "n_to") if c in ranked.columns])
    return row, rc.assign(market=market)


_CAPACITY_COLUMNS = ["market", "month", "forecast_cases", "forecast_low", "forecast_high",
                     "required_fte", "required_fte_low", "required_fte_high", "available_fte",
                     "gap_fte", "utilisation", "sla_risk", "backlog_cases_per_day",
                     "expected_sla_shortfall", "moved_fte", "shrinkage", "observed_attendance",
                     "status", "outlook"]


def _capacity(dataset: Any, markets: list[str], plan_month: str, period: str,
              assumptions: Any, level: float, types: Sequence[str] | None,
              notes: list[str], cache: ResultCache | None = None) -> pd.DataFrame:
    rows = []
    for m in markets:
        try:
            rep = capacity_report(dataset, m, plan_month, assumptions, accuracy_month=period,
                                  level=level, accuracy_sample_types=types, cache=cache)
        except NoCapacityData as exc:
            notes.append(f"Capacity outlook, {m}: {exc}")
            rows.append({"market": m, "month": plan_month, "outlook": str(exc)})
            continue
        t = rep.plan.totals.iloc[0]
        total_status = rep.kpis.loc[rep.kpis["product_line"].isna()
                                    & (rep.kpis["kpi"] == "fte_gap"), "status"]
        moves = rep.plan.redistribution
        moved = float(moves.loc[moves["action"] == "move", "fte_equivalent"].sum()) if len(
            moves) else 0.0
        rows.append({
            "market": m, "month": plan_month,
            **{c: t[c] for c in ("forecast_cases", "forecast_low", "forecast_high",
                                 "required_fte", "required_fte_low", "required_fte_high",
                                 "available_fte", "gap_fte", "utilisation", "sla_risk",
                                 "backlog_cases_per_day", "expected_sla_shortfall")},
            "moved_fte": moved,
            "shrinkage": rep.plan.assumptions.shrinkage,
            "observed_attendance": rep.plan.capacity.observed_attendance,
            "status": total_status.iloc[0] if len(total_status) else "no_data",
            "outlook": rep.outlook,
        })
    out = pd.DataFrame(rows)
    for c in _CAPACITY_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    return out[_CAPACITY_COLUMNS]


def _summary(period: str, compare_to: str, plan_month: str, markets: list[str],
             kpis: pd.DataFrame, changes: pd.DataFrame, findings: pd.DataFrame,
             capacity: pd.DataFrame, alpha: float) -> list[str]:
    out: list[str] = []
    month, prev = _month_name(period), _month_name(compare_to)
    acc = kpis[kpis["kpi"] == "accuracy"].set_index("market")
    groups: dict[str, list[str]] = {s: [] for s in ("off_track", "at_risk", "on_track", "no_data")}
    for m in markets:
        groups[str(acc["status"].get(m, "no_data")) if m in acc.index else "no_data"].append(m)

    n = len(markets)
    off = groups["off_track"]
    if off:
        targets = {m: float(acc.loc[m, "target"]) for m in off}
        common = len(set(targets.values())) == 1
        vals = [f"{m} {_fmt_value(acc.loc[m, 'value'], 'accuracy')}"
                + ("" if common else f" (target {_fmt_value(targets[m], 'accuracy')})")
                for m in off]
        text = (f"Accuracy in {month}: {len(off)} of {n} markets "
                f"{'is' if len(off) == 1 else 'are'} off track, the whole 95% interval below "
                f"target: {_join(vals)}"
                + (f" against a {_fmt_value(next(iter(targets.values())), 'accuracy')} target."
                   if common else "."))
    else:
        text = f"Accuracy in {month}: no market is off track."
    rest = []
    if groups["at_risk"]:
        rest.append(f"at risk (interval contains the target): {_join(groups['at_risk'])}")
    if groups["on_track"]:
        rest.append(f"on track: {_join(groups['on_track'])}")
    if groups["no_data"]:
        rest.append(f"no audits: {_join(groups['no_data'])}")
    if rest:
        joined = "; ".join(rest)
        text += " " + joined[0].upper() + joined[1:] + "."
    out.append(text)

    others = []
    for kpi in ("missed_violation_rate", "over_enforcement_rate", "sla_attainment",
                "productivity", "handling_time_mean"):
        off = kpis[(kpis["kpi"] == kpi) & (kpis["status"] == "off_track")]["market"].tolist()
        if off:
            others.append(f"{KPIS[kpi].label.lower()} in {_join(off)}")
    if others:
        out.append(f"Also off track: {'; '.join(others)}.")

    ch = changes[changes["kpi"] == "accuracy"]
    sig = ch[ch["significant"].astype(bool)].copy()
    if len(sig):
        sig = sig.reindex(sig["diff"].abs().sort_values(ascending=False).index)
        moves = [f"{r['market']} {_fmt_diff(r['diff'], 'accuracy')} ({_fmt_p(r['p_value'])})"
                 for _, r in sig.iterrows()]
        quiet = [m for m in markets if m not in set(sig["market"]) and m in set(ch["market"])]
        text = f"Biggest movers vs {prev} (significant accuracy changes): {', '.join(moves)}."
        if quiet:
            text += (f" {_join(quiet)}: no significant change"
                     f"{'' if len(quiet) == 1 else 's'} (differences within sampling noise).")
        out.append(text)
    elif len(ch):
        out.append(f"No market's accuracy changed significantly vs {prev} (at the "
                   f"{alpha:.0%} level); month-to-month differences are within sampling noise.")

    top = findings[findings["significant"].astype(bool) & findings["segment"].notna()]
    if len(top):
        top = top.reindex(top["diff"].abs().sort_values(ascending=False).index).head(3)
        for _, r in top.iterrows():
            text = f"Top finding, {r['market']}: {r['finding']}"
            if _finite(r["share_of_gap"]) and float(r["share_of_gap"]) > 1:
                text += OVER_100
            out.append(text)

    cap = capacity[capacity["required_fte"].notna()]
    if len(cap):
        pm = _month_name(plan_month)
        short = cap[cap["gap_fte"] > 0]
        high = cap[cap["sla_risk"] == "high"]["market"].tolist()
        sure = cap[cap["status"] == "off_track"]["market"].tolist()
        if len(short):
            text = (f"Capacity for {pm}: {len(short)} of {len(cap)} markets are forecast short "
                    f"of FTE (total gap {short['gap_fte'].sum():.1f} FTE)")
            text += (f"; high SLA risk in {_join(high)}" if high else "") + "."
            if sure:
                text += f" Short even at the low end of the forecast: {_join(sure)}."
        else:
            text = f"Capacity for {pm}: every market has enough FTE at the forecast volume."
        att = cap["observed_attendance"].astype(float)
        expected = 1.0 - cap["shrinkage"].astype(float)
        differs = (att - expected).abs() > 0.05
        if differs.any() and differs.sum() >= len(cap) / 2:
            seen = att[differs]
            span = (f"{seen.min():.0%}" if round(seen.min(), 2) == round(seen.max(), 2)
                    else f"{seen.min():.0%}\u2013{seen.max():.0%}")
            more = bool((seen > expected[differs]).all())
            text += (f" Check the shrinkage assumption first: in {_join(cap['market'][differs])}"
                     f" reviewers recently worked on {span} of weekdays, against the "
                     f"{expected.iloc[0]:.0%} it allows"
                     + ("; if that continues the gaps are smaller." if more else "."))
        out.append(text)
    return out


def mbr_report(
    dataset: Any,
    period: str,
    markets: Sequence[str] | None = None,
    *,
    trend_audits: pd.DataFrame | None = None,
    trend_counts: pd.DataFrame | None = None,
    level: float = 0.95,
    alpha: float = 0.05,
    trend_months: int = 6,
    min_reviewers: int = 3,
    capacity: bool = True,
    assumptions: Any = None,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    cache: ResultCache | None = None,
) -> MBRReport:
    """Assemble the monthly business review for ``period`` over ``markets``.

    Parameters
    ----------
    dataset : reporting.data.Dataset or MBRData
        Canonical data holding at least the audits of ``period`` and the month before (all
        columns) and, for the capacity outlook, production up to ``period`` (a year of it gives
        the same forecast as the capacity_plan report); roster and targets when available.
        Or the :class:`MBRData` of :func:`read_mbr_data`, which reads exactly that from a run
        one market at a time (the report is the same; memory holds one market's rows).
    period : str
        The reporting month ``YYYY-MM``.
    markets : sequence of str, optional
        Markets to cover (default: every market with audits in ``period`` or the month before).
    trend_audits : pandas.DataFrame, optional
        Audits (at least ``TREND_COLUMNS``) of the trend months; default ``dataset.audits``.
    trend_counts : pandas.DataFrame, optional
        Instead of ``trend_audits``: accuracy-sample counts per market and month, as
        :func:`read_mbr_data` returns them (same ``accuracy_sample_types``).
    level, alpha : float
        Confidence level of the intervals, significance level of the tests and findings.
    trend_months : int, default 6
        Months in the trend chart (ending with ``period``).
    min_reviewers : int, default 3
        Segments of fewer reviewers are merged before findings are computed (privacy).
    capacity : bool, default True
        Plan the month after ``period`` per market (the slowest part: a volume forecast per
        product line and market).
    assumptions : CapacityAssumptions, optional
        Planning assumptions (default: the capacity package's defaults, as the pack's
        capacity_plan reports).
    accuracy_sample_types : sequence of str or None, default ("random",)
        As in :func:`reporting.metrics.compute_kpis` (the market_accuracy report's default).
    cache : reporting.core.cache.ResultCache, optional
        Where the volume forecasts may already be stored: the pack's capacity_plan reports fit
        the same ones (``ctx.cache`` in the template). Same results with or without it.

    Returns
    -------
    MBRReport

    Raises
    ------
    ValueError
        When ``period`` is not a month or no selected market has an audit in it (check with
        :func:`mbr_no_data_message` first).
    """
    period = _month(period).strftime("%Y-%m")
    compare_to = _shift(period, -1)
    plan_month = _shift(period, 1)
    reason = mbr_no_data_message(dataset, period, markets)
    if reason:
        raise ValueError(reason)
    targets = getattr(dataset, "targets", None)
    types = accuracy_sample_types
    notes: list[str] = []
    if isinstance(dataset, MBRData):  # read and analysed one market at a time
        if markets:
            markets = [str(m) for m in markets]
        else:
            markets = sorted(set().union(*dataset.markets_with_audits.values()))
        targets = getattr(dataset.base, "targets", None)
        trend_counts = dataset.trend_counts if trend_counts is None else trend_counts

        def market_frames(m: str):
            ds_m = dataset.read_market(m)
            two_m = ds_m.audits[ds_m.audits["period"].isin([compare_to, period])
                                .to_numpy(dtype=bool)]
            prod_m = ds_m.production
            prod_cur_m = _in_month(prod_m, "date", period) if prod_m is not None else None
            return (ds_m, _in_month(two_m, "decision_date", period),
                    _in_month(two_m, "decision_date", compare_to), prod_cur_m)
        a = None
    else:
        a = dataset.audits
        two = a[a["period"].isin([compare_to, period]).to_numpy(dtype=bool)]
        if markets:
            markets = [str(m) for m in markets]
        else:
            markets = sorted(str(m) for m in two["market"].dropna().unique())
        two = two[two["market"].isin(markets).to_numpy(dtype=bool)]
        cur = _in_month(two, "decision_date", period)
        prev = _in_month(two, "decision_date", compare_to)
        production = getattr(dataset, "production", None)
        prod_cur = (_in_month(production[production["market"].isin(markets)
                                         .to_numpy(dtype=bool)], "date", period)
                    if production is not None else None)

        def market_frames(m: str):
            return (dataset, cur[cur["market"] == m], prev[prev["market"] == m],
                    prod_cur[prod_cur["market"] == m] if prod_cur is not None else None)

    kpi_parts, volume_parts, no_audits = [], [], []
    change_parts, finding_rows, rc_parts = [], [], []
    cap_rows, cap_notes, any_production = [], [], False
    for m in markets:
        ds_m, c_m, p_m, prod_cur_m = market_frames(m)
        kpi_parts.append(_kpis(c_m, prod_cur_m, targets, [m], level, types))
        volume_parts.append(_volume(prod_cur_m, [m]))
        if not len(c_m):
            no_audits.append(m)
        if len(_sample(c_m, types)) and len(_sample(p_m, types)):
            ch = period_changes(_sample(p_m, types), _sample(c_m, types), kpis=CHANGE_KPIS,
                                level=level, alpha=alpha, random_only=False)
            change_parts.append(ch.assign(market=m))
            acc_row = ch[ch["kpi"] == "accuracy"].iloc[0]
        else:
            acc_row = None
        pair = pd.concat([p_m, c_m], ignore_index=True)
        row, rc = _finding(m, pair, period, compare_to, acc_row, level, alpha, min_reviewers)
        finding_rows.append(row)
        if len(rc):
            rc_parts.append(rc)
        production_m = getattr(ds_m, "production", None)
        if production_m is not None and (production_m["market"] == m).any():
            any_production = True
        if capacity:
            cap_rows.append(_capacity(ds_m, [m], plan_month, period, assumptions, level, types,
                                      cap_notes, cache))
        del ds_m, c_m, p_m, pair  # one market's rows at a time
    kpis = (pd.concat(kpi_parts, ignore_index=True) if any(len(k) for k in kpi_parts)
            else kpi_parts[0])
    volume = pd.concat(volume_parts, ignore_index=True)
    if no_audits:
        notes.append(f"No audits in {period} for {_join(no_audits)}: shown as no data.")
    changes = (pd.concat(change_parts, ignore_index=True) if change_parts
               else pd.DataFrame(columns=CHANGES_COLUMNS))
    changes = changes[["market", *[c for c in changes.columns if c != "market"]]] if len(
        changes) else changes.assign(market=pd.Series(dtype=object))[["market", *CHANGES_COLUMNS]]
    findings = pd.DataFrame(finding_rows)
    root_causes = (pd.concat(rc_parts, ignore_index=True) if rc_parts
                   else pd.DataFrame(columns=["market", "dimension", "segment", "effect",
                                              "contribution_pp", "share_of_gap", "p_value"]))
    for col in PERSONAL_COLUMNS:  # belt and braces: no person-level column leaves this module
        if col in root_causes.columns:
            root_causes = root_causes.drop(columns=col)

    first = _shift(period, -(trend_months - 1))
    trend = _trend(trend_audits if trend_audits is not None or trend_counts is not None else a,
                   trend_counts, targets, markets, first, period, level, types)

    if capacity and any_production:
        cap = pd.concat(cap_rows, ignore_index=True)
        notes.extend(cap_notes)
    else:
        cap = pd.DataFrame({c: pd.Series(dtype=object) for c in _CAPACITY_COLUMNS})
        if capacity:
            notes.append("No production data: no capacity outlook.")

    summary = _summary(period, compare_to, plan_month, markets, kpis, changes, findings, cap,
                       alpha)
    return MBRReport(
        period=period,
        compare_to=compare_to,
        plan_month=plan_month,
        markets=tuple(markets),
        level=level,
        alpha=alpha,
        kpis=kpis,
        volume=volume,
        changes=changes.reset_index(drop=True),
        trend=trend,
        findings=findings,
        root_causes=root_causes.reset_index(drop=True),
        capacity=cap,
        summary=tuple(summary),
        notes=tuple(notes),
    )
