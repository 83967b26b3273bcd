"""The market-accuracy report: every number the ``market_accuracy`` template shows, in one object.

:func:`market_accuracy_report` filters the data set to one market (optionally one product line) and
one month and assembles, from the tested KPI library, the frames the template arranges:

* the headline KPI frame (:func:`~reporting.metrics.compute.compute_kpis`) and the same KPIs for
  the comparison period;
* the changes frame (this period vs the comparison period; two-proportion chi-square / Fisher
  p-values and Newcombe intervals for rates, Welch for the mean handling time, from
  :func:`reporting.stats.change.period_changes`);
* accuracy by product line, policy, queue and policy x product line with Wilson intervals and
  status (:func:`~reporting.metrics.compute.accuracy_table`);
* sample adequacy per segment (margin of error, audits needed for +/- 1 pp);
* the error mix by policy, the weekly trend over the last months with the market's events;
* a written summary generated from those numbers.

Privacy: the report is about a market, never about people. The audits it keeps (for the heatmap)
have the reviewer and auditor columns removed, and no frame it holds has a per-person row.

See ``docs/reports.md`` (section *market_accuracy*) for how to read the report.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporting.core.cache import ResultCache
from reporting.core.errors import NoData
from reporting.core.kpis import KPIS
from reporting.metrics.compute import (
    accuracy_sample,
    accuracy_table,
    compute_kpis,
    error_mix,
    weekly_accuracy,
)
from reporting.metrics.latent_truth import beside_accuracy
from reporting.metrics.summary import (
    TARGET_DEFAULT,
    Headline,
    accuracy_headline,
    accuracy_summary_text,
    format_p_value,
    format_value,
    target_sources,
)
from reporting.reports._records import kpi_records
from reporting.stats.change import CHANGES_COLUMNS, period_changes

__all__ = [
    "CARD_KPIS",
    "CHANGE_KPIS",
    "PERSONAL_COLUMNS",
    "SCOPE_COLUMNS",
    "TREND_MONTHS",
    "MarketAccuracyReport",
    "build",
    "data_window",
    "market_accuracy_report",
    "read",
    "scope_audits",
]

#: KPIs shown as headline cards, in order (audit volume is given as a note: it has no target).
CARD_KPIS: tuple[str, ...] = (
    "accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "weighted_accuracy",
    "enforcement_precision",
    "enforcement_recall",
    "audit_coverage",
    "handling_time_mean",
    "productivity",
    "sla_attainment",
)
#: KPIs compared with the previous period (those with a test: proportions and the mean).
CHANGE_KPIS: tuple[str, ...] = (
    "accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "enforcement_precision",
    "enforcement_recall",
    "handling_time_mean",
)
#: Months shown in the weekly trend by default (ending with the reported month).
TREND_MONTHS = 3
#: Scope columns of :meth:`MarketAccuracyReport.kpi_records`.
SCOPE_COLUMNS: tuple[str, ...] = ("market", "product_line", "policy")
#: Columns that identify a person; dropped from everything the report keeps.
PERSONAL_COLUMNS: tuple[str, ...] = ("reviewer_id", "auditor_id", "team_lead")

_KPI_COLS = ["kpi", "value", "ci_low", "ci_high", "n", "target", "status", "label", "unit"]
_NONE_QUEUE = "(none)"
# Non-breaking space: keeps '[91.5, 93.4]' and '-1.8 pp' on one line in narrow (printed) tables.
_NBSP = "\u00a0"


# --------------------------------------------------------------------------------------------
# Selection helpers
# --------------------------------------------------------------------------------------------


def _month_bounds(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    p = pd.Period(period, freq="M")
    return p.start_time.normalize(), p.end_time.normalize()


def _in_dates(frame: pd.DataFrame, col: str, start: pd.Timestamp, end: pd.Timestamp
              ) -> pd.DataFrame:
    d = pd.to_datetime(frame[col]).dt.normalize()
    return frame[((d >= start) & (d <= end)).to_numpy(dtype=bool)]


def data_window(period: str, trend_months: int = TREND_MONTHS, compare_to: str | None = None
                ) -> tuple[str, str]:
    """First and last month of data the report reads: the trend window and the comparison month.

    For ``ctx.data(market=..., period_from=first, period_to=last)`` so that a report reads only
    its slice of a large data set. ``("2026-08", "2026-10")`` for ``"2026-10"`` by default.
    """
    p = pd.Period(period, freq="M")
    months = [p - (max(1, trend_months) - 1), pd.Period(compare_to, freq="M") if compare_to
              else p - 1]
    return min(months).strftime("%Y-%m"), p.strftime("%Y-%m")


def scope_audits(
    audits: pd.DataFrame,
    market: str,
    period: str | None = None,
    product_line: str | None = None,
) -> pd.DataFrame:
    """Audits of one market (and product line), optionally of one month (``YYYY-MM``).

    Parameters
    ----------
    audits : pandas.DataFrame
        Canonical audits.
    market : str
        Market code.
    period : str, optional
        Month ``YYYY-MM``; selected on ``decision_date``.
    product_line : str, optional
        Limit to this product line.

    Returns
    -------
    pandas.DataFrame
        The matching rows (all columns).
    """
    mask = (audits["market"].astype("string") == str(market)).fillna(False)
    if product_line is not None:
        mask &= (audits["product_line"].astype("string") == str(product_line)).fillna(False)
    out = audits[mask.to_numpy(dtype=bool)]
    if period is not None:
        out = _in_dates(out, "decision_date", *_month_bounds(period))
    return out


def _scope_production(production: pd.DataFrame | None, market: str, product_line: str | None,
                      start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
    if production is None or not {"market", "date"} <= set(production.columns):
        return None
    p = production[(production["market"].astype("string") == market).fillna(False)
                   .to_numpy(dtype=bool)]
    if product_line is not None:
        if "product_line" not in p.columns:
            return None
        p = p[(p["product_line"].astype("string") == product_line).fillna(False)
              .to_numpy(dtype=bool)]
    return _in_dates(p, "date", start, end)


def _market_events(events: pd.DataFrame | None, market: str, product_line: str | None,
                   start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    cols = ["date", "description", "kind", "policy"]
    if events is None or len(events) == 0 or "date" not in events.columns:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object)
                             for c in cols})
    ev = events.copy()
    for c in ("market", "product_line", "kind", "policy", "description"):
        if c not in ev.columns:
            ev[c] = pd.NA
    mk = ev["market"].astype("string").fillna("*")
    keep = mk.isin([market, "*"])
    if product_line is not None:
        pl = ev["product_line"].astype("string")
        keep &= pl.isna() | pl.isin([product_line, "*"])
    ev = _in_dates(ev[keep.to_numpy(dtype=bool)], "date", start, end)
    ev = ev.assign(date=pd.to_datetime(ev["date"]))
    return ev.sort_values("date", kind="stable")[cols].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Formatting helpers (plain strings; the template renders them with reporting.render.tables)
# --------------------------------------------------------------------------------------------


def _isnan(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _decimals(kpi: str) -> int:
    return 2 if kpi == "audit_coverage" else 1


def _fmt(value: float, kpi: str) -> str:
    spec = KPIS[kpi]
    return format_value(value, spec.unit, _decimals(kpi))


def _fmt_interval(low: float, high: float, kpi: str) -> str:
    if _isnan(low) or _isnan(high):
        return "n/a"
    unit, d = KPIS[kpi].unit, _decimals(kpi)
    if unit == "rate":
        return f"[{low * 100:.{d}f},{_NBSP}{high * 100:.{d}f}]"
    if unit == "seconds":
        return f"[{low:.0f},{_NBSP}{high:.0f}]"
    return f"[{low:.{d}f},{_NBSP}{high:.{d}f}]"


def _fmt_diff(diff: float, kpi: str) -> str:
    if _isnan(diff):
        return "n/a"
    unit = KPIS[kpi].unit
    sign = "+" if diff > 0 else ("\u2212" if diff < 0 else "\u00b1")
    if unit == "rate":
        return f"{sign}{abs(diff) * 100:.1f}{_NBSP}pp"
    if unit == "seconds":
        return f"{sign}{abs(diff):.1f}{_NBSP}s"
    return f"{sign}{abs(diff):.2f}"


def _change_text(row: pd.Series | None, kpi: str, prev_value: float, compare_to: str) -> str:
    """Card line: 'Down 1.2 pp vs 2026-09 (p = 0.003)' or 'No significant change ...'."""
    if row is not None and not _isnan(row["p_value"]):
        diff = float(row["diff"])
        if bool(row["significant"]) and diff != 0:
            word = "Up" if diff > 0 else "Down"
            return (f"{word} {_fmt_diff(diff, kpi).lstrip('+−').replace(_NBSP, ' ')} vs {compare_to} "
                    f"({format_p_value(float(row['p_value']))})")
        return (f"No significant change vs {compare_to} ({_fmt_diff(diff, kpi)}, "
                f"{format_p_value(float(row['p_value']))})")
    if _isnan(prev_value):
        return f"No {compare_to} data to compare"
    return f"{compare_to}: {_fmt(prev_value, kpi)} (not tested)"


def _scope_label(market: str, product_line: str | None) -> str:
    return market if product_line is None else f"{market} / {product_line}"


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MarketAccuracyReport:
    """Every frame the ``market_accuracy`` template shows (see :func:`market_accuracy_report`).

    Attributes
    ----------
    market, period, product_line, compare_to : str
        The scope; ``compare_to`` is the comparison month (default the previous month).
    level : float
        Confidence level of every interval.
    kpis : pandas.DataFrame
        Headline KPI frame: scope column(s) ``market`` (and ``product_line`` when the report is
        limited to one) then ``kpi, value, ci_low, ci_high, n, target, status, label, unit``.
    previous_kpis : pandas.DataFrame
        The same KPIs in ``compare_to`` (empty when that month has no audits).
    changes : pandas.DataFrame
        Changes frame ``kpi, from, to, diff, ci_low, ci_high, p_value, significant, test,
        n_from, n_to`` for :data:`CHANGE_KPIS` (``diff = to - from``, rates as fractions).
    product_line_kpis, policy_kpis : pandas.DataFrame
        KPI frames per product line (with production KPIs) and per policy (audit KPIs).
    by_product_line, by_policy, by_queue, by_policy_product : pandas.DataFrame
        :func:`~reporting.metrics.compute.accuracy_table` breakdowns (worst first). ``by_queue``
        is empty when the data records no queue.
    sample_adequacy : pandas.DataFrame
        ``dimension, segment, n, accuracy, ci_low, ci_high, margin_of_error,
        audits_needed_for_1pp, more_audits_for_1pp, status, verdict``: the report scope first,
        then every segment of the breakdowns.
    error_mix : pandas.DataFrame
        :func:`~reporting.metrics.compute.error_mix` by policy (most errors first).
    weekly : pandas.DataFrame
        :func:`~reporting.metrics.compute.weekly_accuracy` over the trend window (whole weeks
        starting on or after the first day of the window, up to the end of ``period``).
    events : pandas.DataFrame
        The market's events in the trend window: ``date, description, kind, policy``.
    summary : str
        The written summary (plain text; escape it before putting it in HTML).
    n_audits, n_sample : int
        Audits in scope in ``period`` (all sample types) and in the accuracy sample.
    audits : pandas.DataFrame
        The period's audits in scope **without** reviewer/auditor columns (for the heatmap).
    """

    market: str
    period: str
    product_line: str | None
    compare_to: str
    level: float
    kpis: pd.DataFrame
    previous_kpis: pd.DataFrame
    changes: pd.DataFrame
    product_line_kpis: pd.DataFrame
    policy_kpis: pd.DataFrame
    by_product_line: pd.DataFrame
    by_policy: pd.DataFrame
    by_queue: pd.DataFrame
    by_policy_product: pd.DataFrame
    sample_adequacy: pd.DataFrame
    error_mix: pd.DataFrame
    weekly: pd.DataFrame
    events: pd.DataFrame
    summary: str
    n_audits: int
    n_sample: int
    audits: pd.DataFrame

    # -- convenience ----------------------------------------------------------------------------
    @property
    def scope_label(self) -> str:
        """``'BR'`` or ``'BR / TopView'``."""
        return _scope_label(self.market, self.product_line)

    def kpi(self, name: str) -> pd.Series | None:
        """The headline row of KPI ``name`` (None when not computed)."""
        rows = self.kpis[self.kpis["kpi"] == name]
        return None if rows.empty else rows.iloc[0]

    @property
    def accuracy_target(self) -> float:
        """The accuracy target that applies to the report's scope (NaN when none)."""
        row = self.kpi("accuracy")
        return math.nan if row is None else float(row["target"])

    # -- results.json ---------------------------------------------------------------------------
    def kpi_records(self) -> pd.DataFrame:
        """KPI frame for results.json: the report scope, each product line and each policy.

        Returns
        -------
        pandas.DataFrame
            Columns ``market, product_line, policy, kpi, value, ci_low, ci_high, n, target,
            status, label, unit``. Scope columns that do not apply to a row are NA (so
            ``ctx.record_kpis(frame, scope=list(SCOPE_COLUMNS))`` gives ``{"market": "BR"}``,
            ``{"market": "BR", "product_line": ...}`` and ``{"market": "BR", "policy": ...}``).
            When the report is limited to one product line, its product-line rows are the
            headline rows (not repeated) and the policy rows carry that product line too.
        """
        parts = [self.kpis]
        if self.product_line is None:
            parts.append(self.product_line_kpis)
        parts.append(self.policy_kpis)
        frames = [p.reindex(columns=[*SCOPE_COLUMNS, *_KPI_COLS]) for p in parts if len(p)]
        out = pd.concat(frames, ignore_index=True)
        for c in SCOPE_COLUMNS:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        out["n"] = out["n"].astype("int64")
        return out

    def records(self) -> dict[str, Any]:
        """What goes to results.json: ``kpis`` (the scope, each product line and each policy,
        as records with ``scope``), ``changes``, ``summary``, ``compare_to``, and the decision
        opening: ``headline`` (text) and ``actions`` (``market, action, owner,
        expected_gain_pp, evidence``)."""
        head = self.headline()
        return {
            "kpis": kpi_records(self.kpi_records(), list(SCOPE_COLUMNS)),
            "changes": self.changes_record(),
            "summary": self.summary,
            "compare_to": self.compare_to,
            "headline": " ".join([head.lead, *head.points]),
            "actions": [{"market": self.market, **a} for a in head.actions],
        }

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """What goes to tables.xlsx: :meth:`excel_tables`."""
        return self.excel_tables()

    def headline(self, min_n: int = 30) -> Headline:
        """The report's opening: what is off, where, and what to do (with the expected gain)."""
        acc = self.kpi("accuracy")
        if acc is None or acc["status"] == "no_data":
            return Headline(f"No accuracy figure for {self.scope_label}.")
        ch = self.changes[self.changes["kpi"] == "accuracy"]
        change = None
        if len(ch):
            c = ch.iloc[0]
            change = {"diff": c["diff"], "p_value": c["p_value"],
                      "significant": c["significant"], "from": self.compare_to}
        others = self.kpis[(self.kpis["kpi"] != "accuracy") & self.kpis["kpi"].isin(CARD_KPIS)
                           & (self.kpis["status"] == "off_track")]
        head = accuracy_headline(self.scope_label, acc, change=change, breakdown=self.by_policy,
                                 mix=self.error_mix, events=self.events, others_off=others,
                                 min_n=min_n)
        corrected = self.corrected_sentence()
        if not corrected:
            return head
        extra = self.auditor_action()
        actions = sorted((*head.actions, extra) if extra else head.actions,
                         key=lambda a: -float(a.get("expected_gain_pp") or 0))
        return dataclasses.replace(head, points=(*head.points, corrected), actions=tuple(actions))

    def auditor_action(self, min_gain_pp: float = 1.0) -> dict[str, Any] | None:
        """The action when audit error explains at least ``min_gain_pp`` of the measured gap:
        calibrate the auditors. Its expected gain is on *measured* accuracy (what the audits
        will show once auditors judge as the consensus does); the reviewers' work is unchanged."""
        acc, cor = self.kpi("accuracy"), self.kpi("accuracy_corrected")
        if acc is None or cor is None or _isnan(cor["value"]) or _isnan(acc["value"]):
            return None
        gain = 100 * (float(cor["value"]) - float(acc["value"]))
        if gain < min_gain_pp or acc["status"] == "on_track":
            return None
        return {
            "action": (f"Calibrate {self.scope_label}'s auditors (the auditor calibration report "
                       f"names who judges differently from the consensus). Expected gain: "
                       f"+{gain:.1f} pp on measured accuracy (to about "
                       f"{_fmt(cor['value'], 'accuracy')}); the reviewers' work is unchanged."),
            "owner": "QA lead",
            "expected_gain_pp": round(gain, 2),
            "evidence": (f"accuracy corrected for auditor error {_fmt(cor['value'], 'accuracy')} "
                         f"against {_fmt(acc['value'], 'accuracy')} as audited"),
        }

    def corrected_sentence(self) -> str:
        """One sentence on accuracy corrected for auditor error, when double audits allow it."""
        acc, cor = self.kpi("accuracy"), self.kpi("accuracy_corrected")
        if acc is None or cor is None:
            return ""
        diff = 100 * (float(cor["value"]) - float(acc["value"]))
        status = str(cor["status"]).replace("_", " ")
        return (f"Corrected for auditor error (cases audited twice), accuracy is "
                f"{_fmt(cor['value'], 'accuracy')} ({_fmt(cor['ci_low'], 'accuracy')}"
                f" to {_fmt(cor['ci_high'], 'accuracy')}), {status}: the {abs(diff):.1f} pp "
                f"{'gain' if diff >= 0 else 'loss'} is how the audits were judged, not how the "
                "reviewers worked (the auditor calibration report says which auditors).")

    def changes_record(self) -> pd.DataFrame:
        """The changes frame as recorded in results.json (``kpi, from, to, diff, ci_low,
        ci_high, p_value, significant`` then ``test, n_from, n_to``)."""
        return self.changes[CHANGES_COLUMNS].copy()

    # -- what the template shows ----------------------------------------------------------------
    def cards(self) -> list[dict[str, Any]]:
        """Headline KPI cards for :func:`reporting.render.tables.kpi_cards` (formatted strings, and
        ``target_default`` when the target is a built-in default)."""
        out: list[dict[str, Any]] = []
        ch = self.changes.set_index("kpi") if len(self.changes) else None
        prev = (self.previous_kpis.set_index("kpi")["value"] if len(self.previous_kpis)
                else pd.Series(dtype=float))
        for k in CARD_KPIS:
            row = self.kpi(k)
            if row is None or row["status"] == "no_data":
                continue
            crow = ch.loc[k] if ch is not None and k in ch.index else None
            out.append({
                "label": KPIS[k].label,
                "value": _fmt(row["value"], k),
                "interval": _fmt_interval(row["ci_low"], row["ci_high"], k),
                "target": "" if _isnan(row["target"]) else _fmt(row["target"], k),
                "target_default": row.get("target_source") == TARGET_DEFAULT,
                "status": str(row["status"]),
                "change": _change_text(crow, k, float(prev.get(k, math.nan)), self.compare_to),
            })
        return out

    def audit_base_note(self) -> str:
        """One sentence on which audits the KPIs use (the audit volume, which has no target)."""
        prev = self.previous_kpis
        pv = prev.loc[prev["kpi"] == "audit_volume", "value"] if len(prev) else pd.Series()
        prev_txt = f"; {self.compare_to}: {int(pv.iloc[0]):,}" if len(pv) else ""
        return (f"Audit volume {self.n_audits:,}{prev_txt}. Quality KPIs use the "
                f"{self.n_sample:,} random-sample audits; targeted, new-hire, appeal and "
                "calibration audits are not representative and are left out of them.")

    def display(self, name: str) -> tuple[pd.DataFrame, dict[str, str]]:
        """A table for reading: ``(frame, formats)`` for :func:`reporting.render.tables.html_table`.

        Parameters
        ----------
        name : str
            ``changes``, ``by_product_line``, ``by_policy``, ``by_queue``, ``error_mix``,
            ``sample_adequacy`` or ``events``.
        """
        if name in ("by_product_line", "by_policy", "by_queue"):
            return _display_breakdown(getattr(self, name), name.removeprefix("by_"), self.level)
        views = {"changes": lambda: _display_changes(self.changes, self.compare_to,
                                                      self.period, self.level),
                 "error_mix": lambda: _display_error_mix(self.error_mix),
                 "sample_adequacy": lambda: _display_adequacy(self.sample_adequacy),
                 "events": lambda: _display_events(self.events)}
        if name not in views:
            raise KeyError(f"no display table {name!r}")
        return views[name]()

    def event_labels(self) -> list[tuple[pd.Timestamp, str]]:
        """``(date, "(1)")`` pairs for the trend chart, numbered as in ``display("events")``.

        Events often fall days apart (a hiring wave and a campaign start in the same week), so
        the chart carries numbers and the table under it the descriptions.
        """
        return [(pd.Timestamp(d), f"({i})") for i, d in enumerate(self.events["date"], start=1)]

    def excel_tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """``(sheet name, frame, formats)`` of every table for tables.xlsx (numbers, not text)."""
        pct = "0.0%"
        rate_cols = ("accuracy", "ci_low", "ci_high", "target", "margin_of_error")
        def fm(frame: pd.DataFrame) -> dict[str, str]:
            return {c: pct for c in rate_cols if c in frame.columns}

        kpis = self.kpis.drop(columns=["label"], errors="ignore")
        mix = self.error_mix
        mix_fmt = {c: pct for c in mix.columns if c.endswith(("_share", "_rate"))}
        tables = [
            ("Headline KPIs", kpis, {}),
            ("Changes", self.changes_record(), {"p_value": "0.0000"}),
            ("By product line", self.by_product_line, fm(self.by_product_line)),
            ("By policy", self.by_policy, fm(self.by_policy)),
            ("By queue", self.by_queue, fm(self.by_queue)),
            ("Policy x product line", self.by_policy_product, fm(self.by_policy_product)),
            ("Error mix by policy", mix, mix_fmt),
            ("Weekly trend", self.weekly, fm(self.weekly)),
            ("Sample adequacy", self.sample_adequacy, fm(self.sample_adequacy)),
        ]
        return tables


# --------------------------------------------------------------------------------------------
# Tables for reading (text where a number needs its unit or interval, numbers elsewhere)
# --------------------------------------------------------------------------------------------


def _display_breakdown(t: pd.DataFrame, seg: str, level: float
                       ) -> tuple[pd.DataFrame, dict[str, str]]:
    ci = f"{level:.0%} CI"
    frame = pd.DataFrame({
        seg: t[seg].astype(str),
        "audits": t["n"],
        "accuracy": t["accuracy"],
        ci: [_fmt_interval(lo, hi, "accuracy") for lo, hi in zip(
            t["ci_low"], t["ci_high"], strict=True)],
        "target": t["target"],
        "status": t["status"],
        "errors: missed / over": [
            f"{int(m):,}{_NBSP}/{_NBSP}{int(o):,}"
            for m, o in zip(t["missed_violations"], t["over_enforcements"], strict=True)],
    })
    return frame, {"audits": "int", "accuracy": "pct", "target": "pct"}


def _display_changes(c: pd.DataFrame, compare_to: str, period: str, level: float
                     ) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.DataFrame({
        "KPI": [KPIS[k].label for k in c["kpi"]],
        compare_to: [_fmt(v, k) for v, k in zip(c["from"], c["kpi"], strict=True)],
        period: [_fmt(v, k) for v, k in zip(c["to"], c["kpi"], strict=True)],
        "change": [_fmt_diff(v, k) for v, k in zip(c["diff"], c["kpi"], strict=True)],
        f"{level:.0%} CI of change": [
            "n/a" if _isnan(lo) else f"[{_fmt_diff(lo, k)},{_NBSP}{_fmt_diff(hi, k)}]"
            for lo, hi, k in zip(c["ci_low"], c["ci_high"], c["kpi"], strict=True)],
        "p-value": c["p_value"],
        "significant": ["yes" if s else "no" for s in c["significant"]],
    })
    return frame, {"p-value": "p"}


def _display_error_mix(e: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.DataFrame({
        "policy": e["policy"].astype(str),
        "audits": e["n"],
        "errors": e["errors"],
        "error rate": e["missed_violation_rate"] + e["over_enforcement_rate"],
        "missed violations": e["missed_violations"],
        "over-enforcements": e["over_enforcements"],
        "share missed": e["missed_violation_share"],
    })
    return frame, {"audits": "int", "errors": "int", "error rate": "pct",
                   "missed violations": "int", "over-enforcements": "int",
                   "share missed": "pct"}


def _display_adequacy(s: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.DataFrame({
        "dimension": s["dimension"].str.replace("_", " "),
        "segment": s["segment"],
        "audits": s["n"],
        "accuracy": s["accuracy"],
        "margin": ["n/a" if _isnan(m) else f"\u00b1{m * 100:.1f}{_NBSP}pp"
                   for m in s["margin_of_error"]],
        "audits for \u00b11 pp": s["audits_needed_for_1pp"],
        "still to audit": s["more_audits_for_1pp"],
        "reading": s["verdict"],
    })
    return frame, {"audits": "int", "accuracy": "pct", "audits for \u00b11 pp": "int",
                   "still to audit": "int"}


def _display_events(ev: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.DataFrame({
        "#": np.arange(1, len(ev) + 1),
        "date": [d.strftime(f"%d{_NBSP}%b{_NBSP}%Y") for d in ev["date"]],
        "event": ev["description"].astype(str),
        "kind": ev["kind"].astype(object).where(ev["kind"].notna(), "").astype(str),
        "policy": ev["policy"].astype(object).where(ev["policy"].notna(), "all"),
    })
    return frame, {}


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


def _empty_kpis(scope: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object)
                         for c in [*scope, *_KPI_COLS, "target_source"]})


def _kpi_frame(audits: pd.DataFrame, production: pd.DataFrame | None, targets: Any,
               by: list[str], level: float, types: Sequence[str] | None) -> pd.DataFrame:
    if len(audits) == 0:
        return _empty_kpis(by)
    use_prod = production if production is not None and len(production) else None
    out = compute_kpis(audits, use_prod, targets, by=by, level=level,
                       accuracy_sample_types=types)[[*by, *_KPI_COLS]]
    # Said beside the target: a built-in default (nobody set it) reads differently from a goal.
    return out.assign(target_source=target_sources(out, targets))


def _adequacy(overall: pd.DataFrame, label: str, breakdowns: dict[str, pd.DataFrame],
              min_n: int) -> pd.DataFrame:
    parts = [overall.assign(dimension="market", segment=label)]
    for dim, t in breakdowns.items():
        if len(t):
            parts.append(t.assign(dimension=dim, segment=t[dim].astype(str)))
    s = pd.concat(parts, ignore_index=True)
    s = s[["dimension", "segment", "n", "accuracy", "ci_low", "ci_high", "margin_of_error",
           "audits_needed_for_1pp", "status"]].copy()
    need = s["audits_needed_for_1pp"].to_numpy(dtype=float)
    s["more_audits_for_1pp"] = np.where(np.isfinite(need),
                                        np.maximum(need - s["n"].to_numpy(dtype=float), 0), np.nan)
    verdict = np.select(
        [s["n"] < min_n, s["margin_of_error"] <= 0.01, s["status"].isin(["on_track", "off_track"])],
        [f"too few (n < {min_n})", "\u00b11 pp reached", "status clear"],
        default="too close to call",
    )
    s["verdict"] = verdict
    cols = ["dimension", "segment", "n", "accuracy", "ci_low", "ci_high", "margin_of_error",
            "audits_needed_for_1pp", "more_audits_for_1pp", "status", "verdict"]
    return s[cols].reset_index(drop=True)


def _breakdowns(cur: pd.DataFrame, scope: list[str], level: float, targets: Any, market: str,
                types: Sequence[str] | None) -> tuple[pd.DataFrame, ...]:
    """Accuracy by product line, policy, queue, policy x product line, and for the scope."""
    def table(frame: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
        return accuracy_table(frame, by, level, targets, market, accuracy_sample_types=types)

    by_pl = table(cur, "product_line")
    if "queue" in cur.columns and cur["queue"].notna().any():
        by_queue = table(cur.assign(queue=cur["queue"].astype(object).fillna(_NONE_QUEUE)),
                         "queue")
    else:
        by_queue = by_pl.iloc[:0].rename(columns={"product_line": "queue"})
    return (by_pl, table(cur, "policy"), by_queue, table(cur, ["policy", "product_line"]),
            table(cur, scope))


def _trend(in_scope: pd.DataFrame, events: pd.DataFrame | None, market: str,
           product_line: str | None, period: str, trend_months: int, level: float,
           types: Sequence[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly accuracy over the trend window (whole weeks from its first Monday) and the
    market's events in it."""
    end = _month_bounds(period)[1]
    window_start = (pd.Period(period, freq="M") - (trend_months - 1)).start_time.normalize()
    first_monday = window_start + pd.Timedelta(days=(7 - window_start.day_of_week) % 7)
    trend = _in_dates(in_scope, "decision_date", first_monday, end)
    weekly = weekly_accuracy(trend, level, accuracy_sample_types=types)
    return weekly, _market_events(events, market, product_line, first_monday, end)


def _largest_shortfall(by_policy: pd.DataFrame, min_n: int) -> pd.DataFrame | None:
    """The off-track segment with the most errors above what its target allows (one row)."""
    if len(by_policy) == 0:
        return None
    cand = by_policy[(by_policy["n"] >= min_n) & (by_policy["status"] == "off_track")]
    if cand.empty:
        return None
    short = cand["n"] * (cand["target"] - cand["accuracy"])
    return cand.loc[[short.idxmax()]]


def _summary(kpis: pd.DataFrame, changes: pd.DataFrame, by_policy: pd.DataFrame,
             mix: pd.DataFrame, compare_to: str, label: str, min_n: int) -> str:
    acc = kpis[kpis["kpi"] == "accuracy"]
    if acc.empty:
        return f"No accuracy figure for {label}."
    row = acc.iloc[0]
    change = None
    ch = changes[changes["kpi"] == "accuracy"]
    if len(ch) and not _isnan(ch.iloc[0]["p_value"]):
        c = ch.iloc[0]
        change = {"diff": float(c["diff"]), "p_value": float(c["p_value"]),
                  "significant": bool(c["significant"]), "from": compare_to}
    gap = _largest_shortfall(by_policy, min_n)
    text = accuracy_summary_text(row, gap, change, min_n=min_n)
    if gap is not None:
        g = gap.iloc[0]
        seg_short = float(g["n"] * (g["target"] - g["accuracy"]))
        total_short = float(row["n"] * (row["target"] - row["value"]))
        text += (f" {g['policy']} alone has {seg_short:.0f} more errors than the "
                 f"{format_value(g['target'])} target allows")
        if total_short < 0.5:
            text += "."
        elif round(seg_short) <= round(total_short):
            text += f" ({label} as a whole: {total_short:.0f})."
        else:
            text += (f" ({label} as a whole: {total_short:.0f}; other policies do better than "
                     "target).")
    if len(mix) and mix["errors"].sum() > 0:
        errors = int(mix["errors"].sum())
        mv = int(mix["missed_violations"].sum())
        text += (f" Of the {errors:,} errors, {mv / errors:.0%} are missed violations "
                 f"(ads approved that should have been rejected) and {1 - mv / errors:.0%} "
                 "over-enforcement.")
    if change is None:
        text += f" There are no {compare_to} audits to compare with."
    return text


def market_accuracy_report(
    dataset: Any,
    market: str,
    period: str,
    product_line: str | None = None,
    level: float = 0.95,
    *,
    compare_to: str | None = None,
    trend_months: int = TREND_MONTHS,
    min_n: int = 30,
    accuracy_sample_types: Sequence[str] | None = ("random",),
    cache: ResultCache | None = None,
) -> MarketAccuracyReport:
    """Assemble the market-accuracy report for one market (and product line) and month.

    Parameters
    ----------
    dataset : reporting.data.Dataset
        Canonical data (``audits`` required; ``production``, ``targets``, ``events`` used when
        present). Any object with those attributes works.
    market, period : str
        Market code, e.g. ``"BR"``; month ``YYYY-MM``.
    product_line, level
        Limit the report to one product line (optional); confidence level of every interval.
    compare_to : str, optional
        Comparison month (default: the month before ``period``).
    trend_months : int, default 3
        Months shown in the weekly trend (ending with ``period``). :func:`data_window` gives
        the months of data the report needs.
    min_n : int, default 30
        Segments with fewer audits are marked as too small and never named in the summary.
    accuracy_sample_types : sequence of str or None, default ("random",)
        Sample types used for the quality KPIs (see :func:`~reporting.metrics.compute_kpis`).
    cache : reporting.core.cache.ResultCache, optional
        ``ctx.cache``: the ``accuracy_corrected`` fit shared with the MBR (same report without).

    Returns
    -------
    MarketAccuracyReport

    Raises
    ------
    ValueError
        When there is no audit for the scope in ``period`` (check with :func:`scope_audits`
        first and show a "no data" report instead).
    """
    if trend_months < 1:
        raise ValueError(f"trend_months must be >= 1, got {trend_months!r}")
    market = str(market)
    label = _scope_label(market, product_line)
    start, end = _month_bounds(period)
    compare_to = compare_to or (pd.Period(period, freq="M") - 1).strftime("%Y-%m")
    p_start, p_end = _month_bounds(compare_to)

    in_scope = scope_audits(dataset.audits, market, product_line=product_line)
    cur = _in_dates(in_scope, "decision_date", start, end)
    if cur.empty:
        raise ValueError(f"no audits for {label} in {period}")
    prev = _in_dates(in_scope, "decision_date", p_start, p_end)
    production = getattr(dataset, "production", None)
    prod_cur = _scope_production(production, market, product_line, start, end)
    prod_prev = _scope_production(production, market, product_line, p_start, p_end)
    targets = getattr(dataset, "targets", None)
    types = accuracy_sample_types

    scope = ["market"] + (["product_line"] if product_line is not None else [])
    kpis = beside_accuracy(_kpi_frame(cur, prod_cur, targets, scope, level, types), cur, scope,
                           level, cache=cache)
    previous = _kpi_frame(prev, prod_prev, targets, scope, level, types)
    pl_kpis = _kpi_frame(cur, prod_cur, targets, ["market", "product_line"], level, types)
    pol_kpis = _kpi_frame(cur, None, targets, [*scope, "policy"], level, types)

    # Changes: both periods' accuracy samples, so 'from'/'to' equal the KPI values shown.
    changes = period_changes(accuracy_sample(prev, types), accuracy_sample(cur, types), kpis=CHANGE_KPIS,
                             level=level, random_only=False)

    by_pl, by_policy, by_queue, by_pp, overall = _breakdowns(cur, scope, level, targets, market,
                                                             types)
    breakdowns = {"product_line": by_pl, "policy": by_policy, "queue": by_queue}
    if product_line is not None:
        breakdowns.pop("product_line")
    adequacy = _adequacy(overall, label, breakdowns, min_n)
    mix = error_mix(cur, "policy", accuracy_sample_types=types)
    weekly, events = _trend(in_scope, getattr(dataset, "events", None), market, product_line,
                            period, trend_months, level, types)

    summary = _summary(kpis, changes, by_policy, mix, compare_to, label, min_n)
    private = [c for c in PERSONAL_COLUMNS if c in cur.columns]
    return MarketAccuracyReport(
        market=market, period=period, product_line=product_line, compare_to=compare_to,
        level=level, kpis=kpis.reset_index(drop=True),
        previous_kpis=previous.reset_index(drop=True), changes=changes,
        product_line_kpis=pl_kpis.reset_index(drop=True),
        policy_kpis=pol_kpis.reset_index(drop=True), by_product_line=by_pl,
        by_policy=by_policy, by_queue=by_queue, by_policy_product=by_pp,
        sample_adequacy=adequacy, error_mix=mix, weekly=weekly, events=events, summary=summary,
        n_audits=len(cur), n_sample=len(accuracy_sample(cur, types)),
        audits=cur.drop(columns=private).reset_index(drop=True),
    )


# --------------------------------------------------------------------------------------------
# The report module's shape: read (the only data access), build (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MarketInputs:
    """What :func:`read` gives :func:`build`: the data slice and the run's result cache."""

    data: Any
    cache: ResultCache | None = None


def read(ctx: Any, params: Mapping[str, Any]) -> MarketInputs:
    """The slice of data the report needs (its market, the trend months and the comparison
    month; filter pushed down to the snapshot); :class:`NoData` when the scope has no audit in
    the month."""
    market, period = str(params["market"]), str(params["period"])
    product_line = params.get("product_line")
    first, last = data_window(period, compare_to=params.get("compare_to"))
    data = ctx.data(market=market, period_from=first, period_to=last)
    if scope_audits(data.audits, market, period, product_line).empty:
        raise NoData(f"No data for {_scope_label(market, product_line)} in {period}.")
    return MarketInputs(data, getattr(ctx, "cache", None))  # a hand-made context may have none


def build(inputs: MarketInputs, params: Mapping[str, Any]) -> MarketAccuracyReport:
    """The report of ``inputs`` (from :func:`read`) for ``params`` (``market``, ``period``,
    optional ``product_line``, ``level``, ``compare_to``)."""
    return market_accuracy_report(inputs.data, str(params["market"]), str(params["period"]),
                                  params.get("product_line"),
                                  level=float(params.get("level", 0.95)),
                                  compare_to=params.get("compare_to"), cache=inputs.cache)
